/* checkpoint: the complete state of a bert-train run in one binary file, so
 * that a run killed at any moment (kill -9, a power cut) resumes from its
 * last checkpoint and ends exactly as the uninterrupted run would have,
 * bit for bit: the weights, the AdamW moments and step count, the dropout
 * and shuffle generators, the current epoch's order and position in it, the
 * best weights and scores so far with the patience count, the log so far,
 * and the run's options and data fingerprint (a resume must match them).
 *
 * The file is written through lib/core/outfile (temporary + fsync + rename), so
 * the previous checkpoint stays whole until the new one is complete. Layout
 * (little-endian): the magic "PCLFCKPT", a version, the sizes and scalars in
 * a fixed header, then the options JSON and the log text, the order
 * (uint64), and the float32 buffers: weights, AdamW m, v, and the best
 * weights when they differ from the current ones; the magic again at the
 * end, so a truncated file is recognised.
 *
 * Version 2 added the fp16 loss scaler's state (lib/bert/bert_cuda.h) at the end
 * of the header's integers and doubles. A version-1 file still reads, as
 * one without a scaler (has_scaler 0): a resumed fp16 run then starts the
 * scale afresh, as version 1 always did. */
#ifndef PIPECLF_CHECKPOINT_H
#define PIPECLF_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "bert_cuda.h"
#include "core/prng.h"
#include "core/strbuf.h"

#define CHECKPOINT_VERSION 2

/* Everything of a run's state that is not in the model. */
typedef struct train_state {
    long step;               /* optimizer steps done */
    long epoch;              /* the current epoch, 0-based; -1 before the first */
    size_t pos;              /* examples of this epoch already used */
    size_t n;                /* training examples */
    size_t *order;           /* this epoch's order, n entries */
    prng shuffle_rng;
    int finished;            /* the run ended (last step or early stop) */
    long last_eval_step;     /* -1: none yet */
    long best_step;          /* -1: no evaluation yet */
    double best_loss, best_accuracy, best_macro_f1, best_weighted_f1;
    long bad_evals;          /* evaluations since the best one */
    float *best_params;      /* the best step's weights, NULL when no best yet */
    double window_loss;      /* train loss summed since the last log record */
    long window_steps;
    double epoch_loss;       /* weighted loss summed over this epoch */
    double epoch_weight;
    strbuf log;              /* the metrics log so far */
    char *args_json;         /* the run's options */
    uint64_t data_hash;      /* tokdata_hash of the training and validation sets */
    int has_scaler;          /* fp16 loss scaling was on (GPU): scaler is its state */
    bert_loss_scaler scaler; /* the file keeps scale, good_steps and skipped; the
                                rest are the run's options */
} train_state;

/* Writes m's parameters, AdamW state and dropout generator and s to path,
 * atomically, as CHECKPOINT_VERSION. Dies on a system error (disk full, no
 * permission). */
void checkpoint_write(const char *path, const bert_model *m, const train_state *s);

/* Reads path into m (which must have the same architecture: the parameter
 * count is checked) and s (whose buffers are replaced; s->order and
 * s->best_params allocated here). Reads versions 1 and 2. Returns 0, or -1
 * with a message in err (naming the file: not a checkpoint, another
 * version, truncated, another model size or data size). */
int checkpoint_read(const char *path, bert_model *m, train_state *s, char *err, size_t errlen);

void train_state_free(train_state *s);

#endif
