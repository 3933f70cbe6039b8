/* numfmt: the shortest decimal text that reads back as the same double
 * (%.15g, %.16g or %.17g, whichever round-trips first), in the C locale.
 * Models and vectors print numbers with it so they round-trip exactly. */
#ifndef PIPECLF_NUMFMT_H
#define PIPECLF_NUMFMT_H

#define NUMFMT_MAX 32

/* Writes v into buf (NUMFMT_MAX bytes) and returns its length. v must be
 * finite. Integers print without a decimal point ("3"). */
int fmt_double(char *buf, double v);

#endif
