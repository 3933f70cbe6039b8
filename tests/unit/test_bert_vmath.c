/* lib/core/vmath, the vector loops of lib/bert, against double-precision libm
 * (the references are computed here, in double, from their definitions):
 * exp to 2 ulp over [-87, 88] with its edge cases; GELU x * Phi(x) and its
 * derivative to absolute errors no larger than the formula with glibc's
 * erff (what lib/bert used before); softmax with an additive padding mask;
 * the dot product and the LayerNorm sums; AdamW lanes bit-identical to the
 * scalar expression; and every function giving an element the same bits
 * wherever it sits in the array (vector body or tail), which keeps lib/bert
 * deterministic however threads split the work. */
#include "check.h"
#include "core/common.h"
#include "core/vmath.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double ulps(float got, double want)
{
    float w = (float)want;
    double ulp = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs(got - want) / ulp;
}

static void test_exp(void)
{
    const size_t n = 1 << 20;
    float *x = xmalloc(n * sizeof *x), *y = xmalloc(n * sizeof *y);
    double worst = 0;
    for (int pass = 0; pass < 4; pass++) {
        for (size_t i = 0; i < n; i++) x[i] = (float)(-87.0 + 175.0 * ((double)(i * 4 + pass) / (4.0 * n)));
        vm_exp(y, x, n);
        for (size_t i = 0; i < n; i++) worst = fmax(worst, ulps(y[i], exp((double)x[i])));
    }
    char name[120];
    snprintf(name, sizeof name, "exp: within 2 ulp of libm's double exp over [-87, 88] (worst %.2f ulp)", worst);
    CHECK(name, worst <= 2.0);
    float sp[] = {0.0f, -0.0f, -INFINITY, -1000.0f, -88.0f, 89.0f, INFINITY, NAN, 1.0f};
    float out[9];
    vm_exp(out, sp, 9);
    CHECK("exp: exp(0) = 1, exp(-inf) = exp(-1000) = exp(-88) = 0, exp(89) = exp(inf) = inf, NaN stays NaN",
          out[0] == 1 && out[1] == 1 && out[2] == 0 && out[3] == 0 && out[4] == 0 && isinf(out[5]) && isinf(out[6]) &&
              isnan(out[7]) && ulps(out[8], M_E) <= 1);
    free(x);
    free(y);
}

static void test_gelu(void)
{
    const size_t n = 1 << 20;
    float *x = xmalloc(n * sizeof *x), *y = xmalloc(n * sizeof *y), *d = xmalloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) x[i] = (float)(-10.0 + 20.0 * (double)i / n);
    vm_gelu(y, d, x, n);
    double worst = 0, worst_erff = 0, worst_d = 0, worst_rel = 0, worst_rel_erff = 0;
    for (size_t i = 0; i < n; i++) {
        const double xi = x[i], cdf = 0.5 * erfc(-xi / sqrt(2.0)), g = xi * cdf;
        const double dg = cdf + xi * exp(-0.5 * xi * xi) / sqrt(2.0 * M_PI);
        const float with_erff = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        worst = fmax(worst, fabs(y[i] - g));
        worst_erff = fmax(worst_erff, fabs(with_erff - g));
        worst_d = fmax(worst_d, fabs(d[i] - dg));
        if (xi < 0 && xi > -5) {
            worst_rel = fmax(worst_rel, fabs(y[i] - g) / fabs(g));
            worst_rel_erff = fmax(worst_rel_erff, fabs(with_erff - g) / fabs(g));
        }
    }
    char name[200];
    snprintf(name, sizeof name,
             "gelu: within %.2g of x * Phi(x) on [-10, 10], no worse than 0.5 x (1 + erff(x / sqrt 2)) (%.2g)", worst,
             worst_erff);
    CHECK(name, worst <= worst_erff && worst <= 5e-7);
    snprintf(name, sizeof name,
             "gelu: relative error %.2g on [-5, 0), where 1 + erff(x / sqrt 2) cancels (%.2g there) (<= 2e-6)",
             worst_rel, worst_rel_erff);
    CHECK(name, worst_rel <= 2e-6);
    snprintf(name, sizeof name, "gelu: derivative Phi(x) + x phi(x) within %.2g (<= 5e-7)", worst_d);
    CHECK(name, worst_d <= 5e-7);
    float sp[] = {0.0f, 30.0f, -30.0f, NAN, INFINITY}, o[5], od[5], o2[5];
    vm_gelu(o, od, sp, 5);
    vm_gelu(o2, NULL, sp, 5);
    CHECK("gelu: gelu(0) = 0 (slope 1/2), gelu(30) = 30, gelu(-30) = 0, NaN stays NaN, gelu(inf) = inf",
          o[0] == 0 && od[0] == 0.5f && o[1] == 30 && od[1] == 1 && o[2] == 0 && isnan(o[3]) && isinf(o[4]));
    CHECK("gelu: the same values without the derivative", memcmp(o, o2, sizeof o) == 0);
    free(x), free(y), free(d);
}

static void test_softmax(void)
{
    float x[37], add[37], want_sum = 0;
    double ref[37], s = 0, mx = -INFINITY;
    for (int i = 0; i < 37; i++) {
        x[i] = (float)sin(i * 1.7) * 9;
        add[i] = i % 5 == 4 ? -FLT_MAX : 0.0f;
        if (!add[i]) mx = fmax(mx, x[i] / 5.65685425);
    }
    for (int i = 0; i < 37; i++) s += ref[i] = add[i] ? 0 : exp(x[i] / 5.65685425 - mx);
    vm_softmax(x, add, 5.65685425f, 37);
    double worst = 0;
    int masked_zero = 1;
    for (int i = 0; i < 37; i++) {
        worst = fmax(worst, fabs(x[i] - ref[i] / s) / (ref[i] / s + 1e-30));
        if (add[i]) masked_zero &= x[i] == 0;
        want_sum += x[i];
    }
    char name[160];
    snprintf(name, sizeof name, "softmax: 37 scores / sqrt(32) + mask within %.2g relative of double (<= 1e-6)", worst);
    CHECK(name, worst <= 1e-6 && fabs(want_sum - 1) <= 1e-6);
    CHECK("softmax: masked keys get probability exactly 0", masked_zero);
    float all[11], none[11];
    for (int i = 0; i < 11; i++) all[i] = (float)i, none[i] = -FLT_MAX;
    vm_softmax(all, none, 2.0f, 11);
    int uniform = 1;
    for (int i = 0; i < 11; i++) uniform &= all[i] == all[0] && fabsf(all[i] - 1.0f / 11) < 1e-7f;
    CHECK("softmax: a row with every key masked comes out uniform (as in transformers)", uniform);
    float nan_row[9] = {1, 2, NAN, 4, 5, 6, 7, 8, 9}, zero[9] = {0};
    vm_softmax(nan_row, zero, 1.0f, 9);
    CHECK("softmax: a NaN score makes the row NaN", isnan(nan_row[0]) && isnan(nan_row[8]));
}

static void test_sums(void)
{
    float a[45], b[45];
    double dot = 0, sum = 0, sq = 0;
    for (int i = 0; i < 45; i++) {
        a[i] = (float)cos(i * 0.3) * 3;
        b[i] = (float)sin(i * 0.7);
        dot += (double)a[i] * b[i];
        sum += a[i];
    }
    const double mu = sum / 45;
    for (int i = 0; i < 45; i++) sq += (a[i] - mu) * (a[i] - mu);
    CHECK("dot: within float rounding of the double dot product", fabs(vm_dot(a, b, 45) - dot) <= 1e-5);
    CHECK("sum_d, sqdev_d: the double sums to 1e-12", fabs(vm_sum_d(a, 45) - sum) <= 1e-12 &&
                                                          fabs(vm_sqdev_d(a, mu, 45) - sq) <= 1e-12);
    /* LayerNorm gradient sums against the loop they replace */
    float w[45], dx[45], dw[45] = {0}, db[45] = {0};
    const float m = 0.25f, r = 1.5f;
    double s1 = 0, s2 = 0, g1, g2;
    for (int i = 0; i < 45; i++) w[i] = 1.0f + 0.01f * i;
    for (int i = 0; i < 45; i++) {
        float xhat = (a[i] - m) * r, dn = b[i] * w[i];
        s1 += dn;
        s2 += (double)dn * xhat;
    }
    vm_norm_grad_sums(b, w, a, m, r, 45, &g1, &g2);
    CHECK("norm_grad_sums: sum of dy w and of dy w xhat to 1e-12", fabs(g1 - s1) <= 1e-12 && fabs(g2 - s2) <= 1e-12);
    vm_norm_grad(dx, b, w, a, m, r, 0.5f, 0.25f, 45);
    vm_norm_param_grads(dw, db, b, a, m, r, 45);
    int same = 1;
    for (int i = 0; i < 45; i++) {
        float xhat = (a[i] - m) * r;
        float want = (b[i] * w[i] - 0.5f - xhat * 0.25f) * r, want_dw = b[i] * xhat;
        same &= memcmp(&dx[i], &want, 4) == 0 && memcmp(&dw[i], &want_dw, 4) == 0 && db[i] == b[i];
    }
    CHECK("norm_grad, norm_param_grads: lanes give the scalar expression's bits", same);
}

static void test_adamw(void)
{
    enum { N = 29 };
    float p[N], g[N], m[N], v[N], p2[N], m2[N], v2[N];
    for (int i = 0; i < N; i++) {
        p[i] = p2[i] = (float)sin(i) * 0.1f;
        g[i] = (float)cos(i * 1.3) * 1e-3f;
        m[i] = m2[i] = g[i] * 0.5f;
        v[i] = v2[i] = g[i] * g[i] * 0.7f;
    }
    vm_adamw_consts c = {0.9f, 0.999f, 0.1f, 0.001f, 1e-3f, 0.0316f, 1e-8f, 0.99999f};
    vm_adamw(p, g, m, v, N, &c, 1);
    for (int i = 0; i < N; i++) {
        p2[i] *= c.decay;
        m2[i] = m2[i] * c.b1 + g[i] * c.one_b1;
        v2[i] = v2[i] * c.b2 + g[i] * g[i] * c.one_b2;
        float denom = sqrtf(v2[i]) / c.bc2_sqrt + c.eps;
        p2[i] += -c.step * (m2[i] / denom);
    }
    CHECK("adamw: lanes give the scalar torch-order expression's bits (29 elements, decay on)",
          memcmp(p, p2, sizeof p) == 0 && memcmp(m, m2, sizeof m) == 0 && memcmp(v, v2, sizeof v) == 0);
}

/* The same input value gives the same bits at every position: in the
 * vector body and in the tail of arrays of every length up to 20. */
static void test_positions(void)
{
    int ok = 1;
    for (size_t n = 1; n <= 20; n++) {
        float x[20], e[20], g[20], d[20], sm[20], add[20] = {0};
        for (size_t i = 0; i < n; i++) x[i] = -1.75f;
        vm_exp(e, x, n);
        vm_gelu(g, d, x, n);
        memcpy(sm, x, sizeof sm);
        vm_softmax(sm, add, 1.0f, n);
        for (size_t i = 1; i < n; i++)
            ok &= memcmp(&e[i], &e[0], 4) == 0 && memcmp(&g[i], &g[0], 4) == 0 && memcmp(&d[i], &d[0], 4) == 0 &&
                  memcmp(&sm[i], &sm[0], 4) == 0;
        float one;
        vm_gelu(&one, NULL, x, 1);
        ok &= memcmp(&one, &g[0], 4) == 0;
    }
    CHECK("positions: exp, gelu and softmax give an element the same bits anywhere in arrays of 1..20", ok);
}

int main(void)
{
    test_exp();
    test_gelu();
    test_softmax();
    test_sums();
    test_adamw();
    test_positions();
    return check_exit();
}
