/* linsolve: the two liblinear solvers behind scikit-learn's
 * LogisticRegression(solver='liblinear'), for one binary subproblem (labels
 * +1/-1, a cost C_i per row; the caller sets up one-vs-rest and the bias),
 * and at the end of this file a multinomial one (solver='lbfgs'):
 *
 *   L2 (linsolve_l2r_lr):  min_w  w'w/2  + sum_i C_i log(1 + exp(-y_i w'x_i))
 *       trust-region Newton with conjugate gradients (TRON);
 *   L1 (linsolve_l1r_lr):  min_w  |w|_1  + sum_i C_i log(1 + exp(-y_i w'x_i))
 *       newGLMNET: Newton steps solved by randomised coordinate descent.
 *
 * They follow the liblinear code that scikit-learn 1.9 bundles
 * (sklearn/svm/src/liblinear: linear.cpp, tron.cpp) operation by operation:
 * the same stopping rules, the same order of every sum, the same BLAS calls
 * (OpenBLAS) for TRON's vector algebra, and for L1 the same coordinate order,
 * drawn from the Mersenne Twister and bounded-integer method scikit-learn
 * gives liblinear (sklearn/svm/src/newrand/newrand.h). Given the same rows in
 * the same order, the weights agree with scikit-learn's to rounding. */
#ifndef PIPECLF_LINSOLVE_H
#define PIPECLF_LINSOLVE_H

#include <stddef.h>
#include <stdint.h>

/* One binary problem in CSR form. Rows are in the order liblinear sees them
 * (scikit-learn's liblinear groups the rows by class, keeping input order
 * within a class); a bias column, when there is one, is each row's last
 * entry. */
typedef struct linsolve_problem {
    size_t l;              /* rows */
    size_t n;              /* variables: features (+ the bias column) */
    const size_t *rowptr;  /* l + 1 offsets into idx/val */
    const uint32_t *idx;   /* column of each entry, increasing within a row */
    const double *val;
    const double *y;       /* +1 or -1 per row */
    const double *C;       /* cost per row (class weight x C) */
} linsolve_problem;

/* The same matrix by columns, which the L1 solver walks. Row numbers within
 * a column increase. */
typedef struct linsolve_cols {
    size_t n;       /* columns */
    size_t *colptr; /* n + 1 offsets */
    uint32_t *row;
    double *val;
} linsolve_cols;

void linsolve_cols_build(linsolve_cols *c, const linsolve_problem *p);
void linsolve_cols_free(linsolve_cols *c);

/* Empties every one of the first ncols columns that equals an earlier one
 * (the same rows and values: n-grams that always occur together), setting
 * rep[j] to that earlier column (rep[j] = j for the columns kept); returns
 * how many were emptied. For L1 such columns act as one feature: the loss
 * sees only their weights' sum and the 1-norm is least with all of it on
 * one column, so the optimum's objective and predictions stay the same.
 * Coordinate descent, on the other hand, can leave identical columns with
 * weights of opposite signs, where no single-coordinate step helps and the
 * solver stalls short of its tolerance. The caller moves a warm start's
 * weights of merged columns onto rep[j]. */
size_t linsolve_cols_merge_duplicates(linsolve_cols *c, size_t ncols, size_t *rep);

/* MT19937 (std::mt19937) and scikit-learn's bounded_rand_int. */
typedef struct linsolve_rng {
    uint32_t mt[624];
    int i;
} linsolve_rng;

void linsolve_rng_seed(linsolve_rng *r, uint32_t seed);
void linsolve_rng_refill(linsolve_rng *r);

/* inline: the L1 solver draws once per coordinate visited */
static inline uint32_t linsolve_rng_next(linsolve_rng *r)
{
    if (r->i >= 624) linsolve_rng_refill(r);
    uint32_t y = r->mt[r->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* uniform in [0, range), range > 0: Lemire's multiply-and-reject, with
 * scikit-learn's computation of the rejection threshold */
static inline uint32_t linsolve_rng_below(linsolve_rng *r, uint32_t range)
{
    uint32_t x = linsolve_rng_next(r);
    uint64_t m = (uint64_t)x * (uint64_t)range;
    uint32_t l = (uint32_t)m;
    if (l < range) {
        uint32_t t = -range;
        if (t >= range) {
            t -= range;
            if (t >= range) t %= range;
        }
        while (l < t) {
            x = linsolve_rng_next(r);
            m = (uint64_t)x * (uint64_t)range;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* liblinear's tolerance for a subproblem: eps * max(min(#pos, #neg), 1) / l */
double linsolve_primal_tol(const linsolve_problem *p, double eps);

/* What a solve does beyond liblinear's; a NULL linsolve_ctl, or one with
 * only snapshots, is liblinear exactly.
 *
 * w0: a warm start, the n weights to begin at instead of 0 (the solution
 * at a neighbouring C). The stopping rule stays relative to the gradient at
 * w = 0, computed as a cold start would, so that a tolerance means the same
 * with and without a warm start (liblinear 2.x's TRON does the same).
 * newGLMNET's inner tolerance starts where a cold start would have it at
 * that point (the violation relative to w = 0's), not at 1.
 *
 * stop_stalled: L1 only. Near its optimum newGLMNET can fail to meet its
 * tolerance for good: the objective stops decreasing (by less than 1e-12 of
 * itself), the line search cannot tell a better point from rounding, and the
 * solver spins to max_iter (scikit-learn's liblinear does the same, at the
 * same cost). With this set it stops once the objective has decreased by
 * at most LINSOLVE_STALL_REL of itself over LINSOLVE_STALL_ITERS Newton
 * iterations, and sets stalled. TRON has such a rule of its own already.
 *
 * Snapshots: what the same solve with a smaller max_iter m would return.
 * The solve runs exactly as it would with m up to where that one stops (at
 * the top of the iteration loop, m iterations done): the weights there, and
 * for L1 the random state (the next subproblem starts from it), are the
 * smaller run's result. So one solve serves every max_iter of a grid, at
 * the cost of the largest alone. */
typedef struct linsolve_snap {
    int at;             /* in: m, less than the solve's max_iter */
    double *w;          /* in: room for n weights; out: the weights at m */
    linsolve_rng rng;   /* out (L1): the random state at m */
    int taken;          /* out: 1 if the solve got there; 0 if it ended sooner,
                           and then its own result is the smaller run's */
} linsolve_snap;

typedef struct linsolve_ctl {
    const double *w0;   /* in: warm start, or NULL for w = 0 */
    int stop_stalled;   /* in */
    int fast;           /* in: fast arithmetic (L1: linsolve_cdl1.c, cyclic coordinate order; L2: linsolve_l2r_lr_fast) */
    const double *cx_pos, *cx_neg; /* in (fast mode), or NULL: per column j, sum C_i x_ij over the rows
                                      with y_i = +1 and over those with y_i = -1 (linsolve_cost_col_sums) */
    int stalled;        /* out: 1 when the stall rule ended the solve */
    size_t nsnap;       /* in: snapshots to take */
    linsolve_snap *snap;
} linsolve_ctl;

#define LINSOLVE_STALL_ITERS 5
#define LINSOLVE_STALL_REL 1e-12
#define LINSOLVE_FAST_INNER 0.3

/* One OpenBLAS thread, and its idle worker threads ended: OpenBLAS starts
 * them when the program loads, and they spin for a while waiting for work
 * that never comes (the solvers' BLAS calls run on the caller's thread),
 * taking a core from the grid search's own threads. For programs that call
 * BLAS only through lib/linear/linsolve. */
void linsolve_blas_single_thread(void);

/* Per column j of cols, pos[j] = sum C_i x_ij over the rows with y_i = +1
 * and neg[j] over those with y_i = -1: what the fast solvers need of w = 0
 * (the L1 solver's sum over the negative rows, both solvers' gradient
 * there). A caller fitting many problems on the same rows can form them
 * from per-class column sums instead, once, and pass them in linsolve_ctl;
 * otherwise the solver calls this, a pass over every entry. */
void linsolve_cost_col_sums(const linsolve_problem *p, const linsolve_cols *cols, double *pos, double *neg);

/* Each solver writes the n weights and returns the number of iterations
 * taken (a value >= max_iter means it stopped there rather than
 * converging, as scikit-learn reads it), or -1 when TRON's objective or
 * gradient is not finite (C x class weight too large for the feature
 * values; liblinear spins for ever there). tol is the already scaled
 * tolerance (linsolve_primal_tol). ctl may be NULL: start from w = 0 and
 * stop by liblinear's rules only. */
int linsolve_l2r_lr(const linsolve_problem *p, double tol, int max_iter, linsolve_ctl *ctl, double *w);
/* L2 in fast mode (linsolve_tron_fast.c): preconditioned TRON on the
 * matrix by rows (p) and by columns (cols); the same stopping rule. */
int linsolve_l2r_lr_fast(const linsolve_problem *p, const linsolve_cols *cols, double tol, int max_iter,
                         linsolve_ctl *ctl, double *w);
int linsolve_l1r_lr(const linsolve_problem *p, const linsolve_cols *cols, double tol, int max_iter,
                    linsolve_rng *rng, linsolve_ctl *ctl, double *w);

/* Multinomial logistic regression with an L2 penalty (scikit-learn's
 * LogisticRegression(solver='lbfgs')): over K classes, rows grouped by
 * class (class c's rows are start[c] .. start[c + 1] - 1),
 *
 *   min_W  sum_v |W_v|^2 / 2  +  sum_i C_i (log sum_v exp(W_v'x_i) - W_{c_i}'x_i)
 *
 * with the bias column (if any) left out of the penalty, as scikit-learn
 * leaves the intercept. Two classes give one vector (class 0's score fixed
 * at 0: the binomial loss, as scikit-learn's binary fits); more, one per
 * class. By L-BFGS (linsolve_softmax.c), stopping when the largest
 * gradient entry is at most tol * sum_i C_i (scikit-learn's gtol = tol on
 * its objective, ours divided by C times the sum of the sample weights) or
 * the objective stops decreasing. w: nvec x n, vector by vector. ctl: w0
 * and snapshots as for the other solvers; stalled set when a line search
 * found no step that decreases the objective enough (short of the
 * tolerance: not converged). Returns the iterations, or -1 when the numbers
 * left double's range. */
typedef struct linsolve_softmax_problem {
    size_t l, n, K;        /* rows, columns (features + the bias column), classes */
    const size_t *start;   /* K + 1 */
    const size_t *rowptr;  /* l + 1 offsets into idx/val */
    const uint32_t *idx;
    const double *val;
    const double *C;       /* cost per row (C x the class's weight) */
    long bias;             /* the unpenalised column, or -1 */
} linsolve_softmax_problem;

int linsolve_softmax_lr(const linsolve_softmax_problem *p, double tol, int max_iter, linsolve_ctl *ctl, double *w);

#endif
