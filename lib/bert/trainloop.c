#include "trainloop.h"
#include "bert_cuda.h"
#include "checkpoint.h"
#include "core/common.h"
#include "eval/metrics.h"
#include "core/numfmt.h"
#include "core/progress.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const metric_names[] = {"macro_f1", "accuracy", "weighted_f1", "loss"};

int train_metric_parse(const char *s, train_metric *m)
{
    for (int i = 0; i < 4; i++) {
        const char *a = s, *b = metric_names[i];
        while (*a && *b && (*a == *b || (*a == '-' && *b == '_'))) a++, b++;
        if (!*a && !*b) {
            *m = (train_metric)i;
            return 0;
        }
    }
    return -1;
}

const char *train_metric_name(train_metric m)
{
    return metric_names[m];
}

void train_options_default(train_options *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 3;
    o->batch_size = 16;
    o->grad_accum = 1;
    o->lr = 5e-5;
    o->weight_decay = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->adam_eps = 1e-8;
    o->max_grad_norm = 1.0;
    o->schedule = SCHED_LINEAR;
    o->warmup_steps = -1;
    o->seed = 42;
    o->shuffle = 1;
    o->log_every = 1;
    o->metric = METRIC_MACRO_F1;
    o->progress = -1;
}

double eval_metric(const eval_result *r, train_metric m)
{
    switch (m) {
    case METRIC_MACRO_F1: return r->macro_f1;
    case METRIC_ACCURACY: return r->accuracy;
    case METRIC_WEIGHTED_F1: return r->weighted_f1;
    case METRIC_LOSS: break;
    }
    return r->loss;
}

/* Strictly better, as transformers compares (np.greater / np.less): a tie
 * keeps the earlier step and counts against the patience. */
static int better(train_metric m, double a, double b)
{
    return m == METRIC_LOSS ? a < b : a > b;
}

long train_total_steps(const train_options *o, size_t n)
{
    if (o->max_steps > 0) return o->max_steps;
    const size_t per_step = (size_t)o->batch_size * (size_t)o->grad_accum;
    return (long)((n + per_step - 1) / per_step) * o->epochs;
}

int train_eval_part_due(long step, long total, long parts)
{
    /* the largest j with j x total / parts <= step is due when ceil(j x total / parts) is step itself */
    const long j = (long)((__int128)step * parts / total);
    return j >= 1 && (long)(((__int128)j * total + parts - 1) / parts) == step;
}

void train_evaluate(bert_model *m, const tok_dataset *d, int batch_size, eval_result *r, int *pred)
{
    const size_t n = d->n;
    const int C = m->num_labels;
    size_t *idx = xmalloc((size_t)batch_size * sizeof *idx);
    size_t *gold = xmalloc(n * sizeof *gold), *guess = xmalloc(n * sizeof *guess);
    tok_batch tb = {0};
    double loss = 0;
    for (size_t start = 0; start < n; start += (size_t)batch_size) {
        int B = (int)(n - start < (size_t)batch_size ? n - start : (size_t)batch_size);
        for (int b = 0; b < B; b++) idx[b] = start + (size_t)b;
        const bert_batch *bt = tokdata_batch(&tb, d, idx, B, m->cfg.pad_token_id, 1);
        if (bert_dev_forward(m, bt, 0) < 0) die("%s: %s", d->name, m->err);
        for (int b = 0; b < B; b++) {
            const float *z = m->acts.logits + (size_t)b * C;
            int best = 0;
            for (int k = 1; k < C; k++)
                if (z[k] > z[best]) best = k;
            loss += m->acts.losses[b];
            gold[start + b] = (size_t)d->ex[start + b].label;
            guess[start + b] = (size_t)best;
            if (pred) pred[start + b] = best;
        }
    }
    pred_set ps = {0};
    ps.n = n;
    ps.nclasses = (size_t)C;
    ps.gold = gold;
    ps.pred = guess;
    metrics mt;
    metrics_compute(&mt, &ps);
    r->loss = loss / (double)n;
    r->accuracy = mt.accuracy;
    r->macro_f1 = mt.macro.f1;
    r->weighted_f1 = mt.weighted.f1;
    metrics_free(&mt);
    tok_batch_free(&tb);
    free(idx);
    free(gold);
    free(guess);
}

void train_result_free(train_result *res)
{
    sb_free(&res->log);
}

/* ---- the metrics log ---- */

static void log_num(strbuf *b, const char *key, double v)
{
    char num[NUMFMT_MAX];
    sb_adds(b, b->len && b->s[b->len - 1] != '{' ? ",\"" : "\"");
    sb_adds(b, key);
    sb_adds(b, "\":");
    if (isfinite(v)) {
        fmt_double(num, v);
        sb_adds(b, num);
    } else {
        sb_adds(b, "null");
    }
}

static void log_step_head(strbuf *b, long step, double epoch)
{
    char num[NUMFMT_MAX];
    sb_adds(b, "{\"step\":");
    snprintf(num, sizeof num, "%ld", step);
    sb_adds(b, num);
    log_num(b, "epoch", epoch);
}

/* ---- options a checkpoint must match ---- */

/* The first option whose value differs between the checkpoint's run and
 * this one, as "NAME A (checkpoint) vs B (now)"; NULL when they agree. */
static char *args_difference(const char *ckpt, const char *now)
{
    cJSON *a = cJSON_Parse(ckpt), *b = cJSON_Parse(now);
    char *why = NULL;
    if (!a || !b) {
        why = xstrdup("unreadable options");
        goto out;
    }
    for (int pass = 0; pass < 2 && !why; pass++) {
        const cJSON *from = pass ? a : b, *other = pass ? b : a, *item;
        cJSON_ArrayForEach(item, from) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(other, item->string);
            char *x = cJSON_PrintUnformatted(item), *y = o ? cJSON_PrintUnformatted(o) : xstrdup("(none)");
            if (strcmp(x, y) != 0) {
                size_t n = strlen(item->string) + strlen(x) + strlen(y) + 32;
                why = xmalloc(n);
                if (pass) snprintf(why, n, "%s %s, not %s", item->string, x, y);
                else snprintf(why, n, "%s %s, not %s", item->string, y, x);
            }
            free(x);
            free(y);
            if (why) break;
        }
    }
out:
    cJSON_Delete(a);
    cJSON_Delete(b);
    return why;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- the loop ---- */

typedef struct run {
    bert_model *m;
    const tok_dataset *tr, *val;
    const train_options *o;
    train_state s;
    progress pg;
    long total, warmup;
    long checkpoint_step;    /* the last checkpoint written or read, -1: none */
} run;

static void note_eval(run *r, const eval_result *e, int is_best)
{
    if (r->o->quiet) return;
    progress_note(&r->pg, "step %ld: val loss %.4f accuracy %.4f macro_f1 %.4f weighted_f1 %.4f%s", r->s.step,
                  e->loss, e->accuracy, e->macro_f1, e->weighted_f1, is_best ? " (best)" : "");
}

/* Evaluates, logs, and updates the best step and the patience count. */
static void evaluate_step(run *r, double epoch, train_eval_hook hook, void *ctx)
{
    train_state *s = &r->s;
    eval_result e;
    train_evaluate(r->m, r->val, r->o->eval_batch_size > 0 ? r->o->eval_batch_size : r->o->batch_size, &e, NULL);
    const eval_result best = {s->best_loss, s->best_accuracy, s->best_macro_f1, s->best_weighted_f1};
    const int is_best = s->best_step < 0 || better(r->o->metric, eval_metric(&e, r->o->metric), eval_metric(&best, r->o->metric));
    if (is_best) {
        s->best_step = s->step;
        s->best_loss = e.loss;
        s->best_accuracy = e.accuracy;
        s->best_macro_f1 = e.macro_f1;
        s->best_weighted_f1 = e.weighted_f1;
        s->bad_evals = 0;
        if (!s->best_params) s->best_params = xmalloc(r->m->num_params * sizeof(float));
        bert_dev_pull(r->m, BERT_SYNC_PARAMS);
        memcpy(s->best_params, r->m->params, r->m->num_params * sizeof(float));
    } else {
        s->bad_evals++;
    }
    s->last_eval_step = s->step;
    log_step_head(&s->log, s->step, epoch);
    log_num(&s->log, "val_loss", e.loss);
    log_num(&s->log, "val_accuracy", e.accuracy);
    log_num(&s->log, "val_macro_f1", e.macro_f1);
    log_num(&s->log, "val_weighted_f1", e.weighted_f1);
    sb_adds(&s->log, is_best ? ",\"is_best\":true}\n" : ",\"is_best\":false}\n");
    note_eval(r, &e, is_best);
    if (hook) hook(ctx, s->step, &e, r->m);
}

/* The fp16 loss scaler of m's GPU twin, NULL on the CPU and in the other
 * precisions. */
static const bert_loss_scaler *dev_scaler(const bert_model *m)
{
    const bert_cuda *g = bert_dev_cuda(m);
    return g ? bert_cuda_scaler(g) : NULL;
}

static void save_checkpoint(run *r)
{
    bert_dev_pull(r->m, BERT_SYNC_PARAMS | BERT_SYNC_OPTIMIZER);
    const bert_loss_scaler *sc = dev_scaler(r->m);
    r->s.has_scaler = sc != NULL;
    if (sc) r->s.scaler = *sc;
    checkpoint_write(r->o->checkpoint, r->m, &r->s);
    r->checkpoint_step = r->s.step;
}

/* A resumed fp16 run continues with the checkpoint's loss scale, so that
 * it skips and grows where the uninterrupted run did. A checkpoint without
 * one (version 1, or a run in another precision) leaves the scale at its
 * start, which is then a different run: said, unless quiet. */
static void restore_scaler(run *r)
{
    const bert_loss_scaler *sc = dev_scaler(r->m);
    if (!sc) return;
    if (r->s.has_scaler) bert_cuda_set_scaler(bert_dev_cuda(r->m), &r->s.scaler);
    else if (!r->o->quiet && r->s.step > 0)
        warn("%s holds no fp16 loss scale (an older bert-train's, or a run in another precision): the scale "
             "starts again at %g", r->o->checkpoint, sc->scale);
}

static int non_finite(run *r, train_result *res, const char *what, double v)
{
    progress_end(&r->pg);
    int n = snprintf(res->err, sizeof res->err, "step %ld: the %s is %s (a learning rate too high?)", r->s.step + 1,
                     what, isnan(v) ? "NaN" : "infinite");
    if (r->o->checkpoint && n > 0 && (size_t)n < sizeof res->err) {
        if (r->checkpoint_step >= 0)
            snprintf(res->err + n, sizeof res->err - (size_t)n, "; the last checkpoint, step %ld, stays in %s",
                     r->checkpoint_step, r->o->checkpoint);
        else
            snprintf(res->err + n, sizeof res->err - (size_t)n, "; no checkpoint was written yet");
    }
    return -1;
}

int train_run(bert_model *m, const tok_dataset *tr, const tok_dataset *val, const train_options *o,
              train_result *res, train_eval_hook hook, void *ctx)
{
    memset(res, 0, sizeof *res);
    res->resumed_from = -1;
    res->best_step = -1;
    run r = {.m = m, .tr = tr, .val = val, .o = o, .checkpoint_step = -1};
    train_state *s = &r.s;
    const size_t n = tr->n, per_step = (size_t)o->batch_size * (size_t)o->grad_accum;
    r.total = train_total_steps(o, n);
    r.warmup = sched_warmup_steps(o->warmup_steps, o->warmup_ratio, r.total);
    const long log_every = o->log_every > 0 ? o->log_every : 1;

    s->n = n;
    s->epoch = -1;
    s->pos = n; /* the first step starts an epoch */
    s->order = xmalloc(n * sizeof *s->order);
    s->last_eval_step = s->best_step = -1;
    s->args_json = xstrdup(o->args_json ? o->args_json : "{}");
    s->data_hash = tokdata_hash(tr, 0);
    if (val) s->data_hash = tokdata_hash(val, s->data_hash);
    prng_seed(&s->shuffle_rng, o->seed, 0x73687566 /* "shuf" */);

    if (o->checkpoint && o->resume && file_exists(o->checkpoint)) {
        char *want_args = s->args_json, err[MODEL_ERR_MAX + 64];
        const uint64_t want_hash = s->data_hash;
        s->args_json = NULL;
        if (checkpoint_read(o->checkpoint, m, s, err, sizeof err) < 0) die("%s", err);
        char *why = args_difference(s->args_json, want_args);
        if (why)
            die("%s: the checkpoint's run had %s; resume with the same options, or start afresh without --resume",
                o->checkpoint, why);
        if (s->data_hash != want_hash)
            die("%s: the checkpoint's run had other training or validation data; resume with the same data, or "
                "start afresh without --resume", o->checkpoint);
        free(s->args_json);
        s->args_json = want_args;
        res->resumed_from = r.checkpoint_step = s->step;
        bert_dev_push(m, BERT_SYNC_PARAMS | BERT_SYNC_OPTIMIZER);
        restore_scaler(&r);
    }

    progress_start(&r.pg, o->quiet ? 0 : o->progress, r.total, s->step);
    if (res->resumed_from >= 0 && !o->quiet)
        progress_note(&r.pg, "resuming from %s at step %ld of %ld", o->checkpoint, s->step, r.total);
    const float *cw = m->class_weights;
    tok_batch tb = {0};
    while (!s->finished && s->step < r.total && !(o->stop_at > 0 && s->step >= o->stop_at)) {
        if (s->pos >= n) {
            s->epoch++;
            s->pos = 0;
            s->epoch_loss = s->epoch_weight = 0;
            tokdata_epoch_order(tr, s->order, &s->shuffle_rng, o->shuffle, o->bucket, per_step);
        }
        const size_t start = s->pos, end = start + per_step < n ? start + per_step : n;
        /* every micro-batch's gradient is divided by the weight of the whole
         * step batch: together they are that batch's mean */
        double wsum = 0, loss_sum = 0;
        for (size_t k = start; k < end; k++) wsum += cw ? cw[tr->ex[s->order[k]].label] : 1.0;
        bert_dev_zero_grad(m);
        for (size_t ms = start; ms < end; ms += (size_t)o->batch_size) {
            const size_t me = ms + (size_t)o->batch_size < end ? ms + (size_t)o->batch_size : end;
            const bert_batch *b = tokdata_batch(&tb, tr, s->order + ms, (int)(me - ms), m->cfg.pad_token_id, 1);
            if (bert_dev_forward(m, b, 1) < 0) die("%s: %s", tr->name, m->err);
            if (!isfinite(m->loss)) {
                tok_batch_free(&tb);
                res->log = s->log;
                s->log = (strbuf){0};
                int rc = non_finite(&r, res, "training loss", m->loss);
                train_state_free(s);
                return rc;
            }
            loss_sum += (double)m->loss * m->weight_sum;
            bert_dev_backward(m, wsum);
        }
        const float norm = bert_dev_clip_grad_norm(m, o->max_grad_norm > 0 ? (float)o->max_grad_norm : INFINITY);
        /* fp16 on the GPU: an overflow skips the step (and lowers the loss scale) */
        if (!isfinite(norm) && !bert_dev_skips_nonfinite(m)) {
            tok_batch_free(&tb);
            res->log = s->log;
            s->log = (strbuf){0};
            int rc = non_finite(&r, res, "gradient norm", norm);
            train_state_free(s);
            return rc;
        }
        const double lr = o->lr * sched_lambda(o->schedule, s->step, r.warmup, r.total);
        const bert_adamw opt = {(float)lr, (float)o->beta1, (float)o->beta2, (float)o->adam_eps,
                                (float)o->weight_decay};
        bert_dev_adamw_step(m, &opt);
        s->step++;
        s->pos = end;
        const double step_loss = loss_sum / wsum, epoch = (double)s->epoch + (double)s->pos / (double)n;
        s->window_loss += step_loss;
        s->window_steps++;
        s->epoch_loss += loss_sum;
        s->epoch_weight += wsum;
        const int last = s->step == r.total, epoch_end = s->pos >= n;
        if (s->step % log_every == 0 || last) {
            log_step_head(&s->log, s->step, epoch);
            log_num(&s->log, "lr", lr);
            log_num(&s->log, "train_loss", s->window_loss / (double)s->window_steps);
            log_num(&s->log, "grad_norm", norm);
            sb_adds(&s->log, "}\n");
            s->window_loss = 0;
            s->window_steps = 0;
        }
        char text[64];
        snprintf(text, sizeof text, "loss %.4f lr %.2e", step_loss, lr);
        progress_update(&r.pg, s->step, text);
        if (epoch_end && !o->quiet)
            progress_note(&r.pg, "epoch %ld done at step %ld: mean train loss %.4f", s->epoch + 1, s->step,
                          s->epoch_loss / s->epoch_weight);
        int evaluated = 0;
        const int due_eval = o->eval_parts > 0  ? train_eval_part_due(s->step, r.total, o->eval_parts)
                             : o->eval_every > 0 ? s->step % o->eval_every == 0
                                                 : epoch_end;
        if (val && (due_eval || last)) {
            evaluate_step(&r, epoch, hook, ctx);
            evaluated = 1;
            if (o->patience > 0 && s->bad_evals >= o->patience) {
                s->finished = 2;
                if (!o->quiet)
                    progress_note(&r.pg, "early stop at step %ld: no better val %s in %ld evaluations", s->step,
                                  train_metric_name(o->metric), o->patience);
            }
        }
        if (last && !s->finished) s->finished = 1;
        if (o->checkpoint) {
            int due = o->checkpoint_every > 0 ? s->step % o->checkpoint_every == 0 : (val ? evaluated : epoch_end);
            const int pausing = o->stop_at > 0 && s->step >= o->stop_at;
            if (due || s->finished || pausing) save_checkpoint(&r);
        }
        if (o->crash_after > 0 && s->step == o->crash_after) raise(SIGKILL);
    }
    tok_batch_free(&tb);
    progress_end(&r.pg);

    res->steps = s->step;
    res->total_steps = r.total;
    res->warmup_steps = r.warmup;
    res->epochs = s->epoch < 0 ? 0 : (double)s->epoch + (double)s->pos / (double)n;
    res->stopped_early = s->finished == 2;
    res->paused = !s->finished && s->step < r.total;
    if (res->paused) {
        if (!o->quiet) progress_note(&r.pg, "paused at step %ld of %ld (--stop-at); --resume goes on from %s", s->step,
                                     r.total, o->checkpoint);
    } else if (val && s->best_step >= 0) {
        res->best_step = s->best_step;
        res->best = (eval_result){s->best_loss, s->best_accuracy, s->best_macro_f1, s->best_weighted_f1};
        if (s->best_step != s->step) {
            memcpy(m->params, s->best_params, m->num_params * sizeof(float));
            bert_dev_push(m, BERT_SYNC_PARAMS);
            if (!o->quiet)
                progress_note(&r.pg, "restored the weights of step %ld (val %s %.4f)", s->best_step,
                              train_metric_name(o->metric), eval_metric(&res->best, o->metric));
        }
        train_evaluate(m, val, o->eval_batch_size > 0 ? o->eval_batch_size : o->batch_size, &res->final, NULL);
    }
    bert_dev_pull(m, BERT_SYNC_PARAMS); /* the returned weights on the host */
    res->log = s->log;
    s->log = (strbuf){0};
    train_state_free(s);
    return 0;
}
