#include "checkpoint.h"
#include "core/common.h"
#include "core/outfile.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char MAGIC[8] = {'P', 'C', 'L', 'F', 'C', 'K', 'P', 'T'};

/* The fixed header, all 64-bit little-endian fields (the build targets are
 * little-endian; a big-endian host would need byte swaps here): the
 * integers, then the doubles. A version's fields are its predecessor's with
 * more at the end of each group (the _V1 counts: version 1's). */
enum {
    H_VERSION, H_NUM_PARAMS, H_NUM_LABELS, H_N, H_STEP, H_MODEL_STEP, H_EPOCH, H_POS, H_FINISHED,
    H_LAST_EVAL, H_BEST_STEP, H_BAD_EVALS, H_WINDOW_STEPS, H_HAS_BEST_PARAMS, H_HAS_ADAM, H_LOG_LEN,
    H_ARGS_LEN, H_DATA_HASH, H_SHUFFLE_RNG, H_DROPOUT_RNG = H_SHUFFLE_RNG + 4, H_NUM_INTS_V1 = H_DROPOUT_RNG + 4,
    H_HAS_SCALER = H_NUM_INTS_V1, H_SCALER_GOOD, H_SCALER_SKIPPED, H_NUM_INTS
};
enum {
    D_BEST_LOSS, D_BEST_ACC, D_BEST_MACRO, D_BEST_WEIGHTED, D_WINDOW_LOSS, D_EPOCH_LOSS, D_EPOCH_WEIGHT,
    D_NUM_V1, D_LOSS_SCALE = D_NUM_V1, D_NUM
};

static void put(outfile *o, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, o->f) != n) die("cannot write %s: %s", o->path, strerror(errno));
}

void checkpoint_write(const char *path, const bert_model *m, const train_state *s)
{
    uint64_t h[H_NUM_INTS] = {0};
    /* the best weights are stored only when they are not the current ones */
    const int store_best = s->best_params && s->best_step != s->step;
    const size_t args_len = s->args_json ? strlen(s->args_json) : 0;
    h[H_VERSION] = CHECKPOINT_VERSION;
    h[H_NUM_PARAMS] = m->num_params;
    h[H_NUM_LABELS] = (uint64_t)m->num_labels;
    h[H_N] = s->n;
    h[H_STEP] = (uint64_t)s->step;
    h[H_MODEL_STEP] = (uint64_t)m->step;
    h[H_EPOCH] = (uint64_t)(int64_t)s->epoch;
    h[H_POS] = s->pos;
    h[H_FINISHED] = (uint64_t)s->finished;
    h[H_LAST_EVAL] = (uint64_t)(int64_t)s->last_eval_step;
    h[H_BEST_STEP] = (uint64_t)(int64_t)s->best_step;
    h[H_BAD_EVALS] = (uint64_t)s->bad_evals;
    h[H_WINDOW_STEPS] = (uint64_t)s->window_steps;
    h[H_HAS_BEST_PARAMS] = (uint64_t)(s->best_params != NULL) | (uint64_t)store_best << 1;
    h[H_HAS_ADAM] = m->adam_m != NULL;
    h[H_LOG_LEN] = s->log.len;
    h[H_ARGS_LEN] = args_len;
    h[H_DATA_HASH] = s->data_hash;
    memcpy(&h[H_SHUFFLE_RNG], s->shuffle_rng.s, sizeof s->shuffle_rng.s);
    memcpy(&h[H_DROPOUT_RNG], m->dropout_rng.s, sizeof m->dropout_rng.s);
    h[H_HAS_SCALER] = s->has_scaler != 0;
    h[H_SCALER_GOOD] = s->has_scaler ? (uint64_t)s->scaler.good_steps : 0;
    h[H_SCALER_SKIPPED] = s->has_scaler ? (uint64_t)s->scaler.skipped : 0;
    double d[D_NUM] = {s->best_loss, s->best_accuracy, s->best_macro_f1, s->best_weighted_f1,
                       s->window_loss, s->epoch_loss, s->epoch_weight, s->has_scaler ? s->scaler.scale : 0};

    outfile o;
    out_open(&o, path);
    put(&o, MAGIC, sizeof MAGIC);
    put(&o, h, sizeof h);
    put(&o, d, sizeof d);
    put(&o, s->args_json, args_len);
    put(&o, s->log.s, s->log.len);
    for (size_t i = 0; i < s->n; i++) {
        uint64_t v = s->order[i];
        put(&o, &v, sizeof v);
    }
    const size_t nb = m->num_params * sizeof(float);
    put(&o, m->params, nb);
    if (m->adam_m) {
        put(&o, m->adam_m, nb);
        put(&o, m->adam_v, nb);
    }
    if (store_best) put(&o, s->best_params, nb);
    put(&o, MAGIC, sizeof MAGIC);
    out_commit(&o);
}

static int fail(char *err, size_t n, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int get(FILE *f, void *p, size_t n)
{
    return n == 0 || fread(p, 1, n, f) == n;
}

int checkpoint_read(const char *path, bert_model *m, train_state *s, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    char magic[8];
    uint64_t h[H_NUM_INTS] = {0};
    double d[D_NUM] = {0};
    int rc = -1;
    float *adam_m = NULL, *adam_v = NULL, *params = NULL, *best = NULL;
    char *args = NULL, *log = NULL;
    size_t *order = NULL;
    if (!get(f, magic, sizeof magic) || memcmp(magic, MAGIC, sizeof MAGIC) != 0) {
        fail(err, errlen, "%s: not a bert-train checkpoint", path);
        goto out;
    }
    if (!get(f, &h[H_VERSION], sizeof h[H_VERSION])) goto truncated;
    if (h[H_VERSION] < 1 || h[H_VERSION] > CHECKPOINT_VERSION) {
        fail(err, errlen, "%s: checkpoint version %llu, this bert-train reads versions 1 to %d", path,
             (unsigned long long)h[H_VERSION], CHECKPOINT_VERSION);
        goto out;
    }
    /* version 1: the shorter header, without the loss scaler (left 0) */
    const int v1 = h[H_VERSION] == 1;
    const size_t nints = v1 ? H_NUM_INTS_V1 : H_NUM_INTS, ndoubles = v1 ? D_NUM_V1 : D_NUM;
    if (!get(f, &h[1], (nints - 1) * sizeof *h) || !get(f, d, ndoubles * sizeof *d)) goto truncated;
    if (h[H_HAS_SCALER] && !(isfinite(d[D_LOSS_SCALE]) && d[D_LOSS_SCALE] > 0)) {
        fail(err, errlen, "%s: corrupt loss scale", path);
        goto out;
    }
    if (h[H_NUM_PARAMS] != m->num_params || h[H_NUM_LABELS] != (uint64_t)m->num_labels) {
        fail(err, errlen, "%s: a checkpoint of a model with %llu parameters and %llu labels, not %zu and %d", path,
             (unsigned long long)h[H_NUM_PARAMS], (unsigned long long)h[H_NUM_LABELS], m->num_params, m->num_labels);
        goto out;
    }
    if (h[H_N] != s->n) {
        fail(err, errlen, "%s: a checkpoint of a run on %llu training examples, not %zu", path,
             (unsigned long long)h[H_N], s->n);
        goto out;
    }
    if (h[H_POS] > s->n) {
        fail(err, errlen, "%s: corrupt epoch position %llu (the epoch has %zu examples)", path,
             (unsigned long long)h[H_POS], s->n);
        goto out;
    }
    /* the writer stores the best weights apart only when they are not the
     * current ones (best step != step): a file that says otherwise would not
     * be written back the same (found by fuzz_checkpoint) */
    if ((h[H_HAS_BEST_PARAMS] & 2) && (!(h[H_HAS_BEST_PARAMS] & 1) || h[H_BEST_STEP] == h[H_STEP])) {
        fail(err, errlen, "%s: corrupt checkpoint (best weights stored for the current step %llu)", path,
             (unsigned long long)h[H_STEP]);
        goto out;
    }
    if (h[H_ARGS_LEN] > (1u << 24) || h[H_LOG_LEN] > ((uint64_t)1 << 40)) goto truncated;
    /* lengths past the end of the file: refused before they are allocated */
    struct stat st;
    long here = ftell(f);
    if (fstat(fileno(f), &st) != 0 || here < 0 || st.st_size < here) goto truncated;
    const uint64_t left = (uint64_t)st.st_size - (uint64_t)here;
    if (h[H_ARGS_LEN] > left || h[H_LOG_LEN] > left - h[H_ARGS_LEN]) goto truncated;
    args = xmalloc(h[H_ARGS_LEN] + 1);
    log = xmalloc(h[H_LOG_LEN] + 1);
    if (!get(f, args, h[H_ARGS_LEN]) || !get(f, log, h[H_LOG_LEN])) goto truncated;
    args[h[H_ARGS_LEN]] = log[h[H_LOG_LEN]] = '\0';
    order = xmalloc((s->n ? s->n : 1) * sizeof *order);
    for (size_t i = 0; i < s->n; i++) {
        uint64_t v;
        if (!get(f, &v, sizeof v)) goto truncated;
        if (v >= s->n) {
            fail(err, errlen, "%s: corrupt example order", path);
            goto out;
        }
        order[i] = (size_t)v;
    }
    const size_t nb = m->num_params * sizeof(float);
    params = xmalloc(nb);
    if (!get(f, params, nb)) goto truncated;
    if (h[H_HAS_ADAM]) {
        adam_m = xmalloc(nb);
        adam_v = xmalloc(nb);
        if (!get(f, adam_m, nb) || !get(f, adam_v, nb)) goto truncated;
    }
    if (h[H_HAS_BEST_PARAMS] & 1) {
        best = xmalloc(nb);
        if (h[H_HAS_BEST_PARAMS] & 2) {
            if (!get(f, best, nb)) goto truncated;
        } else {
            memcpy(best, params, nb);
        }
    }
    if (!get(f, magic, sizeof magic) || memcmp(magic, MAGIC, sizeof MAGIC) != 0) goto truncated;
    if (fgetc(f) != EOF) {
        fail(err, errlen, "%s: bytes after the end of the checkpoint", path);
        goto out;
    }

    /* all read: install */
    memcpy(m->params, params, nb);
    free(m->adam_m);
    free(m->adam_v);
    m->adam_m = adam_m;
    m->adam_v = adam_v;
    adam_m = adam_v = NULL;
    m->step = (long)h[H_MODEL_STEP];
    memcpy(m->dropout_rng.s, &h[H_DROPOUT_RNG], sizeof m->dropout_rng.s);
    free(s->order);
    s->order = order;
    order = NULL;
    free(s->best_params);
    s->best_params = best;
    best = NULL;
    free(s->args_json);
    s->args_json = args;
    args = NULL;
    sb_clear(&s->log);
    sb_addn(&s->log, log, h[H_LOG_LEN]);
    s->step = (long)h[H_STEP];
    s->epoch = (long)(int64_t)h[H_EPOCH];
    s->pos = (size_t)h[H_POS];
    s->finished = (int)h[H_FINISHED];
    s->last_eval_step = (long)(int64_t)h[H_LAST_EVAL];
    s->best_step = (long)(int64_t)h[H_BEST_STEP];
    s->bad_evals = (long)h[H_BAD_EVALS];
    s->window_steps = (long)h[H_WINDOW_STEPS];
    s->data_hash = h[H_DATA_HASH];
    memcpy(s->shuffle_rng.s, &h[H_SHUFFLE_RNG], sizeof s->shuffle_rng.s);
    s->best_loss = d[D_BEST_LOSS];
    s->best_accuracy = d[D_BEST_ACC];
    s->best_macro_f1 = d[D_BEST_MACRO];
    s->best_weighted_f1 = d[D_BEST_WEIGHTED];
    s->window_loss = d[D_WINDOW_LOSS];
    s->epoch_loss = d[D_EPOCH_LOSS];
    s->epoch_weight = d[D_EPOCH_WEIGHT];
    s->has_scaler = h[H_HAS_SCALER] != 0;
    s->scaler.scale = d[D_LOSS_SCALE];
    s->scaler.good_steps = (long)h[H_SCALER_GOOD];
    s->scaler.skipped = (long)h[H_SCALER_SKIPPED];
    rc = 0;
    goto out;
truncated:
    fail(err, errlen, "%s: truncated checkpoint", path);
out:
    fclose(f);
    free(adam_m);
    free(adam_v);
    free(params);
    free(best);
    free(args);
    free(log);
    free(order);
    return rc;
}

void train_state_free(train_state *s)
{
    free(s->order);
    free(s->best_params);
    free(s->args_json);
    sb_free(&s->log);
    memset(s, 0, sizeof *s);
}
