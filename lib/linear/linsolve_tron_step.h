/* linsolve_tron_step: what the liblinear-exact TRON (linsolve_tron.c) and
 * the fast one (linsolve_tron_fast.c) share around each trial step: the
 * max_iter snapshots before it, and after it the trust-region radius
 * update, the acceptance test and the stopping tests on the reductions, as
 * liblinear's TRON::tron writes them (the same operations in the same
 * order, so the exact solver keeps its bits). Private to those two files. */
#ifndef PIPECLF_LINSOLVE_TRON_STEP_H
#define PIPECLF_LINSOLVE_TRON_STEP_H

#include "linsolve.h"

#include <math.h>
#include <string.h>

/* Before iteration iter: a run with max_iter m ends here when iter = m + 1
 * (the first time), so its snapshot takes the n weights w now. */
static inline void tron_snapshots(linsolve_ctl *ctl, int iter, const double *w, size_t n)
{
    for (size_t k = 0; ctl && k < ctl->nsnap; k++)
        if (iter == ctl->snap[k].at + 1 && !ctl->snap[k].taken) {
            memcpy(ctl->snap[k].w, w, n * sizeof *w);
            ctl->snap[k].taken = 1;
        }
}

static inline double tron_min(double a, double b) { return a < b ? a : b; }
static inline double tron_max(double a, double b) { return a > b ? a : b; }

/* the step is taken when the actual reduction is at least this much of
 * the predicted one */
#define TRON_ETA0 1e-4

/* The radius after a trial step s (norm snorm, g's inner product with it
 * gs) from f = fv to f = fnew, predicted to reduce f by prered; first: the
 * first iteration, where the radius starts no larger than the step. */
static inline double tron_radius(double delta, int first, double snorm, double gs, double fv, double fnew,
                                 double prered)
{
    const double eta1 = 0.25, eta2 = 0.75, sigma1 = 0.25, sigma2 = 0.5, sigma3 = 4;
    double actred = fv - fnew;
    if (first) delta = tron_min(delta, snorm);
    double alpha;
    if (fnew - fv - gs <= 0) alpha = sigma3;
    else alpha = tron_max(sigma1, -0.5 * (gs / (fnew - fv - gs)));
    if (actred < TRON_ETA0 * prered) delta = tron_min(tron_max(alpha, sigma1) * snorm, sigma2 * delta);
    else if (actred < eta1 * prered) delta = tron_max(sigma1 * delta, tron_min(alpha * snorm, sigma2 * delta));
    else if (actred < eta2 * prered) delta = tron_max(sigma1 * delta, tron_min(alpha * snorm, sigma3 * delta));
    else delta = tron_max(delta, tron_min(alpha * snorm, sigma3 * delta));
    return delta;
}

/* The objective or its gradient overflowed (C x class weight too large for
 * the feature values): liblinear's TRON would go on for ever, rejecting
 * NaN steps without counting them. */
static inline int tron_not_finite(double fv, double gnorm) { return !isfinite(fv) || !isfinite(gnorm); }

/* TRON's other ways out after a step: f unbounded below, or no reduction
 * left to make or to tell from rounding */
static inline int tron_done(double fv, double actred, double prered)
{
    return fv < -1.0e+32 || (fabs(actred) <= 0 && prered <= 0) ||
           (fabs(actred) <= 1.0e-12 * fabs(fv) && fabs(prered) <= 1.0e-12 * fabs(fv));
}

#endif
