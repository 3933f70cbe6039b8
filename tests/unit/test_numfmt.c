/* Unit test for lib/core/numfmt: fmt_double's integer arithmetic gives the text
 * of its definition, fmt_double_printf (printf %.15g/%.16g/%.17g until strtod
 * reads the value back), on values across and around its fast range. */
#include "check.h"

#include "core/common.h"
#include "core/numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static size_t fmt_mismatches;
static void same_text(double v)
{
    char a[NUMFMT_MAX], b[NUMFMT_MAX];
    int la = fmt_double(a, v), lb = fmt_double_printf(b, v);
    if (la != lb || strcmp(a, b) != 0) {
        if (fmt_mismatches < 5) printf("# %.17g: fmt_double \"%s\", fmt_double_printf \"%s\"\n", v, a, b);
        fmt_mismatches++;
    }
}

static void test_fmt(void)
{
    /* log-uniform over [1e-6, 1e16]: both sides of the fast range */
    for (int i = 0; i < 200000; i++) {
        double e = -6 + 22 * ((double)(check_rnd() >> 11) / 9007199254740992.0);
        same_text(pow(10, e));
    }
    CHECK("fmt: 200k log-uniform values in [1e-6, 1e16] as printf", fmt_mismatches == 0);
    fmt_mismatches = 0;
    for (int i = 0; i < 50000; i++) {
        uint64_t bits = check_rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v)) same_text(v);
    }
    CHECK("fmt: 50k random bit patterns as printf", fmt_mismatches == 0);
    fmt_mismatches = 0;
    /* around every power of ten of the range: the decimal exponent's edges */
    for (int k = -6; k <= 16; k++) {
        double p = pow(10, k), lo = p, hi = p;
        for (int s = 0; s < 50; s++) {
            same_text(lo);
            same_text(hi);
            lo = nextafter(lo, 0);
            hi = nextafter(hi, INFINITY);
        }
    }
    CHECK("fmt: 50 neighbours each side of 1e-6 .. 1e16", fmt_mismatches == 0);
    fmt_mismatches = 0;
    /* powers of two and their neighbours: the narrower interval below */
    for (int k = -20; k <= 50; k++) {
        double p = ldexp(1, k);
        same_text(p);
        same_text(nextafter(p, 0));
        same_text(nextafter(p, INFINITY));
        same_text(3 * p);
    }
    CHECK("fmt: powers of two and neighbours", fmt_mismatches == 0);
    fmt_mismatches = 0;
    /* exact decimal ties at the 15th digit: n + 0.5 with 14 integer digits
     * (round half to even, as printf), and short dyadic fractions */
    for (int i = 0; i < 20000; i++) {
        double n = (double)(10000000000000ull + check_rnd() % 89999999999999ull);
        same_text(n + 0.5);
        same_text(-(n + 0.5));
        same_text(ldexp((double)(check_rnd() % 1000000 + 1), -(int)(check_rnd() % 40)));
    }
    CHECK("fmt: halfway cases and dyadic fractions", fmt_mismatches == 0);
    fmt_mismatches = 0;
    /* what tf-idf makes: (1 + ln tf) * idf / norm */
    for (int i = 1; i < 20000; i++) {
        double idf = log((3001.0) / (1.0 + (double)(i % 3000))) + 1;
        same_text((1 + log((double)(i % 7 + 1))) * idf / sqrt((double)(i % 97 + 1)));
        same_text(idf);
    }
    same_text(0.0);
    same_text(-0.0);
    same_text(1.0);
    same_text(123.0);
    CHECK("fmt: tf-idf-like values, 0, -0 and integers", fmt_mismatches == 0);
}

int main(void)
{
    prog_init("test_numfmt");
    test_fmt();
    return check_exit();
}
