/* vmath: the element-wise loops of lib/bert that the compiler does not
 * vectorize by itself at -O2 (exp, erf, sqrt and sums), written with GCC
 * vector extensions: 8 lanes, which the default x86-64 target runs as SSE2
 * pairs, and an AVX2 clone chosen at load time where the CPU has it (no
 * FMA in either, so both round alike and give the same bits).
 *
 * Accuracy (tests/unit/test_bert_vmath.c): exp within 2 ulp (Cody-Waite
 * reduction and Cephes' expf polynomial; below -87.3 it gives 0, not a
 * subnormal); GELU within 4e-7 of x * Phi(x), with Phi from Numerical
 * Recipes' erfc (a fit with relative error under 1.2e-7), which keeps the
 * relative error near 1e-6 for negative x, where 1 + erf(x) would cancel.
 * Every element goes through the same lane arithmetic wherever it
 * sits in the array (the tail is padded, not done in scalar code), so a
 * result does not depend on how work is split between threads. Sums are
 * over 8 lane partials added in a fixed order: deterministic, though not
 * the left-to-right sum. */
#ifndef PIPECLF_VMATH_H
#define PIPECLF_VMATH_H

#include <stddef.h>
#include <stdint.h>

/* y = exp(x), elementwise (y may be x) */
void vm_exp(float *y, const float *x, size_t n);
/* out = GELU(x) = x * Phi(x); with dact, also dact = Phi(x) + x * phi(x) */
void vm_gelu(float *out, float *dact, const float *x, size_t n);
/* x = softmax(x / div + add) in place (add: e.g. 0 or -FLT_MAX per key); a
 * row where every x / div + add is -FLT_MAX comes out uniform */
void vm_softmax(float *x, const float *add, float div, size_t n);
/* sum of a[i] * b[i] */
float vm_dot(const float *a, const float *b, size_t n);
/* out = a + b (out may be a or b) */
void vm_add(float *out, const float *a, const float *b, size_t n);
/* x *= y */
void vm_mul(float *x, const float *y, size_t n);
/* out = keep ? in * scale : 0 (out may be in) */
void vm_mask_scale(float *out, const uint8_t *keep, const float *in, float scale, size_t n);

/* One torch.optim.AdamW step on n parameters (lib/bert/bert.c's
 * bert_adamw_step has the scalars): p *= decay when decays; m = m * b1 +
 * g * (1 - b1); v = v * b2 + g * g * (1 - b2);
 * p += -step * (m / (sqrt(v) / bc2_sqrt + eps)). */
typedef struct vm_adamw_consts {
    float b1, b2, one_b1, one_b2, step, bc2_sqrt, eps, decay;
} vm_adamw_consts;
void vm_adamw(float *p, const float *g, float *m, float *v, size_t n, const vm_adamw_consts *c, int decays);

/* LayerNorm rows (see lib/bert/bert.c), sums in double:
 * vm_sum_d: sum of x; vm_sqdev_d: sum of (x - mu)^2;
 * vm_norm_affine: y = (x * scale + shift) * w + b;
 * vm_norm_grad_sums: s1 = sum of dy * w, s2 = sum of (dy * w) * xhat, with
 * xhat = (x - mu) * r; vm_norm_grad: dx = (dy * w - m1 - xhat * m2) * r;
 * vm_norm_param_grads: dw += dy * xhat, db += dy. */
double vm_sum_d(const float *x, size_t n);
double vm_sqdev_d(const float *x, double mu, size_t n);
void vm_norm_affine(float *y, const float *x, float scale, float shift, const float *w, const float *b, size_t n);
void vm_norm_grad_sums(const float *dy, const float *w, const float *x, float mu, float r, size_t n, double *s1,
                       double *s2);
void vm_norm_grad(float *dx, const float *dy, const float *w, const float *x, float mu, float r, float m1, float m2,
                  size_t n);
void vm_norm_param_grads(float *dw, float *db, const float *dy, const float *x, float mu, float r, size_t n);

#endif
