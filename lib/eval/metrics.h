/* metrics: classification scores of prediction records, defined as
 * scikit-learn 1.9 defines them, so that `metrics` reproduces a notebook's
 * numbers. A prediction set is read once into memory (gold and predicted
 * class ids, the probability rows) and every score is computed from it:
 * accuracy, precision/recall/F1 (per class, macro, weighted; zero_division=0),
 * the confusion matrix, one-vs-rest ROC-AUC and average precision, log loss,
 * calibration error, top-k accuracy, predicted rates, a positive class, a
 * breakdown by a record field and accuracy and macro-F1 by training class
 * size. cmplot uses the curve
 * functions for its ROC and PR plots, so a legend's AUC is the report's.
 *
 * Classes are the byte-sorted union of gold labels, predicted labels and the
 * keys of "probs" (the model's classes). Where sklearn leaves a value
 * undefined we store NAN and the JSON says null; see man/metrics.1. */
#ifndef PIPECLF_METRICS_H
#define PIPECLF_METRICS_H

#include <stddef.h>

#include "core/strbuf.h"

#define METRICS_CALIB_BINS 15
/* probabilities of a record must sum to 1 within this */
#define METRICS_SUM_TOLERANCE 1e-6

/* How to read prediction records. Zero fields take the defaults. */
typedef struct pred_fields {
    const char *label; /* gold label field, default "label" */
    const char *pred;  /* predicted label field, default "pred" */
    const char *probs; /* probabilities object field, default "probs" */
    const char *by;    /* field to group by (--by), NULL for none */
} pred_fields;

typedef struct pred_set {
    char *name;           /* the input's name, for messages and reports */
    size_t n;             /* records */
    size_t nclasses;
    char **classes;       /* byte-sorted */
    size_t *gold, *pred;  /* class id of each record */
    /* Probabilities: present in every record or in none. */
    int has_probs;
    size_t nscored;       /* the model's classes, the keys of probs */
    long *col;            /* per class: its column in probs, -1 if unscored */
    double *probs;        /* n x nscored, columns in class order */
    /* --by: the group of each record; groups byte-sorted, "(missing)" for
     * a record without the field or with null */
    size_t ngroups;
    char **groups;
    size_t *group;
} pred_set;

/* Reads prediction records from path ("-" = stdin). Dies with FILE:LINE on
 * bad input: invalid JSON, a missing or non-string label or pred (a file
 * without gold labels has nothing to score), probs not an object of numbers
 * in [0, 1] summing to 1 within METRICS_SUM_TOLERANCE, probs keys differing
 * between records, probs in some records only, a pred that is not a key of
 * probs; and without a line when the file holds no records. */
void pred_set_read(pred_set *s, const char *path, const pred_fields *fields);
void pred_set_free(pred_set *s);
/* The id of a class label, or (size_t)-1. */
size_t pred_set_class(const pred_set *s, const char *label);

/* Precision, recall, F1 from counts. NAN never appears: a zero denominator
 * gives 0 (sklearn's zero_division=0). */
typedef struct prf {
    double precision, recall, f1;
} prf;
prf prf_from_counts(size_t tp, size_t support, size_t predicted);

typedef struct class_metrics {
    size_t support, predicted, tp;
    prf s;
    double predicted_rate;     /* predicted / n */
    int in_macro;              /* in gold or predicted: sklearn's default labels */
    double roc_auc;            /* NAN: no scores, or the class is absent from
                                  gold or is every record's gold label */
    double average_precision;  /* NAN: no scores; 0 without positives (sklearn) */
} class_metrics;

typedef struct calib_bin {
    double lo, hi;             /* (lo, hi]; the first bin holds 0 too */
    size_t n;
    double confidence, accuracy; /* means over the bin; NAN when empty */
} calib_bin;

typedef struct metrics {
    size_t n, nclasses, correct;
    double accuracy;
    prf macro, weighted;
    size_t macro_classes;      /* classes averaged by macro */
    class_metrics *per_class;
    size_t *confusion;         /* [gold * nclasses + pred] */
    int has_probs;
    double roc_auc_macro;      /* mean over classes with a defined AUC */
    size_t roc_auc_classes;
    double ap_macro;           /* mean over scored classes */
    double log_loss;
    double ece;
    calib_bin calib[METRICS_CALIB_BINS];
} metrics;

void metrics_compute(metrics *m, const pred_set *s);
void metrics_free(metrics *m);

/* Scores of one class taken as the positive class. */
typedef struct positive_metrics {
    const char *label;
    size_t support, predicted;
    prf s;
    double predicted_rate, gold_rate;
} positive_metrics;
void positive_compute(positive_metrics *p, const pred_set *s, size_t cls);

/* Top-k accuracy, sklearn's top_k_accuracy_score(y, scores, k=k,
 * labels=classes): the share of records whose gold class is among the k
 * highest-scoring classes, a class without a probs key scoring 0. Ties go
 * to the class later in byte order (sklearn's stable argsort, reversed).
 * With two classes sklearn scores only the second one: top-1 is right when
 * that score > 0.5 exactly when gold is the second class. k >= the number
 * of classes gives 1 (sklearn warns). Needs s->has_probs. */
typedef struct top_k_metrics {
    size_t k, correct;
    double accuracy;
} top_k_metrics;
void top_k_compute(top_k_metrics *t, const pred_set *s, size_t k);

/* Per group of --by: n, accuracy, macro-F1 over the group's own labels
 * (as sklearn scores that subset of records). */
typedef struct group_metrics {
    const char *value;
    size_t n, correct;
    double accuracy, macro_f1;
} group_metrics;
/* out has s->ngroups entries */
void groups_compute(group_metrics *out, const pred_set *s);

/* Accuracy and macro-F1 by class size: each class falls in the bin of its
 * training count, bins (lo, hi] with the first one closed [lo, hi]
 * (pandas.cut with include_lowest); hi may be INFINITY. A bin's records are
 * those whose gold class is in it; its classes, the gold classes among
 * them. Accuracy is over its records; macro-F1 is the mean F1 of its
 * classes scored on its records alone, sklearn's f1_score(y[rows],
 * p[rows], labels=bin classes, average='macro'). Both NAN when the bin has
 * no records. */
typedef struct size_bin {
    double lo, hi;
    size_t nclasses, n, correct;
    double accuracy, macro_f1;
} size_bin;
/* train_count[class]; edges[0..nedges) increasing; out has nedges-1 bins.
 * bin_of[class] (optional) gets the bin of each class or (size_t)-1. */
void size_bins_compute(size_bin *out, size_t *bin_of, const pred_set *s, const size_t *train_count,
                       const double *edges, size_t nedges);

/* --- one-vs-rest curves of a score against 0/1 truth ---------------------
 * Points at every distinct score, highest first, as sklearn's roc_curve and
 * precision_recall_curve. */
typedef struct curve {
    size_t n;
    double *x, *y;
} curve;
void curve_free(curve *c);

/* Area under the ROC curve (trapezoids; ties count half), NAN unless truth
 * holds both 0 and 1. */
double roc_auc_binary(const double *score, const unsigned char *truth, size_t n);
/* sum over thresholds of (R_t - R_{t-1}) P_t; 0 without positives, as sklearn */
double average_precision_binary(const double *score, const unsigned char *truth, size_t n);
/* ROC points (x = false positive rate, y = true positive rate) from (0,0),
 * collinear points dropped (sklearn's drop_intermediate). Empty unless
 * both classes are present. */
void roc_curve_binary(curve *c, const double *score, const unsigned char *truth, size_t n);
/* PR points (x = recall, y = precision) by increasing recall, ending at
 * (0, 1) as sklearn's precision_recall_curve (reversed). Empty without
 * positives. */
void pr_curve_binary(curve *c, const double *score, const unsigned char *truth, size_t n);

/* The truth and score columns of a scored class: truth[i] = gold is cls,
 * score[i] = its probability. Returns 0 (nothing filled) when cls has no
 * scores. */
int class_scores(const pred_set *s, size_t cls, double *score, unsigned char *truth);

/* Counts per label of a records file (the --train counts). Labels not in
 * s's classes are ignored; counts[class] gets the rest (0 if absent). */
void train_counts_read(size_t *counts, const pred_set *s, const char *path, const char *label_field);

#endif
