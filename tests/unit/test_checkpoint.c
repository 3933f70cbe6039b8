/* lib/bert/checkpoint's file on its own (test_train.c covers the resume it
 * serves): every field of a model's training state and of train_state
 * written and read back exactly, the fp16 loss scaler's state included
 * (version 2) and its absence; a version-1 file (the version-2 layout less
 * the scaler's fields, as bert-train wrote it before) reads as a run
 * without a scaler; a later version, a header cut short and a corrupt loss
 * scale are refused with their messages. */
#include "bert/bert.h"
#include "check.h"
#include "bert/checkpoint.h"
#include "core/common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The header's layout (lib/bert/checkpoint.c): the magic, 64-bit integers, then
 * doubles. Version 1 had 26 integers and 7 doubles; version 2 appended 3
 * integers (has_scaler, good_steps, skipped) and 1 double (the scale). */
enum { MAGIC_LEN = 8, V1_INTS = 26, V1_DOUBLES = 7, V2_INTS = 29, V2_DOUBLES = 8 };

static char dir[] = "/tmp/pipeclf-ckpt-test.XXXXXX";
static char path[96], other[96];

static char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f) {
        printf("FAIL open %s\n", p);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    char *b = xmalloc(*n);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void spill(const char *p, const void *a, size_t na, const void *b, size_t nb)
{
    FILE *f = fopen(p, "wb");
    fwrite(a, 1, na, f);
    if (nb) fwrite(b, 1, nb, f);
    fclose(f);
}

static void small_model(bert_model *m, uint64_t seed)
{
    bert_config c;
    bert_config_init(&c, 64, 16, 1, 2, 32, 16);
    if (bert_init(m, &c, 3, seed) < 0) {
        printf("FAIL bert_init: %s\n", m->err);
        exit(1);
    }
}

/* A state with every field set to something other than its default */
static void fill(bert_model *m, train_state *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->order = xmalloc(n * sizeof *s->order);
    for (size_t i = 0; i < n; i++) s->order[i] = (i * 3 + 1) % n;
    s->step = 17, s->epoch = 2, s->pos = 4, s->finished = 2;
    s->last_eval_step = 16, s->best_step = 12, s->bad_evals = 2, s->window_steps = 3;
    s->best_loss = 0.625, s->best_accuracy = 0.75, s->best_macro_f1 = 1.0 / 3, s->best_weighted_f1 = 0.1;
    s->window_loss = 2.5, s->epoch_loss = 7.25, s->epoch_weight = 9;
    s->best_params = xmalloc(m->num_params * sizeof(float));
    for (size_t i = 0; i < m->num_params; i++) s->best_params[i] = (float)i * 0.5f;
    sb_adds(&s->log, "{\"step\":1}\n");
    s->args_json = xstrdup("{\"lr\":0.001}");
    s->data_hash = 0x0123456789abcdefULL;
    prng_seed(&s->shuffle_rng, 7, 1);
    s->has_scaler = 1;
    s->scaler.scale = 32768.0;
    s->scaler.good_steps = 5;
    s->scaler.skipped = 3;
    m->step = 14;
    m->adam_m = xmalloc(m->num_params * sizeof(float));
    m->adam_v = xmalloc(m->num_params * sizeof(float));
    for (size_t i = 0; i < m->num_params; i++) m->adam_m[i] = (float)i, m->adam_v[i] = (float)i * 2;
    prng_seed(&m->dropout_rng, 9, 2);
}

/* s and t hold the same state, but (when with_scaler is 0) the scaler */
static int same_state(const train_state *s, const train_state *t, size_t np, int with_scaler)
{
    int ok = s->n == t->n && memcmp(s->order, t->order, s->n * sizeof *s->order) == 0 && s->step == t->step &&
             s->epoch == t->epoch && s->pos == t->pos && s->finished == t->finished &&
             s->last_eval_step == t->last_eval_step && s->best_step == t->best_step && s->bad_evals == t->bad_evals &&
             s->window_steps == t->window_steps && s->best_loss == t->best_loss &&
             s->best_accuracy == t->best_accuracy && s->best_macro_f1 == t->best_macro_f1 &&
             s->best_weighted_f1 == t->best_weighted_f1 && s->window_loss == t->window_loss &&
             s->epoch_loss == t->epoch_loss && s->epoch_weight == t->epoch_weight && s->log.len == t->log.len &&
             memcmp(s->log.s, t->log.s, s->log.len) == 0 && strcmp(s->args_json, t->args_json) == 0 &&
             s->data_hash == t->data_hash && memcmp(&s->shuffle_rng, &t->shuffle_rng, sizeof s->shuffle_rng) == 0 &&
             t->best_params && memcmp(s->best_params, t->best_params, np * sizeof(float)) == 0;
    if (with_scaler)
        ok &= t->has_scaler && t->scaler.scale == s->scaler.scale && t->scaler.good_steps == s->scaler.good_steps &&
              t->scaler.skipped == s->scaler.skipped;
    else ok &= !t->has_scaler;
    return ok;
}

static int same_model(const bert_model *a, const bert_model *b)
{
    const size_t nb = a->num_params * sizeof(float);
    return a->step == b->step && memcmp(a->params, b->params, nb) == 0 && b->adam_m && b->adam_v &&
           memcmp(a->adam_m, b->adam_m, nb) == 0 && memcmp(a->adam_v, b->adam_v, nb) == 0 &&
           memcmp(&a->dropout_rng, &b->dropout_rng, sizeof a->dropout_rng) == 0;
}

/* Reads path into a fresh model and state; returns checkpoint_read's value */
static int read_into(const char *p, bert_model *m, train_state *t, size_t n, char *err, size_t errlen)
{
    small_model(m, 99);
    memset(t, 0, sizeof *t);
    t->n = n;
    return checkpoint_read(p, m, t, err, errlen);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    snprintf(other, sizeof other, "%s/other.bin", dir);
    const size_t n = 10;
    bert_model m, r;
    train_state s, t;
    char err[MODEL_ERR_MAX + 64];
    small_model(&m, 1);
    fill(&m, &s, n);

    /* version 2, with the scaler */
    checkpoint_write(path, &m, &s);
    int rc = read_into(path, &r, &t, n, err, sizeof err);
    CHECK("checkpoint: every field of the state and the model reads back, the fp16 loss scaler's too",
          rc == 0 && same_state(&s, &t, m.num_params, 1) && same_model(&m, &r));
    train_state_free(&t);
    bert_free(&r);

    /* the layout: version 2 in the header, the scaler at the end of each group */
    size_t len;
    char *v2 = slurp(path, &len);
    uint64_t ints[V2_INTS];
    double doubles[V2_DOUBLES];
    memcpy(ints, v2 + MAGIC_LEN, sizeof ints);
    memcpy(doubles, v2 + MAGIC_LEN + sizeof ints, sizeof doubles);
    CHECK("checkpoint: version 2, the scaler's state last in the header (has_scaler, good steps, skipped; scale)",
          ints[0] == 2 && CHECKPOINT_VERSION == 2 && ints[V1_INTS] == 1 && ints[V1_INTS + 1] == 5 &&
              ints[V1_INTS + 2] == 3 && doubles[V1_DOUBLES] == 32768.0);

    /* a version-1 file: the same bytes without the version-2 fields */
    const size_t head = MAGIC_LEN + sizeof ints + sizeof doubles;
    char *v1 = xmalloc(len);
    memcpy(v1, v2, MAGIC_LEN);
    ints[0] = 1;
    memcpy(v1 + MAGIC_LEN, ints, V1_INTS * sizeof *ints);
    memcpy(v1 + MAGIC_LEN + V1_INTS * sizeof *ints, doubles, V1_DOUBLES * sizeof *doubles);
    const size_t v1_head = MAGIC_LEN + V1_INTS * sizeof *ints + V1_DOUBLES * sizeof *doubles;
    spill(other, v1, v1_head, v2 + head, len - head);
    rc = read_into(other, &r, &t, n, err, sizeof err);
    CHECK("checkpoint: a version-1 file reads, as a run without a loss scaler",
          rc == 0 && same_state(&s, &t, m.num_params, 0) && same_model(&m, &r));
    train_state_free(&t);
    bert_free(&r);

    /* a later version */
    memcpy(v1, v2, len);
    const uint64_t v3 = 3;
    memcpy(v1 + MAGIC_LEN, &v3, sizeof v3);
    spill(other, v1, len, NULL, 0);
    rc = read_into(other, &r, &t, n, err, sizeof err);
    CHECK("checkpoint: version 3 is refused, naming the versions read",
          rc < 0 && strstr(err, "checkpoint version 3, this bert-train reads versions 1 to 2"));
    train_state_free(&t);
    bert_free(&r);

    /* cut in the scaler's fields */
    spill(other, v2, head - 4, NULL, 0);
    rc = read_into(other, &r, &t, n, err, sizeof err);
    CHECK("checkpoint: a header cut short is a truncated checkpoint", rc < 0 && strstr(err, "truncated checkpoint"));
    train_state_free(&t);
    bert_free(&r);

    /* a scale that no scaler has */
    s.scaler.scale = 0;
    checkpoint_write(other, &m, &s);
    rc = read_into(other, &r, &t, n, err, sizeof err);
    CHECK("checkpoint: a loss scale of 0 is refused", rc < 0 && strstr(err, "corrupt loss scale"));
    train_state_free(&t);
    bert_free(&r);

    /* no scaler (the CPU, fp32, tf32, bf16): none read back, whatever the fields held */
    s.has_scaler = 0;
    checkpoint_write(path, &m, &s);
    rc = read_into(path, &r, &t, n, err, sizeof err);
    CHECK("checkpoint: a run without a loss scaler reads back without one",
          rc == 0 && same_state(&s, &t, m.num_params, 0) && same_model(&m, &r) && t.scaler.scale == 0 &&
              t.scaler.good_steps == 0 && t.scaler.skipped == 0);
    train_state_free(&t);
    bert_free(&r);

    free(v1);
    free(v2);
    unlink(path);
    unlink(other);
    rmdir(dir);
    train_state_free(&s);
    bert_free(&m);
    return check_exit();
}
