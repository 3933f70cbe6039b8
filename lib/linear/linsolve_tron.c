/* L2-regularised logistic regression by trust-region Newton (TRON), as in
 * liblinear's l2r_lr_fun and TRON::tron/trcg (the version scikit-learn 1.9
 * bundles: no preconditioner, CG stopped at 0.1 |g|). Every sum runs in
 * liblinear's order and the vector algebra goes through the same BLAS level-1
 * routines, so the iterates match scikit-learn's to rounding. */
#include "linsolve.h"
#include "core/common.h"
#include "linsolve_tron_step.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Level-1 BLAS on long vectors may split work over OpenBLAS's own threads,
 * which changes the order of the sums; one thread keeps results identical
 * for any --jobs (our parallelism is across fits). */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

/* OpenBLAS's own: ends its worker threads (it starts them again if a call
 * ever asks for more than one). Weak: OpenBLAS builds without threads
 * (Debian's -serial variant) have none to end. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void linsolve_blas_single_thread(void)
{
    pthread_once(&blas_once, blas_single_thread);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

typedef struct lr_fun {
    const linsolve_problem *p;
    double *z; /* X w, then the gradient's per-row factor */
    double *D; /* sigma (1 - sigma) per row, the Hessian's diagonal */
} lr_fun;

static void Xv(const linsolve_problem *p, const double *v, double *out)
{
    for (size_t i = 0; i < p->l; i++) {
        double s = 0;
        for (size_t k = p->rowptr[i]; k < p->rowptr[i + 1]; k++) s += v[p->idx[k]] * p->val[k];
        out[i] = s;
    }
}

static double fun(lr_fun *f, const double *w)
{
    const linsolve_problem *p = f->p;
    double v = 0;
    Xv(p, w, f->z);
    for (size_t j = 0; j < p->n; j++) v += w[j] * w[j];
    v /= 2.0;
    for (size_t i = 0; i < p->l; i++) {
        double yz = p->y[i] * f->z[i];
        if (yz >= 0) v += p->C[i] * log(1 + exp(-yz));
        else v += p->C[i] * (-yz + log(1 + exp(yz)));
    }
    return v;
}

/* needs z = X w from the fun() call at the same w */
static void grad(lr_fun *f, const double *w, double *g)
{
    const linsolve_problem *p = f->p;
    double *z = f->z, *D = f->D;
    for (size_t i = 0; i < p->l; i++) {
        z[i] = 1 / (1 + exp(-p->y[i] * z[i]));
        D[i] = z[i] * (1 - z[i]);
        z[i] = p->C[i] * (z[i] - 1) * p->y[i];
    }
    memset(g, 0, p->n * sizeof *g);
    for (size_t i = 0; i < p->l; i++)
        for (size_t k = p->rowptr[i]; k < p->rowptr[i + 1]; k++) g[p->idx[k]] += z[i] * p->val[k];
    for (size_t j = 0; j < p->n; j++) g[j] = w[j] + g[j];
}

/* Hs = s + X' diag(C D) X s in one pass over the rows (liblinear makes two,
 * Xv then X'v; each Hs[j] still adds its terms in row order, so the result
 * is the same to the bit). */
static void Hv(lr_fun *f, const double *s, double *Hs)
{
    const linsolve_problem *p = f->p;
    memset(Hs, 0, p->n * sizeof *Hs);
    for (size_t i = 0; i < p->l; i++) {
        size_t a = p->rowptr[i], b = p->rowptr[i + 1];
        double t = 0;
        for (size_t k = a; k < b; k++) t += s[p->idx[k]] * p->val[k];
        t = p->C[i] * f->D[i] * t;
        for (size_t k = a; k < b; k++) Hs[p->idx[k]] += t * p->val[k];
    }
    for (size_t j = 0; j < p->n; j++) Hs[j] = s[j] + Hs[j];
}

/* Conjugate gradients on H s = -g inside the trust region |s| <= delta;
 * leaves the residual in r. Returns the CG iterations, or -1 when the
 * numbers left double's range. */
static int trcg(lr_fun *f, int n, double delta, const double *g, double *s, double *r, double *d, double *Hd)
{
    for (int i = 0; i < n; i++) {
        s[i] = 0;
        r[i] = -g[i];
        d[i] = r[i];
    }
    double cgtol = 0.1 * cblas_dnrm2(n, g, 1);
    int cg_iter = 0;
    double rTr = cblas_ddot(n, r, 1, r, 1);
    for (;;) {
        if (cblas_dnrm2(n, r, 1) <= cgtol) break;
        cg_iter++;
        Hv(f, d, Hd);
        double alpha = rTr / cblas_ddot(n, d, 1, Hd, 1);
        if (!isfinite(alpha)) return -1; /* r'r or d'Hd out of double's range */
        cblas_daxpy(n, alpha, d, 1, s, 1);
        if (cblas_dnrm2(n, s, 1) > delta) {
            /* step back and go to the boundary along d */
            alpha = -alpha;
            cblas_daxpy(n, alpha, d, 1, s, 1);
            double std = cblas_ddot(n, s, 1, d, 1);
            double sts = cblas_ddot(n, s, 1, s, 1);
            double dtd = cblas_ddot(n, d, 1, d, 1);
            double dsq = delta * delta;
            double rad = sqrt(std * std + dtd * (dsq - sts));
            if (std >= 0) alpha = (dsq - sts) / (std + rad);
            else alpha = (rad - std) / dtd;
            cblas_daxpy(n, alpha, d, 1, s, 1);
            alpha = -alpha;
            cblas_daxpy(n, alpha, Hd, 1, r, 1);
            break;
        }
        alpha = -alpha;
        cblas_daxpy(n, alpha, Hd, 1, r, 1);
        double rnewTrnew = cblas_ddot(n, r, 1, r, 1);
        double beta = rnewTrnew / rTr;
        cblas_dscal(n, beta, d, 1);
        cblas_daxpy(n, 1.0, r, 1, d, 1);
        rTr = rnewTrnew;
    }
    return cg_iter;
}


int linsolve_l2r_lr(const linsolve_problem *p, double tol, int max_iter, linsolve_ctl *ctl, double *w)
{
    pthread_once(&blas_once, blas_single_thread);
    int n = (int)p->n;
    double *mem = xmalloc(((size_t)6 * p->n + 2 * p->l) * sizeof(double));
    double *s = mem, *r = s + n, *w_new = r + n, *g = w_new + n, *d = g + n, *Hd = d + n;
    lr_fun f = {p, Hd + n, Hd + n + p->l};

    memset(w, 0, p->n * sizeof *w);
    double fv = fun(&f, w);
    grad(&f, w, g);
    double delta = cblas_dnrm2(n, g, 1);
    double gnorm1 = delta, gnorm = gnorm1;
    int failed = tron_not_finite(fv, gnorm1);
    if (ctl) {
        ctl->stalled = 0;
        for (size_t k = 0; k < ctl->nsnap; k++) ctl->snap[k].taken = 0;
    }
    if (ctl && ctl->w0) {
        /* warm start: the tolerance stays relative to |g(0)| */
        memcpy(w, ctl->w0, p->n * sizeof *w);
        fv = fun(&f, w);
        grad(&f, w, g);
        delta = gnorm = cblas_dnrm2(n, g, 1);
        failed |= tron_not_finite(fv, gnorm);
    }
    int search = !failed && !(gnorm <= tol * gnorm1);
    int iter = 1;
    while (iter <= max_iter && search) {
        tron_snapshots(ctl, iter, w, p->n);
        if ((failed = trcg(&f, n, delta, g, s, r, d, Hd) < 0)) break;
        memcpy(w_new, w, p->n * sizeof *w);
        cblas_daxpy(n, 1.0, s, 1, w_new, 1);
        double gs = cblas_ddot(n, g, 1, s, 1);
        double prered = -0.5 * (gs - cblas_ddot(n, s, 1, r, 1));
        double fnew = fun(&f, w_new);
        if ((failed = isnan(fnew) || isnan(prered))) break;
        double actred = fv - fnew;
        double snorm = cblas_dnrm2(n, s, 1);
        delta = tron_radius(delta, iter == 1, snorm, gs, fv, fnew, prered);
        if (actred > TRON_ETA0 * prered) {
            iter++;
            memcpy(w, w_new, p->n * sizeof *w);
            fv = fnew;
            grad(&f, w, g);
            gnorm = cblas_dnrm2(n, g, 1);
            if ((failed = tron_not_finite(fv, gnorm))) break;
            if (gnorm <= tol * gnorm1) break;
        }
        if (tron_done(fv, actred, prered)) break;
    }
    free(mem);
    return failed ? -1 : iter - 1;
}
