/* train_fixture: the tiny random-initialised model of tests/golden/bert
 * (2 layers, hidden 64, 3 labels), comparisons of its weights and
 * gradients, its train_ref data and a training run of it, shared by the
 * CPU tests (tests/unit/test_train.c, test_bert.c) and the GPU one
 * (tests/cuda/test_bert_cuda.c), so that the two sides test the same runs.
 * Static inline: a test uses the helpers it needs. */
#ifndef PIPECLF_TESTS_TRAIN_FIXTURE_H
#define PIPECLF_TESTS_TRAIN_FIXTURE_H

#include "bert/bert.h"
#include "core/common.h"
#include "bert/tokdata.h"
#include "bert/trainloop.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GOLDEN
#define GOLDEN "tests/golden/bert/"
#endif

/* The tiny model, its labels from its config; exits when it does not load
 * (every later check would fail for that one reason). */
static inline void load_tiny(bert_model *m, uint64_t seed)
{
    if (bert_load(m, GOLDEN "tiny_model", 0, seed) < 0) {
        printf("FAIL load tiny model: %s\n", m->err);
        exit(1);
    }
}

/* Hidden and attention dropout p; the classifier's follows the hidden. */
static inline void set_dropout(bert_model *m, double p)
{
    m->cfg.hidden_dropout = m->cfg.attn_dropout = p;
    m->cfg.classifier_dropout = -1;
}

/* The key biases' gradient is zero in exact arithmetic (softmax ignores a
 * shift of a row's scores, and q . b_k shifts every score of query q
 * alike), so it is float rounding noise; AdamW divides it by its own size
 * and moves those biases by about lr a step in a direction the noise picks,
 * in PyTorch as here. Comparisons of trained weights leave them out, and
 * gradient comparisons hold them to the model's scale, not their own. */
static inline int is_key_bias(const char *name)
{
    return strstr(name, "attention.self.key.bias") != NULL;
}

/* The largest |a - b| of two copies of m's parameters, the key biases aside. */
static inline double weights_max_diff(const bert_model *m, const float *a, const float *b)
{
    double worst = 0;
    for (int t = 0; t < m->num_tensors; t++) {
        if (is_key_bias(m->tensors[t].name)) continue;
        for (size_t i = m->tensors[t].offset; i < m->tensors[t].offset + m->tensors[t].numel; i++)
            worst = fmax(worst, fabs((double)a[i] - b[i]));
    }
    return worst;
}

/* The largest |a[i] - want[i]| of n values; *scale: the largest |want[i]| */
static inline double max_diff(const float *a, const float *want, size_t n, double *scale)
{
    double worst = 0;
    *scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)a[i] - want[i]));
        *scale = fmax(*scale, fabs(want[i]));
    }
    return worst;
}

/* The backward through dropout masks against finite differences: for the
 * largest gradient element of 7 tensors along the whole path, the loss at
 * +-h under the same masks (dropout seeded with seed before each forward);
 * m's gradients are the backward's. forward is bert_forward or a device's;
 * params_changed (or NULL) is told of each change to m->params. Prints each
 * element off; returns 1 when all agree. */
static inline int dropout_fd_agrees(bert_model *m, const bert_batch *b, uint64_t seed,
                                    int (*forward)(bert_model *m, const bert_batch *b, int training),
                                    void (*params_changed)(bert_model *m))
{
    static const char *const names[] = {
        "classifier.weight", "bert.pooler.dense.weight", "bert.encoder.layer.1.output.dense.weight",
        "bert.encoder.layer.1.attention.self.query.weight", "bert.encoder.layer.0.intermediate.dense.bias",
        "bert.embeddings.LayerNorm.weight", "bert.embeddings.word_embeddings.weight"};
    int ok = 1;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const bert_tensor *t = &m->tensors[bert_find_tensor(m, names[k])];
        size_t at = 0;
        for (size_t i = 0; i < t->numel; i++)
            if (fabs(m->grads[t->offset + i]) > fabs(m->grads[t->offset + at])) at = i;
        float *p = &m->params[t->offset + at], keep = *p, g = m->grads[t->offset + at];
        const float h = 1e-2f;
        double loss[2];
        for (int side = 0; side < 2; side++) {
            *p = keep + (side ? -h : h);
            if (params_changed) params_changed(m);
            bert_seed_dropout(m, seed);
            forward(m, b, 1);
            loss[side] = m->loss;
        }
        *p = keep;
        if (params_changed) params_changed(m);
        const double fd = (loss[0] - loss[1]) / (2.0 * h);
        if (fabs(fd - g) > 1e-3 + 0.02 * fabs(g)) {
            printf("  %s[%zu]: backward %.6g, finite difference %.6g\n", names[k], at, g, fd);
            ok = 0;
        }
    }
    return ok;
}

static inline float *copy_floats(const float *v, size_t n)
{
    float *c = xmalloc(n * sizeof *c + 1);
    memcpy(c, v, n * sizeof *c);
    return c;
}

/* train_ref's train and val sets, the val labels mapped as the train's */
static inline void load_data(tok_dataset *tr, tok_dataset *va, const bert_config *cfg)
{
    tokdata_read(tr, GOLDEN "train_ref/train.jsonl", "label", cfg);
    int n;
    char **names = tokdata_map_labels(tr, &n);
    tokdata_read(va, GOLDEN "train_ref/val.jsonl", "label", cfg);
    tokdata_apply_labels(va, names, n);
    free(names);
}

/* The defaults, without output */
static inline void quiet_options(train_options *o)
{
    train_options_default(o);
    o->quiet = 1;
    o->progress = 0;
}

/* The tiny model (seed), the data and quiet options: most tests' start */
typedef struct train_fixture {
    bert_model m;
    tok_dataset tr, va;
    train_options o;
} train_fixture;

static inline void fixture_open(train_fixture *f, uint64_t seed)
{
    load_tiny(&f->m, seed);
    load_data(&f->tr, &f->va, &f->m.cfg);
    quiet_options(&f->o);
}

static inline void fixture_close(train_fixture *f)
{
    tokdata_free(&f->tr);
    tokdata_free(&f->va);
    bert_free(&f->m);
}

/* The resume tests' run: batches of 2 x 2 accumulated, bucketing, an
 * evaluation every 2 steps and a checkpoint (when ckpt) every 3; 5 steps an
 * epoch. */
static inline void resumable_options(train_options *o, long epochs, const char *ckpt, int resume)
{
    quiet_options(o);
    o->batch_size = 2;
    o->grad_accum = 2;
    o->epochs = epochs;
    o->lr = 1e-3;
    o->bucket = 1;
    o->seed = 11;
    o->eval_every = 2;
    o->checkpoint = ckpt;
    o->checkpoint_every = 3;
    o->resume = resume;
    o->args_json = "{\"test\":1}";
}

/* What a caller does to the model of train_tiny: prepare after loading (a
 * device), finish after the run, before the model is freed. Either NULL. */
typedef struct tiny_hooks {
    void (*prepare)(bert_model *m);
    void (*finish)(bert_model *m);
} tiny_hooks;

/* Trains the tiny model (seed, dropout) as o says. With o->crash_after > 0
 * the run is a child's that kills itself after that step: returns NULL with
 * the child's wait status. Otherwise returns the final weights and, where
 * not NULL, the run's log and the step it resumed from. */
static inline float *train_tiny(const train_options *o, uint64_t seed, double dropout, const tok_dataset *tr,
                                const tok_dataset *va, const tiny_hooks *h, strbuf *log, long *resumed_from,
                                int *status)
{
    bert_model m;
    train_result res;
    if (o->crash_after > 0) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            load_tiny(&m, seed);
            set_dropout(&m, dropout);
            if (h && h->prepare) h->prepare(&m);
            train_run(&m, tr, va, o, &res, NULL, NULL);
            _exit(0); /* not reached */
        }
        waitpid(pid, status, 0);
        return NULL;
    }
    load_tiny(&m, seed);
    set_dropout(&m, dropout);
    if (h && h->prepare) h->prepare(&m);
    if (train_run(&m, tr, va, o, &res, NULL, NULL) < 0) printf("FAIL train: %s\n", res.err);
    float *p = copy_floats(m.params, m.num_params);
    if (log) {
        sb_clear(log);
        sb_addn(log, res.log.s, res.log.len);
    }
    if (resumed_from) *resumed_from = res.resumed_from;
    if (h && h->finish) h->finish(&m);
    train_result_free(&res);
    bert_free(&m);
    return p;
}

#endif
