/* kernels: the CUDA kernels of the BERT backend (lib/bert/cuda/bert_cuda.cu),
 * each with its launcher. Each one computes what a piece of lib/bert/bert.c
 * computes on the CPU (named beside it), and tests/cuda/harness_kernels.cu
 * checks it against a CPU reference over several launch configurations
 * before timing it, after llm.c's dev/cuda.
 *
 * X is the activation type: float, __half or __nv_bfloat16. Arithmetic is
 * fp32 (fp64 for the loss and the gradient norm, as on the CPU); values are
 * rounded to X only where they are stored. Matrices are row-major. Row-wise
 * kernels (LayerNorm, softmax) give each row one warp; their launchers take
 * any block size that is a multiple of 32. Reductions run in a fixed order
 * (warp shuffles, then shared memory, then a second pass over per-block
 * partials), so results do not depend on scheduling; the only float
 * atomics are in embed_backward_atomic, the non-deterministic mode's
 * embedding scatter. */
#ifndef PIPECLF_CUDA_KERNELS_CUH
#define PIPECLF_CUDA_KERNELS_CUH

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.cuh"
#include "philox.h"

/* ------------------------------------------------------------------------
 * Types and small helpers. */

__host__ __device__ __forceinline__ float to_float(float x) { return x; }
__host__ __device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__host__ __device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename X> __host__ __device__ __forceinline__ X from_float(float x);
template <> __host__ __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __host__ __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __host__ __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x)
{
    return __float2bfloat16_rn(x);
}

/* One dropout of a forward pass: the pass's Philox key, the site's number,
 * the cut (philox.h) and 1/(1-p). on == 0: the identity. */
struct dropout_args {
    uint64_t key;
    uint32_t site, cut;
    float scale;
    int on;
};

/* Inverted dropout of element i (torch.nn.Dropout; lib/bert/bert.c dropout_forward
 * and dropout_backward are the same function of the mask). */
__host__ __device__ __forceinline__ float dropout_value(const dropout_args &d, size_t i, float v)
{
    if (!d.on) return v;
    return dropout_draw(d.key, d.site, (uint64_t)i) >= d.cut ? v * d.scale : 0.0f;
}

/* The activations of lib/bert/bertconfig.h's bert_act, in its order. */
enum { KACT_GELU = 0, KACT_GELU_TANH = 1, KACT_RELU = 2 };

#define KGELU_TANH_K 0.7978845608028654f /* sqrt(2/pi) */
#define KSQRT1_2 0.70710678118654752f

__host__ __device__ __forceinline__ float act_forward(float x, int kind)
{
    if (kind == KACT_GELU) return 0.5f * x * (1.0f + erff(x * KSQRT1_2));
    if (kind == KACT_GELU_TANH) return 0.5f * x * (1.0f + tanhf(KGELU_TANH_K * (x + 0.044715f * x * x * x)));
    return x > 0 ? x : 0.0f;
}

/* d * act'(x), as lib/bert/bert.c's activation_backward */
__host__ __device__ __forceinline__ float act_backward(float d, float x, int kind)
{
    if (kind == KACT_GELU) {
        const float cdf = 0.5f * (1.0f + erff(x * KSQRT1_2));
        const float pdf = expf(-0.5f * x * x) * 0.3989422804014327f; /* 1/sqrt(2 pi) */
        return d * (cdf + x * pdf);
    }
    if (kind == KACT_GELU_TANH) {
        const float t = tanhf(KGELU_TANH_K * (x + 0.044715f * x * x * x));
        return d * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * KGELU_TANH_K * (1.0f + 3 * 0.044715f * x * x));
    }
    return x > 0 ? d : 0.0f;
}

template <typename V> __device__ __forceinline__ V warp_sum(V v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* The sum of v over the block (blockDim.x a multiple of 32, at most 1024),
 * in the same order every time; every thread gets it. */
template <typename V> __device__ V block_sum(V v)
{
    __shared__ V partial[32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_sum(v);
    __syncthreads(); /* the previous call's readers are done with partial */
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        V s = lane < nwarps ? partial[lane] : V(0);
        s = warp_sum(s);
        if (lane == 0) partial[0] = s;
    }
    __syncthreads();
    return partial[0];
}

static inline unsigned blocks_for(size_t n, int block)
{
    return (unsigned)((n + (size_t)block - 1) / (size_t)block);
}

/* blocks of `block` threads, one warp per row */
static inline unsigned row_blocks(int rows, int block)
{
    const int warps = block / 32;
    return (unsigned)((rows + warps - 1) / warps);
}

#define KERNEL_INDEX ((size_t)blockIdx.x * blockDim.x + threadIdx.x)

/* ------------------------------------------------------------------------
 * LayerNorm rows (lib/bert/bert.c layernorm_forward): the mean and 1/std of the
 * stored (rounded) inputs, kept for the backward; out = (x rstd - mean rstd)
 * w + b, then the optional dropout (the embeddings' only). `sum` is this
 * lane's part of the row sum. */
template <typename X>
__device__ __forceinline__ void layernorm_row(X *out, float *mean, float *rstd, const X *in, const float *w,
                                              const float *b, int H, float eps, float sum, int lane,
                                              const dropout_args &d, size_t base)
{
    const float mu = warp_sum(sum) / (float)H;
    float ss = 0.0f;
    for (int j = lane; j < H; j += 32) {
        const float c = to_float(in[j]) - mu;
        ss += c * c;
    }
    const float r = 1.0f / sqrtf(warp_sum(ss) / (float)H + eps);
    if (lane == 0) {
        *mean = mu;
        *rstd = r;
    }
    const float shift = -r * mu;
    for (int j = lane; j < H; j += 32)
        out[j] = from_float<X>(dropout_value(d, base + (size_t)j, (to_float(in[j]) * r + shift) * w[j] + b[j]));
}

/* Embeddings (bert_forward's first loop + LayerNorm + dropout): row i of N =
 * B*T takes (word[id] + type[tt]) + position[i % T], stores it in emb_in,
 * normalises it into emb_out. */
template <typename X>
__global__ void embed_forward_kernel(X *emb_in, X *emb_out, float *mean, float *rstd, const int *ids,
                                     const int *types, const float *word, const float *pos, const float *type_emb,
                                     const float *w, const float *b, int N, int T, int H, float eps, dropout_args d)
{
    const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const float *we = word + (size_t)ids[row] * H, *te = type_emb + (size_t)types[row] * H,
                *pe = pos + (size_t)(row % T) * H;
    X *in = emb_in + (size_t)row * H;
    float s = 0.0f;
    for (int j = lane; j < H; j += 32) {
        const X v = from_float<X>((we[j] + te[j]) + pe[j]);
        in[j] = v;
        s += to_float(v);
    }
    layernorm_row(emb_out + (size_t)row * H, mean + row, rstd + row, in, w, b, H, eps, s, lane, d, (size_t)row * H);
}

template <typename X>
void launch_embed_forward(cudaStream_t st, X *emb_in, X *emb_out, float *mean, float *rstd, const int *ids,
                          const int *types, const float *word, const float *pos, const float *type_emb,
                          const float *w, const float *b, int N, int T, int H, float eps, dropout_args d,
                          int block = 256)
{
    launch("embed_forward", embed_forward_kernel<X>, row_blocks(N, block), block, 0, st, emb_in, emb_out, mean, rstd,
           ids, types, word, pos, type_emb, w, b, N, T, H, eps, d);
}

/* The end of an attention or feed-forward block (layer_forward): the dense
 * output plus its bias, dropout, plus the residual, stored in ln_in, then
 * LayerNorm into out. */
template <typename X>
__global__ void residual_layernorm_kernel(X *ln_in, X *out, float *mean, float *rstd, const X *dense,
                                          const float *bias, const X *resid, const float *w, const float *b, int N,
                                          int H, float eps, dropout_args d)
{
    const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const size_t base = (size_t)row * H;
    X *in = ln_in + base;
    float s = 0.0f;
    for (int j = lane; j < H; j += 32) {
        const float v = dropout_value(d, base + (size_t)j, to_float(dense[base + j]) + bias[j]) + to_float(resid[base + j]);
        const X vx = from_float<X>(v);
        in[j] = vx;
        s += to_float(vx);
    }
    const dropout_args none = {0, 0, 0, 1.0f, 0};
    layernorm_row(out + base, mean + row, rstd + row, in, w, b, H, eps, s, lane, none, 0);
}

template <typename X>
void launch_residual_layernorm(cudaStream_t st, X *ln_in, X *out, float *mean, float *rstd, const X *dense,
                               const float *bias, const X *resid, const float *w, const float *b, int N, int H,
                               float eps, dropout_args d, int block = 256)
{
    launch("residual_layernorm", residual_layernorm_kernel<X>, row_blocks(N, block), block, 0, st, ln_in, out, mean,
           rstd, dense, bias, resid, w, b, N, H, eps, d);
}

/* LayerNorm backward (layernorm_backward's dx): dx = (dy w - mean(dy w) -
 * xhat mean(dy w xhat)) rstd, and with dx_drop also dropout's backward of
 * dx (the dropout before the residual that fed this LayerNorm). dx may be
 * dy. The weight and bias gradients are column sums: colsum_* below. */
template <typename X>
__global__ void layernorm_backward_kernel(X *dx, X *dx_drop, const X *dy, const X *x, const float *mean,
                                          const float *rstd, const float *w, int N, int H, dropout_args d)
{
    const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const size_t base = (size_t)row * H;
    const float mu = mean[row], r = rstd[row];
    float sum_dn = 0.0f, sum_dn_xhat = 0.0f;
    for (int j = lane; j < H; j += 32) {
        const float xhat = (to_float(x[base + j]) - mu) * r, dn = to_float(dy[base + j]) * w[j];
        sum_dn += dn;
        sum_dn_xhat += dn * xhat;
    }
    const float m1 = warp_sum(sum_dn) / (float)H, m2 = warp_sum(sum_dn_xhat) / (float)H;
    for (int j = lane; j < H; j += 32) {
        const float xhat = (to_float(x[base + j]) - mu) * r;
        const X v = from_float<X>((to_float(dy[base + j]) * w[j] - m1 - xhat * m2) * r);
        dx[base + j] = v;
        if (dx_drop) dx_drop[base + j] = from_float<X>(dropout_value(d, base + (size_t)j, to_float(v)));
    }
}

template <typename X>
void launch_layernorm_backward(cudaStream_t st, X *dx, X *dx_drop, const X *dy, const X *x, const float *mean,
                               const float *rstd, const float *w, int N, int H, dropout_args d, int block = 256)
{
    launch("layernorm_backward", layernorm_backward_kernel<X>, row_blocks(N, block), block, 0, st, dx, dx_drop, dy, x,
           mean, rstd, w, N, H, d);
}

/* ------------------------------------------------------------------------
 * Column sums: bias gradients (linear_backward's db += sum of dout) and
 * LayerNorm's weight and bias gradients (dw += sum dy xhat, db += sum dy),
 * added into fp32 gradients in a fixed order: blocks of 32 columns x
 * blockDim.y rows sum a split of the rows into part[split][col], then one
 * thread per column adds the splits in order. */

#define COLSUM_MAX_Y 32

static inline int colsum_splits(int N)
{
    const int s = (N + 63) / 64;
    return s < 1 ? 1 : s > 256 ? 256 : s;
}

template <typename X, bool LN>
__global__ void colsum_partial_kernel(float *part0, float *part1, const X *dy, const X *x, const float *mean,
                                      const float *rstd, int N, int C, int rows_per_split)
{
    __shared__ float s0[COLSUM_MAX_Y][33], s1[COLSUM_MAX_Y][33];
    const int tx = threadIdx.x, ty = threadIdx.y, col = blockIdx.x * 32 + tx;
    const int r0 = blockIdx.y * rows_per_split, r1 = min(N, r0 + rows_per_split);
    float a0 = 0.0f, a1 = 0.0f;
    if (col < C) {
        for (int r = r0 + ty; r < r1; r += blockDim.y) {
            const float g = to_float(dy[(size_t)r * C + col]);
            if (LN) {
                const float xhat = (to_float(x[(size_t)r * C + col]) - mean[r]) * rstd[r];
                a0 += g * xhat;
                a1 += g;
            } else {
                a0 += g;
            }
        }
    }
    s0[ty][tx] = a0;
    s1[ty][tx] = a1;
    __syncthreads();
    if (ty == 0 && col < C) {
        float t0 = 0.0f, t1 = 0.0f;
        for (int y = 0; y < (int)blockDim.y; y++) {
            t0 += s0[y][tx];
            t1 += s1[y][tx];
        }
        part0[(size_t)blockIdx.y * C + col] = t0;
        if (LN) part1[(size_t)blockIdx.y * C + col] = t1;
    }
}

__global__ void colsum_finish_kernel(float *g0, float *g1, const float *part0, const float *part1, int nsplit, int C)
{
    const size_t col = KERNEL_INDEX;
    if (col >= (size_t)C) return;
    float t0 = 0.0f, t1 = 0.0f;
    for (int k = 0; k < nsplit; k++) {
        t0 += part0[(size_t)k * C + col];
        if (g1) t1 += part1[(size_t)k * C + col];
    }
    g0[col] += t0;
    if (g1) g1[col] += t1;
}

/* g0 += column sums of dy [N, C]; part0 holds colsum_splits(N) * C floats. */
template <typename X>
void launch_bias_grad(cudaStream_t st, float *g0, float *part0, const X *dy, int N, int C, int rows_y = 8)
{
    const int ns = colsum_splits(N), per = (N + ns - 1) / ns;
    launch("colsum_partial", colsum_partial_kernel<X, false>, dim3((unsigned)(C + 31) / 32, (unsigned)ns),
           dim3(32, (unsigned)rows_y), 0, st, part0, (float *)nullptr, dy, (const X *)nullptr, (const float *)nullptr,
           (const float *)nullptr, N, C, per);
    launch("colsum_finish", colsum_finish_kernel, blocks_for((size_t)C, 256), 256, 0, st, g0, (float *)nullptr, part0,
           (const float *)nullptr, ns, C);
}

/* LayerNorm's dw += sum dy xhat and db += sum dy over the N rows */
template <typename X>
void launch_layernorm_param_grad(cudaStream_t st, float *dw, float *db, float *part0, float *part1, const X *dy,
                                 const X *x, const float *mean, const float *rstd, int N, int C, int rows_y = 8)
{
    const int ns = colsum_splits(N), per = (N + ns - 1) / ns;
    launch("colsum_partial_ln", colsum_partial_kernel<X, true>, dim3((unsigned)(C + 31) / 32, (unsigned)ns),
           dim3(32, (unsigned)rows_y), 0, st, part0, part1, dy, x, mean, rstd, N, C, per);
    launch("colsum_finish", colsum_finish_kernel, blocks_for((size_t)C, 256), 256, 0, st, dw, db, part0, part1, ns, C);
}

/* ------------------------------------------------------------------------
 * Feed-forward activation (linear_forward's bias + activation_forward, and
 * activation_backward). */

template <typename X>
__global__ void bias_act_forward_kernel(X *pre, X *act, const float *bias, size_t n, int cols, int kind)
{
    const size_t i = KERNEL_INDEX;
    if (i >= n) return;
    const X p = from_float<X>(to_float(pre[i]) + bias[i % (size_t)cols]);
    pre[i] = p;
    act[i] = from_float<X>(act_forward(to_float(p), kind));
}

template <typename X>
void launch_bias_act_forward(cudaStream_t st, X *pre, X *act, const float *bias, size_t n, int cols, int kind,
                             int block = 256)
{
    launch("bias_act_forward", bias_act_forward_kernel<X>, blocks_for(n, block), block, 0, st, pre, act, bias, n, cols,
           kind);
}

template <typename X> __global__ void act_backward_kernel(X *d, const X *pre, size_t n, int kind)
{
    const size_t i = KERNEL_INDEX;
    if (i >= n) return;
    d[i] = from_float<X>(act_backward(to_float(d[i]), to_float(pre[i]), kind));
}

template <typename X> void launch_act_backward(cudaStream_t st, X *d, const X *pre, size_t n, int kind, int block = 256)
{
    launch("act_backward", act_backward_kernel<X>, blocks_for(n, block), block, 0, st, d, pre, n, kind);
}

/* out = dropout(in), elementwise (in place allowed): a forward's mask drawn
 * again, for the attention probabilities' backward and the embeddings'. */
template <typename X> __global__ void dropout_kernel(X *out, const X *in, size_t n, dropout_args d)
{
    const size_t i = KERNEL_INDEX;
    if (i >= n) return;
    out[i] = from_float<X>(dropout_value(d, i, to_float(in[i])));
}

template <typename X> void launch_dropout(cudaStream_t st, X *out, const X *in, size_t n, dropout_args d, int block = 256)
{
    launch("dropout", dropout_kernel<X>, blocks_for(n, block), block, 0, st, out, in, n, d);
}

/* ------------------------------------------------------------------------
 * Attention layout. The QKV projection writes [B*T, nmat*H] rows (query,
 * key, value side by side, heads side by side in each); the batched matrix
 * products want [nmat][B][nh][T][d], one [T, d] matrix per sequence and
 * head. rows_to_heads adds the bias on the way (nullptr: none). */

template <typename X>
__global__ void rows_to_heads_kernel(X *out, const X *in, const float *bias, int B, int T, int nh, int d, int nmat)
{
    const size_t i = KERNEL_INDEX, per = (size_t)B * nh * T * d;
    if (i >= per * nmat) return;
    const int m = (int)(i / per);
    size_t r = i % per;
    const int e = (int)(r % d);
    r /= d;
    const int t = (int)(r % T);
    r /= T;
    const int h = (int)(r % nh), b = (int)(r / nh), H = nh * d;
    const int col = m * H + h * d + e;
    float v = to_float(in[((size_t)b * T + t) * (size_t)(nmat * H) + col]);
    if (bias) v += bias[col];
    out[i] = from_float<X>(v);
}

template <typename X>
__global__ void heads_to_rows_kernel(X *out, const X *in, int B, int T, int nh, int d, int nmat)
{
    const int H = nh * d;
    const size_t i = KERNEL_INDEX, width = (size_t)nmat * H, per = (size_t)B * nh * T * d;
    if (i >= (size_t)B * T * width) return;
    const size_t row = i / width;
    const int col = (int)(i % width), m = col / H, h = (col % H) / d, e = col % d;
    const int b = (int)(row / T), t = (int)(row % T);
    out[i] = in[m * per + (((size_t)b * nh + h) * T + t) * d + e];
}

template <typename X>
void launch_rows_to_heads(cudaStream_t st, X *out, const X *in, const float *bias, int B, int T, int nh, int d,
                          int nmat, int block = 256)
{
    launch("rows_to_heads", rows_to_heads_kernel<X>, blocks_for((size_t)B * T * nh * d * nmat, block), block, 0, st,
           out, in, bias, B, T, nh, d, nmat);
}

template <typename X>
void launch_heads_to_rows(cudaStream_t st, X *out, const X *in, int B, int T, int nh, int d, int nmat, int block = 256)
{
    launch("heads_to_rows", heads_to_rows_kernel<X>, blocks_for((size_t)B * T * nh * d * nmat, block), block, 0, st,
           out, in, B, T, nh, d, nmat);
}

/* ------------------------------------------------------------------------
 * Masked softmax (attention_forward): row r of the B*nh*T rows of scores S
 * (fp32, from the matrix product) becomes P = softmax(S / sqrt(d) +
 * mask_add[b]), mask_add being 0 for a token and -FLT_MAX for padding, HF's
 * additive mask: padding keys get probability exactly 0, and a row with no
 * token at all comes out uniform, as on the CPU. Pd (when dropout is on)
 * gets dropout(P), what multiplies V. */
template <typename X>
__global__ void softmax_forward_kernel(X *P, X *Pd, const float *S, const float *mask_add, int rows, int T,
                                       int heads_T, float sqrt_d, dropout_args d)
{
    const int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows) return;
    const size_t base = (size_t)r * T;
    const float *s = S + base, *madd = mask_add + (size_t)(r / heads_T) * T;
    float mx = -INFINITY;
    for (int j = lane; j < T; j += 32) mx = fmaxf(mx, s[j] / sqrt_d + madd[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < T; j += 32) sum += expf(s[j] / sqrt_d + madd[j] - mx);
    sum = warp_sum(sum);
    for (int j = lane; j < T; j += 32) {
        const X p = from_float<X>(expf(s[j] / sqrt_d + madd[j] - mx) / sum);
        P[base + j] = p;
        if (Pd) Pd[base + j] = from_float<X>(dropout_value(d, base + (size_t)j, to_float(p)));
    }
}

template <typename X>
void launch_softmax_forward(cudaStream_t st, X *P, X *Pd, const float *S, const float *mask_add, int rows, int T,
                            int heads_T, float sqrt_d, dropout_args d, int block = 256)
{
    launch("softmax_forward", softmax_forward_kernel<X>, row_blocks(rows, block), block, 0, st, P, Pd, S, mask_add,
           rows, T, heads_T, sqrt_d, d);
}

/* attention_backward's middle: g = dropout's backward of dP (fp32), then
 * dS = P (g - sum(g P)) / sqrt(d). */
template <typename X>
__global__ void softmax_backward_kernel(X *dS, const float *dP, const X *P, int rows, int T, float sqrt_d,
                                        dropout_args d)
{
    const int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (r >= rows) return;
    const size_t base = (size_t)r * T;
    float dot = 0.0f;
    for (int j = lane; j < T; j += 32) dot += dropout_value(d, base + (size_t)j, dP[base + j]) * to_float(P[base + j]);
    dot = warp_sum(dot);
    for (int j = lane; j < T; j += 32) {
        const float g = dropout_value(d, base + (size_t)j, dP[base + j]);
        dS[base + j] = from_float<X>(to_float(P[base + j]) * (g - dot) / sqrt_d);
    }
}

template <typename X>
void launch_softmax_backward(cudaStream_t st, X *dS, const float *dP, const X *P, int rows, int T, float sqrt_d,
                             dropout_args d, int block = 256)
{
    launch("softmax_backward", softmax_backward_kernel<X>, row_blocks(rows, block), block, 0, st, dS, dP, P, rows, T,
           sqrt_d, d);
}

/* ------------------------------------------------------------------------
 * Pooler and classifier (the end of bert_forward and the start of
 * bert_backward), in fp32 with the fp32 master weights of the classifier:
 * B x C logits are cheap, and the loss is taken in fp64 as on the CPU. */

__global__ void pooler_forward_kernel(float *pooled, float *cls_in, const float *pre, const float *bias, int B, int H,
                                      dropout_args d)
{
    const size_t i = KERNEL_INDEX;
    if (i >= (size_t)B * H) return;
    const float v = tanhf(pre[i] + bias[i % (size_t)H]);
    pooled[i] = v;
    cls_in[i] = dropout_value(d, i, v);
}

static inline void launch_pooler_forward(cudaStream_t st, float *pooled, float *cls_in, const float *pre,
                                         const float *bias, int B, int H, dropout_args d, int block = 256)
{
    launch("pooler_forward", pooler_forward_kernel, blocks_for((size_t)B * H, block), block, 0, st, pooled, cls_in,
           pre, bias, B, H, d);
}

/* One block per example: logits = x W^T + b, probabilities (softmax in
 * fp64) and, with labels, the example's cross-entropy. */
__global__ void classifier_forward_kernel(float *logits, float *probs, float *losses, const float *x, const float *W,
                                          const float *bias, const int *labels, int H, int C)
{
    const int b = blockIdx.x;
    const float *xb = x + (size_t)b * H;
    float *z = logits + (size_t)b * C;
    for (int k = 0; k < C; k++) {
        float s = 0.0f;
        for (int j = threadIdx.x; j < H; j += blockDim.x) s += xb[j] * W[(size_t)k * H + j];
        s = block_sum(s);
        if (threadIdx.x == 0) z[k] = s + bias[k];
    }
    if (threadIdx.x != 0) return;
    float mx = z[0];
    for (int k = 1; k < C; k++)
        if (z[k] > mx) mx = z[k];
    double sum = 0.0;
    for (int k = 0; k < C; k++) sum += exp((double)z[k] - mx);
    for (int k = 0; k < C; k++) probs[(size_t)b * C + k] = (float)(exp((double)z[k] - mx) / sum);
    if (labels) losses[b] = (float)(log(sum) - ((double)z[labels[b]] - mx));
}

static inline void launch_classifier_forward(cudaStream_t st, float *logits, float *probs, float *losses,
                                             const float *x, const float *W, const float *bias, const int *labels,
                                             int B, int H, int C, int block = 128)
{
    launch("classifier_forward", classifier_forward_kernel, (unsigned)B, block, 0, st, logits, probs, losses, x, W,
           bias, labels, H, C);
}

/* dlogits = w_y (p - onehot(y)) / denominator, times the loss scale */
__global__ void classifier_dlogits_kernel(float *dlogits, const float *probs, const int *labels, const float *class_w,
                                          int B, int C, double denominator, float loss_scale)
{
    const size_t i = KERNEL_INDEX;
    if (i >= (size_t)B * C) return;
    const int b = (int)(i / C), k = (int)(i % C), y = labels[b];
    const float f = (float)((class_w ? (double)class_w[y] : 1.0) / denominator) * loss_scale;
    dlogits[i] = (probs[i] - (k == y ? 1.0f : 0.0f)) * f;
}

/* The classifier's linear_backward: dx = dlogits W, gW += dlogits^T x,
 * gb += column sums of dlogits; thread j owns column j. */
__global__ void classifier_backward_kernel(float *dx, float *gW, float *gb, const float *dlogits, const float *x,
                                           const float *W, int B, int H, int C)
{
    const size_t j = KERNEL_INDEX;
    if (j < (size_t)H) {
        for (int b = 0; b < B; b++) {
            float s = 0.0f;
            for (int k = 0; k < C; k++) s += dlogits[(size_t)b * C + k] * W[(size_t)k * H + j];
            dx[(size_t)b * H + j] = s;
        }
        for (int k = 0; k < C; k++) {
            float s = 0.0f;
            for (int b = 0; b < B; b++) s += dlogits[(size_t)b * C + k] * x[(size_t)b * H + j];
            gW[(size_t)k * H + j] += s;
        }
    }
    if (blockIdx.x == 0) {
        for (int k = threadIdx.x; k < C; k += blockDim.x) {
            float s = 0.0f;
            for (int b = 0; b < B; b++) s += dlogits[(size_t)b * C + k];
            gb[k] += s;
        }
    }
}

static inline void launch_classifier_backward(cudaStream_t st, float *dlogits, float *dx, float *gW, float *gb,
                                              const float *probs, const int *labels, const float *class_w,
                                              const float *x, const float *W, int B, int H, int C,
                                              double denominator, float loss_scale, int block = 256)
{
    launch("classifier_dlogits", classifier_dlogits_kernel, blocks_for((size_t)B * C, 256), 256, 0, st, dlogits, probs,
           labels, class_w, B, C, denominator, loss_scale);
    launch("classifier_backward", classifier_backward_kernel, blocks_for((size_t)H, block), block, 0, st, dx, gW, gb,
           dlogits, x, W, B, H, C);
}

/* The pooler's backward up to its dense layer: dropout's backward, then
 * tanh' = 1 - pooled^2; in X for the matrix products that follow. */
template <typename X>
__global__ void pooler_backward_kernel(X *dpre, const float *dcls_in, const float *pooled, size_t n, dropout_args d)
{
    const size_t i = KERNEL_INDEX;
    if (i >= n) return;
    const float p = pooled[i];
    dpre[i] = from_float<X>(dropout_value(d, i, dcls_in[i]) * (1.0f - p * p));
}

template <typename X>
void launch_pooler_backward(cudaStream_t st, X *dpre, const float *dcls_in, const float *pooled, size_t n,
                            dropout_args d, int block = 256)
{
    launch("pooler_backward", pooler_backward_kernel<X>, blocks_for(n, block), block, 0, st, dpre, dcls_in, pooled, n,
           d);
}

/* ------------------------------------------------------------------------
 * Embedding gradients (the scatter at the end of bert_backward). The
 * deterministic way: the host groups the rows by the table row they feed
 * (word id, position, token type), and each group's sum is taken in row
 * order and added to its table row: block (group, column tile). */
template <typename X>
__global__ void embed_backward_groups_kernel(float *grads, const X *demb, const long long *target, const int *start,
                                             const int *rows, int H)
{
    const int g = blockIdx.x, j = blockIdx.y * blockDim.x + threadIdx.x;
    if (j >= H) return;
    float s = 0.0f;
    for (int k = start[g]; k < start[g + 1]; k++) s += to_float(demb[(size_t)rows[k] * H + j]);
    grads[target[g] + j] += s;
}

template <typename X>
void launch_embed_backward_groups(cudaStream_t st, float *grads, const X *demb, const long long *target,
                                  const int *start, const int *rows, int ngroups, int H, int block = 128)
{
    if (ngroups == 0) return;
    launch("embed_backward_groups", embed_backward_groups_kernel<X>,
           dim3((unsigned)ngroups, (unsigned)((H + block - 1) / block)), block, 0, st, grads, demb, target, start,
           rows, H);
}

/* The faster way, in an order that changes from run to run: float atomics.
 * The padding token's row gets no gradient (nn.Embedding's padding_idx). */
template <typename X>
__global__ void embed_backward_atomic_kernel(float *grads, const X *demb, const int *ids, const int *types, int N,
                                             int T, int H, long long word_off, long long pos_off, long long type_off,
                                             int pad_id)
{
    const size_t i = KERNEL_INDEX;
    if (i >= (size_t)N * H) return;
    const int row = (int)(i / H), j = (int)(i % H);
    const float v = to_float(demb[i]);
    if (ids[row] != pad_id) atomicAdd(grads + word_off + (long long)ids[row] * H + j, v);
    atomicAdd(grads + pos_off + (long long)(row % T) * H + j, v);
    atomicAdd(grads + type_off + (long long)types[row] * H + j, v);
}

template <typename X>
void launch_embed_backward_atomic(cudaStream_t st, float *grads, const X *demb, const int *ids, const int *types,
                                  int N, int T, int H, long long word_off, long long pos_off, long long type_off,
                                  int pad_id, int block = 256)
{
    launch("embed_backward_atomic", embed_backward_atomic_kernel<X>, blocks_for((size_t)N * H, block), block, 0, st,
           grads, demb, ids, types, N, T, H, word_off, pos_off, type_off, pad_id);
}

/* ------------------------------------------------------------------------
 * Optimizer. The gradient norm (bert_clip_grad_norm: the sum of squares in
 * fp64) in two passes: a fixed grid of blocks each sums a fixed share, then
 * one block adds the blocks' sums in order. */

#define SUMSQ_BLOCKS 512

__global__ void sumsq_partial_kernel(double *part, const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = KERNEL_INDEX; i < n; i += (size_t)gridDim.x * blockDim.x) s += (double)g[i] * (double)g[i];
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void sumsq_finish_kernel(double *out, const double *part, int nparts)
{
    double s = 0.0;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += part[i];
    s = block_sum(s);
    if (threadIdx.x == 0) out[0] = s;
}

/* out[0] = sum of g[i]^2; part holds SUMSQ_BLOCKS doubles */
static inline void launch_sumsq(cudaStream_t st, double *out, double *part, const float *g, size_t n, int block = 256)
{
    launch("sumsq_partial", sumsq_partial_kernel, SUMSQ_BLOCKS, block, 0, st, part, g, n);
    launch("sumsq_finish", sumsq_finish_kernel, 1, 256, 0, st, out, (const double *)part, SUMSQ_BLOCKS);
}

/* torch.optim.AdamW (single-tensor path) as bert_adamw_step computes it:
 * scalars from the host, element arithmetic in fp32 in torch's order. The
 * gradient is multiplied by grad_mult first (clipping, and 1/loss scale).
 * Parameter i belongs to the tensor whose end is the first seg_end above i;
 * seg_decay says whether that tensor decays (not biases or LayerNorm). */
struct adamw_args {
    float grad_mult, step_size, bc2_sqrt, b1, b2, one_b1, one_b2, decay, eps;
};

template <typename X>
__global__ void adamw_kernel(float *p, X *p_lowp, float *m, float *v, const float *g, size_t n,
                             const long long *seg_end, const unsigned char *seg_decay, int nseg, adamw_args a)
{
    const size_t i = KERNEL_INDEX;
    if (i >= n) return;
    int lo = 0, hi = nseg - 1;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (seg_end[mid] > (long long)i) hi = mid;
        else lo = mid + 1;
    }
    const float grad = g[i] * a.grad_mult;
    float pi = p[i];
    if (seg_decay[lo]) pi *= a.decay;
    const float mi = m[i] * a.b1 + grad * a.one_b1;
    const float vi = v[i] * a.b2 + grad * grad * a.one_b2;
    const float denom = sqrtf(vi) / a.bc2_sqrt + a.eps;
    pi += -a.step_size * (mi / denom);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
    if (p_lowp) p_lowp[i] = from_float<X>(pi);
}

template <typename X>
void launch_adamw(cudaStream_t st, float *p, X *p_lowp, float *m, float *v, const float *g, size_t n,
                  const long long *seg_end, const unsigned char *seg_decay, int nseg, adamw_args a, int block = 256)
{
    launch("adamw", adamw_kernel<X>, blocks_for(n, block), block, 0, st, p, p_lowp, m, v, g, n, seg_end, seg_decay,
           nseg, a);
}

/* the fp32 master weights rounded into the copy the matrix products read */
template <typename X> __global__ void convert_kernel(X *out, const float *in, size_t n)
{
    const size_t i = KERNEL_INDEX;
    if (i < n) out[i] = from_float<X>(in[i]);
}

template <typename X> void launch_convert(cudaStream_t st, X *out, const float *in, size_t n, int block = 256)
{
    launch("convert", convert_kernel<X>, blocks_for(n, block), block, 0, st, out, in, n);
}

#endif
