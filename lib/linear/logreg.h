/* logreg: one-vs-rest logistic regression with liblinear's objective, as
 * scikit-learn's liblinear fits it (or multinomial, below): the training
 * rows held as CSR, the options (C, L1/L2 penalty, class weights,
 * tolerance, iterations, intercept),
 * training, and the model file MODEL_DIR/logreg.json that `predict` loads.
 *
 * Classes are the training labels in byte-sorted order. Two classes give one
 * weight vector, whose positive side is the second class (decision > 0 means
 * labels[1]); three or more give one vector per class, trained against all
 * the other rows. The intercept is liblinear's bias feature: a constant
 * column of value intercept_scaling, regularised like any weight; the model
 * stores intercept = intercept_scaling * its weight, as scikit-learn's
 * intercept_. Class weights scale the cost of the positive rows of each
 * subproblem, as liblinear does: with two classes C*w[0] for the first and
 * C*w[1] for the second; with more, C*w[k] for class k's rows and plain C
 * for all the others (scikit-learn's multi_class='ovr' liblinear fits).
 *
 * A multinomial model (lr_params.multinomial, scikit-learn's lbfgs) has the
 * same shape: one vector for two classes, else one per class, all fitted
 * in one softmax problem (lib/linear/linsolve's linsolve_softmax_lr) where each
 * row costs C times its class's weight and the intercepts are not
 * regularised. */
#ifndef PIPECLF_LOGREG_H
#define PIPECLF_LOGREG_H

#include <stddef.h>
#include <stdint.h>

#include "sparse.h"
#include "core/strbuf.h"

/* ---- training rows ---- */

typedef struct lr_data {
    const char *name;    /* input name for messages */
    size_t n;            /* rows */
    long dim;            /* feature dimension: the records' x.dim, or without
                            one, their largest index + 1 */
    size_t *rowptr;      /* n + 1 offsets into idx/val */
    uint32_t *idx;
    double *val;
    size_t *cls;         /* class of each row, an index into labels */
    char **labels;       /* byte-sorted */
    size_t nclasses;
    char **ids;          /* each row's id, or NULL where it has none */
    long *line;          /* each row's input line */
} lr_data;

/* Reads NDJSON records with a sparse vector (vector_field, lib/linear/sparse) and a
 * string label (label_field) and, when present, a string id (id_field).
 * Dies with "prog: FILE:LINE: ..." on a malformed vector (index out of
 * range, NaN/Inf value, ...), a missing or non-string label, a vector
 * whose dim differs from an earlier record's or (without a dim) has an index
 * beyond the other records' dim; and on empty input. */
void lr_data_read(lr_data *d, const char *path, const char *vector_field, const char *label_field,
                  const char *id_field);
void lr_data_free(lr_data *d);

/* ---- options ---- */

typedef enum lr_penalty { LR_L2 = 0, LR_L1 = 1 } lr_penalty;
typedef enum lr_cw_kind { LR_CW_NONE = 0, LR_CW_BALANCED, LR_CW_EXPLICIT } lr_cw_kind;

typedef struct lr_params {
    double C;                 /* > 0 */
    lr_penalty penalty;
    lr_cw_kind cw_kind;
    size_t ncw;               /* LR_CW_EXPLICIT: LABEL:W pairs */
    char **cw_label;
    double *cw_weight;
    double tol;               /* > 0; scikit-learn's default 1e-4 */
    long max_iter;            /* >= 1; default 100 */
    int fit_intercept;        /* default 1 */
    double intercept_scaling; /* in (0, LR_MAX_ABS_VALUE]; default 1 */
    uint32_t seed;            /* the L1 solver's coordinate order (MT19937) */
    int multinomial;          /* 0: one-vs-rest (liblinear); 1: one softmax model (scikit-learn's
                                 lbfgs; L2 only, the intercept not penalised) */
} lr_params;

/* The largest feature value (and intercept_scaling, the bias column's
 * value) training takes: beyond it liblinear's sums overflow and its
 * solvers spin for ever; scikit-learn refuses the same ("X contains a
 * maximum value > 1e30 results in a frozen fit"). */
#define LR_MAX_ABS_VALUE 1e30

/* scikit-learn's defaults: C 1, l2, no class weights, tol 1e-4, 100 iterations,
 * an intercept with scaling 1, seed 0 */
void lr_params_default(lr_params *p);
/* deep copy (the explicit weights) */
void lr_params_copy(lr_params *dst, const lr_params *src);
void lr_params_free(lr_params *p);

/* Parses a class-weight value: "none", "balanced", or LABEL:W pairs
 * separated by ',' (optionally in braces: {a:1.2,b:0.8}); a label runs to its
 * last ':'. Returns 0, or -1 with a reason in why (a static string). */
int lr_parse_class_weight(const char *s, lr_params *p, const char **why);
int lr_parse_penalty(const char *s, lr_penalty *pen);
/* "ovr" or "multinomial" into *multinomial; -1 for anything else */
int lr_parse_multi_class(const char *s, int *multinomial);
/* NULL, or why p's options do not go together (multinomial with l1) */
const char *lr_params_conflict(const lr_params *p);
/* The class-weight option as text: none, balanced or {a:1.2,b:0.8}
 * (numbers as lib/core/numfmt). Appends to b. */
void lr_class_weight_text(strbuf *b, const lr_params *p);

/* The weight of each class of `labels` under p, given the class counts of
 * the training rows: 1; n / (nclasses * count) for balanced (scikit-learn's
 * compute_class_weight); or the explicit value (1 for unlisted labels).
 * Returns -1 and sets *bad to the first explicit label that is no class. */
int lr_class_weights(const lr_params *p, char *const *labels, size_t nclasses, const size_t *counts,
                     double *weights, const char **bad);

/* ---- model ---- */

typedef struct logreg_model {
    size_t nclasses;
    char **labels;       /* byte-sorted class names */
    long dim;            /* feature dimension */
    size_t nvec;         /* 1 for two classes, else nclasses */
    double *coef;        /* nvec x dim, dense, row-major */
    double *intercept;   /* nvec; 0 without an intercept */
    lr_params params;    /* the options it was trained with */
    double *class_weight;/* nclasses: the weights used */
    int *n_iter;         /* nvec: solver iterations */
    size_t nstalled;     /* subproblems the stall rule ended (lr_fit_opts; never saved) */
    char *cv_json;       /* optional JSON object saved as "cv" (grid search summary) */
} logreg_model;

/* Fits a model on the rows rows[0..nrows) of d (all rows when rows is NULL),
 * kept in that order within each class. Every class of d must have at least
 * one of these rows (the caller makes sure). Deterministic for a given seed;
 * safe to call from several threads at once. */
logreg_model *logreg_train(const lr_data *d, const size_t *rows, size_t nrows, const lr_params *p);

typedef struct lr_layout lr_layout; /* below: logreg_layout_new */

/* The grid search's fast mode (lib/linear/linsolve's linsolve_ctl): warm, a model
 * of the same rows' classes, dimension and intercept setting (the fit at a
 * neighbouring C) whose weights each subproblem starts from; stop_stalled,
 * end an L1 subproblem whose objective has stopped decreasing (counted in
 * nstalled). NULL opts, or {NULL, 0}, is logreg_train: scikit-learn's fit. */
typedef struct lr_fit_opts {
    const logreg_model *warm;
    int stop_stalled;
    int fast;  /* lib/linear/linsolve's fast arithmetic: the same optimum and tolerance, not liblinear's rounding */
    const lr_layout *layout; /* the rows already laid out (logreg_layout_new), or NULL */
    /* with warm: the start is warm's weights plus shift_coef[k] times the
     * weights of shift[k] (models of warm's shape, or NULL): the grid
     * search's extrapolations along C and across class weights */
    const logreg_model *shift[2];
    double shift_coef[2];
} lr_fit_opts;

/* The rows of a fit as the solvers take them (grouped by class, by rows
 * with the bias column and, for L1 or fast fits, by columns): what every
 * fit on the same rows with the same penalty, intercept and fast setting
 * shares, so that a grid search lays them out once per fold instead of
 * once per fit. Read-only: fits on several threads may share one. */
lr_layout *logreg_layout_new(const lr_data *d, const size_t *rows, size_t nrows, const lr_params *p, int fast);
void logreg_layout_free(lr_layout *l);

logreg_model *logreg_train_opts(const lr_data *d, const size_t *rows, size_t nrows, const lr_params *p,
                                 const lr_fit_opts *o);
/* The models of several max_iter values at once: out[i] is what
 * logreg_train_opts gives with max_iter = max_iters[i], to the bit, where
 * max_iters (nmax of them) strictly decrease. A smaller max_iter shares the
 * largest one's solves, from snapshots where it would have stopped
 * (lib/linear/linsolve), so the whole costs about what the largest alone does. */
void logreg_train_multi(const lr_data *d, const size_t *rows, size_t nrows, const lr_params *p, const lr_fit_opts *o,
                        const long *max_iters, size_t nmax, logreg_model **out);
/* 1 when some subproblem stopped at max_iter (scikit-learn's
 * ConvergenceWarning: n_iter >= max_iter) */
int logreg_hit_max_iter(const logreg_model *m);
void logreg_free(logreg_model *m);

/* Writes MODEL_DIR/logreg.json atomically, creating MODEL_DIR if missing;
 * leaves other files there alone. Dies on failure. */
void logreg_save(const logreg_model *m, const char *model_dir);
/* Reads MODEL_DIR/logreg.json. Dies "prog: MODEL_DIR/logreg.json: ..." when
 * it is missing or corrupt. */
logreg_model *logreg_load(const char *model_dir);

static inline size_t logreg_nclasses(const logreg_model *m) { return m->nclasses; }
static inline const char *logreg_label(const logreg_model *m, size_t k) { return m->labels[k]; }
static inline long logreg_dim(const logreg_model *m) { return m->dim; }

/* Dies "prog: FILE:LINE: ..." when x's dim is not the model's, or x gave
 * no dim and has an index beyond the model's. */
void logreg_check_vector(const logreg_model *m, const sparse_vec *x, const char *file, long line);
/* One decision value per class into out[nclasses]: w_k'x + b_k in
 * scikit-learn's order of operations (decision_function). With two classes
 * scikit-learn has one value d (> 0: labels[1]); here out = {-d, d}. Dies
 * when x's dim is not the model's (check first with logreg_check_vector to
 * name the input line). */
void logreg_decision(const logreg_model *m, const sparse_vec *x, double *out);
/* Class probabilities into out[nclasses], as scikit-learn's predict_proba:
 * with two classes {1 - p, p}, p = 1 / (1 + exp(-d)); with more, for
 * one-vs-rest (liblinear) each class's sigmoid divided by their sum
 * (uniform if all are 0), for multinomial the softmax of the scores.
 * Returns 0, or -1 when a decision value is NaN (x's values so large that
 * the sum overflows: inf - inf); then out holds no probabilities. */
int logreg_proba(const logreg_model *m, const sparse_vec *x, double *out);
/* The predicted class: the first largest decision value. */
size_t logreg_predict(const logreg_model *m, const sparse_vec *x);

#endif
