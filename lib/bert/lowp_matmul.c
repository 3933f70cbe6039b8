#include "lowp_matmul.h"
#include "core/common.h"
#include "core/threadpool.h"
#include "core/vmath.h"
#include "core/vmath_clones.h"

#include <cblas.h>
#include <dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Debian's libdnnl runs its parallel loops on OpenMP (libgomp): a thread's
 * own OpenMP thread count decides how many threads oneDNN uses on it, both
 * when a primitive is made and when it runs (see the header: Threads). */
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
void omp_set_num_threads(int n);
#define ONEDNN_SINGLE_THREADED() omp_set_num_threads(1)
#else
#define ONEDNN_SINGLE_THREADED() ((void)0)
#endif

/* A primitive for one M of a shape, and the weight layout it wants
 * (an index into the shape's layouts). */
typedef struct prim {
    dnnl_primitive_t p;
    dnnl_memory_desc_t src_md, dst_md, scratch_md;
    size_t scratch_size;
    int layout;
} prim;

/* One (N, K) of the Linear layers: its primitives by M / align - 1 and
 * the weight layouts they take. */
typedef struct shape {
    int N, K;
    prim *prims;
    int nprims;
    dnnl_memory_desc_t *layouts;
    int nlayouts;
} shape;

/* What one of lib/bert's threads computes with: its stream and buffers. */
typedef struct thread_ctx {
    dnnl_stream_t stream;
    void *src, *dst, *scratch;     /* activations in low precision, products, oneDNN's scratch */
    float *row_scale;              /* int8: each row's activation scale */
    size_t src_cap, dst_cap, scratch_cap, rows_cap; /* bytes; rows */
} thread_ctx;

/* Training: a thread's buffers for the backward products (bytes). */
typedef struct grad_ctx {
    void *a, *b, *s;
    float *c;
    size_t a_cap, b_cap, c_cap, s_cap;
} grad_ctx;

/* Training: a primitive of the backward's plain products, C[M, N] =
 * A[M, K] B[K, N], all row-major. */
typedef struct gprim {
    int M, K, N, a_trans;
    dnnl_primitive_t p;
    dnnl_memory_desc_t a_md, b_md, c_md, scratch_md;
    size_t scratch_size;
} gprim;

struct bert_lowp {
    bert_lowp_type type;
    int layers;
    long align;
    int qmax;                  /* int8: activation levels each side of 0 (127, or 63 without VNNI) */
    int emulate;               /* bf16 through OpenBLAS: oneDNN has no bf16 matmul here */
    dnnl_engine_t engine;
    shape shapes[BERT_DENSES];
    int nshapes, shape_of[BERT_DENSES];
    /* per layer and dense ([layers * BERT_DENSES]) */
    bert_int8 *q;              /* int8: the weights and scales */
    int32_t **zp_colsum;       /* int8: (qmax + 1) * the sum of each weight row */
    uint16_t **bf;             /* bf16: the weights rounded, torch's [N, K] layout */
    float **bf_f32;            /* bf16 emulated: the same as floats */
    void ***packed;            /* the weights in each of their shape's layouts */
    thread_ctx *th;
    int nth;
    unsigned long gen;         /* bf16: the m->params_gen that bf and packed were made from */
    /* training (bf16): the backward products */
    grad_ctx *gth;
    int ngth;
    gprim *gprims;
    int ngprims;
    uint16_t *xin[BERT_DENSES]; /* each dense's input in bf16, [rows rounded up to align, K] */
    size_t xin_cap[BERT_DENSES];
    pthread_mutex_t gmu;       /* guards gprims: made on first use, on any thread */
    char desc[160];
};

const char *bert_lowp_name(bert_lowp_type t)
{
    return t == BERT_LOWP_INT8 ? "int8" : "bf16";
}

int bert_lowp_kind(const bert_model *m)
{
    return m->lowp ? (int)m->lowp->type : 0;
}

const bert_int8 *bert_lowp_int8(const bert_model *m)
{
    return m->lowp && m->lowp->type == BERT_LOWP_INT8 ? m->lowp->q : NULL;
}

int bert_lowp_act_qmax(const bert_model *m)
{
    return m->lowp ? m->lowp->qmax : 0;
}

const char *bert_lowp_describe(const bert_model *m)
{
    return m->lowp ? m->lowp->desc : "fp32";
}

static void *aligned(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? (n + 63) / 64 * 64 : 64) != 0) die("out of memory (%zu bytes)", n);
    memset(p, 0, n);
    return p;
}

static void dnnl_check(dnnl_status_t s, const char *what)
{
    if (s != dnnl_success) die("oneDNN: %s failed (status %d)", what, (int)s);
}

/* ------------------------------------------------------------------------
 * Primitives and weight layouts. */

static dnnl_data_type_t src_type(const bert_lowp *L)
{
    return L->type == BERT_LOWP_INT8 ? dnnl_u8 : dnnl_bf16;
}

/* The user's weights: [K, N] with N outermost, which is torch's [N, K]. */
static void user_weights_md(const bert_lowp *L, const shape *s, dnnl_memory_desc_t *md)
{
    dnnl_dims_t dims = {s->K, s->N};
    dnnl_check(dnnl_memory_desc_init_by_tag(md, 2, dims, L->type == BERT_LOWP_INT8 ? dnnl_s8 : dnnl_bf16, dnnl_ba),
               "weights descriptor");
}

static const void *user_weights(const bert_lowp *L, int i)
{
    return L->type == BERT_LOWP_INT8 ? (const void *)L->q->q[i] : (const void *)L->bf[i];
}

/* Every weight of shape s in layout k (main thread); `fresh`: a layout
 * new to the shape, its buffers allocated, else written over. */
static void pack_layout(bert_lowp *L, int s, int k, int fresh)
{
    shape *sh = &L->shapes[s];
    dnnl_memory_desc_t user_md;
    user_weights_md(L, sh, &user_md);
    dnnl_primitive_desc_t rpd;
    dnnl_check(dnnl_reorder_primitive_desc_create(&rpd, &user_md, L->engine, &sh->layouts[k], L->engine, NULL),
               "weights reorder");
    dnnl_primitive_t r;
    dnnl_check(dnnl_primitive_create(&r, rpd), "weights reorder");
    dnnl_primitive_desc_destroy(rpd);
    const size_t size = dnnl_memory_desc_get_size(&sh->layouts[k]);
    for (int l = 0; l < L->layers; l++)
        for (int d = 0; d < BERT_DENSES; d++) {
            if (L->shape_of[d] != s) continue;
            const int i = l * BERT_DENSES + d;
            if (fresh) {
                L->packed[i] = xrealloc(L->packed[i], (size_t)(k + 1) * sizeof *L->packed[i]);
                L->packed[i][k] = aligned(size);
            }
            dnnl_memory_t from, to;
            dnnl_check(dnnl_memory_create(&from, &user_md, L->engine, (void *)user_weights(L, i)), "memory");
            dnnl_check(dnnl_memory_create(&to, &sh->layouts[k], L->engine, L->packed[i][k]), "memory");
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
            dnnl_check(dnnl_primitive_execute(r, L->th[0].stream, 2, args), "weights reorder");
            dnnl_check(dnnl_stream_wait(L->th[0].stream), "weights reorder");
            dnnl_memory_destroy(from);
            dnnl_memory_destroy(to);
        }
    dnnl_primitive_destroy(r);
}

/* The primitive descriptor of dst = src x weights on one thread, its
 * scratchpad given by the caller (the forward's and the backward's
 * matmuls alike). Returns oneDNN's status: dnnl_unimplemented where the CPU
 * has no such matmul. */
static dnnl_status_t matmul_pd(const bert_lowp *L, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *w,
                               const dnnl_memory_desc_t *dst, dnnl_primitive_desc_t *pd)
{
    dnnl_matmul_desc_t md;
    dnnl_check(dnnl_matmul_desc_init(&md, src, w, NULL, dst), "matmul descriptor");
    dnnl_primitive_attr_t attr;
    dnnl_check(dnnl_primitive_attr_create(&attr), "attributes");
    dnnl_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "attributes");
    ONEDNN_SINGLE_THREADED();
    const dnnl_status_t st = dnnl_primitive_desc_create(pd, &md, attr, L->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Makes the primitive of shape s for M rows (main thread). Returns the
 * oneDNN status: dnnl_unimplemented where the CPU has no such matmul. */
static dnnl_status_t make_prim(bert_lowp *L, int s, int M, prim *out, const char **impl)
{
    shape *sh = &L->shapes[s];
    dnnl_memory_desc_t src_md, w_md, dst_md;
    dnnl_dims_t sd = {M, sh->K}, wd = {sh->K, sh->N}, dd = {M, sh->N};
    dnnl_check(dnnl_memory_desc_init_by_tag(&src_md, 2, sd, src_type(L), dnnl_ab), "source descriptor");
    dnnl_check(dnnl_memory_desc_init_by_tag(&w_md, 2, wd, L->type == BERT_LOWP_INT8 ? dnnl_s8 : dnnl_bf16,
                                            dnnl_format_tag_any), "weights descriptor");
    dnnl_check(dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, L->type == BERT_LOWP_INT8 ? dnnl_s32 : dnnl_f32, dnnl_ab),
               "destination descriptor");
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = matmul_pd(L, &src_md, &w_md, &dst_md, &pd);
    if (st != dnnl_success) return st;
    if (impl) dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl);
    dnnl_check(dnnl_primitive_create(&out->p, pd), "matmul primitive");
    out->src_md = src_md;
    out->dst_md = dst_md;
    const dnnl_memory_desc_t *scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    out->scratch_size = scratch ? dnnl_memory_desc_get_size(scratch) : 0;
    if (out->scratch_size) out->scratch_md = *scratch;
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    out->layout = -1;
    for (int k = 0; k < sh->nlayouts && out->layout < 0; k++)
        if (dnnl_memory_desc_equal(&sh->layouts[k], want)) out->layout = k;
    if (out->layout < 0) { /* a layout none of its primitives took yet: pack the weights in it */
        sh->layouts = xrealloc(sh->layouts, (size_t)(sh->nlayouts + 1) * sizeof *sh->layouts);
        sh->layouts[sh->nlayouts] = *want;
        out->layout = sh->nlayouts++;
        pack_layout(L, s, out->layout, 1);
    }
    if (impl) *impl = xstrdup(*impl); /* the string belongs to pd */
    dnnl_primitive_desc_destroy(pd);
    return dnnl_success;
}

static prim *get_prim(bert_lowp *L, int s, int Mpad)
{
    shape *sh = &L->shapes[s];
    const int i = (int)(Mpad / L->align) - 1;
    if (i >= sh->nprims) {
        sh->prims = xrealloc(sh->prims, (size_t)(i + 1) * sizeof *sh->prims);
        memset(sh->prims + sh->nprims, 0, (size_t)(i + 1 - sh->nprims) * sizeof *sh->prims);
        sh->nprims = i + 1;
    }
    if (!sh->prims[i].p && make_prim(L, s, Mpad, &sh->prims[i], NULL) != dnnl_success)
        die("oneDNN: no %s matmul for %d x %d x %d", bert_lowp_name(L->type), Mpad, sh->K, sh->N);
    return &sh->prims[i];
}

/* Per-thread streams and buffers for `threads` threads and up to Mpad rows. */
static void ensure_threads(bert_lowp *L, int threads, long Mpad)
{
    if (threads > L->nth) {
        L->th = xrealloc(L->th, (size_t)threads * sizeof *L->th);
        memset(L->th + L->nth, 0, (size_t)(threads - L->nth) * sizeof *L->th);
        for (int t = L->nth; t < threads; t++)
            dnnl_check(dnnl_stream_create(&L->th[t].stream, L->engine, dnnl_stream_default_flags), "stream");
        L->nth = threads;
    }
    int kmax = 0, nmax = 0;
    size_t scratch = 0;
    for (int s = 0; s < L->nshapes; s++) {
        if (L->shapes[s].K > kmax) kmax = L->shapes[s].K;
        if (L->shapes[s].N > nmax) nmax = L->shapes[s].N;
        for (int i = 0; i < L->shapes[s].nprims; i++)
            if (L->shapes[s].prims[i].scratch_size > scratch) scratch = L->shapes[s].prims[i].scratch_size;
    }
    const size_t src_elem = L->emulate ? sizeof(float) : L->type == BERT_LOWP_INT8 ? 1 : 2;
    const size_t src = (size_t)Mpad * kmax * src_elem, dst = (size_t)Mpad * nmax * 4;
    for (int t = 0; t < threads; t++) {
        thread_ctx *c = &L->th[t];
        if (c->src_cap < src) free(c->src), c->src = aligned(src), c->src_cap = src;
        if (c->dst_cap < dst) free(c->dst), c->dst = aligned(dst), c->dst_cap = dst;
        if (c->scratch_cap < scratch) free(c->scratch), c->scratch = aligned(scratch), c->scratch_cap = scratch;
        if (c->rows_cap < (size_t)Mpad)
            free(c->row_scale), c->row_scale = aligned((size_t)Mpad * sizeof(float)), c->rows_cap = (size_t)Mpad;
    }
}

void bert_lowp_prepare(bert_model *m, int rows, int parts, long align)
{
    bert_lowp *L = m->lowp;
    long most = 0;
    for (int t = 0; t < parts; t++) {
        long lo, hi;
        threadpool_part(rows, parts, t, align, &lo, &hi);
        if (hi - lo > most) most = hi - lo;
    }
    if (bert_lowp_block(m) && most > bert_lowp_block(m)) most = bert_lowp_block(m);
    const long most_pad = (most + L->align - 1) / L->align * L->align;
    /* a block of any multiple of align rows up to that: the last block of a range may be short */
    for (long Mpad = L->align; Mpad <= most_pad && !L->emulate; Mpad += L->align)
        for (int s = 0; s < L->nshapes; s++) get_prim(L, s, (int)Mpad);
    ensure_threads(L, parts, most_pad);
}

/* ------------------------------------------------------------------------
 * The rows of a Linear layer. */

/* The products back to fp32, 8 lanes at a time (GCC's vector extensions,
 * as lib/core/vmath; CLONES: an AVX2 version with the same bits). int8:
 * the zero point's share taken off, the two scales applied, the bias
 * added. N is a multiple of 8 in every BERT; other widths take a scalar
 * tail with the same operations. */
#define W 8
typedef float vf __attribute__((vector_size(W * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(W * sizeof(int32_t))));
#pragma GCC diagnostic ignored "-Wpsabi" /* see lib/core/vmath.c */

CLONES static void int8_out(float *out, const int32_t *acc, long M, int N, const int32_t *zp_colsum,
                            const float *row_scale, const float *w_scale, const float *b)
{
    const int full = N / W * W;
    for (long r = 0; r < M; r++) {
        const float sx = row_scale[r];
        const int32_t *a = acc + (size_t)r * N;
        float *o = out + (size_t)r * N;
        vi va, vz;
        vf vs, vb;
        for (int n = 0; n < full; n += W) {
            memcpy(&va, a + n, sizeof va);
            memcpy(&vz, zp_colsum + n, sizeof vz);
            memcpy(&vs, w_scale + n, sizeof vs);
            memcpy(&vb, b + n, sizeof vb);
            const vf y = __builtin_convertvector(va - vz, vf) * (((vf){0} + sx) * vs) + vb;
            memcpy(o + n, &y, sizeof y);
        }
        for (int n = full; n < N; n++) o[n] = (float)(a[n] - zp_colsum[n]) * (sx * w_scale[n]) + b[n];
    }
}

CLONES static void bf16_out(float *out, const float *acc, long M, int N, const float *b)
{
    for (long r = 0; r < M; r++)
        for (int n = 0; n < N; n++) out[(size_t)r * N + n] = acc[(size_t)r * N + n] + b[n];
}

/* Rows [r0, r1), at most BERT_LOWP_BLOCK of them, of bert_lowp_rows */
static void block_rows(bert_lowp *L, int i, const shape *sh, thread_ctx *c, float *out, const float *in,
                       const float *b, long r0, long r1)
{
    const int N = sh->N, K = sh->K;
    const long M = r1 - r0, Mpad = (M + L->align - 1) / L->align * L->align;
    in += (size_t)r0 * K;
    out += (size_t)r0 * N;

    /* the activations in low precision */
    if (L->type == BERT_LOWP_INT8) {
        for (long r = 0; r < M; r++)
            c->row_scale[r] = quant_row_u8(in + (size_t)r * K, (size_t)K, L->qmax, (uint8_t *)c->src + (size_t)r * K);
    } else if (L->emulate) {
        float *x = c->src;
        for (size_t k = 0; k < (size_t)M * K; k++) x[k] = quant_bf16_float(quant_bf16_bits(in[k]));
    } else {
        quant_bf16_row(in, (size_t)M * K, c->src);
    }

    /* the products, Mpad rows (those past M: scratch, dropped) */
    if (L->emulate) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, N, K, 1.0f, c->src, K, L->bf_f32[i], K, 0.0f,
                    c->dst, N);
    } else {
        const long k = Mpad / L->align - 1;
        if (k >= sh->nprims || !sh->prims[k].p)
            die("bert_lowp_rows: no primitive for %ld rows (bert_lowp_prepare comes first)", Mpad);
        const prim *p = &sh->prims[k];
        ONEDNN_SINGLE_THREADED();
        dnnl_memory_t src, w, dst, scratch = NULL;
        dnnl_check(dnnl_memory_create(&src, &p->src_md, L->engine, c->src), "memory");
        dnnl_check(dnnl_memory_create(&w, &sh->layouts[p->layout], L->engine, L->packed[i][p->layout]), "memory");
        dnnl_check(dnnl_memory_create(&dst, &p->dst_md, L->engine, c->dst), "memory");
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}};
        int nargs = 3;
        if (p->scratch_size) {
            dnnl_check(dnnl_memory_create(&scratch, &p->scratch_md, L->engine, c->scratch), "memory");
            args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch};
        }
        dnnl_check(dnnl_primitive_execute(p->p, c->stream, nargs, args), "matmul");
        dnnl_check(dnnl_stream_wait(c->stream), "matmul");
        dnnl_memory_destroy(src);
        dnnl_memory_destroy(w);
        dnnl_memory_destroy(dst);
        if (scratch) dnnl_memory_destroy(scratch);
    }

    /* back to fp32, with the bias */
    if (L->type == BERT_LOWP_INT8) int8_out(out, c->dst, M, N, L->zp_colsum[i], c->row_scale, L->q->scale[i], b);
    else bf16_out(out, c->dst, M, N, b);
}

long bert_lowp_block(const bert_model *m)
{
    return m->lowp->emulate ? 0 : BERT_LOWP_BLOCK;
}

void bert_lowp_rows(bert_model *m, int layer, int dense, int thread, float *out, const float *in, const float *b,
                    long r0, long r1)
{
    bert_lowp *L = m->lowp;
    const shape *sh = &L->shapes[L->shape_of[dense]];
    const long block = bert_lowp_block(m) ? bert_lowp_block(m) : r1 - r0;
    for (long b0 = r0; b0 < r1; b0 += block) {
        const long b1 = r1 - b0 < block ? r1 : b0 + block;
        block_rows(L, layer * BERT_DENSES + dense, sh, &L->th[thread], out, in, b, b0, b1);
    }
}

/* ------------------------------------------------------------------------
 * Training in bf16 (bert-train --precision bf16): the weights again after
 * they changed, and the backward products. */

/* The bf16 weights (and their packed copies) from m's fp32 weights, when
 * m->params_gen moved since the last time: once per optimizer step, or
 * after weights were loaded or restored. */
void bert_lowp_sync(bert_model *m)
{
    bert_lowp *L = m->lowp;
    if (!L || L->type != BERT_LOWP_BF16 || L->gen == m->params_gen) return;
    const int n = L->layers * BERT_DENSES;
    for (int i = 0; i < n; i++) {
        int N, K;
        const float *w = bert_dense_weight(m, i / BERT_DENSES, i % BERT_DENSES, &N, &K);
        quant_bf16_row(w, (size_t)N * K, L->bf[i]);
        if (L->emulate)
            for (size_t k = 0; k < (size_t)N * K; k++) L->bf_f32[i][k] = quant_bf16_float(L->bf[i][k]);
    }
    if (!L->emulate)
        for (int s = 0; s < L->nshapes; s++)
            for (int k = 0; k < L->shapes[s].nlayouts; k++) pack_layout(L, s, k, 0);
    L->gen = m->params_gen;
}

/* The scratch of a backward product on thread `thread` (grown on it). */
static grad_ctx *grad_scratch(bert_lowp *L, int thread, size_t a, size_t b, size_t c)
{
    grad_ctx *g = &L->gth[thread];
    if (g->a_cap < a) free(g->a), g->a = aligned(a), g->a_cap = a;
    if (g->b_cap < b) free(g->b), g->b = aligned(b), g->b_cap = b;
    if (g->c_cap < c) free(g->c), g->c = aligned(c), g->c_cap = c;
    return g;
}

/* The plain product C[M, N] = A[M, K] B[K, N] (bf16 row-major, fp32 C;
 * a_trans: A given as its transpose, [K, M] row-major) through oneDNN on
 * lib/bert's thread `thread`, single-threaded. Its primitive is made on
 * first use of (M, K, N) and kept. */
static void plain_matmul(bert_lowp *L, int thread, int M, int K, int N, int a_trans, const void *A, const void *B,
                         float *C)
{
    pthread_mutex_lock(&L->gmu);
    gprim *p = NULL;
    for (int i = 0; i < L->ngprims && !p; i++)
        if (L->gprims[i].M == M && L->gprims[i].K == K && L->gprims[i].N == N && L->gprims[i].a_trans == a_trans)
            p = &L->gprims[i];
    if (!p) {
        L->gprims = xrealloc(L->gprims, (size_t)(L->ngprims + 1) * sizeof *L->gprims);
        p = &L->gprims[L->ngprims++];
        *p = (gprim){.M = M, .K = K, .N = N, .a_trans = a_trans};
        dnnl_memory_desc_t a_md, b_md, c_md;
        dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N};
        dnnl_check(dnnl_memory_desc_init_by_tag(&a_md, 2, ad, dnnl_bf16, a_trans ? dnnl_ba : dnnl_ab),
                   "source descriptor");
        dnnl_check(dnnl_memory_desc_init_by_tag(&b_md, 2, bd, dnnl_bf16, dnnl_ab), "weights descriptor");
        dnnl_check(dnnl_memory_desc_init_by_tag(&c_md, 2, cd, dnnl_f32, dnnl_ab), "destination descriptor");
        dnnl_primitive_desc_t pd;
        dnnl_check(matmul_pd(L, &a_md, &b_md, &c_md, &pd), "bf16 matmul (backward)");
        dnnl_check(dnnl_primitive_create(&p->p, pd), "matmul primitive");
        p->a_md = a_md, p->b_md = b_md, p->c_md = c_md;
        const dnnl_memory_desc_t *scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        p->scratch_size = scratch ? dnnl_memory_desc_get_size(scratch) : 0;
        if (p->scratch_size) p->scratch_md = *scratch;
        dnnl_primitive_desc_destroy(pd);
    }
    const gprim q = *p; /* the array may move when another thread adds one */
    pthread_mutex_unlock(&L->gmu);

    grad_ctx *g = &L->gth[thread];
    if (g->s_cap < q.scratch_size) free(g->s), g->s = aligned(q.scratch_size), g->s_cap = q.scratch_size;
    ONEDNN_SINGLE_THREADED();
    dnnl_memory_t a, b, c, s = NULL;
    dnnl_check(dnnl_memory_create(&a, &q.a_md, L->engine, (void *)A), "memory");
    dnnl_check(dnnl_memory_create(&b, &q.b_md, L->engine, (void *)B), "memory");
    dnnl_check(dnnl_memory_create(&c, &q.c_md, L->engine, C), "memory");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
    int nargs = 3;
    if (q.scratch_size) {
        dnnl_check(dnnl_memory_create(&s, &q.scratch_md, L->engine, g->s), "memory");
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s};
    }
    dnnl_check(dnnl_primitive_execute(q.p, L->th[thread].stream, nargs, args), "matmul");
    dnnl_check(dnnl_stream_wait(L->th[thread].stream), "matmul");
    dnnl_memory_destroy(a);
    dnnl_memory_destroy(b);
    dnnl_memory_destroy(c);
    if (s) dnnl_memory_destroy(s);
}

void bert_lowp_prepare_backward(bert_model *m, int threads, int rows)
{
    bert_lowp *L = m->lowp;
    if (L->type != BERT_LOWP_BF16) die("bert_backward: the model computes in %s, for inference only", L->desc);
    const size_t rpad = (size_t)((rows + L->align - 1) / L->align * L->align);
    for (int d = 0; d < BERT_DENSES && L->layers && !L->emulate; d++) {
        const size_t K = (size_t)L->shapes[L->shape_of[d]].K, need = rpad * K * 2;
        if (L->xin_cap[d] < need) free(L->xin[d]), L->xin[d] = aligned(need), L->xin_cap[d] = need;
        memset(L->xin[d] + (size_t)rows * K, 0, (rpad - (size_t)rows) * K * 2); /* the padding rows of the last chunk */
    }
    if (threads > L->ngth) {
        L->gth = xrealloc(L->gth, (size_t)threads * sizeof *L->gth);
        memset(L->gth + L->ngth, 0, (size_t)(threads - L->ngth) * sizeof *L->gth);
        L->ngth = threads;
    }
    ensure_threads(L, threads, L->align); /* the streams */
}

void bert_lowp_keep_input(bert_model *m, int dense, const float *in, long r0, long r1)
{
    bert_lowp *L = m->lowp;
    if (L->emulate || r1 <= r0) return;
    const size_t K = (size_t)L->shapes[L->shape_of[dense]].K;
    quant_bf16_row(in + (size_t)r0 * K, (size_t)(r1 - r0) * K, L->xin[dense] + (size_t)r0 * K);
}

void bert_lowp_din_rows(bert_model *m, int layer, int dense, int thread, float *din, const float *dout, long r0,
                        long r1, int accumulate)
{
    if (r1 <= r0) return;
    bert_lowp *L = m->lowp;
    const shape *sh = &L->shapes[L->shape_of[dense]];
    const int i = layer * BERT_DENSES + dense, nout = sh->N, nin = sh->K;
    const long M = r1 - r0, Mpad = (M + L->align - 1) / L->align * L->align;
    dout += (size_t)r0 * nout;
    din += (size_t)r0 * nin;
    if (L->emulate) {
        grad_ctx *g = grad_scratch(L, thread, (size_t)M * nout * sizeof(float), 0, 0);
        float *x = g->a;
        for (size_t k = 0; k < (size_t)M * nout; k++) x[k] = quant_bf16_float(quant_bf16_bits(dout[k]));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, nin, nout, 1.0f, x, nout, L->bf_f32[i], nin,
                    accumulate ? 1.0f : 0.0f, din, nin);
        return;
    }
    grad_ctx *g = grad_scratch(L, thread, (size_t)Mpad * nout * 2, 0, (size_t)Mpad * nin * sizeof(float));
    quant_bf16_row(dout, (size_t)M * nout, g->a);
    memset((uint16_t *)g->a + (size_t)M * nout, 0, (size_t)(Mpad - M) * nout * 2);
    /* W [nout, nin] row-major is the [K, N] of din = dout W */
    plain_matmul(L, thread, (int)Mpad, nout, nin, 0, g->a, L->bf[i], g->c);
    if (accumulate) vm_add(din, din, g->c, (size_t)M * nin);
    else memcpy(din, g->c, (size_t)M * nin * sizeof(float));
}

/* The reduction over rows goes by chunks of at most this many (the last
 * one padded with zeros to a multiple of 16), so that the primitives of the
 * weight gradients come in a bounded set of shapes whatever the batch. */
#define DW_CHUNK 512

void bert_lowp_dw_rows(bert_model *m, int layer, int dense, int thread, float *dw, const float *dout, const float *in,
                       int rows, long o0, long o1)
{
    if (o1 <= o0 || rows <= 0) return;
    bert_lowp *L = m->lowp;
    const shape *sh = &L->shapes[L->shape_of[dense]];
    const int nout = sh->N, nin = sh->K, O = (int)(o1 - o0);
    (void)layer;
    dw += (size_t)o0 * nin;
    if (L->emulate) {
        grad_ctx *g = grad_scratch(L, thread, (size_t)rows * O * sizeof(float), (size_t)rows * nin * sizeof(float), 0);
        float *a = g->a, *b = g->b;
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < O; o++)
                a[(size_t)r * O + o] = quant_bf16_float(quant_bf16_bits(dout[(size_t)r * nout + o0 + o]));
        for (size_t k = 0; k < (size_t)rows * nin; k++) b[k] = quant_bf16_float(quant_bf16_bits(in[k]));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, nin, rows, 1.0f, a, O, b, nin, 1.0f, dw, nin);
        return;
    }
    grad_ctx *g = grad_scratch(L, thread, (size_t)O * DW_CHUNK * 2, 0, (size_t)O * nin * sizeof(float));
    uint16_t *a = g->a;
    for (int c0 = 0; c0 < rows; c0 += DW_CHUNK) {
        const int n = rows - c0 < DW_CHUNK ? rows - c0 : DW_CHUNK;
        const int npad = (int)((n + L->align - 1) / L->align * L->align);
        /* a = dout[chunk, o0:o1], [npad, O], the transpose of the product's
         * A; B: the chunk's rows of the input, kept in bf16 by
         * bert_lowp_keep_input (zero past the last row) */
        for (int r = 0; r < n; r++) quant_bf16_row(dout + (size_t)(c0 + r) * nout + o0, (size_t)O, a + (size_t)r * O);
        memset(a + (size_t)n * O, 0, (size_t)(npad - n) * O * 2);
        plain_matmul(L, thread, O, npad, nin, 1, a, L->xin[dense] + (size_t)c0 * nin, g->c);
        vm_add(dw, dw, g->c, (size_t)O * nin);
    }
}

/* ------------------------------------------------------------------------
 * Attaching. */

void bert_lowp_detach(bert_model *m)
{
    bert_lowp *L = m->lowp;
    if (!L) return;
    for (int s = 0; s < L->nshapes; s++) {
        for (int i = 0; i < L->shapes[s].nprims; i++)
            if (L->shapes[s].prims[i].p) dnnl_primitive_destroy(L->shapes[s].prims[i].p);
        free(L->shapes[s].prims);
        for (int l = 0; l < L->layers; l++)
            for (int d = 0; d < BERT_DENSES; d++)
                if (L->shape_of[d] == s && L->packed)
                    for (int k = 0; k < L->shapes[s].nlayouts; k++) free(L->packed[l * BERT_DENSES + d][k]);
        free(L->shapes[s].layouts);
    }
    for (int i = 0; i < L->layers * BERT_DENSES; i++) {
        if (L->zp_colsum) free(L->zp_colsum[i]);
        if (L->bf) free(L->bf[i]);
        if (L->bf_f32) free(L->bf_f32[i]);
        if (L->packed) free(L->packed[i]);
    }
    free(L->zp_colsum);
    free(L->bf);
    free(L->bf_f32);
    free(L->packed);
    quant_free(L->q);
    for (int t = 0; t < L->nth; t++) {
        thread_ctx *c = &L->th[t];
        dnnl_stream_destroy(c->stream);
        free(c->src), free(c->dst), free(c->scratch), free(c->row_scale);
    }
    free(L->th);
    for (int i = 0; i < L->ngprims; i++) dnnl_primitive_destroy(L->gprims[i].p);
    free(L->gprims);
    for (int t = 0; t < L->ngth; t++) free(L->gth[t].a), free(L->gth[t].b), free(L->gth[t].c), free(L->gth[t].s);
    for (int d = 0; d < BERT_DENSES; d++) free(L->xin[d]);
    free(L->gth);
    pthread_mutex_destroy(&L->gmu);
    if (L->engine) dnnl_engine_destroy(L->engine);
    free(L);
    m->lowp = NULL;
}

/* VNNI (AVX512-VNNI, which AMX CPUs have too, or AVX-VNNI): u8 x s8 sums
 * of 4 products straight into int32, no int16 step to saturate */
static int has_vnni(void)
{
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni ||
           (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
}

int bert_lowp_attach(bert_model *m, bert_lowp_type type, bert_int8 *q)
{
    bert_lowp_detach(m);
    if (type == BERT_LOWP_BF16) {
        quant_free(q);
        q = NULL;
    } else if (!q && !(q = quant_from_model(m, m->err))) {
        return -1;
    }
    bert_lowp *L = xcalloc(1, sizeof *L);
    L->type = type;
    L->layers = m->cfg.num_layers;
    L->align = 16;
    L->q = q;
    L->qmax = has_vnni() ? 127 : 63;
    L->gen = m->params_gen;
    pthread_mutex_init(&L->gmu, NULL);
    if (dnnl_engine_create(&L->engine, dnnl_cpu, 0) != dnnl_success) {
        pthread_mutex_destroy(&L->gmu);
        free(L);
        quant_free(q);
        snprintf(m->err, sizeof m->err, "oneDNN: no CPU engine");
        return -1;
    }
    m->lowp = L;
    for (int d = 0; d < BERT_DENSES && L->layers; d++) {
        int N, K;
        bert_dense_weight(m, 0, d, &N, &K);
        int s = 0;
        while (s < L->nshapes && !(L->shapes[s].N == N && L->shapes[s].K == K)) s++;
        if (s == L->nshapes) L->shapes[L->nshapes++] = (shape){.N = N, .K = K};
        L->shape_of[d] = s;
    }
    const int n = L->layers * BERT_DENSES;
    L->packed = xcalloc((size_t)n ? (size_t)n : 1, sizeof *L->packed);
    if (type == BERT_LOWP_INT8) {
        L->zp_colsum = xcalloc((size_t)n ? (size_t)n : 1, sizeof *L->zp_colsum);
        for (int i = 0; i < n; i++) {
            int N, K;
            bert_dense_weight(m, i / BERT_DENSES, i % BERT_DENSES, &N, &K);
            L->zp_colsum[i] = xmalloc((size_t)N * sizeof(int32_t));
            for (int r = 0; r < N; r++) {
                int32_t sum = 0;
                for (int k = 0; k < K; k++) sum += q->q[i][(size_t)r * K + k];
                L->zp_colsum[i][r] = (L->qmax + 1) * sum;
            }
        }
    } else {
        L->bf = xcalloc((size_t)n ? (size_t)n : 1, sizeof *L->bf);
        for (int i = 0; i < n; i++) {
            int N, K;
            const float *w = bert_dense_weight(m, i / BERT_DENSES, i % BERT_DENSES, &N, &K);
            L->bf[i] = xmalloc((size_t)N * K * sizeof(uint16_t));
            for (size_t k = 0; k < (size_t)N * K; k++) L->bf[i][k] = quant_bf16_bits(w[k]);
        }
    }
    ensure_threads(L, 1, L->align);
    /* one primitive now: whether oneDNN has the matmul, and which kernel */
    const char *impl = NULL;
    prim first = {0};
    dnnl_status_t st = L->layers ? make_prim(L, 0, (int)L->align, &first, &impl) : dnnl_success;
    if (L->layers && st == dnnl_success) {
        L->shapes[0].prims = xcalloc(1, sizeof first);
        L->shapes[0].prims[0] = first;
        L->shapes[0].nprims = 1;
    }
    if (st == dnnl_unimplemented && type == BERT_LOWP_BF16) {
        L->emulate = 1;
        L->bf_f32 = xcalloc((size_t)n, sizeof *L->bf_f32);
        for (int i = 0; i < n; i++) {
            int N, K;
            bert_dense_weight(m, i / BERT_DENSES, i % BERT_DENSES, &N, &K);
            L->bf_f32[i] = xmalloc((size_t)N * K * sizeof(float));
            for (size_t k = 0; k < (size_t)N * K; k++) L->bf_f32[i][k] = quant_bf16_float(L->bf[i][k]);
        }
        snprintf(L->desc, sizeof L->desc, "bf16 (no oneDNN bf16 matmul on this CPU: OpenBLAS on bf16 values)");
    } else if (st != dnnl_success) {
        snprintf(m->err, sizeof m->err, "oneDNN has no %s matmul on this CPU (status %d)", bert_lowp_name(type),
                 (int)st);
        bert_lowp_detach(m);
        return -1;
    } else if (type == BERT_LOWP_INT8) {
        snprintf(L->desc, sizeof L->desc, "int8 (oneDNN %s, %d-bit activations)", impl ? impl : "?",
                 L->qmax == 127 ? 8 : 7);
    } else {
        snprintf(L->desc, sizeof L->desc, "bf16 (oneDNN %s)", impl ? impl : "?");
    }
    free((void *)impl);
    return 0;
}
