/* Multinomial (softmax) logistic regression with an L2 penalty, as
 * scikit-learn's LogisticRegression(solver='lbfgs') fits it: the problem of
 * lib/linear/linsolve.h's linsolve_softmax_lr, solved by L-BFGS with scipy's
 * settings (10 correction pairs, at most 50 line-search steps, the first
 * step of length 1 / |d|, ftol 64 eps, gtol = tol on the objective divided
 * by sum C_i). The line search meets the strong Wolfe conditions with
 * scipy's constants, by Nocedal and Wright's bracketing and cubic zoom
 * rather than scipy's Moré-Thuente steps, so the iterates differ from
 * scikit-learn's and only the optimum (to the tolerance) is the same. (A
 * search for sufficient decrease alone took 44 and 99 iterations where
 * this takes 37 and 80 and scikit-learn 34 and 97: bench/RESULTS.md.) */
#include "linsolve.h"
#include "core/common.h"
#include "linsolve_vec.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LBFGS_M 10
#define LBFGS_MAXLS 50

typedef struct softmax_eval {
    const linsolve_softmax_problem *p;
    size_t nvec, N; /* weight vectors; N = n * nvec weights, column-major: x[j * nvec + v] */
    double *z;      /* per row: its nvec scores */
} softmax_eval;

/* the objective at x and its gradient into g */
static double softmax_fg(softmax_eval *e, const double *x, double *g)
{
    const linsolve_softmax_problem *p = e->p;
    size_t nvec = e->nvec, K = p->K;
    double f = 0;
    memset(g, 0, e->N * sizeof *g);
    for (size_t c = 0; c < K; c++)
        for (size_t i = p->start[c]; i < p->start[c + 1]; i++) {
            double *z = e->z;
            for (size_t v = 0; v < nvec; v++) z[v] = 0;
            for (size_t k = p->rowptr[i]; k < p->rowptr[i + 1]; k++) {
                const double *xj = x + (size_t)p->idx[k] * nvec, a = p->val[k];
                for (size_t v = 0; v < nvec; v++) z[v] += a * xj[v];
            }
            double loss;
            if (nvec == 1) {
                /* two classes: class 0's score is 0; log(1 + e^z) - [c = 1] z */
                double t = z[0], sig = t >= 0 ? 1 / (1 + exp(-t)) : exp(t) / (1 + exp(t));
                loss = (t > 0 ? t + log1p(exp(-t)) : log1p(exp(t))) - (c == 1 ? t : 0);
                z[0] = sig - (c == 1);
            } else {
                double m = z[0], sum = 0, zc_m;
                for (size_t v = 1; v < nvec; v++) m = z[v] > m ? z[v] : m;
                zc_m = z[c] - m;
                for (size_t v = 0; v < nvec; v++) sum += (z[v] = exp(z[v] - m));
                /* log sum_v exp(z_v) - z_c, shifted by the largest score */
                loss = log(sum) - zc_m;
                for (size_t v = 0; v < nvec; v++) z[v] = z[v] / sum - (v == c);
            }
            f += p->C[i] * loss;
            for (size_t k = p->rowptr[i]; k < p->rowptr[i + 1]; k++) {
                double *gj = g + (size_t)p->idx[k] * nvec, a = p->C[i] * p->val[k];
                for (size_t v = 0; v < nvec; v++) gj[v] += a * z[v];
            }
        }
    for (size_t j = 0; j < p->n; j++) {
        if ((long)j == p->bias) continue;
        for (size_t v = 0; v < nvec; v++) {
            double w = x[j * nvec + v];
            f += w * w / 2;
            g[j * nvec + v] += w;
        }
    }
    return f;
}

static double max_abs(size_t n, const double *a)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* between the interface's vector-major weights and the solver's column-major ones */
static void to_solver(const double *w, double *x, size_t n, size_t nvec)
{
    for (size_t v = 0; v < nvec; v++)
        for (size_t j = 0; j < n; j++) x[j * nvec + v] = w[v * n + j];
}

static void from_solver(const double *x, double *w, size_t n, size_t nvec)
{
    for (size_t v = 0; v < nvec; v++)
        for (size_t j = 0; j < n; j++) w[v * n + j] = x[j * nvec + v];
}

/* the objective and its slope along d at x + a d, into x_new and g_new */
static double eval_at(softmax_eval *e, const double *x, const double *d, double a, double *x_new, double *g_new,
                      double *slope)
{
    for (size_t i = 0; i < e->N; i++) x_new[i] = x[i] + a * d[i];
    double f = softmax_fg(e, x_new, g_new);
    *slope = linsolve_dot(e->N, g_new, d);
    return f;
}

/* the minimiser of the cubic through (a, fa, ga) and (b, fb, gb), or the
 * midpoint where it is not safely inside [a, b] */
static double cubic_step(double a, double fa, double ga, double b, double fb, double gb)
{
    double d1 = ga + gb - 3 * (fa - fb) / (a - b), disc = d1 * d1 - ga * gb, lo = fmin(a, b), hi = fmax(a, b);
    double mid = (a + b) / 2;
    if (!(disc >= 0)) return mid;
    double d2 = copysign(sqrt(disc), b - a);
    double t = b - (b - a) * (gb + d2 - d1) / (gb - ga + 2 * d2);
    double margin = 0.1 * (hi - lo);
    return t >= lo + margin && t <= hi - margin ? t : mid;
}

/* A step along the descent direction d (slope gd0 < 0 at x, objective f0)
 * that meets the strong Wolfe conditions with scipy's constants (sufficient
 * decrease 1e-3, curvature 0.9), by bracketing and cubic zooming (Nocedal
 * and Wright, algorithms 3.5 and 3.6), in at most LBFGS_MAXLS evaluations.
 * Leaves the point in x_new, g_new and *f_new; returns 0 when no point
 * decreased the objective enough. */
static int wolfe_search(softmax_eval *e, const double *x, const double *d, double f0, double gd0, double step,
                        double *x_new, double *g_new, double *f_new)
{
    const double c1 = 1e-3, c2 = 0.9;
    double a_lo = 0, f_lo = f0, g_lo = gd0, a_hi = 0, f_hi = 0, g_hi = 0, a = step, slope;
    int bracketed = 0;
    for (int ls = 0; ls < LBFGS_MAXLS; ls++) {
        if (bracketed) a = cubic_step(a_lo, f_lo, g_lo, a_hi, f_hi, g_hi);
        double f = eval_at(e, x, d, a, x_new, g_new, &slope);
        if (!isfinite(f) || !isfinite(slope) || f > f0 + c1 * a * gd0 || f >= f_lo) {
            /* too far: the minimiser lies between the best point and a */
            a_hi = a, f_hi = isfinite(f) ? f : HUGE_VAL, g_hi = isfinite(slope) ? slope : 0;
            if (!isfinite(f)) { /* no cubic through an overflow: shrink */
                a = a_lo + (a - a_lo) / 10;
                bracketed = 0;
                continue;
            }
            bracketed = 1;
            continue;
        }
        if (fabs(slope) <= -c2 * gd0) {
            *f_new = f;
            return 1;
        }
        if (bracketed && slope * (a_hi - a_lo) >= 0) a_hi = a_lo, f_hi = f_lo, g_hi = g_lo;
        else if (!bracketed && slope >= 0) {
            a_hi = a_lo, f_hi = f_lo, g_hi = g_lo;
            bracketed = 1;
        }
        a_lo = a, f_lo = f, g_lo = slope;
        if (!bracketed) a *= 4; /* still going down steeply: further */
    }
    if (a_lo == 0) return 0;
    /* out of evaluations: the best point, which decreased enough */
    *f_new = eval_at(e, x, d, a_lo, x_new, g_new, &slope);
    return 1;
}

int linsolve_softmax_lr(const linsolve_softmax_problem *p, double tol, int max_iter, linsolve_ctl *ctl, double *w)
{
    size_t nvec = p->K == 2 ? 1 : p->K, n = p->n, N = n * nvec, M = LBFGS_M;
    double *mem = xmalloc((6 + 2 * M) * N * sizeof *mem + (M + nvec) * sizeof *mem);
    double *x = mem, *g = x + N, *d = g + N, *x_new = d + N, *g_new = x_new + N, *q = g_new + N;
    double *S = q + N, *Y = S + M * N, *rho = Y + M * N, *z = rho + M;
    double alpha[LBFGS_M];
    softmax_eval e = {p, nvec, N, z};

    double Csum = 0;
    for (size_t i = 0; i < p->l; i++) Csum += p->C[i];
    if (ctl) {
        ctl->stalled = 0;
        for (size_t k = 0; k < ctl->nsnap; k++) ctl->snap[k].taken = 0;
    }
    if (ctl && ctl->w0) to_solver(ctl->w0, x, n, nvec);
    else memset(x, 0, N * sizeof *x);
    double f = softmax_fg(&e, x, g);
    double gmax = max_abs(N, g); /* the stopping rule's, kept up with g */
    int failed = !isfinite(f) || !isfinite(gmax), iter = 0;
    size_t npairs = 0, newest = 0;
    double gtol = tol * Csum;
    while (!failed && gmax > gtol && iter < max_iter) {
        for (size_t k = 0; ctl && k < ctl->nsnap; k++)
            if (iter == ctl->snap[k].at) {
                from_solver(x, ctl->snap[k].w, n, nvec);
                ctl->snap[k].taken = 1;
            }
        /* d = -H g by the two-loop recursion over the kept pairs, newest first */
        memcpy(q, g, N * sizeof *q);
        for (size_t t = 0; t < npairs; t++) {
            size_t at = (newest + M - t) % M;
            alpha[at] = rho[at] * linsolve_dot(N, S + at * N, q);
            for (size_t i = 0; i < N; i++) q[i] -= alpha[at] * Y[at * N + i];
        }
        double gamma = 1;
        if (npairs) {
            const double *s = S + newest * N, *y = Y + newest * N;
            gamma = linsolve_dot(N, s, y) / linsolve_dot(N, y, y);
        }
        for (size_t i = 0; i < N; i++) q[i] *= gamma;
        for (size_t t = npairs; t-- > 0;) {
            size_t at = (newest + M - t) % M;
            double beta = rho[at] * linsolve_dot(N, Y + at * N, q);
            for (size_t i = 0; i < N; i++) q[i] += (alpha[at] - beta) * S[at * N + i];
        }
        for (size_t i = 0; i < N; i++) d[i] = -q[i];
        double gd = linsolve_dot(N, g, d);
        if (!(gd < 0)) { /* rounding spoilt the direction: start again from the gradient */
            npairs = 0;
            for (size_t i = 0; i < N; i++) d[i] = -g[i];
            gd = linsolve_dot(N, g, d);
        }
        double step = iter == 0 && npairs == 0 ? fmin(1 / sqrt(linsolve_dot(N, d, d)), 1) : 1, f_new;
        int ok = wolfe_search(&e, x, d, f, gd, step, x_new, g_new, &f_new);
        if (!ok) {
            /* no step of the 50 decreases the objective enough (scipy's
             * ABNORMAL_TERMINATION_IN_LNSRCH, which scikit-learn reports as
             * not converged): say so rather than pass for converged */
            if (ctl) ctl->stalled = 1;
            break;
        }
        iter++;
        newest = npairs ? (newest + 1) % M : 0;
        double *s = S + newest * N, *y = Y + newest * N;
        for (size_t i = 0; i < N; i++) {
            s[i] = x_new[i] - x[i];
            y[i] = g_new[i] - g[i];
        }
        double sy = linsolve_dot(N, s, y);
        if (sy > DBL_EPSILON * linsolve_dot(N, y, y)) {
            rho[newest] = 1 / sy;
            if (npairs < M) npairs++;
        } else if (npairs) newest = (newest + M - 1) % M; /* not kept */
        double f_old = f;
        memcpy(x, x_new, N * sizeof *x);
        memcpy(g, g_new, N * sizeof *g);
        f = f_new;
        gmax = max_abs(N, g);
        if (!isfinite(gmax)) {
            failed = 1;
            break;
        }
        /* scipy's ftol test, on the objective over sum C_i as scikit-learn's */
        double fs_old = f_old / Csum, fs = f / Csum;
        if (fs_old - fs <= 64 * DBL_EPSILON * fmax(fmax(fabs(fs_old), fabs(fs)), 1)) break;
    }
    from_solver(x, w, n, nvec);
    free(mem);
    return failed ? -1 : iter;
}
