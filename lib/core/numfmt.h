/* numfmt: the shortest decimal text that reads back as the same double
 * (%.15g, %.16g or %.17g, whichever round-trips first), in the C locale.
 * Models and vectors print numbers with it so they round-trip exactly. */
#ifndef PIPECLF_NUMFMT_H
#define PIPECLF_NUMFMT_H

#define NUMFMT_MAX 32

/* Writes v into buf (NUMFMT_MAX bytes) and returns its length. v must be
 * finite. Integers print without a decimal point ("3"). Exact integer
 * arithmetic for 1e-4 <= |v| < 1e14 (about 20x faster than printf), the
 * same text as fmt_double_printf for every v. */
int fmt_double(char *buf, double v);
/* The definition: %.15g, %.16g, %.17g by snprintf until strtod reads v back. */
int fmt_double_printf(char *buf, double v);

#endif
