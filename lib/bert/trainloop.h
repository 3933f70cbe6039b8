/* trainloop: fine-tuning a lib/bert classifier on a token dataset, the way
 * transformers' Trainer does it, with what bert-train offers on top:
 *
 *  - an optimizer step takes batch_size x grad_accum examples, computed as
 *    grad_accum micro-batches of batch_size sequences, each padded to its
 *    own longest sequence; the gradients add up to the gradient of the whole
 *    step batch's (class-weighted) mean loss, so accumulation is the larger
 *    batch, not an approximation of it (the last step of an epoch may be
 *    smaller);
 *  - gradient clipping (torch's clip_grad_norm_), then AdamW with decoupled
 *    weight decay (not on biases and LayerNorm; lib/bert) at the rate of
 *    lib/bert/schedule for that step;
 *  - each epoch a seeded shuffle, optionally grouped by length (lib/bert/tokdata);
 *  - evaluation on a validation set every N steps (or each epoch): loss,
 *    accuracy, macro-F1 and weighted F1 with lib/eval/metrics (scikit-learn's
 *    definitions); the best step by the chosen metric, its weights kept in
 *    memory and restored at the end; early stopping after `patience`
 *    evaluations without a strictly better value;
 *  - checkpoints: the whole state (weights, AdamW moments and step, the
 *    shuffle and dropout generators, the epoch's order and position, the best
 *    weights and metric, the patience count, the log so far, on the GPU in
 *    fp16 the loss scaler's state) in one file
 *    written atomically (lib/bert/checkpoint), so a run killed at any moment and
 *    resumed from its last checkpoint ends with bit-identical weights and log;
 *  - a metrics log in NDJSON (what `cmplot curves` draws), a progress bar.
 * A non-finite loss or gradient norm stops the run with an error naming the
 * step; the last checkpoint written stays as it was. */
#ifndef PIPECLF_TRAINLOOP_H
#define PIPECLF_TRAINLOOP_H

#include <stdint.h>

#include "bert.h"
#include "schedule.h"
#include "core/strbuf.h"
#include "tokdata.h"

typedef enum train_metric { METRIC_MACRO_F1, METRIC_ACCURACY, METRIC_WEIGHTED_F1, METRIC_LOSS } train_metric;

/* "macro_f1", "accuracy", "weighted_f1", "loss" (also with '-' for '_');
 * returns -1 for another name. */
int train_metric_parse(const char *s, train_metric *m);
const char *train_metric_name(train_metric m);

typedef struct train_options {
    long epochs;             /* passes over the data, when max_steps is 0 */
    long max_steps;          /* > 0: exactly this many optimizer steps, epochs ignored */
    int batch_size;          /* sequences per forward/backward (micro-batch) */
    int grad_accum;          /* micro-batches per optimizer step */
    int eval_batch_size;     /* sequences per evaluation forward */
    double lr, weight_decay, beta1, beta2, adam_eps;
    double max_grad_norm;    /* 0: no clipping (the norm is still logged) */
    sched_kind schedule;
    long warmup_steps;       /* >= 0: this many; < 0: ceil(warmup_ratio * steps) */
    double warmup_ratio;
    uint64_t seed;           /* shuffling (dropout is seeded in the model) */
    int shuffle;             /* 0: file order every epoch (tests) */
    int bucket;              /* group batches by length */
    long log_every;          /* a train record every N steps (mean loss over them) */
    long eval_every;         /* evaluate every N steps; 0: at each epoch's end */
    long eval_parts;         /* > 0 (instead of eval_every): evaluate at steps
                                ceil(j x total / eval_parts), j = 1..eval_parts, so
                                that runs of any length are scored at the same
                                shares of their schedule (the sweep's rungs) */
    train_metric metric;     /* what "best" means */
    long patience;           /* stop after N evaluations without improvement; 0: never */
    const char *checkpoint;  /* checkpoint file, NULL: none */
    long checkpoint_every;   /* steps; 0: at each evaluation (each epoch without validation) */
    int resume;              /* continue from the checkpoint file when it exists */
    long stop_at;            /* > 0: pause after this step (checkpoint written, the
                                schedule that of the whole run); a resumed run with a
                                later stop_at, or none, goes on where it paused */
    const char *args_json;   /* the options as a JSON object: a checkpoint made with
                                others is refused (the run would not be the same) */
    long crash_after;        /* tests: SIGKILL itself after this step (0: never) */
    int progress;            /* 1 on, 0 off, -1 when stderr is a terminal */
    int quiet;               /* no notes on stderr */
} train_options;

/* Defaults: 3 epochs, batch 16, accumulation 1, lr 5e-5, weight decay 0.01,
 * betas 0.9/0.999, eps 1e-8, clipping at 1, linear schedule without warmup,
 * seed 42, shuffled, log every step, evaluation each epoch, macro-F1, no
 * patience, no checkpoints, progress bar when stderr is a terminal. */
void train_options_default(train_options *o);

typedef struct eval_result {
    double loss;             /* mean cross-entropy, without class weights */
    double accuracy, macro_f1, weighted_f1;
} eval_result;

/* The chosen metric of r. */
double eval_metric(const eval_result *r, train_metric m);

/* Evaluates m (no dropout) on d in file order, batch_size sequences a
 * forward. pred, when not NULL, gets each example's predicted class id
 * (the first largest logit, as torch.argmax). */
void train_evaluate(bert_model *m, const tok_dataset *d, int batch_size, eval_result *r, int *pred);

typedef struct train_result {
    long steps;              /* optimizer steps taken */
    long total_steps;        /* the schedule's length */
    long warmup_steps;
    double epochs;           /* epochs done, a fraction */
    long resumed_from;       /* the checkpoint's step, -1 when not resumed */
    int stopped_early;
    int paused;              /* stopped at stop_at before the schedule's end: m holds
                                that step's weights, best/final are not set */
    long best_step;          /* -1 without validation */
    eval_result best;        /* the validation scores at best_step */
    eval_result final;       /* the returned weights' scores (after the restore) */
    strbuf log;              /* the metrics log, NDJSON */
    char err[256];
} train_result;

/* Called after each evaluation (tests look at the weights of every step). */
typedef void (*train_eval_hook)(void *ctx, long step, const eval_result *r, const bert_model *m);

/* Trains m on train, evaluating on val (may be NULL). Class weights, if
 * any, are set on m beforehand (bert_set_class_weights). On return m holds
 * the final weights: the best step's when there is a validation set.
 * Returns 0, or -1 when the loss or the gradient norm is not finite (the
 * message, naming the step, in res->err; res->log holds the log up to the
 * last good step). Dies on a checkpoint that cannot be read or written or
 * does not match the run. res is initialised here; free it with
 * train_result_free. */
int train_run(bert_model *m, const tok_dataset *train, const tok_dataset *val, const train_options *o,
              train_result *res, train_eval_hook hook, void *ctx);
void train_result_free(train_result *res);

/* Steps of the schedule: max_steps, or epochs x ceil(n / (batch x accum)). */
long train_total_steps(const train_options *o, size_t n);

/* Whether step (1..total) is an evaluation step of ceil(j x total / parts). */
int train_eval_part_due(long step, long total, long parts);

#endif
