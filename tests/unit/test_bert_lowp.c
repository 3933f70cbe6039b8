/* predict's low precisions on the CPU (lib/bert/quant.h, lib/bert/lowp_matmul.h),
 * and bert-train's bf16:
 *  - the numbers: int8 rows (scale, ties to even, clamping, the zero point),
 *    bf16 rounding;
 *  - each Linear layer through oneDNN against a reference computed here:
 *    int8 bit for bit (integer sums: the same float expression), bf16 to
 *    the rounding of fp32 sums; row counts that are and are not multiples
 *    of 16, two threads' scratch;
 *  - whole models against fp32: the committed tiny model and, when fetched,
 *    all-MiniLM-L6-v2 on 256 tweets (SHARED) with a fresh classifier, and
 *    with one fitted to the tweets' labels; the tolerances below were
 *    measured on this project's CPUs (AMX, and AVX512-VNNI by
 *    ONEDNN_MAX_CPU_ISA);
 *  - bf16 training on the tiny model: loss and every gradient tensor against
 *    fp32 (tiny.state's batch, and one of 872 rows), the same bits twice,
 *    the bf16 weights rounded again after an AdamW step;
 *  - int8 results do not depend on the thread count; oneDNN starts no
 *    threads of its own (--threads governs);
 *  - an int8 directory: save -> load gives bit-identical logits, bert_load
 *    (bert-train's loader) refuses it, corrupt scales are one-line errors
 *    naming the file.
 * Then the tests of oneDNN and the tiny model again, in a child process
 * with ONEDNN_MAX_CPU_ISA=AVX2: a CPU without VNNI or bf16 (7-bit
 * activations, bf16 through OpenBLAS). */
#include "bert/bert.h"
#include "bert/lowp_matmul.h"
#include "bert/quant.h"
#include "bert/safetensors.h"
#include "bert_state.h"
#include "check.h"
#include "core/common.h"
#include "core/threadpool.h"
#include "text/csvread.h"
#include "text/wordpiece.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tolerances on logits: |low - fp32| <= TOL * (1 + |fp32|), element by
 * element, about twice the worst seen on this project's CPUs (AMX; the same
 * on AVX512-VNNI) and in the AVX2 child:
 *  - tiny model (tiny.state's batch; its weights are large, N(0, 0.2)):
 *    int8 0.022 (8-bit activations), 0.076 (7-bit, AVX2); bf16 0.006.
 *  - MiniLM, fresh classifier, 256 tweets: int8 0.007, bf16 0.0004. A fresh
 *    head's logits are ~0.02, so these are in effect absolute errors. */
#define TINY_INT8_TOL 0.05
#define TINY_INT8_7BIT_TOL 0.15
#define TINY_BF16_TOL 0.015
#define MINILM_INT8_TOL 0.015
#define MINILM_BF16_TOL 0.002
/* Training in bf16 (tiny.state's batch, forward and backward): the loss
 * relative to fp32's, and each gradient tensor's relative L2 error
 * |g_bf16 - g_fp32| / |g_fp32|, over twice the worst seen (the same on
 * AMX and in the AVX2 child, OpenBLAS on bf16 values): loss 1.0e-4, and
 * 0.0024 on a batch of 872 rows; gradients 0.021 (value bias of layer 0;
 * most tensors 0.01-0.02), 0.017 on the 872 rows. */
#define TRAIN_LOSS_TOL 0.005
#define TRAIN_GRAD_TOL 0.05
/* MiniLM, the pooler's output (what the classifier reads): the smallest
 * cosine similarity to fp32's over the tweets; seen: int8 0.9925, bf16
 * 0.99999 (int8 moves it by ~8% of its norm on average). */
#define MINILM_INT8_MIN_COS 0.985
#define MINILM_BF16_MIN_COS 0.9999
/* MiniLM, argmax: a fresh head's top two logits are near ties (median gap
 * 0.017, a tenth of them under 0.003, below int8's error), so its argmax
 * flips for 8 of 256 tweets in int8 (none in bf16): at most 5% there. A head
 * fitted to the tweets' labels, as fine-tuning makes one (softmax
 * regression on fp32's pooled outputs, 200 gradient steps), decides with
 * margins: there at least 99% must agree (seen: 256 of 256 in both). */
#define MINILM_FRESH_INT8_AGREE 0.95
#define MINILM_AGREE 0.99

static char tmpdir[256];
static const char *isa_note = ""; /* " (AVX2)" in the child */

static void name(char *buf, size_t n, const char *fmt, const char *what)
{
    snprintf(buf, n, fmt, what);
    strncat(buf, isa_note, n - strlen(buf) - 1);
}

/* ------------------------------------------------------------------------
 * Numbers. */

static void test_numbers(void)
{
    const float x[6] = {127, -2.5f, 3.5f, -0.5f, 1e-3f, 126.5f};
    int8_t q[6];
    float s = quant_row_int8(x, 6, 127, q);
    CHECK("quant_row_int8: scale max|x| / 127", s == 1.0f);
    CHECK("quant_row_int8: to nearest, ties to even", q[0] == 127 && q[1] == -2 && q[2] == 4 && q[3] == 0 &&
                                                          q[4] == 0 && q[5] == 126);
    s = quant_row_int8(x, 6, 63, q);
    CHECK("quant_row_int8: 63 levels", q[0] == 63 && q[1] == -1 && fabsf(s - 127.0f / 63) < 1e-6f);
    const float z[3] = {0, -0.0f, 0};
    CHECK("quant_row_int8: a row of zeros has scale 0, q 0", quant_row_int8(z, 3, 127, q) == 0 && !q[0] && !q[2]);
    const float nan[3] = {1, NAN, -1};
    quant_row_int8(nan, 3, 127, q);
    CHECK("quant_row_int8: NaN becomes -127", q[0] == 127 && q[1] == -127 && q[2] == -127);

    uint8_t u[40];
    s = quant_row_u8(x, 6, 127, u);
    CHECK("quant_row_u8: q + 128, to nearest, ties to even",
          s == 1.0f && u[0] == 255 && u[1] == 126 && u[2] == 132 && u[3] == 128 && u[4] == 128 && u[5] == 254);
    s = quant_row_u8(x, 6, 63, u);
    CHECK("quant_row_u8: 63 levels, q + 64", u[0] == 127 && u[1] == 63 && fabsf(s - 127.0f / 63) < 1e-6f);
    CHECK("quant_row_u8: a row of zeros is the zero point", quant_row_u8(z, 3, 127, u) == 0 && u[0] == 128);
    float longrow[40];
    for (int i = 0; i < 40; i++) longrow[i] = (float)(i - 20) / 4;
    longrow[37] = -12.7f; /* the largest, in the tail after the 16-wide part */
    s = quant_row_u8(longrow, 40, 127, u);
    CHECK("quant_row_u8: the maximum found anywhere in a long row", fabsf(s - 0.1f) < 1e-7f);
    uint16_t bits[3];
    const float three[3] = {1.0f + 0x1p-8f, NAN, -2.75f};
    quant_bf16_row(three, 3, bits);
    CHECK("quant_bf16_row: as quant_bf16_bits", bits[0] == 0x3f80 && isnan(quant_bf16_float(bits[1])) &&
                                                    bits[2] == quant_bf16_bits(-2.75f));
    CHECK("bf16: 1 is 0x3f80", quant_bf16_bits(1.0f) == 0x3f80);
    CHECK("bf16: a tie rounds to even (down)", quant_bf16_bits(1.0f + 0x1p-8f) == 0x3f80);
    CHECK("bf16: a tie rounds to even (up)", quant_bf16_bits(1.0f + 3 * 0x1p-8f) == 0x3f82);
    CHECK("bf16: above the tie rounds up", quant_bf16_bits(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);
    CHECK("bf16: -2.75 -> -2.75", quant_bf16_float(quant_bf16_bits(-2.75f)) == -2.75f);
    CHECK("bf16: NaN stays NaN", isnan(quant_bf16_float(quant_bf16_bits(NAN))));
    CHECK("bf16: infinity stays", quant_bf16_bits(INFINITY) == 0x7f80);
}

/* ------------------------------------------------------------------------
 * One Linear layer against a reference. */

static void random_model(bert_model *m, int hidden, int heads, int ff, uint64_t seed)
{
    bert_config cfg;
    bert_config_init(&cfg, 64, hidden, 1, heads, ff, 32);
    cfg.initializer_range = 0.5;
    if (bert_init(m, &cfg, 3, seed) < 0) {
        printf("FAIL bert_init: %s\n", m->err);
        exit(1);
    }
}

static float urand(void)
{
    return (float)((check_rnd() >> 11) * 0x1p-53 * 2 - 1);
}

/* out[M, N] by the numbers of quant.h, computed here: int8 in the exact
 * expression lowp_matmul evaluates (so bit for bit), bf16 in double */
static void reference(const bert_model *m, int dense, const float *in, int M, const float *b, float *out)
{
    int N, K;
    const float *w = bert_dense_weight(m, 0, dense, &N, &K);
    if (bert_lowp_kind(m) == BERT_LOWP_INT8) {
        const bert_int8 *q8 = bert_lowp_int8(m);
        const int8_t *qw = q8->q[dense];
        const float *sw = q8->scale[dense];
        uint8_t *ux = xmalloc((size_t)K);
        const int zp = bert_lowp_act_qmax(m) + 1;
        for (int r = 0; r < M; r++) {
            float sx = quant_row_u8(in + (size_t)r * K, (size_t)K, zp - 1, ux);
            for (int n = 0; n < N; n++) {
                int32_t acc = 0;
                for (int k = 0; k < K; k++) acc += (ux[k] - zp) * qw[(size_t)n * K + k];
                out[(size_t)r * N + n] = (float)acc * (sx * sw[n]) + b[n];
            }
        }
        free(ux);
    } else {
        for (int r = 0; r < M; r++)
            for (int n = 0; n < N; n++) {
                double acc = 0;
                for (int k = 0; k < K; k++)
                    acc += (double)quant_bf16_float(quant_bf16_bits(in[(size_t)r * K + k])) *
                           quant_bf16_float(quant_bf16_bits(w[(size_t)n * K + k]));
                out[(size_t)r * N + n] = (float)(acc + b[n]);
            }
    }
}

static void test_linear(bert_lowp_type type)
{
    bert_model m;
    random_model(&m, 40, 4, 72, 7); /* K, N of 40, 72, 120: no multiple of 16 */
    if (bert_lowp_attach(&m, type, NULL) < 0) {
        printf("FAIL attach %s: %s\n", bert_lowp_name(type), m.err);
        check_failures++;
        bert_free(&m);
        return;
    }
    printf("INFO %s%s: %s\n", bert_lowp_name(type), isa_note, bert_lowp_describe(&m));
    static const int Ms[] = {1, 5, 16, 17, 40, 100};
    double worst = 0;
    int exact = 1;
    for (int d = 0; d < BERT_DENSES; d++) {
        int N, K;
        bert_dense_weight(&m, 0, d, &N, &K);
        float *b = xmalloc((size_t)N * sizeof *b);
        for (int n = 0; n < N; n++) b[n] = urand();
        for (size_t i = 0; i < sizeof Ms / sizeof *Ms; i++) {
            const int M = Ms[i];
            float *in = xmalloc((size_t)M * K * sizeof *in), *got = xcalloc((size_t)M * N, sizeof *got),
                  *want = xmalloc((size_t)M * N * sizeof *want);
            for (size_t k = 0; k < (size_t)M * K; k++) in[k] = urand() * (k % 7 == 0 ? 10 : 1);
            /* two threads' parts, each on its own thread's scratch */
            bert_lowp_prepare(&m, M, 2, 16);
            long lo, hi;
            for (int t = 0; t < 2; t++) {
                threadpool_part(M, 2, t, 16, &lo, &hi);
                bert_lowp_rows(&m, 0, d, 1 - t, got, in, b, lo, hi);
            }
            reference(&m, d, in, M, b, want);
            for (size_t k = 0; k < (size_t)M * N; k++) {
                if (type == BERT_LOWP_INT8 && got[k] != want[k]) exact = 0;
                double e = fabs((double)got[k] - want[k]) / (1 + fabs(want[k]));
                if (e > worst) worst = e;
            }
            free(in), free(got), free(want);
        }
        free(b);
    }
    char nm[160];
    if (type == BERT_LOWP_INT8) {
        name(nm, sizeof nm, "%s linear: bit for bit the integer reference, 1 to 100 rows, 4 shapes", "int8");
        CHECK(nm, exact);
    } else {
        /* fp32 sums of <= 72 exact products: a few ulps of the sum's terms */
        snprintf(nm, sizeof nm, "bf16 linear: within 1e-5 of the reference on bf16 values (%.2g)%s", worst, isa_note);
        CHECK(nm, worst <= 1e-5);
    }
    bert_free(&m);
}

/* ------------------------------------------------------------------------
 * Whole models. */

/* logits of sequences [0, n) of the token arrays, batch by batch */
typedef struct seqs {
    int n, T;           /* sequences, padded length */
    int *ids, *types, *mask;
} seqs;

static float *run(bert_model *m, const seqs *s, int batch)
{
    const int C = m->num_labels;
    float *logits = xmalloc((size_t)s->n * C * sizeof *logits);
    for (int i = 0; i < s->n; i += batch) {
        int B = s->n - i < batch ? s->n - i : batch;
        size_t o = (size_t)i * s->T;
        bert_batch b = {B, s->T, s->ids + o, s->types + o, s->mask + o, NULL};
        if (bert_forward(m, &b, 0) < 0) {
            printf("FAIL forward: %s\n", m->err);
            exit(1);
        }
        memcpy(logits + (size_t)i * C, m->acts.logits, (size_t)B * C * sizeof *logits);
    }
    return logits;
}

static int argmax(const float *z, int C)
{
    int best = 0;
    for (int k = 1; k < C; k++)
        if (z[k] > z[best]) best = k;
    return best;
}

/* compares low with fp32 logits: the worst |d| / (1 + |fp32|) (at most
 * tol; tol < 0: not checked), and the share of argmax equal to fp32's (at
 * least `agree`) */
static void compare(const char *what, const float *fp32, const float *low, int n, int C, double tol, double agree)
{
    double worst = 0;
    int flips = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < C; k++) {
            double e = fabs((double)low[i * C + k] - fp32[i * C + k]) / (1 + fabs(fp32[i * C + k]));
            if (e > worst) worst = e;
        }
        flips += argmax(low + i * C, C) != argmax(fp32 + i * C, C);
    }
    char nm[200];
    snprintf(nm, sizeof nm, "%s: logits within %g of fp32 (worst %.3g)%s", what, tol, worst, isa_note);
    if (tol >= 0) CHECK(nm, worst <= tol);
    snprintf(nm, sizeof nm, "%s: argmax as fp32's for %d of %d (at least %.0f%%)%s", what, n - flips, n,
             100 * agree, isa_note);
    CHECK(nm, n - flips >= agree * n);
}

static int process_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

/* The committed tiny model (tests/golden/bert/tiny_model), or the test ends */
static void load_tiny(bert_model *m)
{
    if (bert_load(m, GOLDEN "tiny_model", 0, 0) < 0) {
        printf("FAIL load tiny: %s\n", m->err);
        exit(1);
    }
}

static void test_tiny(void)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    const bert_batch golden = state_batch(&s);
    seqs q = {golden.B, golden.T, s.ids, s.types, s.mask};
    bert_model m;
    load_tiny(&m);
    openblas_set_num_threads(1);
    float *fp32 = run(&m, &q, q.n);
    bert_lowp_attach(&m, BERT_LOWP_INT8, NULL);
    float *i8 = run(&m, &q, q.n);
    openblas_set_num_threads(2);
    float *i8_2 = run(&m, &q, q.n);
    openblas_set_num_threads(1);
    compare("tiny int8", fp32, i8, q.n, m.num_labels, bert_lowp_act_qmax(&m) == 127 ? TINY_INT8_TOL : TINY_INT8_7BIT_TOL,
            1);
    char nm[160];
    name(nm, sizeof nm, "%s: 2 threads give the bits of 1", "tiny int8");
    CHECK(nm, memcmp(i8, i8_2, (size_t)q.n * m.num_labels * sizeof *i8) == 0);
    bert_lowp_attach(&m, BERT_LOWP_BF16, NULL);
    float *bf = run(&m, &q, q.n);
    compare("tiny bf16", fp32, bf, q.n, m.num_labels, TINY_BF16_TOL, 1);
    bert_lowp_detach(&m);
    float *again = run(&m, &q, q.n);
    name(nm, sizeof nm, "%s: back to fp32, the same bits as before", "tiny");
    CHECK(nm, memcmp(fp32, again, (size_t)q.n * m.num_labels * sizeof *fp32) == 0);
    bert_free(&m);
    free(fp32), free(i8), free(i8_2), free(bf), free(again);
    free_state(&s);
}

/* ------------------------------------------------------------------------
 * Training in bf16 (bert-train --precision bf16): loss and every gradient
 * tensor of tiny.state's batch against fp32; the bits of two runs; the
 * bf16 weights made again after an AdamW step. */

/* Each gradient tensor of bf16 (g16) against fp32 (g32): |g16 - g32| /
 * |g32| in L2, |g32| taken as at least 1e-3 of the whole gradient's norm:
 * the key bias's gradient is 0 but for rounding (softmax does not see a
 * constant added to a row of scores). */
static void compare_grads(const char *what, const bert_model *m, const float *g32, const float *g16)
{
    char nm[200];
    double all2 = 0;
    for (size_t i = 0; i < m->num_params; i++) all2 += (double)g32[i] * g32[i];
    const double floor2 = 1e-6 * all2;
    double worst = 0;
    const char *worst_name = "";
    int ok = 1;
    for (int t = 0; t < m->num_tensors; t++) {
        const bert_tensor *tn = &m->tensors[t];
        double d2 = 0, r2 = 0;
        for (size_t i = tn->offset; i < tn->offset + tn->numel; i++) {
            const double d = (double)g16[i] - g32[i];
            d2 += d * d;
            r2 += (double)g32[i] * g32[i];
        }
        if (!isfinite(d2)) ok = 0;
        const double rel = sqrt(d2 / (r2 > floor2 ? r2 : floor2));
        if (rel > worst) worst = rel, worst_name = tn->name;
        if (rel > TRAIN_GRAD_TOL) ok = 0;
    }
    snprintf(nm, sizeof nm, "%s%s: every gradient tensor within %g of fp32's (relative L2; worst %.3g, %s)", what,
             isa_note, TRAIN_GRAD_TOL, worst, worst_name);
    CHECK(nm, ok);
}

/* One forward and backward of b on m (threads: OpenBLAS's count); the
 * gradients copied out. */
static float *train_grads(bert_model *m, const bert_batch *b, int threads, float *loss)
{
    openblas_set_num_threads(threads);
    bert_seed_dropout(m, 5);
    bert_zero_grad(m);
    if (bert_forward(m, b, 1) < 0) {
        printf("FAIL forward: %s\n", m->err);
        exit(1);
    }
    bert_backward(m, 0);
    openblas_set_num_threads(1);
    *loss = m->loss;
    float *g = xmalloc(m->num_params * sizeof *g);
    memcpy(g, m->grads, m->num_params * sizeof *g);
    return g;
}

static void test_tiny_train(void)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    const bert_batch b = state_batch(&s);
    bert_model m;
    load_tiny(&m);
    float loss32, loss16, loss16_2;
    float *g32 = train_grads(&m, &b, 1, &loss32);
    bert_lowp_attach(&m, BERT_LOWP_BF16, NULL);
    float *g16 = train_grads(&m, &b, 2, &loss16);
    float *g16_2 = train_grads(&m, &b, 2, &loss16_2);
    char nm[200];
    const double dloss = fabs((double)loss16 - loss32) / fabs((double)loss32);
    snprintf(nm, sizeof nm, "tiny bf16 training%s: loss within %g of fp32's, relative (%.4g vs %.4g: %.2g)", isa_note,
             TRAIN_LOSS_TOL, loss16, loss32, dloss);
    CHECK(nm, dloss <= TRAIN_LOSS_TOL);
    compare_grads("tiny bf16 training", &m, g32, g16);
    snprintf(nm, sizeof nm, "tiny bf16 training%s: two runs on 2 threads give the same bits", isa_note);
    CHECK(nm, loss16 == loss16_2 && memcmp(g16, g16_2, m.num_params * sizeof *g16) == 0);

    /* an AdamW step changes the fp32 weights: the next forward rounds them
     * again, as a model attached afresh to them does */
    bert_adamw opt = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f};
    bert_adamw_step(&m, &opt);
    openblas_set_num_threads(2);
    bert_forward(&m, &b, 0);
    const size_t nl = (size_t)b.B * m.num_labels;
    float *after = xmalloc(nl * sizeof *after);
    memcpy(after, m.acts.logits, nl * sizeof *after);
    bert_lowp_attach(&m, BERT_LOWP_BF16, NULL);
    bert_forward(&m, &b, 0);
    snprintf(nm, sizeof nm, "tiny bf16 training%s: after a step, the weights rounded again (the bits of a new attach)",
             isa_note);
    CHECK(nm, memcmp(after, m.acts.logits, nl * sizeof *after) == 0);
    bert_lowp_detach(&m);
    openblas_set_num_threads(1);
    free(g32), free(g16), free(g16_2), free(after);
    bert_free(&m);
    free_state(&s);
}

/* A batch of 20 sequences of up to 64 tokens (padding skipped: 872
 * rows), so that the weight gradients' sums over rows go by more than one
 * chunk (lowp_matmul.h), the last one padded. */
static void test_tiny_train_long(void)
{
    enum { B = 20, T = 64 };
    static int ids[B * T], mask[B * T], labels[B];
    check_rng_state = 11;
    for (int b = 0; b < B; b++) {
        const int len = 8 + (int)((urand() + 1) * 28);
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = t < len ? 1 + (int)((urand() + 1) * 249) : 0;
            mask[b * T + t] = t < len;
        }
        labels[b] = b % 3;
    }
    const bert_batch bt = {B, T, ids, NULL, mask, labels};
    bert_model m;
    load_tiny(&m);
    float loss32, loss16, loss16_2;
    float *g32 = train_grads(&m, &bt, 2, &loss32);
    bert_lowp_attach(&m, BERT_LOWP_BF16, NULL);
    float *g16 = train_grads(&m, &bt, 2, &loss16);
    float *g16_2 = train_grads(&m, &bt, 2, &loss16_2);
    char nm[200], what[64];
    snprintf(what, sizeof what, "tiny bf16 training, %d rows", m.acts.rows);
    const double dloss = fabs((double)loss16 - loss32) / fabs((double)loss32);
    snprintf(nm, sizeof nm, "%s%s: loss within %g of fp32's, relative (%.2g)", what, isa_note, TRAIN_LOSS_TOL, dloss);
    CHECK(nm, dloss <= TRAIN_LOSS_TOL && m.acts.rows > 512);
    compare_grads(what, &m, g32, g16);
    snprintf(nm, sizeof nm, "%s%s: two runs give the same bits", what, isa_note);
    CHECK(nm, loss16 == loss16_2 && memcmp(g16, g16_2, m.num_params * sizeof *g16) == 0);
    free(g32), free(g16), free(g16_2);
    bert_free(&m);
}

/* A MiniLM-sized layer on 2 threads, in int8 and bf16: afterwards, the
 * model's pool gone, the process has the threads it had before. oneDNN on
 * OpenMP would have started a team of its own, which stays (small
 * matrices would not show it: oneDNN runs those on one thread anyway). */
static void test_no_onednn_threads(void)
{
    const int before = process_threads();
    for (int t = BERT_LOWP_INT8; t <= BERT_LOWP_BF16; t++) {
        bert_model m;
        random_model(&m, 384, 12, 1536, 3);
        bert_lowp_attach(&m, t, NULL);
        int ids[16 * 32];
        for (int i = 0; i < 16 * 32; i++) ids[i] = i % 64;
        bert_batch b = {16, 32, ids, NULL, NULL, NULL};
        openblas_set_num_threads(2);
        bert_forward(&m, &b, 0);
        openblas_set_num_threads(1);
        bert_free(&m);
    }
    char nm[160];
    name(nm, sizeof nm, "%s: oneDNN starts no threads of its own (--threads governs)", "lowp");
    CHECK(nm, process_threads() == before);
}

/* ------------------------------------------------------------------------
 * The int8 directory. */

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("FAIL rm -rf %s\n", dir);
}

/* Rewrites dir/model.safetensors with tensor `victim` changed by fn. */
static void damage(const char *dir, const char *victim, void (*fn)(st_out *t, float *copy))
{
    char path[500], err[MODEL_ERR_MAX];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_file f;
    if (st_open(&f, path, err) < 0) {
        printf("FAIL %s\n", err);
        exit(1);
    }
    st_out *t = xcalloc(f.n, sizeof *t);
    const int8_t **i8 = xcalloc(f.n, sizeof *i8);
    float *copy = NULL;
    for (size_t i = 0; i < f.n; i++) {
        const st_tensor *s = &f.tensors[i];
        t[i].name = s->name;
        t[i].ndim = s->ndim;
        for (int d = 0; d < s->ndim; d++) t[i].shape[d] = s->shape[d];
        if (strcmp(s->dtype, "I8") == 0) i8[i] = (const int8_t *)s->data;
        else {
            float *v = xmalloc(s->numel * sizeof *v + 4);
            st_to_f32(s, v, err);
            t[i].data = v;
            if (strcmp(s->name, victim) == 0) fn(&t[i], copy = v);
        }
    }
    char out[520];
    snprintf(out, sizeof out, "%s.new", path);
    st_write(out, t, f.n, i8, NULL, 0);
    for (size_t i = 0; i < f.n; i++) free((void *)t[i].data);
    free(t), free(i8);
    st_close(&f);
    if (rename(out, path) != 0) printf("FAIL rename %s\n", out);
}

static void nan_scale(st_out *t, float *v) { (void)t; v[3] = NAN; }
static void zero_scale(st_out *t, float *v) { (void)t; v[0] = 0; }
static void negative_scale(st_out *t, float *v) { (void)t; v[1] = -0.5f; }
static void short_scale(st_out *t, float *v) { (void)v; t->shape[0]--; }

static void check_load_error(const char *what, const char *dir, const char *want)
{
    bert_model m;
    int rc = bert_load_flags(&m, dir, 0, 0, BERT_LOAD_INT8);
    char nm[600];
    snprintf(nm, sizeof nm, "int8 dir, %s: an error naming the file and the tensor (\"%s\")", what, m.err);
    CHECK(nm, rc < 0 && strstr(m.err, "model.safetensors: tensor ") && strstr(m.err, want) && !strchr(m.err, '\n'));
    if (rc == 0) bert_free(&m);
}

static void test_int8_dir(void)
{
    char dir[400], copy[400], cmd[900];
    snprintf(dir, sizeof dir, "%s/q", tmpdir);
    state s;
    load_state(&s, GOLDEN "tiny.state");
    seqs q = {s.B, s.T, s.ids, s.types, s.mask};
    bert_model m;
    bert_load(&m, GOLDEN "tiny_model", 0, 0);
    bert_lowp_attach(&m, BERT_LOWP_INT8, NULL);
    float *fly = run(&m, &q, q.n);
    quant_save_dir(&m, bert_lowp_int8(&m), GOLDEN "tiny_model", dir);

    bert_model r;
    int rc = bert_load(&r, dir, 0, 0);
    CHECK("int8 dir: bert_load (bert-train's loader) refuses it, saying why",
          rc < 0 && strstr(r.err, "an int8 model (predict --save-quantized), for prediction only"));
    rc = bert_load_flags(&r, dir, 0, 0, BERT_LOAD_INT8);
    CHECK("int8 dir: loads for prediction, int8 attached", rc == 0 && bert_lowp_kind(&r) == BERT_LOWP_INT8);
    if (rc == 0) {
        float *loaded = run(&r, &q, q.n);
        CHECK("int8 dir: save -> load gives the logits of int8 on the fly, bit for bit",
              memcmp(fly, loaded, (size_t)q.n * m.num_labels * sizeof *fly) == 0);
        const bert_int8 *a = bert_lowp_int8(&m), *b = bert_lowp_int8(&r);
        int same = 1;
        for (int i = 0; i < m.cfg.num_layers * BERT_DENSES; i++) {
            int N, K;
            bert_dense_weight(&m, i / BERT_DENSES, i % BERT_DENSES, &N, &K);
            same &= memcmp(a->q[i], b->q[i], (size_t)N * K) == 0 && memcmp(a->scale[i], b->scale[i], N * 4) == 0;
        }
        CHECK("int8 dir: the weights and scales read back as written", same);
        free(loaded);
        bert_free(&r);
    }
    char path[450];
    snprintf(path, sizeof path, "%s/config.json", dir);
    bert_config cfg;
    char err[MODEL_ERR_MAX];
    bert_config_load(&cfg, path, err);
    CHECK("int8 dir: config.json has the marker and the labels",
          quant_config_check(cfg.json, path, err) == 1 && cfg.num_labels == 3);
    bert_config_free(&cfg);

    static const struct {
        const char *what, *tensor, *want;
        void (*fn)(st_out *, float *);
    } bad[] = {
        {"NaN scale", "bert.encoder.layer.0.attention.self.key.weight_scale", "scale 3 is nan", nan_scale},
        {"zero scale", "bert.encoder.layer.1.output.dense.weight_scale", "scale 0 is 0;", zero_scale},
        {"negative scale", "bert.encoder.layer.0.intermediate.dense.weight_scale", "scale 1 is -0.5", negative_scale},
        {"scales of the wrong shape", "bert.encoder.layer.1.attention.self.query.weight_scale", "must be F32 of shape",
         short_scale},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(copy, sizeof copy, "%s/bad%zu", tmpdir, i);
        snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", dir, copy);
        if (system(cmd) != 0) printf("FAIL %s\n", cmd);
        damage(copy, bad[i].tensor, bad[i].fn);
        check_load_error(bad[i].what, copy, bad[i].want);
    }
    snprintf(cmd, sizeof cmd, "sed -i 's/dynamic-int8-per-channel/int4-groupwise/' '%s/config.json'", copy);
    if (system(cmd) != 0) printf("FAIL %s\n", cmd);
    rc = bert_load_flags(&r, copy, 0, 0, BERT_LOAD_INT8);
    CHECK("int8 dir: another quantization scheme is refused, naming config.json",
          rc < 0 && strstr(r.err, "config.json: \"quantization\" is not"));
    free(fly);
    bert_free(&m);
    free_state(&s);
}

/* ------------------------------------------------------------------------
 * MiniLM with a fresh classifier on tweets. */

/* the first n tweets of SHARED's test.csv, tokenized to max_len, and
 * their labels (negative, neutral, positive: 0, 1, 2) */
static seqs tweets(const char *model_dir, int n, int max_len, int *labels)
{
    seqs s = {0};
    const char *shared = getenv("SHARED");
    char path[600];
    snprintf(path, sizeof path, "%s/datasets/tweet_sentiment_extraction/test.csv", shared ? shared : "../shared");
    if (access(path, R_OK) != 0) {
        printf("SKIP minilm low precision: no %s\n", path);
        return s;
    }
    wordpiece *wp = wp_load(model_dir);
    csv_reader *r = csv_open(path, CSV_REPLACE_INVALID);
    csv_row row;
    wp_opts o = {.max_len = (size_t)max_len, .truncation = WP_TRUNC_LONGEST_FIRST, .padding = WP_PAD_MAX_LENGTH};
    wp_encoding e = {0};
    s.T = max_len;
    s.ids = xcalloc((size_t)n * max_len, sizeof(int));
    s.types = xcalloc((size_t)n * max_len, sizeof(int));
    s.mask = xcalloc((size_t)n * max_len, sizeof(int));
    csv_next(r, &row); /* the header: textID,text,sentiment */
    while (s.n < n && csv_next(r, &row)) {
        if (row.n < 3 || row.field[1].len == 0) continue;
        if (wp_encode(wp, row.field[1].s, row.field[1].len, NULL, 0, &o, &e) != 0) continue;
        for (size_t t = 0; t < e.len; t++) {
            s.ids[(size_t)s.n * max_len + t] = e.ids[t];
            s.mask[(size_t)s.n * max_len + t] = e.attention_mask[t];
        }
        const char *y = row.field[2].s;
        labels[s.n++] = strcmp(y, "negative") == 0 ? 0 : strcmp(y, "neutral") == 0 ? 1 : 2;
    }
    wp_encoding_free(&e);
    csv_close(r);
    wp_free(wp);
    return s;
}

/* run(), keeping the pooler's outputs too ([n, H]) */
static float *run_pooled(bert_model *m, const seqs *s, int batch, float **pooled)
{
    const int H = m->cfg.hidden_size;
    float *logits = xmalloc((size_t)s->n * m->num_labels * sizeof *logits);
    *pooled = xmalloc((size_t)s->n * H * sizeof **pooled);
    for (int i = 0; i < s->n; i += batch) {
        seqs part = {s->n - i < batch ? s->n - i : batch, s->T, s->ids + (size_t)i * s->T,
                     s->types + (size_t)i * s->T, s->mask + (size_t)i * s->T};
        float *z = run(m, &part, batch);
        memcpy(logits + (size_t)i * m->num_labels, z, (size_t)part.n * m->num_labels * sizeof *z);
        memcpy(*pooled + (size_t)i * H, m->acts.pooled, (size_t)part.n * H * sizeof **pooled);
        free(z);
    }
    return logits;
}

static void check_cosine(const char *what, const float *ref, const float *low, int n, int H, double min_ok)
{
    double worst = 1;
    for (int i = 0; i < n; i++) {
        double d = 0, a = 0, b = 0;
        for (int h = 0; h < H; h++) {
            double x = ref[(size_t)i * H + h], y = low[(size_t)i * H + h];
            d += x * y, a += x * x, b += y * y;
        }
        double c = d / sqrt(a * b);
        if (c < worst) worst = c;
    }
    char nm[200];
    snprintf(nm, sizeof nm, "%s: the pooler's output, cosine to fp32's at least %g (smallest %.5f)", what, min_ok,
             worst);
    CHECK(nm, worst >= min_ok);
}

/* A softmax-regression head on the (standardised) fp32 pooled outputs,
 * fitted to the labels by gradient descent; its logits for each pooled. */
typedef struct head {
    int C, H;
    double *w, *b, *mu, *sd;
} head;

static head fit_head(const float *x, const int *y, int n, int H, int C) /* C <= 8 */
{
    head h = {C, H, xcalloc((size_t)C * H, sizeof(double)), xcalloc((size_t)C, sizeof(double)),
              xcalloc((size_t)H, sizeof(double)), xcalloc((size_t)H, sizeof(double))};
    double var = 0; /* one scale for all features: the ones that hardly vary stay small */
    for (int k = 0; k < H; k++) {
        for (int i = 0; i < n; i++) h.mu[k] += x[(size_t)i * H + k] / n;
        for (int i = 0; i < n; i++) var += pow(x[(size_t)i * H + k] - h.mu[k], 2) / n / H;
    }
    for (int k = 0; k < H; k++) h.sd[k] = sqrt(var) + 1e-12;
    double *gw = xmalloc((size_t)C * H * sizeof *gw), *gb = xmalloc((size_t)C * sizeof *gb), *xs = xmalloc(H * 8);
    for (int it = 0; it < 200; it++) {
        memset(gw, 0, (size_t)C * H * sizeof *gw);
        memset(gb, 0, (size_t)C * sizeof *gb);
        for (int i = 0; i < n; i++) {
            double z[8], mx = -1e300, sum = 0;
            for (int k = 0; k < H; k++) xs[k] = (x[(size_t)i * H + k] - h.mu[k]) / h.sd[k];
            for (int c = 0; c < C; c++) {
                z[c] = h.b[c];
                for (int k = 0; k < H; k++) z[c] += h.w[(size_t)c * H + k] * xs[k];
                if (z[c] > mx) mx = z[c];
            }
            for (int c = 0; c < C; c++) sum += z[c] = exp(z[c] - mx);
            for (int c = 0; c < C; c++) {
                double g = (z[c] / sum - (c == y[i])) / n;
                gb[c] += g;
                for (int k = 0; k < H; k++) gw[(size_t)c * H + k] += g * xs[k];
            }
        }
        for (int j = 0; j < C * H; j++) h.w[j] -= 0.5 * gw[j];
        for (int c = 0; c < C; c++) h.b[c] -= 0.5 * gb[c];
    }
    free(gw), free(gb), free(xs);
    return h;
}

static float *head_logits(const head *h, const float *x, int n)
{
    float *z = xmalloc((size_t)n * h->C * sizeof *z);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < h->C; c++) {
            double v = h->b[c];
            for (int k = 0; k < h->H; k++) v += h->w[(size_t)c * h->H + k] * (x[(size_t)i * h->H + k] - h->mu[k]) / h->sd[k];
            z[(size_t)i * h->C + c] = (float)v;
        }
    return z;
}

static void test_minilm(void)
{
    char dir[4096];
    if (!minilm_found(dir, sizeof dir)) return;
    int labels[256];
    seqs s = tweets(dir, 256, 64, labels);
    if (!s.n) return;
    bert_model m;
    if (bert_load(&m, dir, 3, 42) < 0) {
        printf("FAIL load minilm: %s\n", m.err);
        check_failures++;
        return;
    }
    const int H = m.cfg.hidden_size;
    openblas_set_num_threads(2);
    float *p32, *p8, *p16;
    float *fp32 = run_pooled(&m, &s, 32, &p32);
    bert_lowp_attach(&m, BERT_LOWP_INT8, NULL);
    float *i8 = run_pooled(&m, &s, 32, &p8);
    compare("minilm int8, fresh head, 256 tweets", fp32, i8, s.n, 3, MINILM_INT8_TOL, MINILM_FRESH_INT8_AGREE);
    check_cosine("minilm int8", p32, p8, s.n, H, MINILM_INT8_MIN_COS);

    /* save -> load: the same bits as on the fly */
    char qdir[400];
    snprintf(qdir, sizeof qdir, "%s/minilm-int8", tmpdir);
    quant_save_dir(&m, bert_lowp_int8(&m), dir, qdir);
    bert_model r;
    if (bert_load_flags(&r, qdir, 0, 0, BERT_LOAD_INT8) == 0) {
        float *loaded = run(&r, &s, 32);
        CHECK("minilm int8 dir: save -> load, logits bit for bit", memcmp(i8, loaded, (size_t)s.n * 3 * 4) == 0);
        free(loaded);
        bert_free(&r);
    } else {
        printf("FAIL minilm int8 dir: %s\n", r.err);
        check_failures++;
    }
    if (getenv("PIPECLF_LOWP_EXPORT")) { /* a MiniLM classifier directory, for timing predict by hand */
        bert_lowp_detach(&m);
        bert_save(&m, getenv("PIPECLF_LOWP_EXPORT"));
    }
    bert_lowp_attach(&m, BERT_LOWP_BF16, NULL);
    float *bf = run_pooled(&m, &s, 32, &p16);
    compare("minilm bf16, fresh head, 256 tweets", fp32, bf, s.n, 3, MINILM_BF16_TOL, MINILM_AGREE);
    check_cosine("minilm bf16", p32, p16, s.n, H, MINILM_BF16_MIN_COS);

    head h = fit_head(p32, labels, s.n, H, 3);
    float *z32 = head_logits(&h, p32, s.n), *z8 = head_logits(&h, p8, s.n), *z16 = head_logits(&h, p16, s.n);
    compare("minilm int8, fitted head", z32, z8, s.n, 3, -1, MINILM_AGREE);
    compare("minilm bf16, fitted head", z32, z16, s.n, 3, -1, MINILM_AGREE);
    free(h.w), free(h.b), free(h.mu), free(h.sd), free(z32), free(z8), free(z16);
    openblas_set_num_threads(1);
    free(fp32), free(i8), free(bf), free(p32), free(p8), free(p16);
    free(s.ids), free(s.types), free(s.mask);
    bert_free(&m);
}

/* ------------------------------------------------------------------------ */

/* The tests again as a CPU without VNNI and bf16 would run them. */
static void run_child_without_vnni(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
        setenv("PIPECLF_LOWP_CHILD", "1", 1);
        execl("/proc/self/exe", "test_bert_lowp", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK("the AVX2 run (ONEDNN_MAX_CPU_ISA=AVX2) ended cleanly", WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const int child = getenv("PIPECLF_LOWP_CHILD") != NULL;
    if (child) isa_note = " (AVX2)";
    snprintf(tmpdir, sizeof tmpdir, "%s/pipeclf-lowp-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    openblas_set_num_threads(1);
    if (!child) test_numbers();
    test_linear(BERT_LOWP_INT8);
    test_linear(BERT_LOWP_BF16);
    test_tiny();
    test_tiny_train();
    test_tiny_train_long();
    test_no_onednn_threads();
    if (!child) {
        test_int8_dir();
        test_minilm();
    }
    rm_rf(tmpdir);
    if (!child) run_child_without_vnni();
    return check_exit();
}
