/* lib/core/threadpool, and how lib/bert splits its work: threads, and the
 * padding rows it skips.
 *  - threadpool: every task runs exactly once, on a thread numbered below
 *    the pool's size, over many back-to-back runs; threadpool_part covers
 *    [0, n) with contiguous, aligned parts.
 *  - bert: three training steps (dropout 0.1, padding, odd B x T so that row
 *    parts and vector tails are uneven) of a small random model at 1, 2, 3
 *    and 4 threads (set as bert-train's --threads does, through
 *    openblas_set_num_threads): a thread count run twice gives the same
 *    bits (losses, gradients, logits, weights, AdamW moments); the counts
 *    agree with each other to float rounding; the dropout masks are
 *    prng_next's draws in the order one thread would use them, whatever
 *    the threads; OpenBLAS's count is restored after each call.
 *  - padding: lib/bert computes only the rows of tokens (and [CLS]), so
 *    more padding after the same sequences changes no bit of the logits,
 *    loss or gradients, also with a padding [CLS] or a sequence of padding
 *    only (whose attention is uniform, as in transformers); a sequence in a
 *    padded batch scores as it does alone, to rounding. */
#include "bert/bert.h"
#include "check.h"
#include "core/common.h"
#include "core/prng.h"
#include "core/threadpool.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- threadpool ------------------------------------------------------- */

typedef struct count_job {
    atomic_int *runs;
    atomic_int bad_thread;
    int size;
} count_job;

static void count_task(void *arg, int t, int thread)
{
    count_job *j = arg;
    atomic_fetch_add(&j->runs[t], 1);
    if (thread < 0 || thread >= j->size) atomic_store(&j->bad_thread, 1);
}

static void test_pool(void)
{
    for (int size = 1; size <= 4; size++) {
        threadpool *p = threadpool_new(size);
        int ok = threadpool_size(p) == size;
        for (int round = 0; round < 300 && ok; round++) {
            int ntasks = round % 37; /* 0 tasks, fewer tasks than threads, many */
            atomic_int runs[40];
            for (int t = 0; t < 40; t++) atomic_init(&runs[t], 0);
            count_job j = {.runs = runs, .size = size};
            atomic_init(&j.bad_thread, 0);
            threadpool_run(p, ntasks, count_task, &j);
            for (int t = 0; t < 40; t++) ok &= atomic_load(&runs[t]) == (t < ntasks);
            ok &= !atomic_load(&j.bad_thread);
        }
        threadpool_free(p);
        char name[120];
        snprintf(name, sizeof name, "threadpool: %d threads, 300 runs of 0..36 tasks: each task once, thread ids < %d",
                 size, size);
        CHECK(name, ok);
    }

    int ok = 1;
    const long ns[] = {0, 1, 15, 16, 17, 100, 384, 1000, 1537};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int parts = 1; parts <= 5; parts++)
            for (long align = 1; align <= 64; align *= 4) {
                long prev = 0;
                for (int i = 0; i < parts; i++) {
                    long lo, hi;
                    threadpool_part(ns[k], parts, i, align, &lo, &hi);
                    ok &= lo == prev && hi >= lo && (lo % align == 0 || lo == ns[k]);
                    prev = hi;
                }
                ok &= prev == ns[k];
            }
    CHECK("threadpool_part: contiguous parts covering [0, n), starts on multiples of align", ok);
}

/* ---- bert on threads ---------------------------------------------------- */

enum { B = 5, T = 19, STEPS = 3 };

typedef struct run {
    int masks_in_order;      /* the first step's masks are prng_next's draws in order */
    float loss[STEPS];
    float *logits, *grads0, *params, *adam_m, *adam_v;
    uint8_t *emb_keep, *probs_keep;
    size_t n, nkeep, nprobs;
} run;

static void make_batch(int *ids, int *types, int *mask, int *labels)
{
    uint64_t x = 12345;
    for (int b = 0; b < B; b++) {
        int len = T - 3 * b; /* sequence b has 3b padding tokens */
        for (int t = 0; t < T; t++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int i = b * T + t;
            ids[i] = t < len ? 1 + (int)((x >> 33) % 99) : 0;
            types[i] = t < len / 2 ? 0 : 1;
            mask[i] = t < len;
        }
        labels[b] = b % 3;
    }
}

static void new_model(bert_model *m)
{
    bert_config cfg;
    bert_config_init(&cfg, 100, 48, 2, 4, 80, 32);
    if (bert_init(m, &cfg, 3, 9) < 0) exit(1);
    m->cfg.hidden_dropout = m->cfg.attn_dropout = 0.1;
    m->cfg.classifier_dropout = -1;
    bert_seed_dropout(m, 3);
}

static void *dup(const void *p, size_t bytes)
{
    void *q = xmalloc(bytes);
    memcpy(q, p, bytes);
    return q;
}

/* n mask bytes as lib/bert draws them: keep iff a 32-bit half (low, then
 * high) of prng_next is at least p * 2^32; 1 if keep has them */
static int same_mask(const uint8_t *keep, size_t n, double p, prng *r)
{
    const uint64_t cut = (uint64_t)(p * 4294967296.0);
    int same = 1;
    for (size_t i = 0; i < n; i += 2) {
        uint64_t bits = prng_next(r);
        same &= keep[i] == ((bits & 0xffffffffu) >= cut);
        if (i + 1 < n) same &= keep[i + 1] == ((bits >> 32) >= cut);
    }
    return same;
}

/* every mask of the last forward, in the order of a single-threaded draw:
 * embeddings; per layer the attention probabilities by (sequence, head),
 * the attention output, the layer output; the pooler */
static int masks_in_order(const bert_model *m, prng r)
{
    const size_t BTH = (size_t)B * T * m->cfg.hidden_size, TT = (size_t)T * T;
    const double p = 0.1;
    int ok = same_mask(m->acts.emb_keep, BTH, p, &r);
    for (int l = 0; l < m->cfg.num_layers; l++) {
        const bert_layer_acts *a = &m->acts.layers[l];
        for (int bh = 0; bh < B * m->cfg.num_heads; bh++) ok &= same_mask(a->probs_keep + bh * TT, TT, p, &r);
        ok &= same_mask(a->attn_keep, BTH, p, &r);
        ok &= same_mask(a->proj_keep, BTH, p, &r);
    }
    ok &= same_mask(m->acts.pooled_keep, (size_t)B * m->cfg.hidden_size, p, &r);
    ok &= memcmp(&r, &m->dropout_rng, sizeof r) == 0; /* and nothing else drawn */
    return ok;
}

/* STEPS training steps at `threads`; returns 1 if OpenBLAS's count was
 * restored after every call */
static int train(run *r, int threads)
{
    int ids[B * T], types[B * T], mask[B * T], labels[B];
    make_batch(ids, types, mask, labels);
    bert_batch bt = {B, T, ids, types, mask, labels};
    bert_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    bert_model m;
    new_model(&m);
    openblas_set_num_threads(threads);
    int restored = 1;
    for (int s = 0; s < STEPS; s++) {
        bert_zero_grad(&m);
        restored &= openblas_get_num_threads() == threads;
        const prng before = m.dropout_rng;
        if (bert_forward(&m, &bt, 1) < 0) exit(1);
        restored &= openblas_get_num_threads() == threads;
        r->loss[s] = m.loss;
        if (s == 0) {
            r->masks_in_order = masks_in_order(&m, before);
            r->nkeep = (size_t)B * T * m.cfg.hidden_size;
            r->nprobs = (size_t)B * m.cfg.num_heads * T * T;
            r->emb_keep = dup(m.acts.emb_keep, r->nkeep);
            r->probs_keep = dup(m.acts.layers[1].probs_keep, r->nprobs);
        }
        bert_backward(&m, 0);
        restored &= openblas_get_num_threads() == threads;
        if (s == 0) r->grads0 = dup(m.grads, m.num_params * sizeof(float));
        bert_clip_grad_norm(&m, 1.0f);
        bert_adamw_step(&m, &opt);
        restored &= openblas_get_num_threads() == threads;
    }
    r->n = m.num_params;
    r->params = dup(m.params, m.num_params * sizeof(float));
    r->adam_m = dup(m.adam_m, m.num_params * sizeof(float));
    r->adam_v = dup(m.adam_v, m.num_params * sizeof(float));
    /* inference after training: logits of the trained weights */
    bt.labels = NULL;
    if (bert_forward(&m, &bt, 0) < 0) exit(1);
    r->logits = dup(m.acts.logits, (size_t)B * 3 * sizeof(float));
    bert_free(&m);
    return restored;
}

static void free_run(run *r)
{
    free(r->logits), free(r->grads0), free(r->params), free(r->adam_m), free(r->adam_v), free(r->emb_keep), free(r->probs_keep);
}

static int same_bits(const run *a, const run *b)
{
    return memcmp(a->loss, b->loss, sizeof a->loss) == 0 && memcmp(a->logits, b->logits, B * 3 * sizeof(float)) == 0 &&
           memcmp(a->grads0, b->grads0, a->n * sizeof(float)) == 0 && memcmp(a->params, b->params, a->n * sizeof(float)) == 0 &&
           memcmp(a->adam_m, b->adam_m, a->n * sizeof(float)) == 0 &&
           memcmp(a->adam_v, b->adam_v, a->n * sizeof(float)) == 0;
}

/* the largest relative difference of the losses and final logits, and of
 * the first step's gradients (relative to the largest |gradient|) */
static double max_rel(const run *a, const run *b)
{
    double worst = 0, gmax = 0;
    for (int s = 0; s < STEPS; s++) worst = fmax(worst, fabs((double)a->loss[s] - b->loss[s]) / fabs(a->loss[s]));
    for (int i = 0; i < B * 3; i++)
        worst = fmax(worst, fabs((double)a->logits[i] - b->logits[i]) / (1e-3 + fabs(a->logits[i])));
    for (size_t i = 0; i < a->n; i++) gmax = fmax(gmax, fabs(a->grads0[i]));
    for (size_t i = 0; i < a->n; i++) {
        double d = fabs((double)a->grads0[i] - b->grads0[i]) / gmax;
        if (!(d <= worst)) worst = d; /* NaN too */
    }
    return worst;
}

static void test_bert_threads(void)
{
    run one, two, two_again, three, four;
    int restored = train(&one, 1);
    restored &= train(&two, 2);
    restored &= train(&two_again, 2);
    restored &= train(&three, 3);
    restored &= train(&four, 4);
    CHECK("bert: OpenBLAS's thread count is restored after each call (1..4 threads)", restored);
    CHECK("bert: 2 threads twice: the same losses, gradients, logits, weights and AdamW moments, bit for bit",
          same_bits(&two, &two_again));
    int masks = 1;
    const run *others[] = {&two, &three, &four};
    for (int k = 0; k < 3; k++)
        masks &= memcmp(one.emb_keep, others[k]->emb_keep, one.nkeep) == 0 &&
                 memcmp(one.probs_keep, others[k]->probs_keep, one.nprobs) == 0;
    CHECK("bert: the dropout masks are the same at 1, 2, 3 and 4 threads", masks);
    CHECK("bert: every mask of a forward is drawn from the dropout stream in single-threaded order (1..4 threads)",
          one.masks_in_order && two.masks_in_order && three.masks_in_order && four.masks_in_order);
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        double d = max_rel(&one, others[k]);
        if (d > worst) worst = d;
    }
    char name[160];
    snprintf(name, sizeof name,
             "bert: 2, 3 and 4 threads agree with 1 thread to float rounding (losses, gradients, logits after 3 "
             "steps; max rel diff %.2g <= 1e-5)",
             worst);
    CHECK(name, worst <= 1e-5);
    CHECK("bert: training moves the weights and the loss is finite",
          isfinite(one.loss[STEPS - 1]) && one.loss[0] != one.loss[STEPS - 1]);
    free_run(&one), free_run(&two), free_run(&two_again), free_run(&three), free_run(&four);
}

/* ---- padding ---------------------------------------------------------- */

/* Sequence b of 4: lengths 9, 6, 7 (its [CLS] masked: tokens 1..6) and 0
 * (padding only), padded to T. */
static void padded_batch(int T_, int *ids, int *mask, int *labels)
{
    const int len[4] = {9, 6, 7, 0};
    for (int b = 0; b < 4; b++) {
        for (int t = 0; t < T_; t++) {
            int i = b * T_ + t;
            mask[i] = t < len[b] && !(b == 2 && t == 0);
            ids[i] = t < len[b] ? 2 + (b * 31 + t * 7) % 97 : 0;
        }
        labels[b] = b % 3;
    }
}

typedef struct result {
    float logits[12], loss;
    float *grads;
} result;

static void run_padded(bert_model *m, int T_, int B_, int first, result *r)
{
    int ids[4 * 16], mask[4 * 16], labels[4];
    padded_batch(T_, ids, mask, labels);
    bert_batch bt = {B_, T_, ids + first * T_, NULL, mask + first * T_, labels + first};
    bert_zero_grad(m);
    if (bert_forward(m, &bt, 0) < 0) exit(1);
    memcpy(r->logits, m->acts.logits, (size_t)B_ * 3 * sizeof(float));
    r->loss = m->loss;
    bert_backward(m, 0);
    r->grads = dup(m->grads, m->num_params * sizeof(float));
}

static void test_padding(void)
{
    bert_model m;
    new_model(&m);
    openblas_set_num_threads(2);
    result t10, t16, alone;
    run_padded(&m, 10, 4, 0, &t10);
    run_padded(&m, 16, 4, 0, &t16);
    int finite = 1;
    for (int i = 0; i < 12; i++) finite &= isfinite(t10.logits[i]);
    CHECK("padding: a padding [CLS] and a sequence of padding only give finite logits", finite);
    /* the sequence of padding only attends uniformly over all its positions,
     * so its logits depend on T; the three others do not */
    CHECK("padding: 6 more padding positions change no bit of the other sequences' logits",
          memcmp(t10.logits, t16.logits, 9 * sizeof(float)) == 0);
    free(t10.grads), free(t16.grads);
    run_padded(&m, 10, 3, 0, &t10);
    run_padded(&m, 16, 3, 0, &t16);
    CHECK("padding: nor of the loss and every gradient (without the sequence of padding only)",
          t10.loss == t16.loss && memcmp(t10.grads, t16.grads, m.num_params * sizeof(float)) == 0);
    run_padded(&m, 9, 1, 0, &alone);
    double worst = 0;
    for (int k = 0; k < 3; k++) worst = fmax(worst, fabs((double)alone.logits[k] - t16.logits[k]));
    char name[120];
    snprintf(name, sizeof name, "padding: a sequence scores alone as in a padded batch (max diff %.2g <= 1e-5)", worst);
    CHECK(name, worst <= 1e-5);
    free(t10.grads), free(t16.grads), free(alone.grads);
    bert_free(&m);
}

int main(void)
{
    int saved = openblas_get_num_threads();
    test_pool();
    test_bert_threads();
    test_padding();
    openblas_set_num_threads(saved);
    return check_exit();
}
