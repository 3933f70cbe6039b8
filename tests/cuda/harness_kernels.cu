/* harness_kernels: every kernel of lib/bert/cuda/kernels.cuh against a CPU
 * reference, over several launch configurations and shapes, for each
 * activation type, then timed: llm.c's dev/cuda harness, all kernels in one
 * program.
 *
 * The references compute in double from the same inputs the kernel gets
 * (rounded to the kernel's type), with lib/bert/bert.c's formulas, and draw the
 * very same dropout masks (lib/bert/cuda/philox.h). Inputs are fresh random
 * numbers for every check, never zeros; outputs are poisoned with NaN
 * before each launch, so an element a kernel fails to write fails the
 * check. A check passes when every element is within atol + rtol |ref|,
 * rtol a few units of the type's roundoff (2^-24 float, 2^-11 half, 2^-8
 * bf16) and atol scaled by the data (the fp32 arithmetic's sums).
 *
 * On a GPU (make cuda-tests; make check-cuda runs it) it then times each
 * kernel on a bert-base-sized step (B 32, T 128, H 768, I 3072, 12 heads)
 * with cudaEvents after flushing L2, the median of 21 runs, and prints the
 * time and the bandwidth it reached. Built against the CPU emulation
 * (tests/cuda/cuemu; unit test test_cuda_emu_kernels) it runs the checks on
 * small shapes, each twice (threads in index order, then reversed), and
 * does not time. Also on a GPU: our Philox equals curand's. */
#include "../unit/check.h"
#include "kernels.cuh"

#include <algorithm>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#ifndef CUEMU
#include <curand_kernel.h>
#define ON_GPU 1
#else
#define ON_GPU 0
#endif

using std::vector;

static void cuda_fatal(const char *what, const char *detail, const char *file, int line)
{
    printf("FAIL CUDA error: %s: %s (%s:%d)\n", what, detail, file, line);
    exit(1);
}

/* ------------------------------------------------------------------------
 * Data. */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_u64()
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* uniform in [lo, hi) */
static vector<float> rand_vec(size_t n, float lo = -1.0f, float hi = 1.0f)
{
    vector<float> v(n);
    for (auto &x : v) x = lo + (hi - lo) * (float)((next_u64() >> 11) * (1.0 / 9007199254740992.0));
    return v;
}

static vector<int> rand_ints(size_t n, int below)
{
    vector<int> v(n);
    for (auto &x : v) x = (int)(next_u64() % (uint64_t)below);
    return v;
}

template <typename X> static double type_eps();
template <> double type_eps<float>() { return ldexp(1.0, -24); }
template <> double type_eps<__half>() { return ldexp(1.0, -11); }
template <> double type_eps<__nv_bfloat16>() { return ldexp(1.0, -8); }

template <typename X> static const char *type_name();
template <> const char *type_name<float>() { return "float"; }
template <> const char *type_name<__half>() { return "half"; }
template <> const char *type_name<__nv_bfloat16>() { return "bf16"; }

/* the values as X holds them */
template <typename X> static vector<float> rounded(const vector<float> &v)
{
    vector<float> r(v.size());
    for (size_t i = 0; i < v.size(); i++) r[i] = to_float(from_float<X>(v[i]));
    return r;
}

template <typename T> static T *dev_new(size_t n)
{
    void *p = NULL;
    CUDA_CHECK(cudaMalloc(&p, (n ? n : 1) * sizeof(T)));
    CUDA_CHECK(cudaMemset(p, 0xff, (n ? n : 1) * sizeof(T)));
    return (T *)p;
}

template <typename X> static X *upload(const vector<float> &h)
{
    vector<X> x(h.size());
    for (size_t i = 0; i < h.size(); i++) x[i] = from_float<X>(h[i]);
    X *d = dev_new<X>(h.size());
    CUDA_CHECK(cudaMemcpy(d, x.data(), h.size() * sizeof(X), cudaMemcpyHostToDevice));
    return d;
}

static int *upload_ints(const vector<int> &h)
{
    int *d = dev_new<int>(h.size());
    CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(int), cudaMemcpyHostToDevice));
    return d;
}

template <typename X> static vector<float> download(const X *d, size_t n)
{
    vector<X> x(n);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(x.data(), d, n * sizeof(X), cudaMemcpyDeviceToHost));
    vector<float> r(n);
    for (size_t i = 0; i < n; i++) r[i] = to_float(x[i]);
    return r;
}

template <typename X> static void poison(X *d, size_t n)
{
    CUDA_CHECK(cudaMemset(d, 0xff, n * sizeof(X))); /* NaN in float, half and bf16 */
}

/* ------------------------------------------------------------------------
 * Comparison: every element within atol + rtol |ref| (NaN never). Keeps
 * the worst case of all configurations of one check. */

struct verdict {
    int bad = 0, runs = 0;
    double worst = 0;   /* the largest |diff| / (atol + rtol |ref|) */
    char where[160] = "";
};

static void compare(verdict &v, const char *config, const vector<float> &got, const vector<double> &ref, double atol,
                    double rtol)
{
    v.runs++;
    int bad = 0;
    size_t at = 0;
    double worst = 0;
    for (size_t i = 0; i < ref.size(); i++) {
        const double tol = atol + rtol * fabs(ref[i]), d = fabs((double)got[i] - ref[i]);
        const double r = d != d ? INFINITY : d / tol;
        if (r > worst) worst = r, at = i;
        if (!(d <= tol)) bad++;
    }
    if (worst > v.worst || (bad && !v.bad)) {
        v.worst = std::max(v.worst, worst);
        snprintf(v.where, sizeof v.where, "%s: element %zu: %.8g vs %.8g", config, at, ref.empty() ? 0.0 : (double)got[at],
                 ref.empty() ? 0.0 : ref[at]);
    }
    v.bad += bad;
}

static void report(const char *name, const verdict &v)
{
    char line[400];
    snprintf(line, sizeof line, "%s: %d launch configurations (worst error %.3g of its tolerance%s%s)", name, v.runs,
             v.worst, v.bad ? "; " : "", v.bad ? v.where : "");
    CHECK(line, v.bad == 0 && v.runs > 0);
}

static double scale_of(const vector<double> &r)
{
    double s = 0;
    for (double x : r) s = std::max(s, fabs(x));
    return s > 0 ? s : 1;
}

static const int BLOCKS[] = {32, 64, 128, 256, 512, 1024};

static dropout_args make_dropout(double p, uint32_t site)
{
    dropout_args d = {next_u64(), site, dropout_cut(p), (float)(1.0 / (1.0 - p)), p > 0};
    return d;
}

static double ref_dropout(const dropout_args &d, size_t i, double v)
{
    if (!d.on) return v;
    return dropout_draw(d.key, d.site, i) >= d.cut ? v * d.scale : 0.0;
}

/* shapes: small on the emulation */
struct row_shape {
    int N, H;
};
static const row_shape ROW_SHAPES_GPU[] = {{1, 64}, {67, 100}, {256, 768}, {1031, 1024}};
static const row_shape ROW_SHAPES_EMU[] = {{1, 64}, {9, 100}, {20, 33}};

#define FOR_ROW_SHAPES(s)                                                                                           \
    for (const row_shape &s : ON_GPU ? vector<row_shape>(std::begin(ROW_SHAPES_GPU), std::end(ROW_SHAPES_GPU))     \
                                     : vector<row_shape>(std::begin(ROW_SHAPES_EMU), std::end(ROW_SHAPES_EMU)))

static vector<int> blocks_to_try()
{
    return ON_GPU ? vector<int>(std::begin(BLOCKS), std::end(BLOCKS)) : vector<int>{32, 64, 256};
}

/* ------------------------------------------------------------------------
 * LayerNorm forward: embeddings and residual blocks. */

/* mean, rstd and the normalised row, lib/bert/bert.c's layernorm_forward in double */
static void ref_layernorm_row(const float *x, int H, double eps, const float *w, const float *b, double *mean,
                              double *rstd, double *y)
{
    double s = 0, ss = 0;
    for (int j = 0; j < H; j++) s += x[j];
    const double mu = s / H;
    for (int j = 0; j < H; j++) ss += (x[j] - mu) * (x[j] - mu);
    const double r = 1.0 / sqrt(ss / H + eps);
    *mean = mu;
    *rstd = r;
    for (int j = 0; j < H; j++) y[j] = (x[j] - mu) * r * w[j] + b[j];
}

template <typename X> static void check_embed_forward()
{
    verdict v_in, v_out, v_stats;
    for (double p : {0.0, 0.1}) {
        FOR_ROW_SHAPES(s) {
            const int T = s.N < 8 ? s.N : 8, V = 50, TV = 2, P = T, N = s.N, H = s.H;
            vector<int> ids = rand_ints((size_t)N, V), types = rand_ints((size_t)N, TV);
            vector<float> word = rand_vec((size_t)V * H), pos = rand_vec((size_t)P * H), type = rand_vec((size_t)TV * H);
            vector<float> w = rand_vec((size_t)H, 0.5f, 1.5f), b = rand_vec((size_t)H);
            const dropout_args d = make_dropout(p, 0);
            /* the reference: the sum as the kernel rounds it, then LayerNorm */
            vector<float> in((size_t)N * H);
            vector<double> ref_in((size_t)N * H), ref_out((size_t)N * H), ref_stats(2 * (size_t)N), y((size_t)H);
            for (int r = 0; r < N; r++) {
                for (int j = 0; j < H; j++) {
                    const float sum = (word[(size_t)ids[r] * H + j] + type[(size_t)types[r] * H + j]) + pos[(size_t)(r % T) * H + j];
                    in[(size_t)r * H + j] = to_float(from_float<X>(sum));
                    ref_in[(size_t)r * H + j] = in[(size_t)r * H + j];
                }
                double mu, rs;
                ref_layernorm_row(&in[(size_t)r * H], H, 1e-12, w.data(), b.data(), &mu, &rs, y.data());
                ref_stats[(size_t)r] = mu;
                ref_stats[(size_t)N + r] = rs;
                for (int j = 0; j < H; j++) ref_out[(size_t)r * H + j] = ref_dropout(d, (size_t)r * H + j, y[j]);
            }
            int *d_ids = upload_ints(ids), *d_types = upload_ints(types);
            float *d_word = upload<float>(word), *d_pos = upload<float>(pos), *d_type = upload<float>(type);
            float *d_w = upload<float>(w), *d_b = upload<float>(b);
            X *d_in = dev_new<X>((size_t)N * H), *d_out = dev_new<X>((size_t)N * H);
            float *d_stats = dev_new<float>(2 * (size_t)N);
            for (int block : blocks_to_try()) {
                poison(d_in, (size_t)N * H), poison(d_out, (size_t)N * H), poison(d_stats, 2 * (size_t)N);
                launch_embed_forward<X>(0, d_in, d_out, d_stats, d_stats + N, d_ids, d_types, d_word, d_pos, d_type, d_w,
                                        d_b, N, T, H, 1e-12f, d, block);
                char cfg[96];
                snprintf(cfg, sizeof cfg, "N %d H %d p %.1f block %d", N, H, p, block);
                compare(v_in, cfg, download(d_in, (size_t)N * H), ref_in, 0, 0);
                compare(v_out, cfg, download(d_out, (size_t)N * H), ref_out, 1e-5, 4 * type_eps<X>());
                compare(v_stats, cfg, download(d_stats, 2 * (size_t)N), ref_stats, 1e-6 * scale_of(ref_stats), 1e-5);
            }
            cudaFree(d_ids), cudaFree(d_types), cudaFree(d_word), cudaFree(d_pos), cudaFree(d_type), cudaFree(d_w);
            cudaFree(d_b), cudaFree(d_in), cudaFree(d_out), cudaFree(d_stats);
        }
    }
    char name[100];
    snprintf(name, sizeof name, "embed_forward<%s>: the rounded sums, exactly", type_name<X>());
    report(name, v_in);
    snprintf(name, sizeof name, "embed_forward<%s>: LayerNorm + dropout", type_name<X>());
    report(name, v_out);
    snprintf(name, sizeof name, "embed_forward<%s>: mean and rstd", type_name<X>());
    report(name, v_stats);
}

template <typename X> static void check_residual_layernorm()
{
    verdict v_in, v_out;
    for (double p : {0.0, 0.3}) {
        FOR_ROW_SHAPES(s) {
            const int N = s.N, H = s.H;
            vector<float> dense = rounded<X>(rand_vec((size_t)N * H)), resid = rounded<X>(rand_vec((size_t)N * H));
            vector<float> bias = rand_vec((size_t)H), w = rand_vec((size_t)H, 0.5f, 1.5f), b = rand_vec((size_t)H);
            const dropout_args d = make_dropout(p, 5);
            vector<float> in((size_t)N * H);
            vector<double> ref_in((size_t)N * H), ref_out((size_t)N * H), y((size_t)H);
            for (int r = 0; r < N; r++) {
                for (int j = 0; j < H; j++) {
                    const size_t i = (size_t)r * H + j;
                    const float kept = d.on ? (dropout_draw(d.key, d.site, i) >= d.cut ? (dense[i] + bias[j]) * d.scale : 0.0f)
                                            : dense[i] + bias[j];
                    in[i] = to_float(from_float<X>(kept + resid[i]));
                    ref_in[i] = in[i];
                }
                double mu, rs;
                ref_layernorm_row(&in[(size_t)r * H], H, 1e-12, w.data(), b.data(), &mu, &rs, y.data());
                for (int j = 0; j < H; j++) ref_out[(size_t)r * H + j] = y[j];
            }
            X *d_dense = upload<X>(dense), *d_resid = upload<X>(resid);
            float *d_bias = upload<float>(bias), *d_w = upload<float>(w), *d_b = upload<float>(b);
            X *d_in = dev_new<X>((size_t)N * H), *d_out = dev_new<X>((size_t)N * H);
            float *d_stats = dev_new<float>(2 * (size_t)N);
            for (int block : blocks_to_try()) {
                poison(d_in, (size_t)N * H), poison(d_out, (size_t)N * H);
                launch_residual_layernorm<X>(0, d_in, d_out, d_stats, d_stats + N, d_dense, d_bias, d_resid, d_w, d_b, N, H,
                                             1e-12f, d, block);
                char cfg[96];
                snprintf(cfg, sizeof cfg, "N %d H %d p %.1f block %d", N, H, p, block);
                compare(v_in, cfg, download(d_in, (size_t)N * H), ref_in, 1e-6, 2 * type_eps<X>());
                compare(v_out, cfg, download(d_out, (size_t)N * H), ref_out, 1e-5, 4 * type_eps<X>());
            }
            cudaFree(d_dense), cudaFree(d_resid), cudaFree(d_bias), cudaFree(d_w), cudaFree(d_b), cudaFree(d_in);
            cudaFree(d_out), cudaFree(d_stats);
        }
    }
    char name[100];
    snprintf(name, sizeof name, "residual_layernorm<%s>: bias, dropout, residual", type_name<X>());
    report(name, v_in);
    snprintf(name, sizeof name, "residual_layernorm<%s>: LayerNorm", type_name<X>());
    report(name, v_out);
}

/* ------------------------------------------------------------------------
 * LayerNorm backward and the column sums. */

template <typename X> static void check_layernorm_backward()
{
    verdict v_dx, v_drop, v_w, v_b;
    FOR_ROW_SHAPES(s) {
        const int N = s.N, H = s.H;
        vector<float> x = rounded<X>(rand_vec((size_t)N * H, -2, 2)), dy = rounded<X>(rand_vec((size_t)N * H));
        vector<float> w = rand_vec((size_t)H, 0.5f, 1.5f), mean((size_t)N), rstd((size_t)N);
        for (int r = 0; r < N; r++) {
            double s1 = 0, s2 = 0;
            for (int j = 0; j < H; j++) s1 += x[(size_t)r * H + j];
            for (int j = 0; j < H; j++) s2 += pow(x[(size_t)r * H + j] - s1 / H, 2);
            mean[(size_t)r] = (float)(s1 / H);
            rstd[(size_t)r] = (float)(1.0 / sqrt(s2 / H + 1e-12));
        }
        const dropout_args d = make_dropout(0.2, 9);
        vector<double> ref_dx((size_t)N * H), ref_drop((size_t)N * H), ref_w((size_t)H), ref_b((size_t)H);
        double wscale = 0;
        for (int r = 0; r < N; r++) {
            double sdn = 0, sdnx = 0;
            for (int j = 0; j < H; j++) {
                const size_t i = (size_t)r * H + j;
                const double xhat = (x[i] - (double)mean[r]) * rstd[r], dn = (double)dy[i] * w[j];
                sdn += dn;
                sdnx += dn * xhat;
                ref_w[j] += dy[i] * xhat;
                ref_b[j] += dy[i];
                wscale += fabs(dy[i] * xhat);
            }
            for (int j = 0; j < H; j++) {
                const size_t i = (size_t)r * H + j;
                const double xhat = (x[i] - (double)mean[r]) * rstd[r];
                ref_dx[i] = ((double)dy[i] * w[j] - sdn / H - xhat * sdnx / H) * rstd[r];
                ref_drop[i] = ref_dropout(d, i, to_float(from_float<X>((float)ref_dx[i])));
            }
        }
        X *d_x = upload<X>(x), *d_dy = upload<X>(dy), *d_dx = dev_new<X>((size_t)N * H), *d_drop = dev_new<X>((size_t)N * H);
        float *d_w = upload<float>(w), *d_mean = upload<float>(mean), *d_rstd = upload<float>(rstd);
        const size_t parts = (size_t)colsum_splits(N) * H;
        float *p0 = dev_new<float>(parts), *p1 = dev_new<float>(parts), *gw = dev_new<float>((size_t)H),
              *gb = dev_new<float>((size_t)H);
        const double dscale = scale_of(ref_dx);
        for (int block : blocks_to_try()) {
            poison(d_dx, (size_t)N * H), poison(d_drop, (size_t)N * H);
            launch_layernorm_backward<X>(0, d_dx, d_drop, d_dy, d_x, d_mean, d_rstd, d_w, N, H, d, block);
            char cfg[96];
            snprintf(cfg, sizeof cfg, "N %d H %d block %d", N, H, block);
            compare(v_dx, cfg, download(d_dx, (size_t)N * H), ref_dx, 1e-5 * dscale, 2 * type_eps<X>());
            compare(v_drop, cfg, download(d_drop, (size_t)N * H), ref_drop, 1e-5 * dscale * d.scale, 4 * type_eps<X>());
        }
        for (int rows_y : {1, 8, 32}) {
            /* += into gradients: start them at 1 */
            vector<float> ones((size_t)H, 1.0f);
            vector<double> rw((size_t)H), rb((size_t)H);
            for (int j = 0; j < H; j++) rw[j] = 1 + ref_w[j], rb[j] = 1 + ref_b[j];
            CUDA_CHECK(cudaMemcpy(gw, ones.data(), (size_t)H * 4, cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(gb, ones.data(), (size_t)H * 4, cudaMemcpyHostToDevice));
            launch_layernorm_param_grad<X>(0, gw, gb, p0, p1, d_dy, d_x, d_mean, d_rstd, N, H, rows_y);
            char cfg[96];
            snprintf(cfg, sizeof cfg, "N %d H %d rows %d", N, H, rows_y);
            compare(v_w, cfg, download(gw, (size_t)H), rw, 1e-6 * (wscale / H + 1) * sqrt((double)N), 1e-6);
            compare(v_b, cfg, download(gb, (size_t)H), rb, 1e-6 * sqrt((double)N) * 2, 1e-6);
        }
        cudaFree(d_x), cudaFree(d_dy), cudaFree(d_dx), cudaFree(d_drop), cudaFree(d_w), cudaFree(d_mean);
        cudaFree(d_rstd), cudaFree(p0), cudaFree(p1), cudaFree(gw), cudaFree(gb);
    }
    char name[100];
    snprintf(name, sizeof name, "layernorm_backward<%s>: dx", type_name<X>());
    report(name, v_dx);
    snprintf(name, sizeof name, "layernorm_backward<%s>: dropout's backward of dx", type_name<X>());
    report(name, v_drop);
    snprintf(name, sizeof name, "layernorm_param_grad<%s>: weight (sum dy xhat, +=)", type_name<X>());
    report(name, v_w);
    snprintf(name, sizeof name, "layernorm_param_grad<%s>: bias (sum dy, +=)", type_name<X>());
    report(name, v_b);
}

template <typename X> static void check_bias_grad()
{
    verdict v;
    const vector<std::pair<int, int>> shapes = ON_GPU ? vector<std::pair<int, int>>{{1, 3}, {7, 64}, {4096, 768}, {4096, 2304}, {300, 3072}}
                                                      : vector<std::pair<int, int>>{{1, 3}, {7, 64}, {130, 40}};
    for (auto sh : shapes) {
        const int N = sh.first, C = sh.second;
        vector<float> dy = rounded<X>(rand_vec((size_t)N * C)), start = rand_vec((size_t)C);
        vector<double> ref((size_t)C);
        for (int j = 0; j < C; j++) {
            ref[j] = start[j];
            for (int r = 0; r < N; r++) ref[j] += dy[(size_t)r * C + j];
        }
        X *d_dy = upload<X>(dy);
        float *g = dev_new<float>((size_t)C), *p0 = dev_new<float>((size_t)colsum_splits(N) * C);
        for (int rows_y : {1, 4, 8, 32}) {
            CUDA_CHECK(cudaMemcpy(g, start.data(), (size_t)C * 4, cudaMemcpyHostToDevice));
            launch_bias_grad<X>(0, g, p0, d_dy, N, C, rows_y);
            char cfg[96];
            snprintf(cfg, sizeof cfg, "N %d C %d rows %d", N, C, rows_y);
            compare(v, cfg, download(g, (size_t)C), ref, 2e-7 * N + 1e-6, 1e-6);
        }
        cudaFree(d_dy), cudaFree(g), cudaFree(p0);
    }
    char name[100];
    snprintf(name, sizeof name, "bias_grad<%s>: column sums added into fp32 gradients", type_name<X>());
    report(name, v);
}

/* ------------------------------------------------------------------------
 * Elementwise: activation, dropout, attention layout. */

template <typename X> static void check_activations()
{
    verdict vf, vb;
    const size_t n = ON_GPU ? 1000003 : 3001;
    const int cols = 97;
    for (int kind : {KACT_GELU, KACT_GELU_TANH, KACT_RELU}) {
        vector<float> pre = rounded<X>(rand_vec(n, -5, 5)), bias = rand_vec((size_t)cols), d = rounded<X>(rand_vec(n));
        vector<double> ref_pre(n), ref_act(n), ref_d(n);
        for (size_t i = 0; i < n; i++) {
            const double p = to_float(from_float<X>(pre[i] + bias[i % cols]));
            ref_pre[i] = p;
            const double cdf = 0.5 * (1 + erf(p / sqrt(2.0))), pdf = exp(-0.5 * p * p) / sqrt(2 * M_PI);
            const double t = tanh(sqrt(2 / M_PI) * (p + 0.044715 * p * p * p));
            ref_act[i] = kind == KACT_GELU ? p * cdf : kind == KACT_GELU_TANH ? 0.5 * p * (1 + t) : (p > 0 ? p : 0);
            const double g = kind == KACT_GELU ? cdf + p * pdf
                             : kind == KACT_GELU_TANH
                                 ? 0.5 * (1 + t) + 0.5 * p * (1 - t * t) * sqrt(2 / M_PI) * (1 + 3 * 0.044715 * p * p)
                                 : (p > 0 ? 1 : 0);
            ref_d[i] = d[i] * g;
        }
        X *d_act = dev_new<X>(n);
        float *d_bias = upload<float>(bias);
        for (int block : {64, 256, 1024}) {
            X *fresh = upload<X>(pre); /* the kernel adds the bias in place */
            poison(d_act, n);
            launch_bias_act_forward<X>(0, fresh, d_act, d_bias, n, cols, kind, block);
            char cfg[96];
            snprintf(cfg, sizeof cfg, "act %d n %zu block %d", kind, n, block);
            compare(vf, cfg, download(fresh, n), ref_pre, 0, 0);
            compare(vf, cfg, download(d_act, n), ref_act, 1e-6, 8 * type_eps<X>() + 1e-6);
            X *dd = upload<X>(d);
            launch_act_backward<X>(0, dd, fresh, n, kind, block);
            compare(vb, cfg, download(dd, n), ref_d, 1e-6, 8 * type_eps<X>() + 1e-6);
            cudaFree(fresh), cudaFree(dd);
        }
        cudaFree(d_act), cudaFree(d_bias);
    }
    char name[100];
    snprintf(name, sizeof name, "bias_act_forward<%s>: gelu, gelu_tanh, relu", type_name<X>());
    report(name, vf);
    snprintf(name, sizeof name, "act_backward<%s>: gelu, gelu_tanh, relu", type_name<X>());
    report(name, vb);
}

template <typename X> static void check_dropout()
{
    verdict v;
    const size_t n = ON_GPU ? 4000037 : 4099;
    size_t kept = 0, total = 0;
    for (double p : {0.1, 0.5}) {
        vector<float> in = rounded<X>(rand_vec(n, 0.5f, 1.5f));
        const dropout_args d = make_dropout(p, 3);
        vector<double> ref(n);
        for (size_t i = 0; i < n; i++) ref[i] = ref_dropout(d, i, in[i]);
        X *d_in = upload<X>(in), *d_out = dev_new<X>(n);
        for (int block : {128, 256, 1024}) {
            poison(d_out, n);
            launch_dropout<X>(0, d_out, d_in, n, d, block);
            char cfg[96];
            snprintf(cfg, sizeof cfg, "p %.1f n %zu block %d", p, n, block);
            vector<float> got = download(d_out, n);
            compare(v, cfg, got, ref, 0, 2 * type_eps<X>());
            if (p == 0.1) {
                for (float x : got) kept += x != 0;
                total += n;
            }
        }
        /* in place, as the backward uses it */
        launch_dropout<X>(0, d_in, d_in, n, d, 256);
        compare(v, "in place", download(d_in, n), ref, 0, 2 * type_eps<X>());
        cudaFree(d_in), cudaFree(d_out);
    }
    char name[160];
    snprintf(name, sizeof name, "dropout<%s>: the philox.h masks, scaled by 1/(1-p); p 0.1 kept %.4f", type_name<X>(),
             (double)kept / total);
    CHECK(name, fabs((double)kept / total - 0.9) < (ON_GPU ? 0.001 : 0.02));
    report(name, v);
}

template <typename X> static void check_layout()
{
    verdict v;
    const int shapes[][4] = {{1, 1, 1, 1}, {2, 5, 3, 4}, {3, 17, 12, 8}}; /* B, T, nh, d */
    for (auto &sh : shapes) {
        const int B = sh[0], T = sh[1], nh = sh[2], d = sh[3], H = nh * d;
        for (int nmat : {1, 3}) {
            const size_t n = (size_t)B * T * H * nmat;
            vector<float> rows = rounded<X>(rand_vec(n)), bias = rand_vec((size_t)nmat * H);
            vector<double> heads(n), heads_nobias(n);
            for (int m = 0; m < nmat; m++)
                for (int b = 0; b < B; b++)
                    for (int h = 0; h < nh; h++)
                        for (int t = 0; t < T; t++)
                            for (int e = 0; e < d; e++) {
                                const size_t o = (size_t)m * B * nh * T * d + (((size_t)b * nh + h) * T + t) * d + e;
                                const size_t i = ((size_t)b * T + t) * nmat * H + (size_t)m * H + h * d + e;
                                heads[o] = to_float(from_float<X>(rows[i] + bias[(size_t)m * H + h * d + e]));
                                heads_nobias[o] = rows[i];
                            }
            X *d_rows = upload<X>(rows), *d_heads = dev_new<X>(n), *d_back = dev_new<X>(n);
            float *d_bias = upload<float>(bias);
            for (int block : {32, 256}) {
                char cfg[96];
                snprintf(cfg, sizeof cfg, "B %d T %d nh %d d %d nmat %d block %d", B, T, nh, d, nmat, block);
                poison(d_heads, n);
                launch_rows_to_heads<X>(0, d_heads, d_rows, d_bias, B, T, nh, d, nmat, block);
                compare(v, cfg, download(d_heads, n), heads, 0, 0);
                poison(d_heads, n), poison(d_back, n);
                launch_rows_to_heads<X>(0, d_heads, d_rows, (const float *)NULL, B, T, nh, d, nmat, block);
                compare(v, cfg, download(d_heads, n), heads_nobias, 0, 0);
                launch_heads_to_rows<X>(0, d_back, d_heads, B, T, nh, d, nmat, block);
                vector<double> r(rows.begin(), rows.end());
                compare(v, cfg, download(d_back, n), r, 0, 0);
            }
            cudaFree(d_rows), cudaFree(d_heads), cudaFree(d_back), cudaFree(d_bias);
        }
    }
    char name[100];
    snprintf(name, sizeof name, "rows_to_heads / heads_to_rows<%s>: round trip, with and without the bias", type_name<X>());
    report(name, v);
}

/* ------------------------------------------------------------------------
 * Attention softmax. */

template <typename X> static void check_softmax()
{
    verdict vf, vd, vb;
    const int shapes[][3] = {{1, 1, 1}, {2, 3, 7}, {3, 2, 33}, {2, 12, 128}}; /* B, nh, T */
    for (auto &sh : shapes) {
        const int B = sh[0], nh = sh[1], T = sh[2], rows = B * nh * T;
        if (!ON_GPU && T > 40) continue;
        const float sqrt_d = sqrtf(16.0f);
        vector<float> S = rand_vec((size_t)rows * T, -8, 8), madd((size_t)B * T), dP = rand_vec((size_t)rows * T);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) madd[(size_t)b * T + t] = (b == 1) || (t > 0 && t % 3 == 0) ? -FLT_MAX : 0.0f;
        /* sequence 1 is all padding: its rows come out uniform */
        const dropout_args d = make_dropout(0.1, 2);
        vector<double> P((size_t)rows * T), Pd((size_t)rows * T), dS((size_t)rows * T);
        vector<float> Px((size_t)rows * T);
        for (int r = 0; r < rows; r++) {
            const int b = r / (nh * T);
            vector<float> v((size_t)T); /* the scaled, masked scores in float, as lib/bert/bert.c computes them */
            float mx = -INFINITY;
            for (int j = 0; j < T; j++) {
                v[j] = S[(size_t)r * T + j] / sqrt_d + madd[(size_t)b * T + j];
                mx = std::max(mx, v[j]);
            }
            double sum = 0;
            for (int j = 0; j < T; j++) sum += exp((double)v[j] - mx);
            for (int j = 0; j < T; j++) {
                const size_t i = (size_t)r * T + j;
                P[i] = exp((double)v[j] - mx) / sum;
                Px[i] = to_float(from_float<X>((float)P[i]));
                Pd[i] = ref_dropout(d, i, Px[i]);
            }
            double dot = 0;
            for (int j = 0; j < T; j++) dot += ref_dropout(d, (size_t)r * T + j, dP[(size_t)r * T + j]) * Px[(size_t)r * T + j];
            for (int j = 0; j < T; j++) {
                const size_t i = (size_t)r * T + j;
                dS[i] = Px[i] * (ref_dropout(d, i, dP[i]) - dot) / sqrt_d;
            }
        }
        float *d_S = upload<float>(S), *d_madd = upload<float>(madd), *d_dP = upload<float>(dP);
        X *d_P = dev_new<X>((size_t)rows * T), *d_Pd = dev_new<X>((size_t)rows * T), *d_Px = upload<X>(Px);
        for (int block : blocks_to_try()) {
            char cfg[96];
            snprintf(cfg, sizeof cfg, "B %d nh %d T %d block %d", B, nh, T, block);
            poison(d_P, (size_t)rows * T), poison(d_Pd, (size_t)rows * T);
            launch_softmax_forward<X>(0, d_P, d_Pd, d_S, d_madd, rows, T, nh * T, sqrt_d, d, block);
            compare(vf, cfg, download(d_P, (size_t)rows * T), P, 1e-7, 4 * type_eps<X>());
            compare(vd, cfg, download(d_Pd, (size_t)rows * T), Pd, 1e-7, 4 * type_eps<X>());
            poison(d_Pd, (size_t)rows * T);
            launch_softmax_backward<X>(0, d_Pd, d_dP, d_Px, rows, T, sqrt_d, d, block);
            compare(vb, cfg, download(d_Pd, (size_t)rows * T), dS, 1e-6 * scale_of(dS), 4 * type_eps<X>());
        }
        cudaFree(d_S), cudaFree(d_madd), cudaFree(d_dP), cudaFree(d_P), cudaFree(d_Pd), cudaFree(d_Px);
    }
    char name[120];
    snprintf(name, sizeof name, "softmax_forward<%s>: masked rows, an all-padding sequence (uniform)", type_name<X>());
    report(name, vf);
    snprintf(name, sizeof name, "softmax_forward<%s>: dropout(P)", type_name<X>());
    report(name, vd);
    snprintf(name, sizeof name, "softmax_backward<%s>: through dropout", type_name<X>());
    report(name, vb);
}

/* ------------------------------------------------------------------------
 * Pooler, classifier. */

template <typename X> static void check_pooler_classifier()
{
    verdict vp, vz, vpr, vl, vdx, vgw, vgb, vpb;
    const int shapes[][3] = {{1, 64, 2}, {4, 100, 3}, {9, 768, 26}}; /* B, H, C */
    for (auto &sh : shapes) {
        const int B = sh[0], H = sh[1], C = sh[2];
        if (!ON_GPU && H > 200) continue;
        vector<float> pre = rand_vec((size_t)B * H, -2, 2), pb = rand_vec((size_t)H), W = rand_vec((size_t)C * H),
                      cb = rand_vec((size_t)C), cw = rand_vec((size_t)C, 0.5f, 2.0f), gW0 = rand_vec((size_t)C * H),
                      gb0 = rand_vec((size_t)C);
        vector<int> labels = rand_ints((size_t)B, C);
        const dropout_args d = make_dropout(0.2, 1);
        vector<double> pooled((size_t)B * H), cls_in((size_t)B * H), z((size_t)B * C), probs((size_t)B * C),
            losses((size_t)B), dl((size_t)B * C), dx((size_t)B * H), gW((size_t)C * H), gb((size_t)C), dpre((size_t)B * H);
        vector<float> cls_in_f((size_t)B * H), probs_f((size_t)B * C);
        const double denominator = 3.5;
        const float loss_scale = 8.0f;
        for (size_t i = 0; i < (size_t)B * H; i++) {
            pooled[i] = tanh((double)pre[i] + pb[i % H]);
            cls_in[i] = ref_dropout(d, i, (float)pooled[i]);
            cls_in_f[i] = (float)cls_in[i];
        }
        for (int b = 0; b < B; b++) {
            double mx = -INFINITY;
            for (int k = 0; k < C; k++) {
                double s = cb[k];
                for (int j = 0; j < H; j++) s += cls_in[(size_t)b * H + j] * W[(size_t)k * H + j];
                z[(size_t)b * C + k] = s;
                mx = std::max(mx, s);
            }
            double sum = 0;
            for (int k = 0; k < C; k++) sum += exp(z[(size_t)b * C + k] - mx);
            for (int k = 0; k < C; k++) probs[(size_t)b * C + k] = exp(z[(size_t)b * C + k] - mx) / sum;
            losses[b] = log(sum) - (z[(size_t)b * C + labels[b]] - mx);
        }
        for (int i = 0; i < B * C; i++) probs_f[i] = (float)probs[i];
        for (int b = 0; b < B; b++)
            for (int k = 0; k < C; k++)
                dl[(size_t)b * C + k] = (probs_f[(size_t)b * C + k] - (k == labels[b])) * cw[labels[b]] / denominator * loss_scale;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                double s = 0;
                for (int k = 0; k < C; k++) s += dl[(size_t)b * C + k] * W[(size_t)k * H + j];
                dx[(size_t)b * H + j] = s;
                dpre[(size_t)b * H + j] = ref_dropout(d, (size_t)b * H + j, s) * (1 - pooled[(size_t)b * H + j] * pooled[(size_t)b * H + j]);
            }
        for (int k = 0; k < C; k++) {
            gb[k] = gb0[k];
            for (int b = 0; b < B; b++) gb[k] += dl[(size_t)b * C + k];
            for (int j = 0; j < H; j++) {
                gW[(size_t)k * H + j] = gW0[(size_t)k * H + j];
                for (int b = 0; b < B; b++) gW[(size_t)k * H + j] += dl[(size_t)b * C + k] * cls_in[(size_t)b * H + j];
            }
        }
        float *d_pre = upload<float>(pre), *d_pb = upload<float>(pb), *d_W = upload<float>(W), *d_cb = upload<float>(cb),
              *d_cw = upload<float>(cw), *d_pooled = dev_new<float>((size_t)B * H), *d_cls = dev_new<float>((size_t)B * H),
              *d_z = dev_new<float>((size_t)B * C), *d_p = dev_new<float>((size_t)B * C), *d_l = dev_new<float>((size_t)B),
              *d_dl = dev_new<float>((size_t)B * C), *d_dx = dev_new<float>((size_t)B * H),
              *d_gW = dev_new<float>((size_t)C * H), *d_gb = dev_new<float>((size_t)C), *d_clsf = upload<float>(cls_in_f),
              *d_pf = upload<float>(probs_f);
        int *d_labels = upload_ints(labels);
        X *d_dpre = dev_new<X>((size_t)B * H);
        vector<double> pooled_v(pooled);
        for (int block : {32, 128, 256}) {
            char cfg[96];
            snprintf(cfg, sizeof cfg, "B %d H %d C %d block %d", B, H, C, block);
            poison(d_pooled, (size_t)B * H), poison(d_cls, (size_t)B * H);
            launch_pooler_forward(0, d_pooled, d_cls, d_pre, d_pb, B, H, d, block);
            compare(vp, cfg, download(d_pooled, (size_t)B * H), pooled, 1e-6, 1e-5);
            compare(vp, cfg, download(d_cls, (size_t)B * H), cls_in, 1e-6 * d.scale, 1e-5);
            poison(d_z, (size_t)B * C), poison(d_p, (size_t)B * C), poison(d_l, (size_t)B);
            launch_classifier_forward(0, d_z, d_p, d_l, d_clsf, d_W, d_cb, d_labels, B, H, C, block);
            compare(vz, cfg, download(d_z, (size_t)B * C), z, 1e-6 * sqrt((double)H), 1e-6);
            compare(vpr, cfg, download(d_p, (size_t)B * C), probs, 1e-6, 1e-5);
            compare(vl, cfg, download(d_l, (size_t)B), losses, 1e-5, 1e-5);
            CUDA_CHECK(cudaMemcpy(d_gW, gW0.data(), gW0.size() * 4, cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(d_gb, gb0.data(), gb0.size() * 4, cudaMemcpyHostToDevice));
            poison(d_dx, (size_t)B * H), poison(d_dl, (size_t)B * C);
            launch_classifier_backward(0, d_dl, d_dx, d_gW, d_gb, d_pf, d_labels, d_cw, d_clsf, d_W, B, H, C, denominator,
                                       loss_scale, block);
            compare(vdx, cfg, download(d_dx, (size_t)B * H), dx, 1e-5 * scale_of(dx), 1e-5);
            compare(vgw, cfg, download(d_gW, (size_t)C * H), gW, 1e-5 * scale_of(dl), 1e-5);
            compare(vgb, cfg, download(d_gb, (size_t)C), gb, 1e-5 * scale_of(dl), 1e-5);
            poison(d_dpre, (size_t)B * H);
            launch_pooler_backward<X>(0, d_dpre, d_dx, d_pooled, (size_t)B * H, d, block);
            compare(vpb, cfg, download(d_dpre, (size_t)B * H), dpre, 1e-5 * scale_of(dpre) * d.scale, 4 * type_eps<X>());
        }
        cudaFree(d_pre), cudaFree(d_pb), cudaFree(d_W), cudaFree(d_cb), cudaFree(d_cw), cudaFree(d_pooled);
        cudaFree(d_cls), cudaFree(d_z), cudaFree(d_p), cudaFree(d_l), cudaFree(d_dl), cudaFree(d_dx), cudaFree(d_gW);
        cudaFree(d_gb), cudaFree(d_clsf), cudaFree(d_pf), cudaFree(d_labels), cudaFree(d_dpre);
    }
    char name[120];
    snprintf(name, sizeof name, "pooler_forward: tanh(x + b), dropout");
    report(name, vp);
    report("classifier_forward: logits", vz);
    report("classifier_forward: probabilities (softmax in fp64)", vpr);
    report("classifier_forward: per-example cross-entropy", vl);
    report("classifier_backward: dx = dlogits W (class weights, denominator, loss scale)", vdx);
    report("classifier_backward: gW += dlogits^T x", vgw);
    report("classifier_backward: gb += sum dlogits", vgb);
    snprintf(name, sizeof name, "pooler_backward<%s>: dropout, tanh'", type_name<X>());
    report(name, vpb);
}

/* ------------------------------------------------------------------------
 * Embedding gradients, gradient norm, AdamW. */

template <typename X> static void check_embed_backward()
{
    verdict vg, va;
    const int shapes[][4] = {{2, 5, 16, 40}, {4, 16, 64, 100}, {32, 128, 768, 30522}}; /* B, T, H, V */
    for (auto &sh : shapes) {
        const int B = sh[0], T = sh[1], H = sh[2], V = sh[3], N = B * T, TV = 2, pad = 0;
        if (!ON_GPU && N * H > 5000) continue;
        vector<int> ids = rand_ints((size_t)N, V < 60 ? V : 60), types = rand_ints((size_t)N, TV);
        ids[1] = pad;
        const size_t word = 0, pos = (size_t)V * H, type = pos + (size_t)T * H, total = type + (size_t)TV * H;
        vector<float> demb = rounded<X>(rand_vec((size_t)N * H)), start = rand_vec(total);
        vector<double> ref(start.begin(), start.end());
        for (int r = 0; r < N; r++)
            for (int j = 0; j < H; j++) {
                const double g = demb[(size_t)r * H + j];
                if (ids[r] != pad) ref[word + (size_t)ids[r] * H + j] += g;
                ref[pos + (size_t)(r % T) * H + j] += g;
                ref[type + (size_t)types[r] * H + j] += g;
            }
        /* the groups, as bert_cuda.cu builds them */
        vector<long long> target;
        vector<int> gstart, rows;
        for (int id = 0; id < V; id++) {
            const size_t first = rows.size();
            for (int r = 0; r < N; r++)
                if (ids[r] == id && id != pad) rows.push_back(r);
            if (rows.size() > first) target.push_back((long long)(word + (size_t)id * H)), gstart.push_back((int)first);
        }
        for (int t = 0; t < T; t++) {
            target.push_back((long long)(pos + (size_t)t * H)), gstart.push_back((int)rows.size());
            for (int b = 0; b < B; b++) rows.push_back(b * T + t);
        }
        for (int tt = 0; tt < TV; tt++) {
            const size_t first = rows.size();
            for (int r = 0; r < N; r++)
                if (types[r] == tt) rows.push_back(r);
            if (rows.size() > first) target.push_back((long long)(type + (size_t)tt * H)), gstart.push_back((int)first);
        }
        gstart.push_back((int)rows.size());
        X *d_demb = upload<X>(demb);
        float *g = dev_new<float>(total);
        long long *d_target = dev_new<long long>(target.size());
        CUDA_CHECK(cudaMemcpy(d_target, target.data(), target.size() * sizeof(long long), cudaMemcpyHostToDevice));
        int *d_start = upload_ints(gstart), *d_rows = upload_ints(rows), *d_ids = upload_ints(ids), *d_types = upload_ints(types);
        for (int block : {32, 128, 256}) {
            char cfg[96];
            snprintf(cfg, sizeof cfg, "B %d T %d H %d block %d", B, T, H, block);
            CUDA_CHECK(cudaMemcpy(g, start.data(), total * 4, cudaMemcpyHostToDevice));
            launch_embed_backward_groups<X>(0, g, d_demb, d_target, d_start, d_rows, (int)target.size(), H, block);
            compare(vg, cfg, download(g, total), ref, 1e-6 * sqrt((double)N), 1e-6);
            CUDA_CHECK(cudaMemcpy(g, start.data(), total * 4, cudaMemcpyHostToDevice));
            launch_embed_backward_atomic<X>(0, g, d_demb, d_ids, d_types, N, T, H, (long long)word, (long long)pos,
                                            (long long)type, pad, block);
            compare(va, cfg, download(g, total), ref, 1e-6 * sqrt((double)N), 1e-6);
        }
        cudaFree(d_demb), cudaFree(g), cudaFree(d_target), cudaFree(d_start), cudaFree(d_rows), cudaFree(d_ids);
        cudaFree(d_types);
    }
    char name[120];
    snprintf(name, sizeof name, "embed_backward_groups<%s>: word (not padding), position, type rows", type_name<X>());
    report(name, vg);
    snprintf(name, sizeof name, "embed_backward_atomic<%s>: the same sums with atomics", type_name<X>());
    report(name, va);
}

static void check_sumsq_adamw()
{
    verdict vn, vp, vm, vv;
    const size_t sizes[] = {1, 1000, ON_GPU ? (size_t)10000019 : (size_t)20011};
    for (size_t n : sizes) {
        vector<float> g = rand_vec(n, -3, 3);
        double ref = 0;
        for (float x : g) ref += (double)x * x;
        float *d_g = upload<float>(g);
        double *part = dev_new<double>(SUMSQ_BLOCKS), *out = dev_new<double>(1);
        for (int block : {64, 256, 1024}) {
            launch_sumsq(0, out, part, d_g, n, block);
            double got = 0;
            CUDA_CHECK(cudaMemcpy(&got, out, 8, cudaMemcpyDeviceToHost));
            char cfg[64];
            snprintf(cfg, sizeof cfg, "n %zu block %d", n, block);
            compare(vn, cfg, vector<float>{(float)got}, vector<double>{ref}, 0, 1e-6);
        }
        /* AdamW on three tensors: decay, no decay, decay */
        const long long ends[3] = {(long long)(n / 3), (long long)(2 * n / 3), (long long)n};
        const unsigned char decay[3] = {1, 0, 1};
        vector<float> p = rand_vec(n), m = rand_vec(n, -0.1f, 0.1f), v = rand_vec(n, 0, 0.01f);
        adamw_args a = {0.5f, 1e-3f / 0.19f, sqrtf(0.002997f), 0.9f, 0.999f, 0.1f, 0.001f, 1.0f - 1e-3f * 0.01f, 1e-8f};
        vector<double> rp(n), rm(n), rv(n);
        vector<float> p_lp(n);
        for (size_t i = 0; i < n; i++) {
            const int s = (long long)i < ends[0] ? 0 : (long long)i < ends[1] ? 1 : 2;
            const float grad = g[i] * a.grad_mult;
            float pi = p[i];
            if (decay[s]) pi *= a.decay;
            const float mi = m[i] * a.b1 + grad * a.one_b1, vi = v[i] * a.b2 + grad * grad * a.one_b2;
            pi += -a.step_size * (mi / (sqrtf(vi) / a.bc2_sqrt + a.eps));
            rp[i] = pi, rm[i] = mi, rv[i] = vi;
        }
        long long *d_ends = dev_new<long long>(3);
        unsigned char *d_decay = dev_new<unsigned char>(3);
        CUDA_CHECK(cudaMemcpy(d_ends, ends, sizeof ends, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(d_decay, decay, sizeof decay, cudaMemcpyHostToDevice));
        for (int block : {128, 256}) {
            float *d_p = upload<float>(p), *d_m = upload<float>(m), *d_v = upload<float>(v);
            __nv_bfloat16 *d_lp = dev_new<__nv_bfloat16>(n);
            launch_adamw<__nv_bfloat16>(0, d_p, d_lp, d_m, d_v, d_g, n, d_ends, d_decay, 3, a, block);
            char cfg[64];
            snprintf(cfg, sizeof cfg, "n %zu block %d", n, block);
            compare(vp, cfg, download(d_p, n), rp, 1e-7, 1e-6);
            compare(vm, cfg, download(d_m, n), rm, 1e-8, 1e-6);
            compare(vv, cfg, download(d_v, n), rv, 1e-10, 1e-6);
            compare(vp, cfg, download(d_lp, n), rp, 1e-7, 2 * ldexp(1.0, -8));
            cudaFree(d_p), cudaFree(d_m), cudaFree(d_v), cudaFree(d_lp);
        }
        cudaFree(d_g), cudaFree(part), cudaFree(out), cudaFree(d_ends), cudaFree(d_decay);
    }
    report("sumsq: the sum of squares in fp64, in a fixed order", vn);
    report("adamw: weights (decay by tensor) and their bf16 copy", vp);
    report("adamw: first moments", vm);
    report("adamw: second moments", vv);
}

/* ------------------------------------------------------------------------
 * Philox = curand's (GPU only). */

#if ON_GPU
__global__ void philox_pair_kernel(uint4 *ours, uint4 *theirs, const uint4 *ctr, const uint2 *key, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const philox4 r = philox4x32_10(ctr[i].x, ctr[i].y, ctr[i].z, ctr[i].w, key[i].x, key[i].y);
    ours[i] = make_uint4(r.v[0], r.v[1], r.v[2], r.v[3]);
    theirs[i] = curand_Philox4x32_10(ctr[i], key[i]);
}

static void check_philox_curand()
{
    const int n = 100000;
    vector<uint4> ctr(n);
    vector<uint2> key(n);
    for (int i = 0; i < n; i++) {
        ctr[i] = make_uint4((unsigned)next_u64(), (unsigned)next_u64(), (unsigned)next_u64(), (unsigned)next_u64());
        key[i] = make_uint2((unsigned)next_u64(), (unsigned)next_u64());
    }
    uint4 *d_ctr = dev_new<uint4>(n), *d_a = dev_new<uint4>(n), *d_b = dev_new<uint4>(n);
    uint2 *d_key = dev_new<uint2>(n);
    CUDA_CHECK(cudaMemcpy(d_ctr, ctr.data(), n * sizeof(uint4), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_key, key.data(), n * sizeof(uint2), cudaMemcpyHostToDevice));
    launch("philox_pair", philox_pair_kernel, (n + 255) / 256, 256, 0, 0, d_a, d_b, d_ctr, d_key, n);
    vector<uint4> a(n), b(n);
    CUDA_CHECK(cudaMemcpy(a.data(), d_a, n * sizeof(uint4), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(b.data(), d_b, n * sizeof(uint4), cudaMemcpyDeviceToHost));
    int same = 0, host_same = 0;
    for (int i = 0; i < n; i++) {
        same += memcmp(&a[i], &b[i], sizeof(uint4)) == 0;
        const philox4 h = philox4x32_10(ctr[i].x, ctr[i].y, ctr[i].z, ctr[i].w, key[i].x, key[i].y);
        host_same += h.v[0] == a[i].x && h.v[1] == a[i].y && h.v[2] == a[i].z && h.v[3] == a[i].w;
    }
    char name[160];
    snprintf(name, sizeof name, "philox4x32_10 = curand_Philox4x32_10 on the GPU (%d of %d), = the host's (%d)", same, n,
             host_same);
    CHECK(name, same == n && host_same == n);
    cudaFree(d_ctr), cudaFree(d_a), cudaFree(d_b), cudaFree(d_key);
}

/* ------------------------------------------------------------------------
 * Timing on a bert-base-sized step. */

static void *flush_buf;
static size_t flush_bytes;

template <typename F> static float time_ms(F run)
{
    cudaEvent_t a, b;
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    run(); /* warm up */
    vector<float> t;
    for (int k = 0; k < 21; k++) {
        CUDA_CHECK(cudaMemsetAsync(flush_buf, k, flush_bytes)); /* L2 holds none of the inputs */
        CUDA_CHECK(cudaEventRecord(a));
        run();
        CUDA_CHECK(cudaEventRecord(b));
        CUDA_CHECK(cudaEventSynchronize(b));
        float ms;
        CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
        t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    cudaEventDestroy(a), cudaEventDestroy(b);
    return t[t.size() / 2];
}

static void row(const char *kernel, const char *config, float ms, double bytes)
{
    printf("TIME %-26s %-30s %9.1f us %8.1f GB/s\n", kernel, config, ms * 1e3, bytes / (ms * 1e-3) / 1e9);
}

template <typename X> static void time_kernels()
{
    const int B = 32, T = 128, H = 768, I = 3072, nh = 12, d = 64, N = B * T;
    const size_t NH = (size_t)N * H, NI = (size_t)N * I, att = (size_t)B * nh * T * T, xs = sizeof(X);
    X *x1 = upload<X>(rand_vec(NH)), *x2 = upload<X>(rand_vec(NH)), *x3 = dev_new<X>(NH), *x4 = dev_new<X>(NH);
    X *f1 = upload<X>(rand_vec(NI)), *f2 = dev_new<X>(NI), *q3 = upload<X>(rand_vec(3 * NH)), *q3b = dev_new<X>(3 * NH);
    X *P = dev_new<X>(att), *Pd = dev_new<X>(att);
    float *S = upload<float>(rand_vec(att, -4, 4)), *madd = upload<float>(vector<float>((size_t)N, 0.0f));
    float *w = upload<float>(rand_vec((size_t)I, 0.5f, 1.5f)), *b = upload<float>(rand_vec((size_t)I));
    float *mean = dev_new<float>((size_t)N), *rstd = dev_new<float>((size_t)N), *gw = dev_new<float>((size_t)3 * H),
          *gb = dev_new<float>((size_t)H);
    float *p0 = dev_new<float>((size_t)colsum_splits(N) * 3 * H), *p1 = dev_new<float>((size_t)colsum_splits(N) * 3 * H);
    const dropout_args off = {0, 0, 0, 1.0f, 0}, drop = make_dropout(0.1, 1);
    char cfg[64];
    snprintf(cfg, sizeof cfg, "%s %dx%d H %d", type_name<X>(), B, T, H);
    for (int block : {128, 256, 512}) {
        char c2[80];
        snprintf(c2, sizeof c2, "%s block %d", cfg, block);
        row("residual_layernorm", c2, time_ms([&] {
                launch_residual_layernorm<X>(0, x3, x4, mean, rstd, x1, b, x2, w, b, N, H, 1e-12f, drop, block);
            }), (double)NH * xs * 4);
        row("layernorm_backward", c2, time_ms([&] {
                launch_layernorm_backward<X>(0, x3, x4, x1, x2, mean, rstd, w, N, H, drop, block);
            }), (double)NH * xs * 4);
        row("softmax_forward +dropout", c2, time_ms([&] {
                launch_softmax_forward<X>(0, P, Pd, S, madd, B * nh * T, T, nh * T, 8.0f, drop, block);
            }), (double)att * (4 + 2 * xs));
        row("softmax_backward", c2, time_ms([&] {
                launch_softmax_backward<X>(0, Pd, S, P, B * nh * T, T, 8.0f, drop, block);
            }), (double)att * (4 + 2 * xs));
        row("bias_act_forward gelu", c2, time_ms([&] { launch_bias_act_forward<X>(0, f1, f2, b, NI, I, KACT_GELU, block); }),
            (double)NI * xs * 3);
        row("act_backward gelu", c2, time_ms([&] { launch_act_backward<X>(0, f2, f1, NI, KACT_GELU, block); }),
            (double)NI * xs * 3);
        row("rows_to_heads qkv", c2, time_ms([&] { launch_rows_to_heads<X>(0, q3b, q3, b, B, T, nh, d, 3, block); }),
            (double)NH * 3 * xs * 2);
        row("dropout (probs)", c2, time_ms([&] { launch_dropout<X>(0, Pd, P, att, drop, block); }), (double)att * xs * 2);
    }
    for (int ry : {4, 8, 16}) {
        char c2[80];
        snprintf(c2, sizeof c2, "%s rows %d", cfg, ry);
        row("bias_grad 3H", c2, time_ms([&] { launch_bias_grad<X>(0, gw, p0, q3b, N, 3 * H, ry); }), (double)NH * 3 * xs);
        row("layernorm_param_grad", c2, time_ms([&] {
                launch_layernorm_param_grad<X>(0, gw, gb, p0, p1, x1, x2, mean, rstd, N, H, ry);
            }), (double)NH * xs * 2);
    }
    (void)off;
    cudaFree(x1), cudaFree(x2), cudaFree(x3), cudaFree(x4), cudaFree(f1), cudaFree(f2), cudaFree(q3), cudaFree(q3b);
    cudaFree(P), cudaFree(Pd), cudaFree(S), cudaFree(madd), cudaFree(w), cudaFree(b), cudaFree(mean), cudaFree(rstd);
    cudaFree(gw), cudaFree(gb), cudaFree(p0), cudaFree(p1);
}

static void time_optimizer()
{
    const size_t n = 110000000; /* bert-base's parameters */
    float *p = upload<float>(rand_vec(n)), *m = dev_new<float>(n), *v = dev_new<float>(n), *g = upload<float>(rand_vec(n));
    CUDA_CHECK(cudaMemset(m, 0, n * 4));
    CUDA_CHECK(cudaMemset(v, 0, n * 4));
    __nv_bfloat16 *lp = dev_new<__nv_bfloat16>(n);
    long long ends[2] = {(long long)n / 2, (long long)n};
    unsigned char decay[2] = {1, 0};
    long long *d_ends = dev_new<long long>(2);
    unsigned char *d_decay = dev_new<unsigned char>(2);
    CUDA_CHECK(cudaMemcpy(d_ends, ends, sizeof ends, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_decay, decay, sizeof decay, cudaMemcpyHostToDevice));
    adamw_args a = {1.0f, 1e-4f, 1.0f, 0.9f, 0.999f, 0.1f, 0.001f, 1.0f, 1e-8f};
    double *part = dev_new<double>(SUMSQ_BLOCKS), *out = dev_new<double>(1);
    row("sumsq", "110M params", time_ms([&] { launch_sumsq(0, out, part, g, n); }), (double)n * 4);
    row("adamw + bf16 copy", "110M params", time_ms([&] {
            launch_adamw<__nv_bfloat16>(0, p, lp, m, v, g, n, d_ends, d_decay, 2, a);
        }), (double)n * (4 * 4 + 3 * 4 + 2));
    /* the ceiling: a device-to-device copy, bytes read + written */
    float *dst = dev_new<float>(n);
    row("cudaMemcpy (ceiling)", "440 MB", time_ms([&] {
            CUDA_CHECK(cudaMemcpyAsync(dst, g, n * 4, cudaMemcpyDeviceToDevice));
        }), (double)n * 8);
    cudaFree(p), cudaFree(m), cudaFree(v), cudaFree(g), cudaFree(lp), cudaFree(d_ends), cudaFree(d_decay);
    cudaFree(part), cudaFree(out), cudaFree(dst);
}
#endif

/* ------------------------------------------------------------------------ */

template <typename X> static void check_all()
{
    check_embed_forward<X>();
    check_residual_layernorm<X>();
    check_layernorm_backward<X>();
    check_bias_grad<X>();
    check_activations<X>();
    check_dropout<X>();
    check_layout<X>();
    check_softmax<X>();
    check_pooler_classifier<X>();
    check_embed_backward<X>();
}

int main(int argc, char **argv)
{
    const int timing = ON_GPU && !(argc > 1 && strcmp(argv[1], "--no-timing") == 0);
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("FAIL no CUDA device\n");
        return 1;
    }
    for (int order = 0; order < (ON_GPU ? 1 : 2); order++) {
#ifdef CUEMU
        cuemu_set_order(order);
        if (order) printf("(threads in reverse order)\n");
#endif
        check_all<float>();
        check_all<__half>();
        check_all<__nv_bfloat16>();
        check_sumsq_adamw();
    }
#if ON_GPU
    check_philox_curand();
    if (timing) {
        flush_bytes = (size_t)256 << 20;
        CUDA_CHECK(cudaMalloc(&flush_buf, flush_bytes));
        time_kernels<float>();
        time_kernels<__nv_bfloat16>();
        time_kernels<__half>();
        time_optimizer();
        cudaFree(flush_buf);
    }
#else
    (void)timing;
#endif
    return check_exit();
}
