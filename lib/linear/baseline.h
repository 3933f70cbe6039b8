/* baseline: a baseline model directory, MODEL_DIR/tfidf.json (lib/linear/tfidf) +
 * MODEL_DIR/logreg.json (lib/linear/logreg), as one predictor: a record's class
 * probabilities from its sparse vector "x" when it has one, else from its
 * text vectorised with the directory's own tfidf model. */
#ifndef PIPECLF_BASELINE_H
#define PIPECLF_BASELINE_H

#include <cJSON.h>

#include "logreg.h"
#include "sparse.h"
#include "tfidf.h"

typedef struct baseline_model {
    logreg_model *logreg;
    tfidf_model *tfidf; /* NULL when the directory has none: vector records only */
    const char *dir;
} baseline_model;

/* Whether dir looks like a baseline model directory (has logreg.json). */
int baseline_dir(const char *dir);
/* Loads both models and checks they agree on the dimension; dies naming the
 * file on a missing or corrupt model. */
baseline_model *baseline_load(const char *dir);
void baseline_free(baseline_model *m);

/* Working memory for one thread. */
typedef struct baseline_scratch {
    tfidf_scratch tfidf;
    sparse_vec x;
} baseline_scratch;

void baseline_scratch_init(baseline_scratch *s);
void baseline_scratch_free(baseline_scratch *s);

/* Class probabilities of rec into probs[logreg nclasses]: from rec[vector_field]
 * if present, else rec[text_field] vectorised. Dies "prog: FILE:LINE: ..."
 * for a record with neither, a malformed vector, or a dimension mismatch. */
void baseline_proba(const baseline_model *m, baseline_scratch *s, const cJSON *rec, const char *text_field,
                    const char *vector_field, const char *file, long line, double *probs);

#endif
