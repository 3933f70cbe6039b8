/* bert_state: the reader of the golden debug states of tests/golden/bert
 * (written by tests/ref/bert_ref.py from transformers + PyTorch; the format
 * is in that script's header), shared by the CPU parity test
 * (tests/unit/test_bert.c) and the GPU one (tests/cuda/test_bert_cuda.c). */
#ifndef PIPECLF_TESTS_BERT_STATE_H
#define PIPECLF_TESTS_BERT_STATE_H

#include "bert/bert.h"
#include "core/common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GOLDEN
#define GOLDEN "tests/golden/bert/"
#endif
#define STATE_MAGIC 20261122

/* ------------------------------------------------------------------------
 * Golden debug state. */

typedef struct grad_ref {
    char name[160];
    int numel;
    float *full;                  /* numel values, or NULL when summarized */
    double sum, abs_sum, l2;      /* summarized */
    int nsample;
    int *sample_idx;
    float *sample_val;
} grad_ref;

typedef struct state {
    int B, T, C, ntensors, nsteps, summarized, has_weights;
    float lr, beta1, beta2, eps, weight_decay;
    int *ids, *types, *mask, *labels;
    float *class_weights;
    float *logits, loss;
    grad_ref *grads;
    float *losses;
} state;

static void read_exact(FILE *f, void *p, size_t n, const char *path)
{
    if (fread(p, 1, n, f) != n) {
        printf("FAIL read %s: truncated golden state\n", path);
        exit(1);
    }
}

static int *read_ints(FILE *f, size_t n, const char *path)
{
    int *v = xmalloc(n * sizeof *v + 1);
    read_exact(f, v, n * sizeof *v, path);
    return v;
}

static float *read_floats(FILE *f, size_t n, const char *path)
{
    float *v = xmalloc(n * sizeof *v + 1);
    read_exact(f, v, n * sizeof *v, path);
    return v;
}

static void load_state(state *s, const char *path)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL open %s (regenerate with make golden-bert)\n", path);
        exit(1);
    }
    int32_t h[256];
    float hy[16];
    read_exact(f, h, sizeof h, path);
    if (h[0] != STATE_MAGIC || h[1] != 1) {
        printf("FAIL %s: bad magic/version (%d, %d)\n", path, h[0], h[1]);
        exit(1);
    }
    s->B = h[2], s->T = h[3], s->C = h[4], s->ntensors = h[5], s->nsteps = h[6], s->summarized = h[7];
    s->has_weights = h[9];
    read_exact(f, hy, sizeof hy, path);
    s->lr = hy[0], s->beta1 = hy[1], s->beta2 = hy[2], s->eps = hy[3], s->weight_decay = hy[4];
    size_t BT = (size_t)s->B * s->T;
    s->ids = read_ints(f, BT, path);
    s->types = read_ints(f, BT, path);
    s->mask = read_ints(f, BT, path);
    s->labels = read_ints(f, (size_t)s->B, path);
    if (s->has_weights) s->class_weights = read_floats(f, (size_t)s->C, path);
    s->logits = read_floats(f, (size_t)s->B * s->C, path);
    read_exact(f, &s->loss, 4, path);
    s->grads = xcalloc((size_t)s->ntensors, sizeof *s->grads);
    for (int i = 0; i < s->ntensors; i++) {
        grad_ref *g = &s->grads[i];
        int len;
        read_exact(f, &len, 4, path);
        if (len <= 0 || len >= (int)sizeof g->name) exit(1);
        read_exact(f, g->name, (size_t)len, path);
        read_exact(f, &g->numel, 4, path);
        if (!s->summarized) {
            g->full = read_floats(f, (size_t)g->numel, path);
            continue;
        }
        double d[3];
        read_exact(f, d, sizeof d, path);
        g->sum = d[0], g->abs_sum = d[1], g->l2 = d[2];
        read_exact(f, &g->nsample, 4, path);
        g->sample_idx = xmalloc((size_t)g->nsample * sizeof(int) + 1);
        g->sample_val = xmalloc((size_t)g->nsample * sizeof(float) + 1);
        for (int k = 0; k < g->nsample; k++) {
            read_exact(f, &g->sample_idx[k], 4, path);
            read_exact(f, &g->sample_val[k], 4, path);
        }
    }
    s->losses = read_floats(f, (size_t)s->nsteps, path);
    int end;
    read_exact(f, &end, 4, path);
    if (end != STATE_MAGIC) {
        printf("FAIL %s: bad end marker\n", path);
        exit(1);
    }
    fclose(f);
}

static void free_state(state *s)
{
    free(s->ids), free(s->types), free(s->mask), free(s->labels), free(s->class_weights), free(s->logits);
    for (int i = 0; i < s->ntensors; i++) {
        free(s->grads[i].full), free(s->grads[i].sample_idx), free(s->grads[i].sample_val);
    }
    free(s->grads), free(s->losses);
}

static bert_batch state_batch(const state *s)
{
    return (bert_batch){s->B, s->T, s->ids, s->types, s->mask, s->labels};
}

/* The half-th (0, 1) of the state's batch of 4 in two micro-batches of 2 */
static inline bert_batch state_micro_batch(const state *s, int half)
{
    const size_t o = (size_t)half * 2 * s->T;
    return (bert_batch){2, s->T, s->ids + o, s->types + o, s->mask + o, s->labels + 2 * half};
}

/* Where scripts/fetch_model.sh puts all-MiniLM-L6-v2, whose golden state
 * is minilm.state. */
static inline const char *minilm_dir(char *buf, size_t n)
{
    const char *env = getenv("PIPECLF_MODELS"), *home = getenv("HOME");
    if (env && *env) snprintf(buf, n, "%s/all-MiniLM-L6-v2", env);
    else snprintf(buf, n, "%s/.cache/pipeclf/models/all-MiniLM-L6-v2", home ? home : ".");
    return buf;
}

/* minilm_dir into dir; 0, with a SKIP line, where the model is not fetched */
static inline int minilm_found(char *dir, size_t n)
{
    char path[4200];
    minilm_dir(dir, n);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (access(path, R_OK) == 0) return 1;
    printf("SKIP minilm parity: %s not found (scripts/fetch_model.sh fetches it)\n", path);
    return 0;
}

#endif
