/* bert_cuda.cu: lib/bert's BertForSequenceClassification on one GPU — the
 * bert_cuda_* half of lib/bert/bert_cuda.h (read its header comment first).
 *
 * The pass is lib/bert/bert.c's, step by step (each step names the CPU function
 * it mirrors); the kernels are lib/bert/cuda/kernels.cuh, the matrix products
 * cuBLAS (cublasGemmEx, and cublasGemmStridedBatchedEx for attention, one
 * [T, d] matrix per sequence and head). Master weights, gradients and AdamW
 * moments are fp32 and keep lib/bert's parameter layout (one buffer, the
 * tensors at the same offsets); for fp16 and bf16 the AdamW kernel also
 * writes a rounded copy of the weights, which the matrix products read.
 * Activations are stored in the precision's type X; weight gradients
 * accumulate in fp32 straight out of cuBLAS (C in fp32, beta 1), so
 * gradient accumulation over micro-batches loses nothing to X.
 *
 * Buffers grow with the largest batch seen (B x T) and are reused; one
 * stream orders everything, and the host waits only where it needs a
 * number (the loss after a forward, the norm before a step). */
extern "C" {
#include "bert/bert_cuda.h"
#include "core/common.h"
}

#include "kernels.cuh"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cuda_fatal(const char *what, const char *detail, const char *file, int line)
{
    die("CUDA error: %s: %s (%s:%d)", what, detail, file, line);
}

static_assert((int)KACT_GELU == (int)BERT_ACT_GELU && (int)KACT_GELU_TANH == (int)BERT_ACT_GELU_TANH &&
                  (int)KACT_RELU == (int)BERT_ACT_RELU,
              "kernels.cuh's activation numbers are bert_act's");

enum { DT_F32, DT_F16, DT_BF16 };

/* Dropout sites of a forward pass (the Philox counter's third word). */
enum { SITE_EMB = 0, SITE_POOLER = 1, SITE_LAYER0 = 2 /* + 3 l + {0 attention probs, 1 attention out, 2 ffn out} */ };

/* A tensor's offset in the parameter buffer, for each of bert_weights. */
typedef struct layer_off {
    size_t qkv_w, qkv_b, attn_out_w, attn_out_b, ln1_w, ln1_b, fc_w, fc_b, proj_w, proj_b, ln2_w, ln2_b;
} layer_off;

typedef struct dev_layer {
    void *qkvh;            /* [3][B][nh][T][d]: query, key, value per head, with their biases */
    void *P;               /* [B][nh][T][T] attention probabilities, before dropout */
    void *ctx;             /* [BT, H] */
    void *ln1_in, *ln1_out, *fc_pre, *fc_act, *ln2_in, *out;
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd;
} dev_layer;

struct bert_cuda {
    bert_cuda_options opt;
    int dtype;
    size_t xsize;              /* bytes of X */
    cudaDataType xtype;        /* X for cuBLAS */
    cublasComputeType_t compute;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *workspace;
    char describe[256];

    /* the architecture */
    int L, H, I, nh, d, C, TV, act, pad_id;
    float eps;
    size_t nparams;
    size_t word, pos, type, emb_ln_w, emb_ln_b, pool_w, pool_b, cls_w, cls_b;
    layer_off *lo;

    /* parameters and optimizer */
    float *params, *grads, *adam_m, *adam_v;
    void *params_x;            /* params rounded to X (the same buffer for fp32) */
    long long *seg_end;
    unsigned char *seg_decay;
    int nseg;
    double *sumsq_part, *sumsq_out;
    int has_adam;              /* the moments hold a step's values */
    int norm_valid;            /* grad_mult and found_inf describe the current gradients */
    int found_inf;
    float grad_mult;           /* what AdamW multiplies the gradients by: clipping / loss scale */
    int use_scaler;
    bert_loss_scaler scaler;

    /* activations, for cap_b x cap_t */
    int cap_b, cap_t;
    int *ids, *types, *labels;
    float *mask_add, *class_w;
    void *emb_in, *emb_out;
    float *emb_mean, *emb_rstd;
    dev_layer *layers;
    float *pool_pre, *pooled, *cls_in, *logits, *probs, *losses;
    /* scratch */
    float *scores;             /* [B][nh][T][T] fp32: scores, then dP in the backward */
    void *Pd;                  /* [B][nh][T][T]: dropout(P), then dS in the backward */
    void *rows3;               /* [BT, 3H]: the QKV product, then dqkv */
    void *heads3;              /* [3][B][nh][T][d]: dq, dk, dv */
    void *heads;               /* [B][nh][T][d]: the context per head, then its gradient */
    void *sa, *sb, *sc;        /* [BT, H] */
    void *dres;                /* [BT, H]: the gradient flowing down the layers */
    void *sfc;                 /* [BT, I] */
    float *part0, *part1;      /* column-sum partials */
    float *dlogits, *dcls_in;
    void *dpool;               /* [B, H] */
    /* deterministic embedding backward: row groups */
    long long *grp_target;
    int *grp_start, *grp_rows;

    /* host staging, for cap_b x cap_t */
    int *h_ids, *h_types, *h_labels;
    float *h_mask;
    long long *h_target;
    int *h_start, *h_rows;
    long long *h_sort;

    /* the last forward */
    int B, T, training;
    uint64_t drop_key;
    double p_hidden, p_attn, p_cls;
};

/* ------------------------------------------------------------------------
 * Memory. */

static void *dev_alloc(bert_cuda *g, size_t bytes)
{
    (void)g;
    void *p = NULL;
    if (bytes == 0) bytes = 16;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        size_t free_b = 0, total_b = 0;
        cudaGetLastError();
        cudaMemGetInfo(&free_b, &total_b);
        die("out of GPU memory: %.1f MiB more wanted, %.1f of %.1f MiB free (a smaller --batch-size or --max-len "
            "needs less)", bytes / 1048576.0, free_b / 1048576.0, total_b / 1048576.0);
    }
    return p;
}

static void dev_free(void *p)
{
    if (p) cudaFree(p);
}

/* ------------------------------------------------------------------------
 * Matrix products, row-major: C[M, N] = op(A) op(B) (+ beta C), op a
 * transpose when tA / tB; lda, ldb, ldc the row strides as stored; batch > 1
 * repeats it with the strides sA, sB, sC. cuBLAS is column-major, and a
 * row-major matrix is its transpose there, so it computes C^T = op(B)^T
 * op(A)^T: B first. C is X (ctype = g->xtype) or fp32 (CUDA_R_32F: weight
 * gradients, attention scores, the pooler). */
static void gemm(bert_cuda *g, bool tA, bool tB, int M, int N, int K, const void *A, int lda, long long sA,
                 const void *B, int ldb, long long sB, void *C, cudaDataType ctype, int ldc, long long sC, float beta,
                 int batch)
{
    const float alpha = 1.0f;
    const cublasOperation_t opA = tB ? CUBLAS_OP_T : CUBLAS_OP_N, opB = tA ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t s;
    if (batch == 1)
        s = cublasGemmEx(g->blas, opA, opB, N, M, K, &alpha, B, g->xtype, ldb, A, g->xtype, lda, &beta, C, ctype, ldc,
                         g->compute, CUBLAS_GEMM_DEFAULT);
    else
        s = cublasGemmStridedBatchedEx(g->blas, opA, opB, N, M, K, &alpha, B, g->xtype, ldb, sB, A, g->xtype, lda, sA,
                                       &beta, C, ctype, ldc, sC, batch, g->compute, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
        die("cuBLAS: %s (a %d x %d x %d product, batch %d)", cublasGetStatusString(s), M, N, K, batch);
}

/* ------------------------------------------------------------------------
 * Creation. */

int bert_cuda_devices(char *why, size_t whylen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        if (why) {
            if (e == cudaErrorInsufficientDriver)
                snprintf(why, whylen, "no CUDA device found (no NVIDIA driver, or one older than this CUDA "
                                      "runtime needs: %s)", cudaGetErrorString(e));
            else if (e != cudaSuccess && e != cudaErrorNoDevice)
                snprintf(why, whylen, "no CUDA device found (%s)", cudaGetErrorString(e));
            else snprintf(why, whylen, "no CUDA device found");
        }
        cudaGetLastError(); /* clear the sticky error */
        return 0;
    }
    return n;
}

static size_t off_of(const bert_model *m, const float *p)
{
    return (size_t)(p - m->params);
}

static void free_acts(bert_cuda *g)
{
    dev_free(g->ids), dev_free(g->types), dev_free(g->labels), dev_free(g->mask_add);
    dev_free(g->emb_in), dev_free(g->emb_out), dev_free(g->emb_mean), dev_free(g->emb_rstd);
    for (int l = 0; g->layers && l < g->L; l++) {
        dev_layer *a = &g->layers[l];
        dev_free(a->qkvh), dev_free(a->P), dev_free(a->ctx), dev_free(a->ln1_in), dev_free(a->ln1_out);
        dev_free(a->fc_pre), dev_free(a->fc_act), dev_free(a->ln2_in), dev_free(a->out);
        dev_free(a->ln1_mean), dev_free(a->ln1_rstd), dev_free(a->ln2_mean), dev_free(a->ln2_rstd);
    }
    free(g->layers);
    g->layers = NULL;
    dev_free(g->pool_pre), dev_free(g->pooled), dev_free(g->cls_in), dev_free(g->logits), dev_free(g->probs);
    dev_free(g->losses), dev_free(g->scores), dev_free(g->Pd), dev_free(g->rows3), dev_free(g->heads3);
    dev_free(g->heads), dev_free(g->sa), dev_free(g->sb), dev_free(g->sc), dev_free(g->dres), dev_free(g->sfc);
    dev_free(g->part0), dev_free(g->part1), dev_free(g->dlogits), dev_free(g->dcls_in), dev_free(g->dpool);
    dev_free(g->grp_target), dev_free(g->grp_start), dev_free(g->grp_rows);
    free(g->h_ids), free(g->h_types), free(g->h_labels), free(g->h_mask);
    free(g->h_target), free(g->h_start), free(g->h_rows), free(g->h_sort);
    g->ids = g->types = g->labels = NULL;
    g->mask_add = NULL;
    g->emb_in = g->emb_out = NULL;
    g->emb_mean = g->emb_rstd = NULL;
    g->pool_pre = g->pooled = g->cls_in = g->logits = g->probs = g->losses = g->scores = NULL;
    g->Pd = g->rows3 = g->heads3 = g->heads = g->sa = g->sb = g->sc = g->dres = g->sfc = g->dpool = NULL;
    g->part0 = g->part1 = g->dlogits = g->dcls_in = NULL;
    g->grp_target = NULL;
    g->grp_start = g->grp_rows = NULL;
    g->h_ids = g->h_types = g->h_labels = g->h_start = g->h_rows = NULL;
    g->h_mask = NULL;
    g->h_target = g->h_sort = NULL;
    g->cap_b = g->cap_t = 0;
}

/* Sizes every activation and scratch buffer for a B x T batch. */
static void ensure_acts(bert_cuda *g, int B, int T)
{
    if (B <= g->cap_b && T <= g->cap_t) return;
    const int nb = B > g->cap_b ? B : g->cap_b, nt = T > g->cap_t ? T : g->cap_t;
    free_acts(g);
    g->cap_b = nb;
    g->cap_t = nt;
    const size_t BT = (size_t)nb * nt, H = (size_t)g->H, I = (size_t)g->I, xs = g->xsize, C = (size_t)g->C;
    const size_t att = (size_t)nb * g->nh * nt * nt, wide = 3 * H > I ? 3 * H : I;
    g->ids = (int *)dev_alloc(g, BT * sizeof(int));
    g->types = (int *)dev_alloc(g, BT * sizeof(int));
    g->labels = (int *)dev_alloc(g, (size_t)nb * sizeof(int));
    g->mask_add = (float *)dev_alloc(g, BT * sizeof(float));
    g->emb_in = dev_alloc(g, BT * H * xs);
    g->emb_out = dev_alloc(g, BT * H * xs);
    g->emb_mean = (float *)dev_alloc(g, BT * sizeof(float));
    g->emb_rstd = (float *)dev_alloc(g, BT * sizeof(float));
    g->layers = (dev_layer *)xcalloc((size_t)g->L, sizeof *g->layers);
    for (int l = 0; l < g->L; l++) {
        dev_layer *a = &g->layers[l];
        a->qkvh = dev_alloc(g, 3 * BT * H * xs);
        a->P = dev_alloc(g, att * xs);
        a->ctx = dev_alloc(g, BT * H * xs);
        a->ln1_in = dev_alloc(g, BT * H * xs);
        a->ln1_out = dev_alloc(g, BT * H * xs);
        a->fc_pre = dev_alloc(g, BT * I * xs);
        a->fc_act = dev_alloc(g, BT * I * xs);
        a->ln2_in = dev_alloc(g, BT * H * xs);
        a->out = dev_alloc(g, BT * H * xs);
        a->ln1_mean = (float *)dev_alloc(g, BT * sizeof(float));
        a->ln1_rstd = (float *)dev_alloc(g, BT * sizeof(float));
        a->ln2_mean = (float *)dev_alloc(g, BT * sizeof(float));
        a->ln2_rstd = (float *)dev_alloc(g, BT * sizeof(float));
    }
    g->pool_pre = (float *)dev_alloc(g, (size_t)nb * H * sizeof(float));
    g->pooled = (float *)dev_alloc(g, (size_t)nb * H * sizeof(float));
    g->cls_in = (float *)dev_alloc(g, (size_t)nb * H * sizeof(float));
    g->logits = (float *)dev_alloc(g, (size_t)nb * C * sizeof(float));
    g->probs = (float *)dev_alloc(g, (size_t)nb * C * sizeof(float));
    g->losses = (float *)dev_alloc(g, (size_t)nb * sizeof(float));
    g->scores = (float *)dev_alloc(g, att * sizeof(float));
    g->Pd = dev_alloc(g, att * xs);
    g->rows3 = dev_alloc(g, BT * 3 * H * xs);
    g->heads3 = dev_alloc(g, 3 * BT * H * xs);
    g->heads = dev_alloc(g, BT * H * xs);
    g->sa = dev_alloc(g, BT * H * xs);
    g->sb = dev_alloc(g, BT * H * xs);
    g->sc = dev_alloc(g, BT * H * xs);
    g->dres = dev_alloc(g, BT * H * xs);
    g->sfc = dev_alloc(g, BT * I * xs);
    const size_t parts = (size_t)colsum_splits((int)BT) * wide;
    g->part0 = (float *)dev_alloc(g, parts * sizeof(float));
    g->part1 = (float *)dev_alloc(g, parts * sizeof(float));
    g->dlogits = (float *)dev_alloc(g, (size_t)nb * C * sizeof(float));
    g->dcls_in = (float *)dev_alloc(g, (size_t)nb * H * sizeof(float));
    g->dpool = dev_alloc(g, (size_t)nb * H * xs);
    /* groups: one per word id, position and type at most; rows: each row three times */
    const size_t groups = BT + (size_t)nt + (size_t)g->TV + 1;
    g->grp_target = (long long *)dev_alloc(g, groups * sizeof(long long));
    g->grp_start = (int *)dev_alloc(g, (groups + 1) * sizeof(int));
    g->grp_rows = (int *)dev_alloc(g, 3 * BT * sizeof(int));
    g->h_ids = (int *)xmalloc(BT * sizeof(int));
    g->h_types = (int *)xmalloc(BT * sizeof(int));
    g->h_labels = (int *)xmalloc((size_t)nb * sizeof(int));
    g->h_mask = (float *)xmalloc(BT * sizeof(float));
    g->h_target = (long long *)xmalloc(groups * sizeof(long long));
    g->h_start = (int *)xmalloc((groups + 1) * sizeof(int));
    g->h_rows = (int *)xmalloc(3 * BT * sizeof(int));
    g->h_sort = (long long *)xmalloc(BT * sizeof(long long));
}

/* The fp32 parameters into their copy in X. */
static void refresh_lowp(bert_cuda *g)
{
    if (g->dtype == DT_F16) launch_convert(g->stream, (__half *)g->params_x, g->params, g->nparams);
    else if (g->dtype == DT_BF16) launch_convert(g->stream, (__nv_bfloat16 *)g->params_x, g->params, g->nparams);
}

static void set_err(char *err, size_t n, const char *what, cudaError_t e)
{
    snprintf(err, n, "%s: %s", what, cudaGetErrorString(e));
    cudaGetLastError();
}

bert_cuda *bert_cuda_new(bert_model *m, const bert_cuda_options *o, char *err, size_t errlen)
{
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        bert_cuda_devices(err, errlen);
        return NULL;
    }
    if (o->device < 0 || o->device >= ndev) {
        snprintf(err, errlen, "no CUDA device %d (there are %d)", o->device, ndev);
        return NULL;
    }
    if ((e = cudaSetDevice(o->device)) != cudaSuccess) {
        set_err(err, errlen, "cudaSetDevice", e);
        return NULL;
    }
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, o->device)) != cudaSuccess) {
        set_err(err, errlen, "cudaGetDeviceProperties", e);
        return NULL;
    }
    /* a GPU this build has no code for fails here, not in the middle of a step */
    cudaFuncAttributes fa;
    if ((e = cudaFuncGetAttributes(&fa, (const void *)convert_kernel<float>)) != cudaSuccess) {
        snprintf(err, errlen, "%s (compute capability %d.%d): %s; rebuild for it with CUDA_ARCH=%d%d", prop.name,
                 prop.major, prop.minor, cudaGetErrorString(e), prop.major, prop.minor);
        cudaGetLastError();
        return NULL;
    }
    if (o->precision == BERT_BF16 && prop.major < 8) {
        snprintf(err, errlen, "%s (compute capability %d.%d) has no bf16 matrix products; use fp16", prop.name,
                 prop.major, prop.minor);
        return NULL;
    }

    bert_cuda *g = (bert_cuda *)xcalloc(1, sizeof *g);
    g->opt = *o;
    snprintf(g->describe, sizeof g->describe, "%.200s (sm_%d%d, %d SMs, %.0f GiB)", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);
    switch (o->precision) {
    case BERT_FP16:
        g->dtype = DT_F16, g->xsize = 2, g->xtype = CUDA_R_16F, g->compute = CUBLAS_COMPUTE_32F;
        break;
    case BERT_BF16:
        g->dtype = DT_BF16, g->xsize = 2, g->xtype = CUDA_R_16BF, g->compute = CUBLAS_COMPUTE_32F;
        break;
    case BERT_TF32:
        g->dtype = DT_F32, g->xsize = 4, g->xtype = CUDA_R_32F, g->compute = CUBLAS_COMPUTE_32F_FAST_TF32;
        break;
    case BERT_FP32:
        g->dtype = DT_F32, g->xsize = 4, g->xtype = CUDA_R_32F, g->compute = CUBLAS_COMPUTE_32F;
        break;
    }
    CUDA_CHECK(cudaStreamCreate(&g->stream));
    cublasStatus_t bs = cublasCreate(&g->blas);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errlen, "cublasCreate: %s", cublasGetStatusString(bs));
        cudaStreamDestroy(g->stream);
        free(g);
        return NULL;
    }
    const size_t ws = 32u << 20; /* cuBLAS's advice for Hopper */
    g->workspace = dev_alloc(g, ws);
    if (cublasSetStream(g->blas, g->stream) != CUBLAS_STATUS_SUCCESS ||
        cublasSetWorkspace(g->blas, g->workspace, ws) != CUBLAS_STATUS_SUCCESS ||
        /* fp32 means fp32: no TF32 behind our back (NVIDIA_TF32_OVERRIDE) */
        cublasSetMathMode(g->blas, o->precision == BERT_FP32 ? CUBLAS_PEDANTIC_MATH : CUBLAS_DEFAULT_MATH) !=
            CUBLAS_STATUS_SUCCESS ||
        cublasSetAtomicsMode(g->blas, o->deterministic ? CUBLAS_ATOMICS_NOT_ALLOWED : CUBLAS_ATOMICS_ALLOWED) !=
            CUBLAS_STATUS_SUCCESS)
        die("cuBLAS setup failed");

    const bert_config *c = &m->cfg;
    g->L = c->num_layers, g->H = c->hidden_size, g->I = c->intermediate_size, g->nh = c->num_heads;
    g->d = g->H / g->nh, g->C = m->num_labels, g->TV = c->type_vocab_size, g->act = (int)c->act;
    g->pad_id = c->pad_token_id, g->eps = (float)c->layer_norm_eps;
    g->nparams = m->num_params;
    g->word = off_of(m, m->w.word_emb), g->pos = off_of(m, m->w.pos_emb), g->type = off_of(m, m->w.type_emb);
    g->emb_ln_w = off_of(m, m->w.emb_ln_w), g->emb_ln_b = off_of(m, m->w.emb_ln_b);
    g->pool_w = off_of(m, m->w.pool_w), g->pool_b = off_of(m, m->w.pool_b);
    g->cls_w = off_of(m, m->w.cls_w), g->cls_b = off_of(m, m->w.cls_b);
    g->lo = (layer_off *)xcalloc((size_t)g->L, sizeof *g->lo);
    for (int l = 0; l < g->L; l++) {
        const bert_layer_weights *w = &m->w.layers[l];
        layer_off *lo = &g->lo[l];
        lo->qkv_w = off_of(m, w->qkv_w), lo->qkv_b = off_of(m, w->qkv_b);
        lo->attn_out_w = off_of(m, w->attn_out_w), lo->attn_out_b = off_of(m, w->attn_out_b);
        lo->ln1_w = off_of(m, w->ln1_w), lo->ln1_b = off_of(m, w->ln1_b);
        lo->fc_w = off_of(m, w->fc_w), lo->fc_b = off_of(m, w->fc_b);
        lo->proj_w = off_of(m, w->proj_w), lo->proj_b = off_of(m, w->proj_b);
        lo->ln2_w = off_of(m, w->ln2_w), lo->ln2_b = off_of(m, w->ln2_b);
    }

    const size_t pb = g->nparams * sizeof(float);
    g->params = (float *)dev_alloc(g, pb);
    g->grads = (float *)dev_alloc(g, pb);
    g->adam_m = (float *)dev_alloc(g, pb);
    g->adam_v = (float *)dev_alloc(g, pb);
    g->params_x = g->dtype == DT_F32 ? (void *)g->params : dev_alloc(g, g->nparams * g->xsize);
    CUDA_CHECK(cudaMemsetAsync(g->grads, 0, pb, g->stream));

    /* AdamW's weight-decay segments: one per tensor, in offset order */
    g->nseg = m->num_tensors;
    long long *ends = (long long *)xmalloc((size_t)g->nseg * sizeof *ends);
    unsigned char *decay = (unsigned char *)xmalloc((size_t)g->nseg);
    size_t *order = (size_t *)xmalloc((size_t)g->nseg * sizeof *order);
    for (int t = 0; t < g->nseg; t++) order[t] = (size_t)t;
    for (int a = 1; a < g->nseg; a++) /* insertion sort by offset: the tensors are nearly in order */
        for (int b = a; b > 0 && m->tensors[order[b]].offset < m->tensors[order[b - 1]].offset; b--) {
            size_t tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
        }
    for (int t = 0; t < g->nseg; t++) {
        const bert_tensor *bt = &m->tensors[order[t]];
        ends[t] = (long long)(bt->offset + bt->numel);
        decay[t] = (unsigned char)!bt->no_decay;
    }
    free(order);
    g->seg_end = (long long *)dev_alloc(g, (size_t)g->nseg * sizeof *ends);
    g->seg_decay = (unsigned char *)dev_alloc(g, (size_t)g->nseg);
    CUDA_CHECK(cudaMemcpy(g->seg_end, ends, (size_t)g->nseg * sizeof *ends, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(g->seg_decay, decay, (size_t)g->nseg, cudaMemcpyHostToDevice));
    free(ends);
    free(decay);
    g->sumsq_part = (double *)dev_alloc(g, SUMSQ_BLOCKS * sizeof(double));
    g->sumsq_out = (double *)dev_alloc(g, sizeof(double));

    g->use_scaler = o->precision == BERT_FP16;
    bert_loss_scaler_init(&g->scaler, g->use_scaler ? o->init_loss_scale : 1.0, o->loss_scale_interval);
    g->grad_mult = 1.0f;
    bert_cuda_push(g, m, BERT_SYNC_PARAMS | BERT_SYNC_OPTIMIZER);
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    return g;
}

void bert_cuda_free(bert_cuda *g)
{
    if (!g) return;
    cudaStreamSynchronize(g->stream);
    free_acts(g);
    if (g->params_x != (void *)g->params) dev_free(g->params_x);
    dev_free(g->params), dev_free(g->grads), dev_free(g->adam_m), dev_free(g->adam_v);
    dev_free(g->seg_end), dev_free(g->seg_decay), dev_free(g->sumsq_part), dev_free(g->sumsq_out);
    dev_free(g->class_w);
    cublasDestroy(g->blas);
    dev_free(g->workspace);
    cudaStreamDestroy(g->stream);
    free(g->lo);
    free(g);
}

const bert_loss_scaler *bert_cuda_scaler(const bert_cuda *g)
{
    return g->use_scaler ? &g->scaler : NULL;
}

void bert_cuda_set_scaler(bert_cuda *g, const bert_loss_scaler *s)
{
    if (!g->use_scaler) return;
    g->scaler.scale = s->scale;
    g->scaler.good_steps = s->good_steps;
    g->scaler.skipped = s->skipped;
}

const char *bert_cuda_describe(const bert_cuda *g)
{
    return g->describe;
}

/* ------------------------------------------------------------------------
 * Host <-> device. */

void bert_cuda_pull(bert_cuda *g, bert_model *m, int what)
{
    const size_t pb = g->nparams * sizeof(float);
    if (what & BERT_SYNC_PARAMS) CUDA_CHECK(cudaMemcpyAsync(m->params, g->params, pb, cudaMemcpyDeviceToHost, g->stream));
    if ((what & BERT_SYNC_OPTIMIZER) && g->has_adam) {
        if (!m->adam_m) m->adam_m = (float *)xmalloc(pb);
        if (!m->adam_v) m->adam_v = (float *)xmalloc(pb);
        CUDA_CHECK(cudaMemcpyAsync(m->adam_m, g->adam_m, pb, cudaMemcpyDeviceToHost, g->stream));
        CUDA_CHECK(cudaMemcpyAsync(m->adam_v, g->adam_v, pb, cudaMemcpyDeviceToHost, g->stream));
    }
    if (what & BERT_SYNC_GRADS) CUDA_CHECK(cudaMemcpyAsync(m->grads, g->grads, pb, cudaMemcpyDeviceToHost, g->stream));
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    if (what & BERT_SYNC_GRADS) {
        /* the gradients as lib/bert would hold them: clipped and unscaled */
        const float mult = g->norm_valid ? g->grad_mult : (float)(1.0 / g->scaler.scale);
        if (mult != 1.0f)
            for (size_t i = 0; i < g->nparams; i++) m->grads[i] *= mult;
    }
}

void bert_cuda_push(bert_cuda *g, const bert_model *m, int what)
{
    const size_t pb = g->nparams * sizeof(float);
    if (what & BERT_SYNC_PARAMS) {
        CUDA_CHECK(cudaMemcpyAsync(g->params, m->params, pb, cudaMemcpyHostToDevice, g->stream));
        refresh_lowp(g);
    }
    if (what & BERT_SYNC_OPTIMIZER) {
        g->has_adam = m->adam_m != NULL;
        if (g->has_adam) {
            CUDA_CHECK(cudaMemcpyAsync(g->adam_m, m->adam_m, pb, cudaMemcpyHostToDevice, g->stream));
            CUDA_CHECK(cudaMemcpyAsync(g->adam_v, m->adam_v, pb, cudaMemcpyHostToDevice, g->stream));
        } else {
            CUDA_CHECK(cudaMemsetAsync(g->adam_m, 0, pb, g->stream));
            CUDA_CHECK(cudaMemsetAsync(g->adam_v, 0, pb, g->stream));
        }
    }
    /* the host buffers must outlive the copies */
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
}

/* ------------------------------------------------------------------------
 * Forward. */

/* lib/bert/bert.c's check_batch, with its messages */
static int check_batch(bert_model *m, const bert_batch *bt)
{
    const bert_config *c = &m->cfg;
    if (bt->B < 1 || bt->T < 1) {
        snprintf(m->err, sizeof m->err, "empty batch (%d x %d)", bt->B, bt->T);
        return -1;
    }
    if (bt->T > c->max_position) {
        snprintf(m->err, sizeof m->err, "sequence length %d is longer than max_position_embeddings %d", bt->T,
                 c->max_position);
        return -1;
    }
    for (int b = 0; b < bt->B; b++) {
        for (int t = 0; t < bt->T; t++) {
            const size_t i = (size_t)b * bt->T + t;
            if (bt->input_ids[i] < 0 || bt->input_ids[i] >= c->vocab_size) {
                snprintf(m->err, sizeof m->err, "sequence %d, position %d: token id %d is outside the vocabulary (size %d)",
                         b, t, bt->input_ids[i], c->vocab_size);
                return -1;
            }
            if (bt->token_type_ids && (bt->token_type_ids[i] < 0 || bt->token_type_ids[i] >= c->type_vocab_size)) {
                snprintf(m->err, sizeof m->err, "sequence %d, position %d: token type %d is outside [0, %d)", b, t,
                         bt->token_type_ids[i], c->type_vocab_size);
                return -1;
            }
            if (bt->attention_mask && bt->attention_mask[i] != 0 && bt->attention_mask[i] != 1) {
                snprintf(m->err, sizeof m->err, "sequence %d, position %d: attention mask %d is not 0 or 1", b, t,
                         bt->attention_mask[i]);
                return -1;
            }
        }
        if (bt->labels && (bt->labels[b] < 0 || bt->labels[b] >= m->num_labels)) {
            snprintf(m->err, sizeof m->err, "sequence %d: label id %d is outside [0, %d)", b, bt->labels[b],
                     m->num_labels);
            return -1;
        }
    }
    return 0;
}

static dropout_args dropout_at(const bert_cuda *g, int site, double p)
{
    dropout_args d = {g->drop_key, (uint32_t)site, 0, 1.0f, 0};
    if (g->training && p > 0) {
        d.on = 1;
        d.cut = dropout_cut(p);
        d.scale = (float)(1.0 / (1.0 - p));
    }
    return d;
}

template <typename X> static void forward_t(bert_cuda *g, int have_labels)
{
    const cudaStream_t st = g->stream;
    const int B = g->B, T = g->T, H = g->H, I = g->I, nh = g->nh, d = g->d, BT = B * T;
    const long long BTH = (long long)BT * H, Td = (long long)T * d, TT = (long long)T * T;
    const float *pf = g->params;
    const X *px = (const X *)g->params_x;
    const float sqrt_d = sqrtf((float)d);

    launch_embed_forward<X>(st, (X *)g->emb_in, (X *)g->emb_out, g->emb_mean, g->emb_rstd, g->ids, g->types,
                            pf + g->word, pf + g->pos, pf + g->type, pf + g->emb_ln_w, pf + g->emb_ln_b, BT, T, H,
                            g->eps, dropout_at(g, SITE_EMB, g->p_hidden));
    const X *x = (const X *)g->emb_out;
    for (int l = 0; l < g->L; l++) {
        const dev_layer *a = &g->layers[l];
        const layer_off *lo = &g->lo[l];
        const int site = SITE_LAYER0 + 3 * l;
        /* layer_forward: the QKV projection, per head */
        gemm(g, false, true, BT, 3 * H, H, x, H, 0, px + lo->qkv_w, H, 0, g->rows3, g->xtype, 3 * H, 0, 0.0f, 1);
        launch_rows_to_heads<X>(st, (X *)a->qkvh, (const X *)g->rows3, pf + lo->qkv_b, B, T, nh, d, 3);
        const X *q = (const X *)a->qkvh, *k = q + BTH, *v = q + 2 * BTH;
        /* attention_forward: scores Q K^T, masked softmax, dropout(P) V */
        gemm(g, false, true, T, T, d, q, d, Td, k, d, Td, g->scores, CUDA_R_32F, T, TT, 0.0f, B * nh);
        const dropout_args da = dropout_at(g, site, g->p_attn);
        X *Pd = da.on ? (X *)g->Pd : NULL;
        launch_softmax_forward<X>(st, (X *)a->P, Pd, g->scores, g->mask_add, B * nh * T, T, nh * T, sqrt_d, da);
        gemm(g, false, false, T, d, T, Pd ? Pd : (const X *)a->P, T, TT, v, d, Td, g->heads, g->xtype, d, Td, 0.0f,
             B * nh);
        launch_heads_to_rows<X>(st, (X *)a->ctx, (const X *)g->heads, B, T, nh, d, 1);
        /* output dense, dropout, residual, LayerNorm */
        gemm(g, false, true, BT, H, H, a->ctx, H, 0, px + lo->attn_out_w, H, 0, g->sa, g->xtype, H, 0, 0.0f, 1);
        launch_residual_layernorm<X>(st, (X *)a->ln1_in, (X *)a->ln1_out, a->ln1_mean, a->ln1_rstd,
                                     (const X *)g->sa, pf + lo->attn_out_b, x, pf + lo->ln1_w, pf + lo->ln1_b, BT, H,
                                     g->eps, dropout_at(g, site + 1, g->p_hidden));
        /* feed-forward */
        gemm(g, false, true, BT, I, H, a->ln1_out, H, 0, px + lo->fc_w, H, 0, a->fc_pre, g->xtype, I, 0, 0.0f, 1);
        launch_bias_act_forward<X>(st, (X *)a->fc_pre, (X *)a->fc_act, pf + lo->fc_b, (size_t)BT * I, I, g->act);
        gemm(g, false, true, BT, H, I, a->fc_act, I, 0, px + lo->proj_w, I, 0, g->sa, g->xtype, H, 0, 0.0f, 1);
        launch_residual_layernorm<X>(st, (X *)a->ln2_in, (X *)a->out, a->ln2_mean, a->ln2_rstd, (const X *)g->sa,
                                     pf + lo->proj_b, (const X *)a->ln1_out, pf + lo->ln2_w, pf + lo->ln2_b, BT, H,
                                     g->eps, dropout_at(g, site + 2, g->p_hidden));
        x = (const X *)a->out;
    }
    /* pooler on each sequence's [CLS] row (rows T*H apart), then the classifier */
    gemm(g, false, true, B, H, H, x, T * H, 0, px + g->pool_w, H, 0, g->pool_pre, CUDA_R_32F, H, 0, 0.0f, 1);
    launch_pooler_forward(st, g->pooled, g->cls_in, g->pool_pre, pf + g->pool_b, B, H,
                          dropout_at(g, SITE_POOLER, g->p_cls));
    launch_classifier_forward(st, g->logits, g->probs, g->losses, g->cls_in, pf + g->cls_w, pf + g->cls_b,
                              have_labels ? g->labels : NULL, B, H, g->C);
}

/* lib/bert's host-side outputs, sized for this batch. The CPU path's
 * buffers are sized by m->max_b; zeroing it makes a later CPU forward of
 * the same model reallocate all of them. */
static void host_outputs(bert_model *m, int B)
{
    bert_acts *a = &m->acts;
    const size_t C = (size_t)m->num_labels;
    a->logits = (float *)xrealloc(a->logits, (size_t)B * C * sizeof(float));
    a->probs = (float *)xrealloc(a->probs, (size_t)B * C * sizeof(float));
    a->losses = (float *)xrealloc(a->losses, (size_t)B * sizeof(float));
    a->labels = (int *)xrealloc(a->labels, (size_t)B * sizeof(int));
    m->max_b = m->max_t = 0;
}

int bert_cuda_forward(bert_cuda *g, bert_model *m, const bert_batch *bt, int training)
{
    if (check_batch(m, bt) < 0) return -1;
    const int B = bt->B, T = bt->T;
    const size_t BT = (size_t)B * T;
    ensure_acts(g, B, T);
    for (size_t i = 0; i < BT; i++) {
        g->h_ids[i] = bt->input_ids[i];
        g->h_types[i] = bt->token_type_ids ? bt->token_type_ids[i] : 0;
        g->h_mask[i] = (!bt->attention_mask || bt->attention_mask[i]) ? 0.0f : -FLT_MAX;
    }
    const cudaStream_t st = g->stream;
    CUDA_CHECK(cudaMemcpyAsync(g->ids, g->h_ids, BT * sizeof(int), cudaMemcpyHostToDevice, st));
    CUDA_CHECK(cudaMemcpyAsync(g->types, g->h_types, BT * sizeof(int), cudaMemcpyHostToDevice, st));
    CUDA_CHECK(cudaMemcpyAsync(g->mask_add, g->h_mask, BT * sizeof(float), cudaMemcpyHostToDevice, st));
    if (bt->labels) {
        memcpy(g->h_labels, bt->labels, (size_t)B * sizeof(int));
        CUDA_CHECK(cudaMemcpyAsync(g->labels, g->h_labels, (size_t)B * sizeof(int), cudaMemcpyHostToDevice, st));
    }
    const bert_config *c = &m->cfg;
    g->B = B;
    g->T = T;
    g->training = training;
    g->act = (int)c->act; /* tests switch the activation of a loaded model */
    g->p_hidden = training ? c->hidden_dropout : 0;
    g->p_attn = training ? c->attn_dropout : 0;
    g->p_cls = training ? bert_config_classifier_dropout(c) : 0;
    /* one draw of the model's generator keys this pass's masks, so that a
     * checkpoint's generator state resumes to the same masks */
    g->drop_key = (g->p_hidden > 0 || g->p_attn > 0 || g->p_cls > 0) ? prng_next(&m->dropout_rng) : 0;

    switch (g->dtype) {
    case DT_F16: forward_t<__half>(g, bt->labels != NULL); break;
    case DT_BF16: forward_t<__nv_bfloat16>(g, bt->labels != NULL); break;
    default: forward_t<float>(g, bt->labels != NULL); break;
    }

    host_outputs(m, B);
    bert_acts *a = &m->acts;
    const size_t BC = (size_t)B * m->num_labels;
    CUDA_CHECK(cudaMemcpyAsync(a->logits, g->logits, BC * sizeof(float), cudaMemcpyDeviceToHost, st));
    CUDA_CHECK(cudaMemcpyAsync(a->probs, g->probs, BC * sizeof(float), cudaMemcpyDeviceToHost, st));
    if (bt->labels) CUDA_CHECK(cudaMemcpyAsync(a->losses, g->losses, (size_t)B * sizeof(float), cudaMemcpyDeviceToHost, st));
    CUDA_CHECK(cudaStreamSynchronize(st));

    /* bert_forward's loss: the (class-weighted) mean in double */
    double total = 0, wsum = 0;
    if (bt->labels) {
        for (int b = 0; b < B; b++) {
            const int y = a->labels[b] = bt->labels[b];
            const double wy = m->class_weights ? m->class_weights[y] : 1.0;
            total += wy * (double)a->losses[b];
            wsum += wy;
        }
    }
    m->B = B;
    m->T = T;
    m->training = training;
    m->have_labels = bt->labels != NULL;
    m->weight_sum = wsum;
    m->loss = bt->labels ? (float)(total / wsum) : 0.0f;
    return 0;
}

/* ------------------------------------------------------------------------
 * Backward. */

static int cmp_ll(const void *a, const void *b)
{
    const long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* The deterministic embedding scatter's groups: the rows of each word id
 * (not the padding id), each position and each token type, in row order. */
static int embedding_groups(bert_cuda *g)
{
    const int B = g->B, T = g->T, BT = B * T, H = g->H;
    int ng = 0, nr = 0;
    int n = 0;
    for (int i = 0; i < BT; i++)
        if (g->h_ids[i] != g->pad_id) g->h_sort[n++] = (long long)g->h_ids[i] * BT + i;
    qsort(g->h_sort, (size_t)n, sizeof *g->h_sort, cmp_ll);
    for (int k = 0; k < n; k++) {
        const long long id = g->h_sort[k] / BT;
        if (k == 0 || id != g->h_sort[k - 1] / BT) {
            g->h_target[ng] = (long long)g->word + id * H;
            g->h_start[ng++] = nr;
        }
        g->h_rows[nr++] = (int)(g->h_sort[k] % BT);
    }
    for (int t = 0; t < T; t++) {
        g->h_target[ng] = (long long)g->pos + (long long)t * H;
        g->h_start[ng++] = nr;
        for (int b = 0; b < B; b++) g->h_rows[nr++] = b * T + t;
    }
    for (int tt = 0; tt < g->TV; tt++) {
        const int first = nr;
        for (int i = 0; i < BT; i++)
            if (g->h_types[i] == tt) g->h_rows[nr++] = i;
        if (nr == first) continue;
        g->h_target[ng] = (long long)g->type + (long long)tt * H;
        g->h_start[ng++] = first;
    }
    g->h_start[ng] = nr;
    const cudaStream_t st = g->stream;
    CUDA_CHECK(cudaMemcpyAsync(g->grp_target, g->h_target, (size_t)ng * sizeof(long long), cudaMemcpyHostToDevice, st));
    CUDA_CHECK(cudaMemcpyAsync(g->grp_start, g->h_start, (size_t)(ng + 1) * sizeof(int), cudaMemcpyHostToDevice, st));
    CUDA_CHECK(cudaMemcpyAsync(g->grp_rows, g->h_rows, (size_t)nr * sizeof(int), cudaMemcpyHostToDevice, st));
    return ng;
}

template <typename X> static void backward_t(bert_cuda *g, const float *class_w, double denominator)
{
    const cudaStream_t st = g->stream;
    const int B = g->B, T = g->T, H = g->H, I = g->I, nh = g->nh, d = g->d, BT = B * T;
    const long long BTH = (long long)BT * H, Td = (long long)T * d, TT = (long long)T * T;
    const float *pf = g->params;
    const X *px = (const X *)g->params_x;
    float *gr = g->grads;
    const float sqrt_d = sqrtf((float)d);
    const cudaDataType F32 = CUDA_R_32F;
    X *dres = (X *)g->dres, *dA = (X *)g->sa, *dB = (X *)g->sb, *dC = (X *)g->sc, *dFC = (X *)g->sfc;
    const float loss_scale = (float)g->scaler.scale;

    /* classifier (fused softmax + cross-entropy gradient), pooler */
    launch_classifier_backward(st, g->dlogits, g->dcls_in, gr + g->cls_w, gr + g->cls_b, g->probs, g->labels, class_w,
                               g->cls_in, pf + g->cls_w, B, H, g->C, denominator, loss_scale);
    X *dpool = (X *)g->dpool;
    launch_pooler_backward<X>(st, dpool, g->dcls_in, g->pooled, (size_t)B * H, dropout_at(g, SITE_POOLER, g->p_cls));
    const X *last = g->L ? (const X *)g->layers[g->L - 1].out : (const X *)g->emb_out;
    gemm(g, true, false, H, H, B, dpool, H, 0, last, T * H, 0, gr + g->pool_w, F32, H, 0, 1.0f, 1);
    launch_bias_grad<X>(st, gr + g->pool_b, g->part0, dpool, B, H);
    /* only the [CLS] rows of the last layer's output get a gradient */
    CUDA_CHECK(cudaMemsetAsync(dres, 0, (size_t)BTH * sizeof(X), st));
    gemm(g, false, false, B, H, H, dpool, H, 0, px + g->pool_w, H, 0, dres, g->xtype, T * H, 0, 0.0f, 1);

    for (int l = g->L - 1; l >= 0; l--) {
        /* layer_backward: dres holds d(layer output) on entry, d(layer input) on exit */
        const dev_layer *a = &g->layers[l];
        const layer_off *lo = &g->lo[l];
        const X *x = l ? (const X *)g->layers[l - 1].out : (const X *)g->emb_out;
        const int site = SITE_LAYER0 + 3 * l;
        const dropout_args dproj = dropout_at(g, site + 2, g->p_hidden), dout = dropout_at(g, site + 1, g->p_hidden),
                           dattn = dropout_at(g, site, g->p_attn);

        /* output LayerNorm, dropout, output dense */
        launch_layernorm_backward<X>(st, dA, dproj.on ? dB : NULL, dres, (const X *)a->ln2_in, a->ln2_mean,
                                     a->ln2_rstd, pf + lo->ln2_w, BT, H, dproj);
        launch_layernorm_param_grad<X>(st, gr + lo->ln2_w, gr + lo->ln2_b, g->part0, g->part1, dres,
                                       (const X *)a->ln2_in, a->ln2_mean, a->ln2_rstd, BT, H);
        const X *dd = dproj.on ? dB : dA;
        gemm(g, false, false, BT, I, H, dd, H, 0, px + lo->proj_w, I, 0, dFC, g->xtype, I, 0, 0.0f, 1);
        gemm(g, true, false, H, I, BT, dd, H, 0, a->fc_act, I, 0, gr + lo->proj_w, F32, I, 0, 1.0f, 1);
        launch_bias_grad<X>(st, gr + lo->proj_b, g->part0, dd, BT, H);
        /* activation, intermediate dense; its input also feeds the residual (dA) */
        launch_act_backward<X>(st, dFC, (const X *)a->fc_pre, (size_t)BT * I, g->act);
        gemm(g, false, false, BT, H, I, dFC, I, 0, px + lo->fc_w, H, 0, dA, g->xtype, H, 0, 1.0f, 1);
        gemm(g, true, false, I, H, BT, dFC, I, 0, a->ln1_out, H, 0, gr + lo->fc_w, F32, H, 0, 1.0f, 1);
        launch_bias_grad<X>(st, gr + lo->fc_b, g->part0, dFC, BT, I);

        /* attention output LayerNorm (into dres: the residual's share of d(x)), dropout, dense */
        launch_layernorm_backward<X>(st, dres, dout.on ? dB : NULL, dA, (const X *)a->ln1_in, a->ln1_mean,
                                     a->ln1_rstd, pf + lo->ln1_w, BT, H, dout);
        launch_layernorm_param_grad<X>(st, gr + lo->ln1_w, gr + lo->ln1_b, g->part0, g->part1, dA,
                                       (const X *)a->ln1_in, a->ln1_mean, a->ln1_rstd, BT, H);
        dd = dout.on ? dB : dres;
        gemm(g, false, false, BT, H, H, dd, H, 0, px + lo->attn_out_w, H, 0, dC, g->xtype, H, 0, 0.0f, 1);
        gemm(g, true, false, H, H, BT, dd, H, 0, a->ctx, H, 0, gr + lo->attn_out_w, F32, H, 0, 1.0f, 1);
        launch_bias_grad<X>(st, gr + lo->attn_out_b, g->part0, dd, BT, H);

        /* attention_backward */
        X *dctx = (X *)g->heads;
        launch_rows_to_heads<X>(st, dctx, dC, (const float *)NULL, B, T, nh, d, 1);
        const X *q = (const X *)a->qkvh, *k = q + BTH, *v = q + 2 * BTH;
        X *dq = (X *)g->heads3, *dk = dq + BTH, *dv = dq + 2 * BTH;
        X *Pd = (X *)g->Pd;
        const X *P = (const X *)a->P, *Pused = P;
        if (dattn.on) {
            launch_dropout<X>(st, Pd, P, (size_t)B * nh * TT, dattn);
            Pused = Pd;
        }
        gemm(g, true, false, T, d, T, Pused, T, TT, dctx, d, Td, dv, g->xtype, d, Td, 0.0f, B * nh); /* dV = Pd^T dctx */
        gemm(g, false, true, T, T, d, dctx, d, Td, v, d, Td, g->scores, F32, T, TT, 0.0f, B * nh);  /* dP = dctx V^T */
        launch_softmax_backward<X>(st, Pd /* dS */, g->scores, P, B * nh * T, T, sqrt_d, dattn);
        gemm(g, false, false, T, d, T, Pd, T, TT, k, d, Td, dq, g->xtype, d, Td, 0.0f, B * nh); /* dQ = dS K */
        gemm(g, true, false, T, d, T, Pd, T, TT, q, d, Td, dk, g->xtype, d, Td, 0.0f, B * nh);  /* dK = dS^T Q */
        X *dqkv = (X *)g->rows3;
        launch_heads_to_rows<X>(st, dqkv, (const X *)dq, B, T, nh, d, 3);
        /* the QKV projection; x also fed the residual (already in dres) */
        gemm(g, false, false, BT, H, 3 * H, dqkv, 3 * H, 0, px + lo->qkv_w, H, 0, dres, g->xtype, H, 0, 1.0f, 1);
        gemm(g, true, false, 3 * H, H, BT, dqkv, 3 * H, 0, x, H, 0, gr + lo->qkv_w, F32, H, 0, 1.0f, 1);
        launch_bias_grad<X>(st, gr + lo->qkv_b, g->part0, dqkv, BT, 3 * H);
    }

    /* embeddings: dropout, LayerNorm, then the three tables */
    const dropout_args demb = dropout_at(g, SITE_EMB, g->p_hidden);
    if (demb.on) launch_dropout<X>(st, dres, dres, (size_t)BTH, demb);
    const dropout_args none = {0, 0, 0, 1.0f, 0};
    launch_layernorm_backward<X>(st, dA, (X *)NULL, dres, (const X *)g->emb_in, g->emb_mean, g->emb_rstd,
                                 pf + g->emb_ln_w, BT, H, none);
    launch_layernorm_param_grad<X>(st, gr + g->emb_ln_w, gr + g->emb_ln_b, g->part0, g->part1, dres,
                                   (const X *)g->emb_in, g->emb_mean, g->emb_rstd, BT, H);
    if (g->opt.deterministic) {
        const int ng = embedding_groups(g);
        launch_embed_backward_groups<X>(st, gr, dA, g->grp_target, g->grp_start, g->grp_rows, ng, H);
    } else {
        launch_embed_backward_atomic<X>(st, gr, dA, g->ids, g->types, BT, T, H, (long long)g->word,
                                        (long long)g->pos, (long long)g->type, g->pad_id);
    }
}

void bert_cuda_backward(bert_cuda *g, bert_model *m, double denominator)
{
    if (!m->have_labels) die("bert_backward: the last forward had no labels");
    if (denominator <= 0) denominator = m->weight_sum;
    const float *class_w = NULL;
    if (m->class_weights) {
        if (!g->class_w) g->class_w = (float *)dev_alloc(g, (size_t)g->C * sizeof(float));
        CUDA_CHECK(cudaMemcpyAsync(g->class_w, m->class_weights, (size_t)g->C * sizeof(float), cudaMemcpyHostToDevice,
                                   g->stream));
        class_w = g->class_w;
    }
    switch (g->dtype) {
    case DT_F16: backward_t<__half>(g, class_w, denominator); break;
    case DT_BF16: backward_t<__nv_bfloat16>(g, class_w, denominator); break;
    default: backward_t<float>(g, class_w, denominator); break;
    }
    /* the group lists and class weights are host memory the copies read */
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    g->norm_valid = 0;
}

void bert_cuda_zero_grad(bert_cuda *g)
{
    CUDA_CHECK(cudaMemsetAsync(g->grads, 0, g->nparams * sizeof(float), g->stream));
    g->norm_valid = 0;
}

/* ------------------------------------------------------------------------
 * Optimizer. */

float bert_cuda_clip_grad_norm(bert_cuda *g, float max_norm)
{
    launch_sumsq(g->stream, g->sumsq_out, g->sumsq_part, g->grads, g->nparams);
    double ss = 0;
    CUDA_CHECK(cudaMemcpyAsync(&ss, g->sumsq_out, sizeof ss, cudaMemcpyDeviceToHost, g->stream));
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    /* bert_clip_grad_norm's arithmetic, on the unscaled gradients */
    const double scale = g->scaler.scale;
    const float norm = (float)(sqrt(ss) / scale);
    const float coef = max_norm / (norm + 1e-6f);
    g->found_inf = !isfinite(norm);
    g->grad_mult = (float)(1.0 / scale) * (coef < 1.0f ? coef : 1.0f);
    g->norm_valid = 1;
    return norm;
}

int bert_cuda_adamw_step(bert_cuda *g, bert_model *m, const bert_adamw *o)
{
    if (!g->norm_valid) bert_cuda_clip_grad_norm(g, INFINITY);
    if (g->use_scaler && !bert_loss_scaler_update(&g->scaler, g->found_inf)) return 0;
    m->step++;
    /* bert_adamw_step's scalars */
    const double bc1 = 1.0 - pow(o->beta1, (double)m->step), bc2 = 1.0 - pow(o->beta2, (double)m->step);
    adamw_args a;
    a.grad_mult = g->grad_mult;
    a.step_size = (float)(o->lr / bc1);
    a.bc2_sqrt = (float)sqrt(bc2);
    a.b1 = o->beta1;
    a.b2 = o->beta2;
    a.one_b1 = (float)(1.0 - o->beta1);
    a.one_b2 = (float)(1.0 - o->beta2);
    a.decay = (float)(1.0 - (double)o->lr * o->weight_decay);
    a.eps = o->eps;
    switch (g->dtype) {
    case DT_F16:
        launch_adamw<__half>(g->stream, g->params, (__half *)g->params_x, g->adam_m, g->adam_v, g->grads, g->nparams,
                             g->seg_end, g->seg_decay, g->nseg, a);
        break;
    case DT_BF16:
        launch_adamw<__nv_bfloat16>(g->stream, g->params, (__nv_bfloat16 *)g->params_x, g->adam_m, g->adam_v,
                                    g->grads, g->nparams, g->seg_end, g->seg_decay, g->nseg, a);
        break;
    default:
        launch_adamw<float>(g->stream, g->params, (float *)NULL, g->adam_m, g->adam_v, g->grads, g->nparams,
                            g->seg_end, g->seg_decay, g->nseg, a);
        break;
    }
    g->has_adam = 1;
    return 1;
}
