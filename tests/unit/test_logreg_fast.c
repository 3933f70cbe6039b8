/* Unit tests for the grid search's fast fits (lib/linear/logreg's lr_fit_opts,
 * lib/linear/linsolve's linsolve_ctl): warm starts and the L1 stall rule, on the
 * golden tweet features (tests/golden/logreg/tweets.jsonl.gz: 1500 rows,
 * 3 classes, scikit-learn TF-IDF; see tests/ref/logreg_ref.py).
 *
 * What must hold: a warm start from w = 0 is the cold start to the bit (the
 * stopping rule's reference is the gradient at 0 either way); a warm start
 * from the solution stops at once; a warm start from a neighbouring C's
 * solution takes fewer iterations and reaches the same optimum (objective
 * within the tolerance's reach, the same predictions); the stall rule leaves
 * every fit that converges alone (bit for bit) and ends one that cannot meet
 * its tolerance (tol 1e-12) long before max_iter, at the objective that
 * running on to max_iter reaches. And logreg_train_multi, which fits several
 * max_iter values from the largest one's solves, gives each exactly the
 * model a fit of its own gives, warm or cold, where subproblems stop before
 * a smaller max_iter and where they run into it. Fast arithmetic (L1's
 * partial sums, cheaper coordinate order, tighter inner solves; L2's
 * preconditioned conjugate gradients) stops by the same rule at the same
 * optimum, and the multi-fit follows it exactly. */
#include "check.h"
#include "core/common.h"
#include "linear/logreg.h"
#include "core/strbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TWEETS "tests/golden/logreg/tweets.jsonl.gz"

/* liblinear's objective of subproblem v of m on all rows of d: the
 * regulariser (with the bias weight) + sum C_i log(1 + exp(-y_i w'x_i)) */
static double objective(const lr_data *d, const logreg_model *m, size_t v)
{
    const lr_params *p = &m->params;
    const double *w = m->coef + v * (size_t)m->dim;
    double bias = p->fit_intercept ? m->intercept[v] / p->intercept_scaling : 0, reg = 0;
    for (long j = 0; j < m->dim; j++) reg += p->penalty == LR_L1 ? fabs(w[j]) : w[j] * w[j] / 2;
    reg += p->penalty == LR_L1 ? fabs(bias) : bias * bias / 2;
    size_t pos = m->nclasses == 2 ? 1 : v;
    double loss = 0;
    for (size_t i = 0; i < d->n; i++) {
        double z = m->intercept[v];
        for (size_t k = d->rowptr[i]; k < d->rowptr[i + 1]; k++) z += w[d->idx[k]] * d->val[k];
        int is_pos = d->cls[i] == pos;
        double C = p->C * (is_pos ? m->class_weight[pos] : m->nclasses == 2 ? m->class_weight[0] : 1);
        double yz = is_pos ? z : -z;
        loss += C * (yz >= 0 ? log1p(exp(-yz)) : -yz + log1p(exp(yz)));
    }
    return reg + loss;
}

static double max_rel_objective_diff(const lr_data *d, const logreg_model *a, const logreg_model *b)
{
    double worst = 0;
    for (size_t v = 0; v < a->nvec; v++) {
        double fa = objective(d, a, v), fb = objective(d, b, v);
        double rel = fabs(fa - fb) / fabs(fa);
        if (rel > worst) worst = rel;
    }
    return worst;
}

static int same_model(const logreg_model *a, const logreg_model *b)
{
    if (a->nvec != b->nvec || a->dim != b->dim) return 0;
    return memcmp(a->coef, b->coef, a->nvec * (size_t)a->dim * sizeof *a->coef) == 0 &&
           memcmp(a->intercept, b->intercept, a->nvec * sizeof *a->intercept) == 0 &&
           memcmp(a->n_iter, b->n_iter, a->nvec * sizeof *a->n_iter) == 0;
}

static int total_iter(const logreg_model *m)
{
    int t = 0;
    for (size_t v = 0; v < m->nvec; v++) t += m->n_iter[v];
    return t;
}

static size_t agreeing_predictions(const lr_data *d, const logreg_model *a, const logreg_model *b)
{
    size_t agree = 0;
    for (size_t i = 0; i < d->n; i++) {
        size_t s = d->rowptr[i];
        sparse_vec x = {d->rowptr[i + 1] - s, 0, d->idx + s, d->val + s, d->dim};
        agree += logreg_predict(a, &x) == logreg_predict(b, &x);
    }
    return agree;
}

/* a model of m's shape with every weight 0 */
static logreg_model *zero_like(const logreg_model *m)
{
    logreg_model *z = xcalloc(1, sizeof *z);
    z->nclasses = m->nclasses;
    z->labels = xmalloc(m->nclasses * sizeof *z->labels);
    for (size_t c = 0; c < m->nclasses; c++) z->labels[c] = xstrdup(m->labels[c]);
    z->dim = m->dim;
    z->nvec = m->nvec;
    lr_params_copy(&z->params, &m->params);
    z->coef = xcalloc(m->nvec * (size_t)m->dim, sizeof *z->coef);
    z->intercept = xcalloc(m->nvec, sizeof *z->intercept);
    return z;
}

static void params(lr_params *p, lr_penalty pen, double C, lr_cw_kind cw)
{
    lr_params_default(p);
    p->penalty = pen;
    p->C = C;
    p->cw_kind = cw;
    p->max_iter = 1000;
    p->seed = 209652396; /* scikit-learn's liblinear seed for random_state=0 */
}

static void test_zero_warm_start_is_cold(const lr_data *d)
{
    for (int pen = 0; pen < 2; pen++) {
        lr_params p;
        params(&p, pen ? LR_L1 : LR_L2, 2, LR_CW_BALANCED);
        logreg_model *cold = logreg_train(d, NULL, 0, &p), *zero = zero_like(cold);
        lr_fit_opts o = {.warm = zero};
        logreg_model *warm = logreg_train_opts(d, NULL, 0, &p, &o);
        char name[128];
        snprintf(name, sizeof name, "%s: a warm start from w = 0 is the cold start, bit for bit (iterations %d)",
                 pen ? "l1" : "l2", total_iter(cold));
        CHECK(name, same_model(cold, warm));
        logreg_free(cold);
        logreg_free(zero);
        logreg_free(warm);
        lr_params_free(&p);
    }
}

static void test_stall_rule_leaves_converging_fits_alone(const lr_data *d)
{
    static const double Cs[] = {0.1, 1, 8};
    int same = 0, n = 0;
    for (int pen = 0; pen < 2; pen++)
        for (size_t c = 0; c < sizeof Cs / sizeof Cs[0]; c++) {
            lr_params p;
            params(&p, pen ? LR_L1 : LR_L2, Cs[c], LR_CW_NONE);
            logreg_model *a = logreg_train(d, NULL, 0, &p);
            lr_fit_opts o = {.stop_stalled = 1};
            logreg_model *b = logreg_train_opts(d, NULL, 0, &p, &o);
            same += same_model(a, b) && b->nstalled == 0;
            n++;
            logreg_free(a);
            logreg_free(b);
            lr_params_free(&p);
        }
    CHECK("stall rule: fits that converge (l1, l2; C 0.1, 1, 8) are liblinear's, bit for bit", same == n);
}

static void test_warm_start_from_solution(const lr_data *d)
{
    lr_params p;
    params(&p, LR_L2, 1, LR_CW_NONE);
    logreg_model *m = logreg_train(d, NULL, 0, &p);
    lr_fit_opts o = {.warm = m};
    logreg_model *again = logreg_train_opts(d, NULL, 0, &p, &o);
    CHECK("l2: a warm start from the solution stops at once, weights unchanged",
          total_iter(again) == 0 && memcmp(again->coef, m->coef, m->nvec * (size_t)m->dim * sizeof *m->coef) == 0);
    logreg_free(m);
    logreg_free(again);
    lr_params_free(&p);

    params(&p, LR_L1, 1, LR_CW_NONE);
    m = logreg_train(d, NULL, 0, &p);
    o.warm = m;
    again = logreg_train_opts(d, NULL, 0, &p, &o);
    char name[160];
    snprintf(name, sizeof name, "l1: a warm start from the solution takes %d iterations (cold: %d), objective unchanged",
             total_iter(again), total_iter(m));
    CHECK(name, total_iter(again) <= 3 * (int)m->nvec && max_rel_objective_diff(d, m, again) < 1e-6);
    logreg_free(m);
    logreg_free(again);
    lr_params_free(&p);
}

/* C 2 from C 0.5's solution against C 2 from scratch */
static void test_warm_start_along_C(const lr_data *d)
{
    for (int pen = 0; pen < 2; pen++) {
        lr_params lo, hi;
        params(&lo, pen ? LR_L1 : LR_L2, 0.5, LR_CW_BALANCED);
        params(&hi, pen ? LR_L1 : LR_L2, 2, LR_CW_BALANCED);
        logreg_model *prev = logreg_train(d, NULL, 0, &lo), *cold = logreg_train(d, NULL, 0, &hi);
        lr_fit_opts o = {.warm = prev, .stop_stalled = 1};
        logreg_model *warm = logreg_train_opts(d, NULL, 0, &hi, &o);
        double rel = max_rel_objective_diff(d, cold, warm);
        size_t agree = agreeing_predictions(d, cold, warm);
        char name[200];
        snprintf(name, sizeof name, "%s: C 2 warm-started from C 0.5: %d iterations (cold %d)", pen ? "l1" : "l2",
                 total_iter(warm), total_iter(cold));
        CHECK(name, total_iter(warm) < total_iter(cold) && warm->nstalled == 0);
        /* both stop within tol 1e-4 of the optimum: the objectives differ far less */
        snprintf(name, sizeof name, "%s: the same optimum: objective within 1e-5 relative (%.2g), "
                 "%zu/%zu predictions the same (>= 99.5%%)", pen ? "l1" : "l2", rel, agree, d->n);
        CHECK(name, rel < 1e-5 && (double)agree >= 0.995 * (double)d->n);
        logreg_free(prev);
        logreg_free(cold);
        logreg_free(warm);
        lr_params_free(&lo);
        lr_params_free(&hi);
    }
}

/* tried, a fit from a grid search's warm start, against cold (scikit-learn's
 * fit) and plain (the same options started from a single earlier fit):
 * fewer Newton steps than plain, no bound or stall hit, and the same
 * optimum as cold (objective within 1e-5 relative, >= 99.5% of the
 * predictions the same) */
static void check_better_start(const lr_data *d, const char *what, const logreg_model *cold,
                               const logreg_model *plain, const logreg_model *tried)
{
    double rel = max_rel_objective_diff(d, cold, tried);
    size_t agree = agreeing_predictions(d, cold, tried);
    char name[300];
    snprintf(name, sizeof name, "%s: %d iterations (%d otherwise); objective within 1e-5 of the cold fit's (%.2g), "
             "%zu/%zu predictions the same", what, total_iter(tried), total_iter(plain), rel, agree, d->n);
    CHECK(name, total_iter(tried) < total_iter(plain) && !logreg_hit_max_iter(tried) && tried->nstalled == 0 &&
          rel < 1e-5 && (double)agree >= 0.995 * (double)d->n);
}

/* L2, fast: C 4 started on the line through the fits at C 1 and 2 (in log
 * C) against C 4 started at C 2's fit: the same optimum, in fewer Newton
 * steps, as the grid search's L2 chains take it */
static void test_extrapolated_warm_start(const lr_data *d)
{
    lr_params p1, p2, p4;
    params(&p1, LR_L2, 1, LR_CW_BALANCED);
    params(&p2, LR_L2, 2, LR_CW_BALANCED);
    params(&p4, LR_L2, 4, LR_CW_BALANCED);
    lr_fit_opts o = {.stop_stalled = 1, .fast = 1};
    logreg_model *m1 = logreg_train_opts(d, NULL, 0, &p1, &o), *m2 = logreg_train_opts(d, NULL, 0, &p2, &o);
    logreg_model *cold = logreg_train(d, NULL, 0, &p4);
    o.warm = m2;
    logreg_model *warm = logreg_train_opts(d, NULL, 0, &p4, &o);
    /* on the line in log C: m2 + (m2 - m1) (log 4 - log 2) / (log 2 - log 1) */
    o.shift[0] = m2;
    o.shift_coef[0] = 1;
    o.shift[1] = m1;
    o.shift_coef[1] = -1;
    logreg_model *line = logreg_train_opts(d, NULL, 0, &p4, &o);
    check_better_start(d, "l2 fast: C 4 started on the line through C 1 and 2 (otherwise: from C 2's fit)", cold, warm,
                       line);
    logreg_free(m1);
    logreg_free(m2);
    logreg_free(cold);
    logreg_free(warm);
    logreg_free(line);
    lr_params_free(&p1);
    lr_params_free(&p2);
    lr_params_free(&p4);
}

/* Fast, both penalties: C 2 balanced started from C 2 unweighted's fit
 * moved by balanced minus unweighted at C 1 (how the grid search starts a
 * class weight other than its first) against C 2 balanced started from its
 * own fit at C 1: the same optimum, in fewer Newton steps */
static void test_shifted_warm_start(const lr_data *d)
{
    for (int pen = 0; pen < 2; pen++) {
        lr_params n1, n2, b1, b2;
        lr_penalty pl = pen ? LR_L1 : LR_L2;
        params(&n1, pl, 1, LR_CW_NONE);
        params(&n2, pl, 2, LR_CW_NONE);
        params(&b1, pl, 1, LR_CW_BALANCED);
        params(&b2, pl, 2, LR_CW_BALANCED);
        lr_fit_opts o = {.stop_stalled = 1, .fast = 1};
        logreg_model *mn1 = logreg_train_opts(d, NULL, 0, &n1, &o), *mb1 = logreg_train_opts(d, NULL, 0, &b1, &o);
        logreg_model *cold = logreg_train(d, NULL, 0, &b2);
        o.warm = mn1;
        logreg_model *mn2 = logreg_train_opts(d, NULL, 0, &n2, &o);
        o.warm = mb1;
        logreg_model *own = logreg_train_opts(d, NULL, 0, &b2, &o);
        o.warm = mn2;
        o.shift[0] = mb1;
        o.shift_coef[0] = 1;
        o.shift[1] = mn1;
        o.shift_coef[1] = -1;
        logreg_model *moved = logreg_train_opts(d, NULL, 0, &b2, &o);
        char what[160];
        snprintf(what, sizeof what, "%s fast: C 2 balanced started from C 2 none + (balanced - none at C 1) "
                 "(otherwise: from its own C 1 fit)", pen ? "l1" : "l2");
        check_better_start(d, what, cold, own, moved);
        logreg_free(mn1);
        logreg_free(mn2);
        logreg_free(mb1);
        logreg_free(cold);
        logreg_free(own);
        logreg_free(moved);
        lr_params_free(&n1);
        lr_params_free(&n2);
        lr_params_free(&b1);
        lr_params_free(&b2);
    }
}

/* tol 1e-12 is out of double precision's reach for newGLMNET here: liblinear
 * runs every subproblem to max_iter; the stall rule ends them early */
static void test_stall_rule_ends_hopeless_fits(const lr_data *d)
{
    lr_params p;
    params(&p, LR_L1, 8, LR_CW_NONE);
    p.tol = 1e-12;
    p.max_iter = 60;
    logreg_model *exact = logreg_train(d, NULL, 0, &p);
    lr_fit_opts o = {.stop_stalled = 1};
    logreg_model *fast = logreg_train_opts(d, NULL, 0, &p, &o);
    CHECK("tol 1e-12, l1: liblinear runs every subproblem to max_iter 60", logreg_hit_max_iter(exact) &&
          exact->n_iter[0] == 60 && exact->n_iter[1] == 60 && exact->n_iter[2] == 60);
    char name[200];
    snprintf(name, sizeof name, "tol 1e-12, l1: the stall rule ends all 3 early (iterations %d,%d,%d)",
             fast->n_iter[0], fast->n_iter[1], fast->n_iter[2]);
    CHECK(name, fast->nstalled == 3 && !logreg_hit_max_iter(fast) && total_iter(fast) < 2 * 60);
    double rel = max_rel_objective_diff(d, exact, fast);
    size_t agree = agreeing_predictions(d, exact, fast);
    snprintf(name, sizeof name, "tol 1e-12, l1: where it stopped, the objective is max_iter's to %.2g relative "
             "(< 1e-12); %zu/%zu predictions the same", rel, agree, d->n);
    CHECK(name, rel < 1e-12 && (double)agree >= 0.995 * (double)d->n);
    logreg_free(exact);
    logreg_free(fast);
    lr_params_free(&p);
}

/* each max_iter of the multi-fit against a fit of its own */
static void check_multi(const lr_data *d, const lr_params *base, const lr_fit_opts *o, const long *maxs, size_t nm,
                        const char *what)
{
    logreg_model *multi[8];
    logreg_train_multi(d, NULL, 0, base, o, maxs, nm, multi);
    int same = 1;
    strbuf iters = {0};
    char num[32];
    for (size_t i = 0; i < nm; i++) {
        lr_params p;
        lr_params_copy(&p, base);
        p.max_iter = maxs[i];
        logreg_model *own = logreg_train_opts(d, NULL, 0, &p, o);
        same &= same_model(own, multi[i]) && own->nstalled == multi[i]->nstalled && multi[i]->params.max_iter == maxs[i];
        for (size_t v = 0; v < own->nvec; v++) {
            snprintf(num, sizeof num, "%s%d", v ? "," : i ? " " : "", own->n_iter[v]);
            sb_adds(&iters, num);
        }
        logreg_free(own);
        logreg_free(multi[i]);
        lr_params_free(&p);
    }
    char name[300];
    snprintf(name, sizeof name, "%s: one multi-fit = separate fits, bit for bit (iterations %s)", what, sb_str(&iters));
    CHECK(name, same);
    sb_free(&iters);
}

static void test_multi_max_iter(const lr_data *d)
{
    lr_params p;
    params(&p, LR_L1, 2, LR_CW_BALANCED);
    static const long l1[] = {30, 16, 14, 12, 3};
    check_multi(d, &p, NULL, l1, 5, "l1 max_iter 30,16,14,12,3");
    lr_params lo;
    params(&lo, LR_L1, 0.5, LR_CW_BALANCED);
    logreg_model *prev = logreg_train(d, NULL, 0, &lo);
    lr_fit_opts o = {.warm = prev, .stop_stalled = 1};
    static const long l1w[] = {40, 13, 11, 2};
    check_multi(d, &p, &o, l1w, 4, "l1 warm, stall rule, max_iter 40,13,11,2");
    logreg_free(prev);
    lr_params_free(&lo);
    p.tol = 1e-12; /* every subproblem stalls (fast) or runs to max_iter */
    static const long st[] = {60, 45, 20};
    o.warm = NULL;
    check_multi(d, &p, &o, st, 3, "l1 tol 1e-12, stall rule, max_iter 60,45,20");
    check_multi(d, &p, NULL, st, 3, "l1 tol 1e-12, max_iter 60,45,20");
    lr_params_free(&p);
    params(&p, LR_L2, 8, LR_CW_NONE);
    static const long l2[] = {9, 6, 5, 2};
    check_multi(d, &p, NULL, l2, 4, "l2 max_iter 9,6,5,2");
    lr_params_free(&p);
}

/* Fast arithmetic (lr_fit_opts.fast: partial sums, another coordinate
 * order, inner problems solved relative to the current violation) against
 * liblinear's: the same stopping rule, so the same optimum to within the
 * tolerance's reach. */
static void test_fast_arithmetic(const lr_data *d)
{
    static const double Cs[] = {0.1, 1, 8};
    static const lr_cw_kind cws[] = {LR_CW_NONE, LR_CW_BALANCED};
    static const lr_penalty pens[] = {LR_L1, LR_L2};
    for (size_t q = 0; q < 2; q++)
        for (size_t c = 0; c < sizeof Cs / sizeof Cs[0]; c++)
            for (size_t k = 0; k < 2; k++) {
                lr_params p;
                params(&p, pens[q], Cs[c], cws[k]);
                logreg_model *exact = logreg_train(d, NULL, 0, &p);
                lr_fit_opts o = {.stop_stalled = 1, .fast = 1};
                logreg_model *fast = logreg_train_opts(d, NULL, 0, &p, &o);
                double rel = max_rel_objective_diff(d, exact, fast);
                size_t agree = agreeing_predictions(d, exact, fast);
                char name[240];
                snprintf(name, sizeof name, "%s C %g %s, fast arithmetic: iterations %d (liblinear's %d), objective "
                         "within 1e-5 relative (%.2g), %zu/%zu predictions the same (>= 99.5%%)",
                         q ? "l2" : "l1", Cs[c], k ? "balanced" : "none", total_iter(fast), total_iter(exact), rel,
                         agree, d->n);
                CHECK(name, !logreg_hit_max_iter(fast) && fast->nstalled == 0 && rel < 1e-5 &&
                      (double)agree >= 0.995 * (double)d->n);
                logreg_free(exact);
                logreg_free(fast);
                lr_params_free(&p);
            }
    /* the snapshots of the multi-fit follow the fast solve as well */
    lr_params p, lo;
    params(&p, LR_L1, 2, LR_CW_BALANCED);
    params(&lo, LR_L1, 0.5, LR_CW_BALANCED);
    lr_fit_opts cold = {.stop_stalled = 1, .fast = 1};
    logreg_model *prev = logreg_train_opts(d, NULL, 0, &lo, &cold);
    lr_fit_opts warm = {.warm = prev, .stop_stalled = 1, .fast = 1};
    static const long maxs[] = {30, 5, 3, 2};
    check_multi(d, &p, &cold, maxs, 4, "l1 fast arithmetic, max_iter 30,5,3,2");
    check_multi(d, &p, &warm, maxs, 4, "l1 fast arithmetic, warm, max_iter 30,5,3,2");
    logreg_free(prev);
    lr_params_free(&p);
    lr_params_free(&lo);
    /* and those of the fast L2 solver (preconditioned TRON) */
    params(&p, LR_L2, 8, LR_CW_BALANCED);
    params(&lo, LR_L2, 1, LR_CW_BALANCED);
    prev = logreg_train_opts(d, NULL, 0, &lo, &cold);
    warm.warm = prev;
    static const long l2_maxs[] = {30, 3, 2, 1};
    check_multi(d, &p, &cold, l2_maxs, 4, "l2 fast arithmetic, max_iter 30,3,2,1");
    check_multi(d, &p, &warm, l2_maxs, 4, "l2 fast arithmetic, warm, max_iter 30,3,2,1");
    logreg_free(prev);
    lr_params_free(&p);
    lr_params_free(&lo);
}

/* A layout of the rows made once (as the grid search makes one per chain of
 * fits) gives every fit of the chain what a fit laying out its own gives,
 * bit for bit, though each fit writes its labels and costs into it. */
static void test_shared_layout(const lr_data *d)
{
    static const double Cs[] = {0.1, 1, 8};
    static const lr_penalty pens[] = {LR_L1, LR_L2};
    for (size_t q = 0; q < 2; q++)
        for (int fast = 0; fast < 2; fast++) {
            lr_params p;
            params(&p, pens[q], Cs[0], LR_CW_BALANCED);
            lr_layout *layout = logreg_layout_new(d, NULL, 0, &p, fast);
            int same = 1;
            for (size_t c = 0; c < sizeof Cs / sizeof Cs[0]; c++) {
                p.C = Cs[c];
                lr_fit_opts own = {.stop_stalled = fast, .fast = fast};
                lr_fit_opts shared = own;
                shared.layout = layout;
                logreg_model *a = logreg_train_opts(d, NULL, 0, &p, &own);
                logreg_model *b = logreg_train_opts(d, NULL, 0, &p, &shared);
                same &= same_model(a, b);
                logreg_free(a);
                logreg_free(b);
            }
            char name[160];
            snprintf(name, sizeof name, "%s %s: fits on one shared layout = fits on their own, bit for bit (C 0.1, 1, 8)",
                     q ? "l2" : "l1", fast ? "fast" : "exact");
            CHECK(name, same);
            logreg_layout_free(layout);
            lr_params_free(&p);
        }
}

int main(void)
{
    prog_init("test_logreg_fast");
    char tmp[] = "/tmp/logreg-fast.XXXXXX";
    if (!mkdtemp(tmp)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    char path[128], cmd[300];
    snprintf(path, sizeof path, "%s/tweets.jsonl", tmp);
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s'", TWEETS, path);
    int ok = system(cmd) == 0;
    CHECK("golden tweet features readable", ok);
    if (!ok) return check_exit();
    lr_data d;
    lr_data_read(&d, path, "x", "label", "id");

    test_zero_warm_start_is_cold(&d);
    test_stall_rule_leaves_converging_fits_alone(&d);
    test_warm_start_from_solution(&d);
    test_warm_start_along_C(&d);
    test_stall_rule_ends_hopeless_fits(&d);
    test_multi_max_iter(&d);
    test_shared_layout(&d);
    test_extrapolated_warm_start(&d);
    test_shifted_warm_start(&d);
    test_fast_arithmetic(&d);

    lr_data_free(&d);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("FAIL cannot remove %s\n", tmp);
    return check_exit();
}
