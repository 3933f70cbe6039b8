/* L1-regularised logistic regression by newGLMNET (Yuan, Ho and Lin 2012),
 * as in liblinear's solve_l1r_lr: each outer (Newton) iteration builds a
 * quadratic model of the loss and minimises model + |w|_1 by coordinate
 * descent over the features in random order, with shrinking of features
 * that are zero and look like staying zero; then a backtracking line search.
 * Written after the copy scikit-learn 1.9 bundles, step for step: the random
 * order comes from linsolve_rng, so the same seed visits coordinates in the
 * same order as scikit-learn's liblinear does. */
#include "linsolve.h"
#include "core/common.h"
#include "core/vmath_d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void linsolve_cols_build(linsolve_cols *c, const linsolve_problem *p)
{
    size_t nnz = p->rowptr[p->l];
    c->n = p->n;
    c->colptr = xcalloc(p->n + 1, sizeof *c->colptr);
    c->row = xmalloc(nnz * sizeof *c->row);
    c->val = xmalloc(nnz * sizeof *c->val);
    for (size_t k = 0; k < nnz; k++) c->colptr[p->idx[k] + 1]++;
    for (size_t j = 0; j < p->n; j++) c->colptr[j + 1] += c->colptr[j];
    size_t *next = xmalloc(p->n * sizeof *next);
    memcpy(next, c->colptr, p->n * sizeof *next);
    for (size_t i = 0; i < p->l; i++)
        for (size_t k = p->rowptr[i]; k < p->rowptr[i + 1]; k++) {
            size_t at = next[p->idx[k]]++;
            c->row[at] = (uint32_t)i;
            c->val[at] = p->val[k];
        }
    free(next);
}

/* FNV-1a over a column's rows and value bits */
static uint64_t col_hash(const linsolve_cols *c, size_t j)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t k = c->colptr[j]; k < c->colptr[j + 1]; k++) {
        uint64_t bits;
        memcpy(&bits, &c->val[k], sizeof bits);
        h = (h ^ c->row[k]) * 1099511628211ULL;
        h = (h ^ bits) * 1099511628211ULL;
    }
    return h;
}

static int same_col(const linsolve_cols *c, size_t a, size_t b)
{
    size_t na = c->colptr[a + 1] - c->colptr[a];
    if (na != c->colptr[b + 1] - c->colptr[b]) return 0;
    return memcmp(c->row + c->colptr[a], c->row + c->colptr[b], na * sizeof *c->row) == 0 &&
           memcmp(c->val + c->colptr[a], c->val + c->colptr[b], na * sizeof *c->val) == 0;
}

typedef struct hashed_col {
    uint64_t h;
    size_t j;
} hashed_col;

static int cmp_hashed_col(const void *a, const void *b)
{
    const hashed_col *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

size_t linsolve_cols_merge_duplicates(linsolve_cols *c, size_t ncols, size_t *rep)
{
    hashed_col *hc = xmalloc((ncols ? ncols : 1) * sizeof *hc);
    size_t nonempty = 0;
    for (size_t j = 0; j < ncols; j++) {
        rep[j] = j;
        if (c->colptr[j + 1] > c->colptr[j]) hc[nonempty++] = (hashed_col){col_hash(c, j), j};
    }
    qsort(hc, nonempty, sizeof *hc, cmp_hashed_col);
    size_t merged = 0;
    /* within a run of equal hashes (columns in increasing order), each
     * column joins the first earlier one it equals */
    for (size_t a = 0; a < nonempty;) {
        size_t b = a + 1;
        while (b < nonempty && hc[b].h == hc[a].h) b++;
        for (size_t x = a + 1; x < b; x++)
            for (size_t y = a; y < x; y++)
                if (rep[hc[y].j] == hc[y].j && same_col(c, hc[x].j, hc[y].j)) {
                    rep[hc[x].j] = hc[y].j;
                    merged++;
                    break;
                }
        a = b;
    }
    free(hc);
    if (!merged) return 0;
    /* compact: the merged columns keep no entries (colptr[j + 1] is read
     * before it is rewritten) */
    size_t at = 0;
    for (size_t j = 0; j < c->n; j++) {
        size_t b = c->colptr[j], e = c->colptr[j + 1];
        c->colptr[j] = at;
        if (j >= ncols || rep[j] == j) {
            memmove(c->row + at, c->row + b, (e - b) * sizeof *c->row);
            memmove(c->val + at, c->val + b, (e - b) * sizeof *c->val);
            at += e - b;
        }
    }
    c->colptr[c->n] = at;
    return merged;
}

void linsolve_cost_col_sums(const linsolve_problem *p, const linsolve_cols *cols, double *pos, double *neg)
{
    for (size_t j = 0; j < cols->n; j++) {
        double sp = 0, sn = 0;
        for (size_t k = cols->colptr[j]; k < cols->colptr[j + 1]; k++) {
            double cx = p->C[cols->row[k]] * cols->val[k];
            if (p->y[cols->row[k]] > 0) sp += cx;
            else sn += cx;
        }
        pos[j] = sp;
        neg[j] = sn;
    }
}

void linsolve_cols_free(linsolve_cols *c)
{
    free(c->colptr);
    free(c->row);
    free(c->val);
    memset(c, 0, sizeof *c);
}

static void swap_int(int *a, int *b)
{
    int t = *a;
    *a = *b;
    *b = t;
}

static double dmin(double a, double b) { return a < b ? a : b; }
static double dmax(double a, double b) { return a > b ? a : b; }

/* The first Newton iteration's Gnorm1 (the 1-norm of the minimum-norm
 * subgradient over all features) at w = 0, in the order and arithmetic the
 * solver's own first iteration uses there: the reference of its stopping
 * rule, for a warm start. At w = 0 every exp(w'x) is 1, so tau = C / 2. */
static double gnorm1_at_zero(const linsolve_problem *p, const linsolve_cols *cols, const double *xjneg_sum)
{
    const size_t *cp = cols->colptr;
    double sum = 0;
    for (size_t j = 0; j < p->n; j++) {
        double tmp = 0;
        for (size_t k = cp[j]; k < cp[j + 1]; k++) tmp += cols->val[k] * (p->C[cols->row[k]] * (1 / (1 + exp(0.0))));
        double G = -tmp + xjneg_sum[j], Gp = G + 1, Gn = G - 1;
        if (Gp < 0) sum += -Gp;
        else if (Gn > 0) sum += Gn;
    }
    return sum;
}

/* The objective |w|_1 + sum_i C_i log(1 + exp(-y_i w'x_i)) from the
 * solver's exp(w'x), for the stall rule. */
static double l1_objective(int l, const signed char *y, const double *C, const double *exp_wTx, double w_norm)
{
    double loss = 0;
    for (int i = 0; i < l; i++) loss += C[i] * (y[i] > 0 ? log1p(1 / exp_wTx[i]) : log1p(exp_wTx[i]));
    return w_norm + loss;
}

/* x_j' v over column j's entries, as fast mode sums it: four partial sums,
 * so that the additions do not wait on each other */
static inline double col_dot4(const double *a, const uint32_t *row, const double *v, size_t b, size_t e)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t k = b;
    for (; k + 4 <= e; k += 4) {
        s0 += a[k] * v[row[k]];
        s1 += a[k + 1] * v[row[k + 1]];
        s2 += a[k + 2] * v[row[k + 2]];
        s3 += a[k + 3] * v[row[k + 3]];
    }
    for (; k < e; k++) s0 += a[k] * v[row[k]];
    return (s0 + s1) + (s2 + s3);
}

/* The solver, specialised twice: fast = 0 is liblinear's arithmetic to the
 * bit; fast = 1 (linsolve_ctl.fast) sums in several partial sums, visits
 * the coordinates in cyclic, ascending order (as glmnet does: a random
 * permutation scatters the column reads over memory; cyclic ran ~1.6x
 * faster here, and keeping the order ascending as features are shrunk
 * another ~10%) until the objective stalls, shrinks from the first Newton
 * step on (another ~10%), takes its exps and logs over whole arrays
 * (lib/core/vmath_d), and asks each Newton step's inner problem for a solution
 * good relative to the current violation. The stopping rule is the same,
 * so both end within the same tolerance of the same optimum. */
static inline __attribute__((always_inline)) int l1r_lr(const linsolve_problem *p, const linsolve_cols *cols,
                                                        double eps, int max_newton_iter, linsolve_rng *rng,
                                                        linsolve_ctl *ctl, double *w, const int fast)
{
    const int l = (int)p->l, w_size = (int)p->n;
    const int max_iter = 1000, max_num_linesearch = 20;
    const double nu = 1e-12, sigma = 0.01;
    const double *C = p->C;
    const size_t *cp = cols->colptr;
    const uint32_t *crow = cols->row;
    const double *cval = cols->val;
    int newton_iter = 0, iter = 0, active_size, QP_active_size, QP_no_change = 0;
    double inner_eps = 1, w_norm, w_norm_new, z, G, H;
    double Gnorm1_init = -1.0, Gmax_old = HUGE_VAL, Gmax_new, Gnorm1_new;
    double QP_Gmax_old, QP_Gmax_new, QP_Gnorm1_new, delta, negsum_xTd, cond;

    /* fast mode keeps the active features in ascending order (act: the
     * Newton step's, index: the inner passes'), dropping shrunk ones
     * rather than swapping them to the end, so that every pass walks the
     * columns and the per-feature arrays in memory order */
    int *index = xmalloc((size_t)w_size * sizeof *index), *act = fast ? xmalloc((size_t)w_size * sizeof *act) : NULL;
    signed char *y = xmalloc((size_t)l);
    double *wmem = xmalloc((size_t)w_size * 4 * sizeof(double));
    double *Hdiag = wmem, *Grad = Hdiag + w_size, *wpd = Grad + w_size, *xjneg_sum = wpd + w_size;
    double *lmem = xmalloc((size_t)l * 7 * sizeof(double));
    double *xD = xmalloc(cp[w_size] * sizeof *xD);
    double *xTd = lmem, *exp_wTx = xTd + l, *exp_wTx_new = exp_wTx + l, *tau = exp_wTx_new + l, *D = tau + l;
    double *exp_xTd_all = D + l, *ratio = exp_xTd_all + l; /* fast mode's line search: whole-array exp and log */

    for (int j = 0; j < w_size; j++) w[j] = ctl && ctl->w0 ? ctl->w0[j] : 0;
    for (int j = 0; j < l; j++) {
        y[j] = p->y[j] > 0 ? 1 : -1;
        exp_wTx[j] = 0;
    }
    w_norm = 0;
    /* fast mode: Gnorm1 at w = 0 (the stopping rule's reference) from the
     * same pass, and no scatter for the columns whose weight is 0 */
    double gnorm1_zero = 0, *own_cx = NULL;
    const double *cx_pos = ctl ? ctl->cx_pos : NULL, *cx_neg = ctl ? ctl->cx_neg : NULL;
    if (fast && !cx_pos) {
        own_cx = xmalloc((size_t)w_size * 2 * sizeof *own_cx);
        linsolve_cost_col_sums(p, cols, own_cx, own_cx + w_size);
        cx_pos = own_cx;
        cx_neg = own_cx + w_size;
    }
    for (int j = 0; j < w_size; j++) {
        w_norm += fabs(w[j]);
        wpd[j] = w[j];
        index[j] = j;
        xjneg_sum[j] = 0;
        if (fast) {
            if (w[j] != 0)
                for (size_t k = cp[j]; k < cp[j + 1]; k++) exp_wTx[crow[k]] += w[j] * cval[k];
            xjneg_sum[j] = cx_neg[j];
            double G0 = 0.5 * (cx_neg[j] - cx_pos[j]); /* at w = 0 every tau_i is C_i / 2 */
            if (G0 + 1 < 0) gnorm1_zero += -(G0 + 1);
            else if (G0 - 1 > 0) gnorm1_zero += G0 - 1;
            continue;
        }
        for (size_t k = cp[j]; k < cp[j + 1]; k++) {
            int ind = (int)crow[k];
            double val = cval[k];
            exp_wTx[ind] += w[j] * val;
            if (y[ind] == -1) xjneg_sum[j] += C[ind] * val;
        }
    }
    free(own_cx);
    if (fast) vmd_exp(exp_wTx, exp_wTx, (size_t)l);
    for (int j = 0; j < l; j++) {
        if (!fast) exp_wTx[j] = exp(exp_wTx[j]);
        double tau_tmp = 1 / (1 + exp_wTx[j]);
        tau[j] = C[j] * tau_tmp;
        D[j] = C[j] * exp_wTx[j] * tau_tmp * tau_tmp;
    }
    int warm = ctl && ctl->w0, stall = ctl && ctl->stop_stalled;
    /* Fast mode's cyclic order can stall where liblinear's random one does
     * not (seen with n-gram columns that always occur together): when the
     * objective stops decreasing it falls back to the random order, and
     * only a stall under that ends the solve (if stall is set). */
    int cyclic = fast, track = stall || fast, window_from = 0;
    if (ctl) {
        ctl->stalled = 0;
        for (size_t k = 0; k < ctl->nsnap; k++) ctl->snap[k].taken = 0;
    }
    if (warm) Gnorm1_init = fast ? gnorm1_zero : gnorm1_at_zero(p, cols, xjneg_sum);
    /* the objective after each of the last LINSOLVE_STALL_ITERS Newton
     * iterations, kept up to date from the line search's own difference */
    double F = 0, F_hist[LINSOLVE_STALL_ITERS + 1];
    if (track && fast) {
        /* the same objective with whole-array logs of 1 + x rather than
         * log1p(x): rounding 1 + x moves a row's term by ~1e-16 of C_i,
         * far below what the stall rule (1e-12 of F) can see */
        for (int i = 0; i < l; i++) ratio[i] = 1 + (y[i] > 0 ? 1 / exp_wTx[i] : exp_wTx[i]);
        vmd_log(ratio, ratio, (size_t)l);
        double loss = 0;
        for (int i = 0; i < l; i++) loss += C[i] * ratio[i];
        F_hist[0] = F = w_norm + loss;
    } else if (track) F_hist[0] = F = l1_objective(l, y, C, exp_wTx, w_norm);

    while (newton_iter < max_newton_iter) {
        /* a run with max_iter m ends here when newton_iter = m */
        for (size_t k = 0; ctl && k < ctl->nsnap; k++)
            if (newton_iter == ctl->snap[k].at) {
                memcpy(ctl->snap[k].w, w, (size_t)w_size * sizeof *w);
                ctl->snap[k].rng = *rng;
                ctl->snap[k].taken = 1;
            }
        Gmax_new = 0;
        Gnorm1_new = 0;
        active_size = w_size;
        int nact = 0;
        for (int s = 0; s < active_size; s++) {
            int j = fast ? s : index[s];
            double h = nu, tmp = 0;
            if (fast) {
                double h1 = 0, tmp1 = 0;
                size_t k = cp[j], e = cp[j + 1];
                for (; k + 2 <= e; k += 2) {
                    double d0 = cval[k] * D[crow[k]], d1 = cval[k + 1] * D[crow[k + 1]];
                    xD[k] = d0;
                    xD[k + 1] = d1;
                    h += cval[k] * d0;
                    h1 += cval[k + 1] * d1;
                    tmp += cval[k] * tau[crow[k]];
                    tmp1 += cval[k + 1] * tau[crow[k + 1]];
                }
                for (; k < e; k++) {
                    xD[k] = cval[k] * D[crow[k]];
                    h += cval[k] * xD[k];
                    tmp += cval[k] * tau[crow[k]];
                }
                h += h1;
                tmp += tmp1;
            } else {
                for (size_t k = cp[j]; k < cp[j + 1]; k++) {
                    int ind = (int)crow[k];
                    h += cval[k] * cval[k] * D[ind];
                    tmp += cval[k] * tau[ind];
                    /* x_ij D_i, constant through this Newton step's inner
                     * loop; liblinear multiplies it out every time, in this
                     * order */
                    xD[k] = cval[k] * D[ind];
                }
            }
            Hdiag[j] = h;
            Grad[j] = -tmp + xjneg_sum[j];
            double Gp = Grad[j] + 1, Gn = Grad[j] - 1, violation = 0;
            if (w[j] == 0) {
                if (Gp < 0) violation = -Gp;
                else if (Gn > 0) violation = Gn;
                else if (Gp > Gmax_old / l && Gn < -Gmax_old / l) {
                    /* outer-level shrinking */
                    if (fast) continue;
                    active_size--;
                    swap_int(&index[s], &index[active_size]);
                    s--;
                    continue;
                }
            } else if (w[j] > 0) violation = fabs(Gp);
            else violation = fabs(Gn);
            if (fast) act[nact++] = j;
            Gmax_new = dmax(Gmax_new, violation);
            Gnorm1_new += violation;
        }
        if (fast && Gmax_old == HUGE_VAL) {
            /* the first Newton step, where liblinear has no violation to
             * shrink by yet and so runs its first inner passes over every
             * feature: fast mode shrinks by this step's own largest one
             * (a warm start's zero weights are mostly settled) */
            int kept = 0;
            for (int s = 0; s < nact; s++) {
                int j = act[s];
                if (w[j] == 0 && Grad[j] + 1 > Gmax_new / l && Grad[j] - 1 < -Gmax_new / l) continue;
                act[kept++] = j;
            }
            nact = kept;
        }
        if (fast) {
            active_size = nact;
            memcpy(index, act, (size_t)nact * sizeof *index);
        }
        if (newton_iter == 0 && !warm) Gnorm1_init = Gnorm1_new;
        /* a warm start is already near the optimum: solving its first
         * quadratic models only as well as a cold start's first ones
         * (inner_eps 1) would take one Newton iteration per quarter the
         * violation has shrunk by; begin where a cold start would be at
         * this violation */
        if (newton_iter == 0 && warm) inner_eps = dmin(1, Gnorm1_new / Gnorm1_init);
        /* liblinear tightens inner_eps only after an inner loop that took a
         * single pass, so every other Newton step is such a pass (a full
         * gradient and a line search for little progress); fast mode asks
         * for a fraction of the current violation instead */
        if (fast) inner_eps = dmin(inner_eps, LINSOLVE_FAST_INNER * Gnorm1_new / Gnorm1_init);
        /* converged, or the inner loop changed nothing ten times running */
        if (Gnorm1_new <= eps * Gnorm1_init || QP_no_change >= 10) break;
        QP_no_change++;

        iter = 0;
        QP_Gmax_old = HUGE_VAL;
        QP_active_size = active_size;
        for (int i = 0; i < l; i++) xTd[i] = 0;

        /* coordinate descent on the quadratic model, over wpd */
        while (iter < max_iter) {
            QP_Gmax_new = 0;
            QP_Gnorm1_new = 0;
            for (int j = 0; j < QP_active_size && !cyclic; j++) {
                int i = j + (int)linsolve_rng_below(rng, (uint32_t)(QP_active_size - j));
                swap_int(&index[i], &index[j]);
            }
            int kept = 0;
            for (int s = 0; s < QP_active_size; s++) {
                int j = index[s];
                H = Hdiag[j];
                G = Grad[j] + (wpd[j] - w[j]) * nu;
                if (fast) G += col_dot4(xD, crow, xTd, cp[j], cp[j + 1]);
                else
                    for (size_t k = cp[j]; k < cp[j + 1]; k++) G += xD[k] * xTd[crow[k]];
                double Gp = G + 1, Gn = G - 1, violation = 0;
                if (wpd[j] == 0) {
                    if (Gp < 0) violation = -Gp;
                    else if (Gn > 0) violation = Gn;
                    else if (Gp > QP_Gmax_old / l && Gn < -QP_Gmax_old / l) {
                        /* inner-level shrinking */
                        if (fast) continue;
                        QP_active_size--;
                        swap_int(&index[s], &index[QP_active_size]);
                        s--;
                        continue;
                    }
                } else if (wpd[j] > 0) violation = fabs(Gp);
                else violation = fabs(Gn);
                if (fast) index[kept++] = j;

                /* the one-variable problem's solution */
                if (Gp < H * wpd[j]) z = -Gp / H;
                else if (Gn > H * wpd[j]) z = -Gn / H;
                else z = -wpd[j];
                if (fabs(z) < 1.0e-12) continue;
                z = dmin(dmax(z, -10.0), 10.0);

                QP_no_change = 0;
                QP_Gmax_new = dmax(QP_Gmax_new, violation);
                QP_Gnorm1_new += violation;
                wpd[j] += z;
                for (size_t k = cp[j]; k < cp[j + 1]; k++) xTd[crow[k]] += cval[k] * z;
            }
            if (fast) QP_active_size = kept;
            iter++;
            if (QP_Gnorm1_new <= inner_eps * Gnorm1_init) {
                if (QP_active_size == active_size) break; /* inner stopping */
                QP_active_size = active_size;             /* reactivate all, go on */
                if (fast) memcpy(index, act, (size_t)active_size * sizeof *index);
                QP_Gmax_old = HUGE_VAL;
                continue;
            }
            QP_Gmax_old = QP_Gmax_new;
        }

        delta = 0;
        w_norm_new = 0;
        for (int j = 0; j < w_size; j++) {
            delta += Grad[j] * (wpd[j] - w[j]);
            if (wpd[j] != 0) w_norm_new += fabs(wpd[j]);
        }
        delta += (w_norm_new - w_norm);
        negsum_xTd = 0;
        for (int i = 0; i < l; i++)
            if (y[i] == -1) negsum_xTd += C[i] * xTd[i];

        int num_linesearch;
        for (num_linesearch = 0; num_linesearch < max_num_linesearch; num_linesearch++) {
            cond = w_norm_new - w_norm + negsum_xTd - sigma * delta;
            if (fast) {
                vmd_exp(exp_xTd_all, xTd, (size_t)l);
                for (int i = 0; i < l; i++) {
                    exp_wTx_new[i] = exp_wTx[i] * exp_xTd_all[i];
                    ratio[i] = (1 + exp_wTx_new[i]) / (exp_xTd_all[i] + exp_wTx_new[i]);
                }
                vmd_log(ratio, ratio, (size_t)l);
                double c0 = 0, c1 = 0;
                int i = 0;
                for (; i + 2 <= l; i += 2) {
                    c0 += C[i] * ratio[i];
                    c1 += C[i + 1] * ratio[i + 1];
                }
                if (i < l) c0 += C[i] * ratio[i];
                cond += c0 + c1;
            } else {
                for (int i = 0; i < l; i++) {
                    double exp_xTd = exp(xTd[i]);
                    exp_wTx_new[i] = exp_wTx[i] * exp_xTd;
                    cond += C[i] * log((1 + exp_wTx_new[i]) / (exp_xTd + exp_wTx_new[i]));
                }
            }
            if (cond <= 0) {
                F += cond + sigma * delta; /* cond is F(new) - F(w) - sigma delta */
                w_norm = w_norm_new;
                for (int j = 0; j < w_size; j++) w[j] = wpd[j];
                for (int i = 0; i < l; i++) {
                    exp_wTx[i] = exp_wTx_new[i];
                    double tau_tmp = 1 / (1 + exp_wTx[i]);
                    tau[i] = C[i] * tau_tmp;
                    D[i] = C[i] * exp_wTx[i] * tau_tmp * tau_tmp;
                }
                break;
            }
            w_norm_new = 0;
            for (int j = 0; j < w_size; j++) {
                wpd[j] = (w[j] + wpd[j]) * 0.5;
                if (wpd[j] != 0) w_norm_new += fabs(wpd[j]);
            }
            delta *= 0.5;
            negsum_xTd *= 0.5;
            for (int i = 0; i < l; i++) xTd[i] *= 0.5;
        }
        /* too many line-search steps: recompute exp(w'x) from w */
        if (num_linesearch >= max_num_linesearch) {
            for (int i = 0; i < l; i++) exp_wTx[i] = 0;
            for (int j = 0; j < w_size; j++) {
                if (w[j] == 0) continue;
                for (size_t k = cp[j]; k < cp[j + 1]; k++) exp_wTx[crow[k]] += w[j] * cval[k];
            }
            if (fast) vmd_exp(exp_wTx, exp_wTx, (size_t)l);
            else
                for (int i = 0; i < l; i++) exp_wTx[i] = exp(exp_wTx[i]);
        }
        if (iter == 1) inner_eps *= 0.25;
        newton_iter++;
        Gmax_old = Gmax_new;
        if (track) {
            F_hist[newton_iter % (LINSOLVE_STALL_ITERS + 1)] = F;
            if (newton_iter - window_from >= LINSOLVE_STALL_ITERS &&
                F_hist[(newton_iter - LINSOLVE_STALL_ITERS) % (LINSOLVE_STALL_ITERS + 1)] - F <=
                    LINSOLVE_STALL_REL * fabs(F)) {
                if (cyclic) {
                    cyclic = 0;
                    window_from = newton_iter;
                } else if (stall) {
                    ctl->stalled = 1;
                    break;
                }
            }
        }
    }

    free(index);
    free(act);
    free(y);
    free(wmem);
    free(lmem);
    free(xD);
    return newton_iter;
}

int linsolve_l1r_lr(const linsolve_problem *p, const linsolve_cols *cols, double eps, int max_newton_iter,
                    linsolve_rng *rng, linsolve_ctl *ctl, double *w)
{
    if (ctl && ctl->fast) return l1r_lr(p, cols, eps, max_newton_iter, rng, ctl, w, 1);
    return l1r_lr(p, cols, eps, max_newton_iter, rng, ctl, w, 0);
}
