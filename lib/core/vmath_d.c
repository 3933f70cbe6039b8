#include "vmath_d.h"
#include "vmath_clones.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define W 4
typedef double vd __attribute__((vector_size(W * sizeof(double))));
typedef int64_t vl __attribute__((vector_size(W * sizeof(int64_t))));

/* Vectors go in by pointer and the helpers are inlined, so no vector
 * crosses the ABI that -Wpsabi warns about. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define INLINE static inline __attribute__((always_inline))

INLINE vd splat(double x) { return (vd){0} + x; }

/* m ? a : b, lane by lane (m: all ones or all zeros) */
#define sel(m, a, b) ((vd)(((m) & (vl)(a)) | (~(m) & (vl)(b))))

/* 1.5 * 2^52: x + MAGIC - MAGIC rounds x to an integer (|x| < 2^51), and
 * the low bits of x + MAGIC hold that integer */
#define MAGIC 6755399441055744.0

/* 2^k for integer k in [-1022, 1023], from the exponent bits */
INLINE vd pow2(const vl *k) { return (vd)((*k + 1023) << 52); }

/* exp(x) as fdlibm's e_exp.c computes it: x = k ln2 + r, |r| <= ln2 / 2
 * (ln2 in two parts), exp(r) = 1 + r + r c / (2 - c) with c a minimax
 * polynomial in r^2, times 2^k in two factors (so that results near the
 * overflow and in the subnormal range come out right). Above 709.78 +inf,
 * below -745.14 0, NaN stays NaN. */
INLINE vd v_exp(const vd *px)
{
    const vd x = *px;
    const vl big = x > 709.782712893383973096, tiny = x < -745.13321910194110842, nan = x != x;
    vd xc = sel(big | tiny | nan, splat(0.0), x);
    vd t = xc * 1.44269504088896338700e+00 + MAGIC;
    vd kd = t - MAGIC;
    vl k = (vl)t - (vl)splat(MAGIC);
    vd hi = xc - kd * 6.93147180369123816490e-01; /* exact: ln2's high part has 32 bits */
    vd lo = kd * 1.90821492927058770002e-10;
    vd r = hi - lo;
    vd z = r * r;
    vd c = r - z * (1.66666666666666019037e-01 +
                    z * (-2.77777777770155933842e-03 +
                         z * (6.61375632143793436117e-05 +
                              z * (-1.65339022054652515390e-06 + z * 4.13813679705723846039e-08))));
    vd y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    vl k1 = k >> 1, k2 = k - k1;
    y = y * pow2(&k1) * pow2(&k2);
    return sel(nan, x, sel(big, splat(INFINITY), sel(tiny, splat(0.0), y)));
}

/* log(x) as fdlibm's e_log.c computes it: x = 2^e m, m in [sqrt(2)/2,
 * sqrt(2)), f = m - 1, s = f / (2 + f), log(m) = f - s (f - R(s^2)) in the
 * rearranged form below, plus e ln2 in two parts. Subnormals are scaled
 * up first; log(0) = -inf, log(+inf) = +inf, negatives and NaN give NaN. */
INLINE vd v_log(const vd *px)
{
    const vd x = *px;
    const vl sub = (x > 0.0) & (x < 2.2250738585072014e-308);
    vd xs = sel(sub, x * 18014398509481984.0, x); /* 2^54 */
    vl bits = (vl)xs;
    vl e = ((bits >> 52) & 0x7ff) - 1023 - (sub & 54);
    vl mbits = (bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL; /* m in [1, 2) */
    vd m = (vd)mbits;
    const vl high = m > 1.41421356237309504880;
    m = sel(high, m * 0.5, m);
    e = e + (high & 1);
    vd ed = (vd)(e + (vl)splat(MAGIC)) - MAGIC;
    vd f = m - 1.0;
    vd s = f / (2.0 + f);
    vd z = s * s, w = z * z;
    vd t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    vd t2 = z * (6.666666666666735130e-01 +
                 w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    vd R = t2 + t1;
    vd hfsq = 0.5 * f * f;
    vd y = ed * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + ed * 1.90821492927058770002e-10)) - f);
    const vl zero = x == 0.0, inf = x == INFINITY, bad = (x < 0.0) | (x != x);
    return sel(bad, splat(NAN), sel(zero, splat(-INFINITY), sel(inf, x, y)));
}

/* The loops: whole vectors, then the tail padded with ones (a harmless
 * input for both) so that every element takes the same lane arithmetic. */
#define MAP(name, fn)                                                                                                  \
    CLONES void name(double *y, const double *x, size_t n)                                                            \
    {                                                                                                                  \
        size_t i = 0;                                                                                                  \
        for (; i + W <= n; i += W) {                                                                                   \
            vd v;                                                                                                      \
            memcpy(&v, x + i, sizeof v);                                                                               \
            v = fn(&v);                                                                                                \
            memcpy(y + i, &v, sizeof v);                                                                               \
        }                                                                                                              \
        if (i < n) {                                                                                                   \
            vd v = splat(1.0);                                                                                         \
            memcpy(&v, x + i, (n - i) * sizeof *x);                                                                    \
            v = fn(&v);                                                                                                \
            memcpy(y + i, &v, (n - i) * sizeof *y);                                                                    \
        }                                                                                                              \
    }

MAP(vmd_exp, v_exp)
MAP(vmd_log, v_log)
