/* gridsearch: choosing logreg's options by stratified k-fold cross-validation,
 * as scikit-learn's GridSearchCV does: the grid's candidates in ParameterGrid
 * order, every candidate fitted on k-1 folds and scored on the k-th, the
 * mean fold score ranked (ties share the better rank) and the first best
 * candidate chosen. Fits run on a pool of threads; results do not depend on
 * the number of threads.
 *
 * Candidates that differ only in max_iter are fitted together, in both
 * modes: one solve per subproblem serves every bound (logreg_train_multi).
 *
 * Two modes. Exact: every fit is scikit-learn's (cold start, liblinear's
 * stopping rules), so the table is GridSearchCV's to the bit. Fast (the
 * default): per fold and per setting of the options other than C and
 * class weight the candidates are solved in ascending C, each fit
 * warm-started from fits before it (gridsearch_run.c: warm_start), an L1
 * fit whose objective has stopped decreasing is ended there and marked not
 * converged, and the solvers use fast arithmetic (lib/linear/linsolve:
 * linsolve_ctl). Fast fits stop within the same tolerance of the same
 * optimum, so scores move little; the winner's refit on all rows is always
 * the exact one (the caller's).
 *
 * Grid syntax: 'KEY=V,V,...;KEY=V,...' with KEY one of C, penalty,
 * class_weight, max_iter, tol, intercept_scaling, multi_class ('-' may
 * stand for '_'); several such grids separated by '|' (gs_grid_parse).
 * An explicit class weight is a braced list: class_weight=none,balanced,
 * {negative:1.2,neutral:0.8,positive:1.2} (',', ';' and '|' inside braces
 * separate nothing). */
#ifndef PIPECLF_GRIDSEARCH_H
#define PIPECLF_GRIDSEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "logreg.h"

typedef enum gs_scoring { GS_MACRO_F1 = 0, GS_ACCURACY, GS_WEIGHTED_F1 } gs_scoring;

/* macro_f1, accuracy, weighted_f1; returns -1 for anything else */
int gs_parse_scoring(const char *s, gs_scoring *out);
const char *gs_scoring_name(gs_scoring s);

typedef struct gs_grid {
    size_t nkeys;
    char **keys;      /* the keys of all sub-grids, byte-sorted (scikit-learn's order) */
    size_t ncand;
    lr_params *cand;  /* the candidates: base options with the grid's values */
    char **text;      /* [cand * nkeys + key]: each value as canonical text;
                         NULL where the candidate's sub-grid lacks the key
                         (the candidate has the base option's value) */
} gs_grid;

/* Parses spec over the options base; dies with a usage error naming --grid.
 * 'SPEC | SPEC | ...' is a list of grids, as scikit-learn's param_grid given
 * a list of dicts ('|' inside braces does not separate): the candidates of
 * the first, then of the second, ... Within a sub-grid the candidates follow
 * itertools.product over its sorted keys: the last key changes fastest.
 * A candidate pairing options that exclude each other (lr_params_conflict)
 * is a usage error naming its sub-grid. */
void gs_grid_parse(gs_grid *g, const char *spec, const lr_params *base);
/* A one-candidate grid: base itself (cross-validation without --grid). */
void gs_grid_single(gs_grid *g, const lr_params *base);
void gs_grid_free(gs_grid *g);

/* Stratified fold of each row, in [0, k): per class the fold sizes of
 * scikit-learn's StratifiedKFold (its labels sorted and dealt round-robin,
 * classes in order of first appearance), the assignment within a class
 * shuffled by lib/core/prng (seed, stream 1). */
void gs_stratified_folds(const lr_data *d, size_t k, uint64_t seed, size_t *fold_of);
/* Reads NDJSON {"id": ID, "fold": N} lines, one per training row, and
 * writes fold_of; returns the number of folds (largest N + 1). Dies naming
 * the file and line on an unknown or repeated id, a row of d without an id or
 * without a fold, and an empty fold. */
size_t gs_read_folds(const char *path, const lr_data *d, const char *id_field, size_t *fold_of);
/* Writes the assignment as the NDJSON gs_read_folds reads, {"id": ID,
 * "fold": N} per row in input order, atomically; so that another tool
 * (scikit-learn, for a comparison) can use exactly these folds. Dies naming
 * the input line of a row without an id. */
void gs_write_folds(const char *path, const lr_data *d, const size_t *fold_of, const char *id_field);
/* Dies when some fold leaves a class without training rows or has no rows. */
void gs_check_folds(const lr_data *d, const size_t *fold_of, size_t k);

/* The score of predictions pred against truth (class indices), as
 * scikit-learn's accuracy_score and f1_score(average='macro'|'weighted'):
 * the F1 average runs over the classes present in truth or pred. */
double gs_score(gs_scoring s, const size_t *truth, const size_t *pred, size_t n, size_t nclasses);

typedef struct gs_opts {
    int jobs;     /* threads, >= 1 */
    int exact;    /* scikit-learn's fits only: no warm starts, no stall rule */
    int progress; /* a bar over the fits: progress_start's mode (0: none) */
} gs_opts;

typedef struct gs_result {
    size_t ncand, k;
    int exact;          /* the mode it ran in */
    double *score;      /* [cand * k + fold] */
    double *fit_time;   /* [cand * k + fold], seconds */
    int *hit_max_iter;  /* [cand * k + fold] */
    int *stalled;       /* [cand * k + fold]: the stall rule ended some subproblem (fast mode) */
    double *mean, *std; /* per candidate: mean and population std of the fold scores */
    double *mean_time, *std_time;
    int *rank;          /* 1 = best; ties share the smaller rank */
    size_t best;        /* the first candidate of rank 1 */
    size_t nfits;       /* distinct fits: candidates that differ only in max_iter are
                           fitted together (logreg_train_multi) and count once where
                           their fits are the same (ended before the smaller bound) */
    size_t nhit;        /* candidate-folds that stopped at max_iter */
    size_t nstalled;    /* candidate-folds ended by the stall rule (and not at max_iter) */
} gs_result;

void gs_run(const lr_data *d, const gs_grid *g, const size_t *fold_of, size_t k, gs_scoring s, const gs_opts *o,
            gs_result *r);
void gs_result_free(gs_result *r);

/* The CV table: CSV when path ends in .csv, otherwise NDJSON, one row per
 * candidate in grid order (rank, the grid's values, mean and std score,
 * fold scores, with_times: the fit times, convergence: false when some
 * fold's fit stopped at max_iter or stalled). Without the times, which vary
 * from run to run, the same inputs give the same bytes. A key that the
 * candidate's sub-grid lacks is an empty CSV field and left out of its
 * NDJSON "params" (as of gs_summary_json's best_params). Written atomically. */
void gs_write_table(const char *path, const gs_grid *g, const gs_result *r, gs_scoring s, int with_times);
/* A JSON object summing up the search (for the model's "cv"): scoring,
 * folds, candidates, the best candidate's index, options, mean, std and
 * fold scores, and the mode ("search": "fast" or "exact"); xmalloc'd. */
char *gs_summary_json(const gs_grid *g, const gs_result *r, gs_scoring s);

#endif
