/* linsolve: the two liblinear solvers behind scikit-learn's
 * LogisticRegression(solver='liblinear'), for one binary subproblem (labels
 * +1/-1, a cost C_i per row; the caller sets up one-vs-rest and the bias):
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
    size_t *colptr; /* n + 1 offsets */
    uint32_t *row;
    double *val;
} linsolve_cols;

void linsolve_cols_build(linsolve_cols *c, const linsolve_problem *p);
void linsolve_cols_free(linsolve_cols *c);

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

/* Each solver starts from w = 0, writes the n weights and returns the
 * number of iterations taken (a value >= max_iter means it stopped there
 * rather than converging, as scikit-learn reads it). tol is the already
 * scaled tolerance (linsolve_primal_tol). */
int linsolve_l2r_lr(const linsolve_problem *p, double tol, int max_iter, double *w);
int linsolve_l1r_lr(const linsolve_problem *p, const linsolve_cols *cols, double tol, int max_iter,
                    linsolve_rng *rng, double *w);

#endif
