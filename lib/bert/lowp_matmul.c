#include "lowp_matmul.h"
#include "core/common.h"
#include "core/threadpool.h"
#include "core/vmath_clones.h"

#include <cblas.h>
#include <dnnl.h>
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

/* Every weight of shape s in layout k (main thread). */
static void pack_layout(bert_lowp *L, int s, int k)
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
            L->packed[i] = xrealloc(L->packed[i], (size_t)(k + 1) * sizeof *L->packed[i]);
            L->packed[i][k] = aligned(size);
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
    dnnl_matmul_desc_t md;
    dnnl_check(dnnl_matmul_desc_init(&md, &src_md, &w_md, NULL, &dst_md), "matmul descriptor");
    dnnl_primitive_attr_t attr;
    dnnl_check(dnnl_primitive_attr_create(&attr), "attributes");
    dnnl_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "attributes");
    ONEDNN_SINGLE_THREADED();
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &md, attr, L->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
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
        pack_layout(L, s, out->layout);
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
        if (hi <= lo) continue;
        const long Mpad = (hi - lo + align - 1) / align * align;
        if (Mpad > most) most = Mpad;
        if (!L->emulate)
            for (int s = 0; s < L->nshapes; s++) get_prim(L, s, (int)Mpad);
    }
    ensure_threads(L, parts, most);
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

void bert_lowp_rows(bert_model *m, int layer, int dense, int thread, float *out, const float *in, const float *b,
                    long r0, long r1)
{
    if (r1 <= r0) return;
    bert_lowp *L = m->lowp;
    const shape *sh = &L->shapes[L->shape_of[dense]];
    const int i = layer * BERT_DENSES + dense, N = sh->N, K = sh->K;
    const long M = r1 - r0, Mpad = (M + L->align - 1) / L->align * L->align;
    thread_ctx *c = &L->th[thread];
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
    if (dnnl_engine_create(&L->engine, dnnl_cpu, 0) != dnnl_success) {
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
