/* Unit tests for lib/core/vmath_d: exp and log over arrays against glibc's
 * libm, element by element, on random arguments across the ranges the
 * solvers use and beyond, and on the special values. */
#include "check.h"
#include "core/prng.h"
#include "core/vmath_d.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the distance in units in the last place, for finite values of one sign */
static double ulps(double a, double b)
{
    if (a == b) return 0;
    if (!isfinite(a) || !isfinite(b) || (a < 0) != (b < 0)) return INFINITY;
    int64_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    return (double)(ia > ib ? ia - ib : ib - ia);
}

static double uniform(prng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(prng_next(r) >> 11) * 0x1p-53);
}

static void check_range(const char *what, int is_log, double lo, double hi, int log_scale)
{
    enum { N = 100003 }; /* not a multiple of the vector width: the tail too */
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    prng r;
    prng_seed(&r, 7, 0);
    for (size_t i = 0; i < N; i++) x[i] = log_scale ? exp(uniform(&r, log(lo), log(hi))) : uniform(&r, lo, hi);
    if (is_log) vmd_log(y, x, N);
    else vmd_exp(y, x, N);
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < N; i++) {
        double u = ulps(y[i], is_log ? log(x[i]) : exp(x[i]));
        if (u > worst) worst = u, at = i;
    }
    char name[200];
    snprintf(name, sizeof name, "%s on [%g, %g]: within 1 ulp of libm's (worst %g at %.17g)", what, lo, hi, worst,
             x[at]);
    CHECK(name, worst <= 1);
    free(x);
    free(y);
}

static void check_specials(void)
{
    double x[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 709.7, 709.79, 710, -745.1, -745.2, -1000, 1e-300, 1.0};
    size_t n = sizeof x / sizeof x[0];
    double e[sizeof x / sizeof x[0]], l[sizeof x / sizeof x[0]];
    vmd_exp(e, x, n);
    vmd_log(l, x, n);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double le = exp(x[i]), ll = log(x[i]);
        ok &= (isnan(le) ? isnan(e[i]) : ulps(e[i], le) <= 1 || (le < 1e-320 && e[i] == 0));
        ok &= (isnan(ll) ? isnan(l[i]) : ulps(l[i], ll) <= 1 || l[i] == ll);
    }
    CHECK("exp and log at 0, -0, +-inf, NaN, the overflow and underflow edges, a subnormal's neighbourhood, 1", ok);
    double s[] = {4.9e-324, 1e-310, 2.2e-308};
    double ls[3];
    vmd_log(ls, s, 3);
    CHECK("log of subnormals within 1 ulp", ulps(ls[0], log(s[0])) <= 1 && ulps(ls[1], log(s[1])) <= 1 &&
                                                ulps(ls[2], log(s[2])) <= 1);
}

int main(void)
{
    check_range("exp", 0, -40, 40, 0);
    check_range("exp", 0, -1e-8, 1e-8, 0);
    check_range("exp", 0, -745, 709.7, 0);
    check_range("log", 1, 1, 2, 0);
    check_range("log", 1, 0.5, 1.5, 0);
    check_range("log", 1, 1e-300, 1e300, 1);
    check_specials();
    return check_exit();
}
