#include "vmath.h"
#include "vmath_clones.h"

#include <math.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#define W 8
typedef float vf __attribute__((vector_size(W * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(W * sizeof(int32_t))));
typedef uint32_t vu __attribute__((vector_size(W * sizeof(uint32_t))));
typedef uint8_t vb __attribute__((vector_size(W)));
typedef double vd __attribute__((vector_size(W * sizeof(double))));

/* The helpers below are inlined, so no call passes an 8-lane vector across
 * the ABI that -Wpsabi warns about (it differs with and without AVX).
 * Vectors go in by pointer: a by-value vector argument draws a note that
 * the pragma does not silence. */
#pragma GCC diagnostic ignored "-Wpsabi"

static inline __attribute__((always_inline)) vf load(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define store(p, v)                                                                    \
    do {                                                                               \
        const vf store_ = (v);                                                         \
        memcpy((p), &store_, sizeof store_);                                           \
    } while (0)

static inline __attribute__((always_inline)) vf splat(float x)
{
    return (vf){0} + x;
}

/* m ? a : b, lane by lane (m: all ones or all zeros) */
#define sel(m, a, b) ((vf)(((m) & (vi)(a)) | (~(m) & (vi)(b))))

static inline __attribute__((always_inline)) float lane_max(const vf *v)
{
    float m = (*v)[0];
    for (int k = 1; k < W; k++) m = (*v)[k] > m ? (*v)[k] : m;
    return m;
}

/* sqrt lane by lane: SSE's sqrtps on each 4-lane half (vector extensions
 * have no sqrt), else sqrtf; exactly rounded either way */
static inline __attribute__((always_inline)) vf v_sqrt(const vf *x)
{
    vf r;
#if defined(__SSE__)
    for (int h = 0; h < W; h += 4) {
        __m128 q;
        memcpy(&q, (const float *)x + h, sizeof q);
        q = _mm_sqrt_ps(q);
        memcpy((float *)&r + h, &q, sizeof q);
    }
#else
    for (int k = 0; k < W; k++) r[k] = sqrtf((*x)[k]);
#endif
    return r;
}

static inline __attribute__((always_inline)) double lane_sum_d(const vd *p)
{
    const vd v = *p;
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7)) */
static inline __attribute__((always_inline)) float lane_sum(const vf *p)
{
    const vf v = *p;
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* exp(x): x = n ln2 + r, |r| <= ln2 / 2 (ln2 in two parts, Cody-Waite),
 * exp(r) by Cephes' expf polynomial, times 2^n built in the exponent bits.
 * Below -87.34 (where 2^n would be subnormal) 0; above 88, +inf; NaN stays
 * NaN. */
static inline __attribute__((always_inline)) vf v_exp(const vf *px)
{
    const vf x = *px;
    const vf hi = splat(88.0f), lo = splat(-87.33654f);
    const vi big = x > hi, tiny = x < lo;
    vf xc = sel(big, hi, sel(tiny, lo, x));
    vf n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest (1.5 * 2^23) */
    n = sel(n == n, n, splat(0.0f));                                  /* NaN lanes: any exponent */
    vf r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    vu bits = ((vu)__builtin_convertvector(n, vi) + 127u) << 23;
    vf y = p * (vf)bits;
    return sel(big, splat(INFINITY), sel(tiny, splat(0.0f), y));
}

/* GELU and its derivative. Phi(x) from Q = 1 - Phi(|x|) = erfc(|x|/sqrt 2)/2,
 * erfc(z) ~ t exp(-z^2 + P(t)), t = 1 / (1 + z/2) (Numerical Recipes'
 * erfcc, a Chebyshev fit with relative error < 1.2e-7 for every z >= 0). */
static inline __attribute__((always_inline)) void v_gelu(const vf *px, vf *out, vf *dact)
{
    const vf x = *px;
    const vf ax = (vf)((vi)x & 0x7fffffff);
    const vf z = ax * (float)M_SQRT1_2;
    const vf g = -0.5f * x * x; /* -z^2 with one rounding: exact halving, one product */
    const vf t = 1.0f / (1.0f + 0.5f * z);
    vf p = splat(0.17087277f);
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const vf a = p + g;
    const vf q = 0.5f * t * v_exp(&a);
    const vf cdf = sel(x < 0, q, 1.0f - q);
    *out = x * cdf;
    if (dact) *dact = cdf + x * (v_exp(&g) * (float)(M_2_SQRTPI * M_SQRT1_2 * 0.5));
}

CLONES void vm_exp(float *y, const float *x, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vf v = load(x + i);
        store(y + i, v_exp(&v));
    }
    if (i < n) {
        float tmp[W] = {0};
        memcpy(tmp, x + i, (n - i) * sizeof *tmp);
        const vf v = load(tmp);
        store(tmp, v_exp(&v));
        memcpy(y + i, tmp, (n - i) * sizeof *tmp);
    }
}

CLONES void vm_gelu(float *out, float *dact, const float *x, size_t n)
{
    vf o, d;
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vf v = load(x + i);
        v_gelu(&v, &o, dact ? &d : NULL);
        store(out + i, o);
        if (dact) store(dact + i, d);
    }
    if (i < n) {
        float tmp[W] = {0};
        memcpy(tmp, x + i, (n - i) * sizeof *tmp);
        const vf v = load(tmp);
        v_gelu(&v, &o, dact ? &d : NULL);
        store(tmp, o);
        memcpy(out + i, tmp, (n - i) * sizeof *tmp);
        if (dact) {
            store(tmp, d);
            memcpy(dact + i, tmp, (n - i) * sizeof *tmp);
        }
    }
}

CLONES void vm_softmax(float *x, const float *add, float div, size_t n)
{
    const size_t full = n / W * W, rest = n - full;
    float tail[W];
    /* the tail padded with -inf, whose exp is 0 */
    for (int k = 0; k < W; k++) tail[k] = (size_t)k < rest ? x[full + k] / div + add[full + k] : -INFINITY;
    vf mx = splat(-INFINITY);
    for (size_t i = 0; i < full; i += W) {
        vf s = load(x + i) / div + load(add + i);
        store(x + i, s);
        mx = sel(s > mx, s, mx);
    }
    vf s = load(tail);
    mx = sel(s > mx, s, mx);
    const float m = lane_max(&mx);
    vf sum = {0};
    for (size_t i = 0; i < full; i += W) {
        const vf d = load(x + i) - m;
        const vf e = v_exp(&d);
        store(x + i, e);
        sum += e;
    }
    const vf d = s - m, e = v_exp(&d);
    sum += e;
    const float total = lane_sum(&sum);
    for (size_t i = 0; i < full; i += W) store(x + i, load(x + i) / total);
    store(tail, e / total);
    memcpy(x + full, tail, rest * sizeof *x);
}

CLONES float vm_dot(const float *a, const float *b, size_t n)
{
    vf acc = {0};
    size_t i = 0;
    for (; i + W <= n; i += W) acc += load(a + i) * load(b + i);
    float ta[W] = {0}, tb[W] = {0};
    memcpy(ta, a + i, (n - i) * sizeof *ta);
    memcpy(tb, b + i, (n - i) * sizeof *tb);
    acc += load(ta) * load(tb);
    return lane_sum(&acc);
}

/* Element-wise maps: a lane computes what the scalar expression does, so
 * the tail is scalar. */

CLONES void vm_add(float *out, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W) store(out + i, load(a + i) + load(b + i));
    for (; i < n; i++) out[i] = a[i] + b[i];
}

CLONES void vm_mul(float *x, const float *y, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W) store(x + i, load(x + i) * load(y + i));
    for (; i < n; i++) x[i] *= y[i];
}

CLONES void vm_mask_scale(float *out, const uint8_t *keep, const float *in, float scale, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W) {
        vb kb;
        memcpy(&kb, keep + i, sizeof kb);
        const vi kept = __builtin_convertvector(kb, vi) != 0;
        store(out + i, sel(kept, load(in + i) * scale, splat(0.0f)));
    }
    for (; i < n; i++) out[i] = keep[i] ? in[i] * scale : 0.0f;
}

/* LayerNorm rows: the sums over zero-padded tails (adding 0 changes no sum) */

CLONES double vm_sum_d(const float *x, size_t n)
{
    vd acc = {0};
    size_t i = 0;
    for (; i + W <= n; i += W) acc += __builtin_convertvector(load(x + i), vd);
    float t[W] = {0};
    memcpy(t, x + i, (n - i) * sizeof *t);
    acc += __builtin_convertvector(load(t), vd);
    return lane_sum_d(&acc);
}

CLONES double vm_sqdev_d(const float *x, double mu, size_t n)
{
    vd acc = {0};
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vd d = __builtin_convertvector(load(x + i), vd) - mu;
        acc += d * d;
    }
    for (size_t k = 0; i + k < n; k++) {
        const double d = x[i + k] - mu;
        acc[k] += d * d;
    }
    return lane_sum_d(&acc);
}

CLONES void vm_norm_affine(float *y, const float *x, float scale, float shift, const float *w, const float *b, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W) store(y + i, (load(x + i) * scale + shift) * load(w + i) + load(b + i));
    for (; i < n; i++) y[i] = (x[i] * scale + shift) * w[i] + b[i];
}

CLONES void vm_norm_grad_sums(const float *dy, const float *w, const float *x, float mu, float r, size_t n, double *s1,
                              double *s2)
{
    vd a1 = {0}, a2 = {0};
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vf dn = load(dy + i) * load(w + i), xhat = (load(x + i) - mu) * r;
        const vd dnd = __builtin_convertvector(dn, vd);
        a1 += dnd;
        a2 += dnd * __builtin_convertvector(xhat, vd);
    }
    for (size_t k = 0; i + k < n; k++) {
        const float dn = dy[i + k] * w[i + k], xhat = (x[i + k] - mu) * r;
        a1[k] += dn;
        a2[k] += (double)dn * xhat;
    }
    *s1 = lane_sum_d(&a1);
    *s2 = lane_sum_d(&a2);
}

CLONES void vm_norm_grad(float *dx, const float *dy, const float *w, const float *x, float mu, float r, float m1,
                         float m2, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vf xhat = (load(x + i) - mu) * r;
        store(dx + i, (load(dy + i) * load(w + i) - m1 - xhat * m2) * r);
    }
    for (; i < n; i++) {
        const float xhat = (x[i] - mu) * r;
        dx[i] = (dy[i] * w[i] - m1 - xhat * m2) * r;
    }
}

CLONES void vm_norm_param_grads(float *dw, float *db, const float *dy, const float *x, float mu, float r, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const vf g = load(dy + i), xhat = (load(x + i) - mu) * r;
        store(dw + i, load(dw + i) + g * xhat);
        store(db + i, load(db + i) + g);
    }
    for (; i < n; i++) {
        const float xhat = (x[i] - mu) * r;
        dw[i] += dy[i] * xhat;
        db[i] += dy[i];
    }
}

/* IEEE sqrt and division round exactly, so the lanes and the scalar tail
 * give the same bits */
CLONES void vm_adamw(float *p, const float *g, float *m, float *v, size_t n, const vm_adamw_consts *c, int decays)
{
    const float b1 = c->b1, b2 = c->b2, one_b1 = c->one_b1, one_b2 = c->one_b2, step = c->step;
    const float bc2_sqrt = c->bc2_sqrt, eps = c->eps, decay = c->decay;
    size_t i = 0;
    for (; i + W <= n; i += W) {
        vf pi = load(p + i);
        const vf gi = load(g + i);
        if (decays) pi *= decay;
        const vf mi = load(m + i) * b1 + gi * one_b1;
        const vf vi_ = load(v + i) * b2 + gi * gi * one_b2;
        pi += -step * (mi / (v_sqrt(&vi_) / bc2_sqrt + eps));
        store(m + i, mi);
        store(v + i, vi_);
        store(p + i, pi);
    }
    for (; i < n; i++) {
        if (decays) p[i] *= decay;
        m[i] = m[i] * b1 + g[i] * one_b1;
        v[i] = v[i] * b2 + g[i] * g[i] * one_b2;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] += -step * (m[i] / denom);
    }
}
