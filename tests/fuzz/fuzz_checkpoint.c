/* libFuzzer target: the bert-train checkpoint reader (checkpoint_read,
 * lib/bert/checkpoint) on the input written to a file, for a fixed tiny model
 * (vocabulary 8, hidden 4, 1 layer, 2 labels) and 5 training examples. A
 * checkpoint that reads must hold a usable state (the order inside the
 * examples, the position inside the epoch)
 * and write (checkpoint_write) and read back to the same state, written
 * again to the same bytes. A refusal must say why in one line.
 * FUZZ_WRITE_SEEDS=DIR: write seed checkpoints (versions 2, with and without
 * best weights and AdamW state) into DIR and exit. */
#include "bert/bert.h"
#include "bert/checkpoint.h"
#include "core/common.h"
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#define N_EXAMPLES 5

static bert_model model, model2;

static void tiny(bert_model *m)
{
    bert_config c;
    bert_config_init(&c, 8, 4, 1, 1, 4, 4);
    if (bert_init(m, &c, 2, 7) < 0) {
        fprintf(stderr, "fuzz_checkpoint: bert_init: %s\n", m->err);
        exit(1);
    }
}

static void write_seeds(const char *dir)
{
    for (int k = 0; k < 3; k++) {
        train_state s = {0};
        s.n = N_EXAMPLES;
        s.order = xmalloc(N_EXAMPLES * sizeof *s.order);
        for (size_t i = 0; i < N_EXAMPLES; i++) s.order[i] = (i * 3 + 1) % N_EXAMPLES;
        s.step = 17, s.epoch = k, s.pos = 4, s.finished = k == 2;
        s.last_eval_step = k ? 16 : -1, s.best_step = k ? 12 : -1, s.bad_evals = 2, s.window_steps = 3;
        s.best_loss = 0.625, s.best_accuracy = 0.75, s.best_macro_f1 = 1.0 / 3, s.best_weighted_f1 = 0.1;
        s.window_loss = 2.5, s.epoch_loss = 7.25, s.epoch_weight = 9;
        if (k) {
            s.best_params = xmalloc(model.num_params * sizeof(float));
            for (size_t i = 0; i < model.num_params; i++) s.best_params[i] = (float)i * (k == 1 ? 0.5f : 1.0f);
        }
        sb_adds(&s.log, k ? "{\"step\":1}\n{\"step\":2,\"val_loss\":0.5}\n" : "");
        s.args_json = xstrdup(k == 1 ? "{\"lr\":0.001,\"epochs\":3}" : "{}");
        s.data_hash = 0x0123456789abcdefULL;
        prng_seed(&s.shuffle_rng, 7, 1);
        s.has_scaler = k == 2;
        s.scaler.scale = 32768.0, s.scaler.good_steps = 5, s.scaler.skipped = 3;
        if (k == 2) {
            model.adam_m = xcalloc(model.num_params, sizeof(float));
            model.adam_v = xcalloc(model.num_params, sizeof(float));
            for (size_t i = 0; i < model.num_params; i++) model.adam_m[i] = (float)i, model.adam_v[i] = 0.25f;
            model.step = 14;
        }
        char path[512];
        snprintf(path, sizeof path, "%s/seed-%d.ckpt", dir, k);
        checkpoint_write(path, &model, &s);
        train_state_free(&s);
    }
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_checkpoint");
    tiny(&model);
    tiny(&model2);
    const char *seeds = getenv("FUZZ_WRITE_SEEDS");
    if (seeds) write_seeds(seeds);
    return 0;
}

static void same(const train_state *s, const train_state *t, size_t np)
{
    FZ_CHECK(s->n == t->n && !memcmp(s->order, t->order, s->n * sizeof *s->order), "the same order");
    FZ_CHECK(s->step == t->step && s->epoch == t->epoch && s->pos == t->pos && s->finished == t->finished &&
                 s->last_eval_step == t->last_eval_step && s->best_step == t->best_step &&
                 s->bad_evals == t->bad_evals && s->window_steps == t->window_steps && s->data_hash == t->data_hash,
             "the same counters");
    FZ_CHECK(!memcmp(&s->best_loss, &t->best_loss, sizeof s->best_loss) &&
                 !memcmp(&s->window_loss, &t->window_loss, sizeof s->window_loss) &&
                 !memcmp(&s->epoch_weight, &t->epoch_weight, sizeof s->epoch_weight),
             "the same doubles");
    FZ_CHECK(s->log.len == t->log.len && !memcmp(sb_str(&s->log), sb_str(&t->log), s->log.len), "the same log");
    FZ_CHECK(!strcmp(s->args_json, t->args_json), "the same options");
    FZ_CHECK(!s->best_params == !t->best_params &&
                 (!s->best_params || !memcmp(s->best_params, t->best_params, np * sizeof(float))),
             "the same best weights");
    FZ_CHECK(s->has_scaler == t->has_scaler, "the same scaler");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_path(0, "in.ckpt"), *p1 = fz_path(1, "w1.ckpt"), *p2 = fz_path(2, "w2.ckpt");
    fz_write(path, data, size);
    char err[MODEL_ERR_MAX];
    if (FZ_GUARD()) {
        train_state s = {0}, t = {0};
        s.n = t.n = N_EXAMPLES;
        if (checkpoint_read(path, &model, &s, err, sizeof err) == 0) {
            FZ_CHECK(s.order != NULL, "an order");
            for (size_t i = 0; i < s.n; i++) FZ_CHECK(s.order[i] < s.n, "the order inside the examples");
            FZ_CHECK(s.pos <= s.n, "the position inside the epoch");
            FZ_CHECK(s.args_json != NULL, "the options");
            checkpoint_write(p1, &model, &s);
            FZ_CHECK(checkpoint_read(p1, &model2, &t, err, sizeof err) == 0, "the written checkpoint reads");
            same(&s, &t, model.num_params);
            FZ_CHECK(!memcmp(model.params, model2.params, model.num_params * sizeof(float)), "the same weights");
            checkpoint_write(p2, &model2, &t);
            size_t n1, n2;
            char *w1 = fz_slurp(p1, &n1), *w2 = fz_slurp(p2, &n2);
            FZ_CHECK(n1 == n2 && !memcmp(w1, w2, n1), "written, read and written again: the same bytes");
            free(w1), free(w2);
        } else {
            FZ_CHECK(err[0] && !strchr(err, '\n'), "a one-line error message");
        }
        train_state_free(&s), train_state_free(&t);
        fz_end();
    }
    return 0;
}
