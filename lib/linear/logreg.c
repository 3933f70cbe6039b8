#include "logreg.h"
#include "core/common.h"
#include "linsolve.h"
#include "core/ndjson.h"
#include "core/numfmt.h"
#include "core/outfile.h"
#include "core/strbuf.h"
#include "core/strmap.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- data */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void lr_data_read(lr_data *d, const char *path, const char *vector_field, const char *label_field,
                  const char *id_field)
{
    memset(d, 0, sizeof *d);
    ndjson_reader r;
    ndjson_open(&r, path);
    d->name = input_name(path);
    size_t cap = 0, nnz_cap = 0, nnz = 0;
    strmap seen = {0}; /* label -> first-seen number */
    char **first_labels = NULL;
    size_t nfirst = 0;
    sparse_vec v = {0};
    long top_idx = -1, top_line = 0;
    d->rowptr = xmalloc(sizeof *d->rowptr);
    d->rowptr[0] = 0;
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        sparse_from_record(rec, vector_field, &v, r.name, r.line);
        for (size_t k = 0; k < v.n; k++)
            if (fabs(v.val[k]) > LR_MAX_ABS_VALUE)
                die_at(r.name, r.line, "\"%s.val\"[%zu] = %g: training takes values up to %g in magnitude "
                       "(beyond, liblinear's sums overflow; scikit-learn refuses them too)",
                       vector_field, k, v.val[k], LR_MAX_ABS_VALUE);
        if (v.dim && !d->dim) d->dim = v.dim;
        else if (v.dim && v.dim != d->dim)
            die_at(r.name, r.line, "\"%s.dim\" is %ld but earlier records have %ld", vector_field, v.dim, d->dim);
        /* the largest index of the records without a dim, checked at the end */
        if (!v.dim && v.n && (long)v.idx[v.n - 1] >= top_idx) {
            top_idx = (long)v.idx[v.n - 1];
            top_line = r.line;
        }
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(rec, label_field);
        if (!lab) die_at(r.name, r.line, "record has no \"%s\" (training needs a label on every row)", label_field);
        if (!cJSON_IsString(lab)) die_at(r.name, r.line, "\"%s\" is not a string", label_field);
        const char *id = rec_string(rec, id_field);
        if (d->n == cap) {
            cap = cap ? cap * 2 : 1024;
            d->rowptr = xrealloc(d->rowptr, (cap + 1) * sizeof *d->rowptr);
            d->cls = xrealloc(d->cls, cap * sizeof *d->cls);
            d->ids = xrealloc(d->ids, cap * sizeof *d->ids);
            d->line = xrealloc(d->line, cap * sizeof *d->line);
        }
        if (nnz + v.n > nnz_cap) {
            while (nnz + v.n > nnz_cap) nnz_cap = nnz_cap ? nnz_cap * 2 : 16384;
            d->idx = xrealloc(d->idx, nnz_cap * sizeof *d->idx);
            d->val = xrealloc(d->val, nnz_cap * sizeof *d->val);
        }
        memcpy(d->idx + nnz, v.idx, v.n * sizeof *v.idx);
        memcpy(d->val + nnz, v.val, v.n * sizeof *v.val);
        nnz += v.n;
        int is_new;
        strmap_entry *e = strmap_put(&seen, lab->valuestring, strlen(lab->valuestring), nfirst, &is_new);
        if (is_new) {
            first_labels = xrealloc(first_labels, (nfirst + 1) * sizeof *first_labels);
            first_labels[nfirst++] = xstrdup(lab->valuestring);
        }
        d->cls[d->n] = e->value;
        d->ids[d->n] = id ? xstrdup(id) : NULL;
        d->line[d->n] = r.line;
        d->rowptr[++d->n] = nnz;
        cJSON_Delete(rec);
    }
    if (d->n == 0) die_at(r.name, 0, "no records");
    if (!d->dim) d->dim = top_idx + 1 > 0 ? top_idx + 1 : 1; /* no record gave one */
    else if (top_idx >= d->dim)
        die_at(r.name, top_line, "\"%s.idx\" has %ld, out of range [0, %ld) of the other records' dim", vector_field,
               top_idx, d->dim);
    ndjson_close(&r);
    sparse_free(&v);

    /* classes in byte-sorted label order */
    d->nclasses = nfirst;
    d->labels = xmalloc(nfirst * sizeof *d->labels);
    memcpy(d->labels, first_labels, nfirst * sizeof *d->labels);
    qsort(d->labels, nfirst, sizeof *d->labels, cmp_str);
    size_t *rank = xmalloc(nfirst * sizeof *rank);
    for (size_t c = 0; c < nfirst; c++) {
        strmap_entry *e = strmap_find(&seen, d->labels[c], strlen(d->labels[c]));
        rank[e->value] = c;
    }
    for (size_t i = 0; i < d->n; i++) d->cls[i] = rank[d->cls[i]];
    free(rank);
    free(first_labels);
    strmap_free(&seen);
}

void lr_data_free(lr_data *d)
{
    for (size_t c = 0; c < d->nclasses; c++) free(d->labels[c]);
    for (size_t i = 0; i < d->n; i++) free(d->ids[i]);
    free(d->labels);
    free(d->ids);
    free(d->rowptr);
    free(d->idx);
    free(d->val);
    free(d->cls);
    free(d->line);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------- options */

void lr_params_default(lr_params *p)
{
    memset(p, 0, sizeof *p);
    p->C = 1;
    p->penalty = LR_L2;
    p->cw_kind = LR_CW_NONE;
    p->tol = 1e-4;
    p->max_iter = 100;
    p->fit_intercept = 1;
    p->intercept_scaling = 1;
    p->seed = 0;
}

void lr_params_copy(lr_params *dst, const lr_params *src)
{
    *dst = *src;
    if (src->ncw) {
        dst->cw_label = xmalloc(src->ncw * sizeof *dst->cw_label);
        dst->cw_weight = xmalloc(src->ncw * sizeof *dst->cw_weight);
        for (size_t i = 0; i < src->ncw; i++) {
            dst->cw_label[i] = xstrdup(src->cw_label[i]);
            dst->cw_weight[i] = src->cw_weight[i];
        }
    } else {
        dst->cw_label = NULL;
        dst->cw_weight = NULL;
    }
}

void lr_params_free(lr_params *p)
{
    for (size_t i = 0; i < p->ncw; i++) free(p->cw_label[i]);
    free(p->cw_label);
    free(p->cw_weight);
    p->cw_label = NULL;
    p->cw_weight = NULL;
    p->ncw = 0;
}

int lr_parse_penalty(const char *s, lr_penalty *pen)
{
    if (strcmp(s, "l2") == 0) *pen = LR_L2;
    else if (strcmp(s, "l1") == 0) *pen = LR_L1;
    else return -1;
    return 0;
}

int lr_parse_multi_class(const char *s, int *multinomial)
{
    if (strcmp(s, "ovr") == 0) *multinomial = 0;
    else if (strcmp(s, "multinomial") == 0) *multinomial = 1;
    else return -1;
    return 0;
}

const char *lr_params_conflict(const lr_params *p)
{
    if (p->multinomial && p->penalty == LR_L1)
        return "multinomial takes penalty l2 only (scikit-learn's lbfgs; l1 is one-vs-rest's liblinear)";
    return NULL;
}

int lr_parse_class_weight(const char *s, lr_params *p, const char **why)
{
    lr_params_free(p);
    if (strcmp(s, "none") == 0) {
        p->cw_kind = LR_CW_NONE;
        return 0;
    }
    if (strcmp(s, "balanced") == 0) {
        p->cw_kind = LR_CW_BALANCED;
        return 0;
    }
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '{' && s[len - 1] == '}') s++, len -= 2;
    if (len == 0) {
        *why = "expected none, balanced or LABEL:W,LABEL:W,...";
        return -1;
    }
    p->cw_kind = LR_CW_EXPLICIT;
    const char *end = s + len;
    while (s <= end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        if (!comma) comma = end;
        const char *colon = NULL;
        for (const char *q = s; q < comma; q++)
            if (*q == ':') colon = q;
        if (!colon || colon == s) {
            *why = "expected none, balanced or LABEL:W,LABEL:W,...";
            return -1;
        }
        char *num = xstrndup(colon + 1, (size_t)(comma - colon - 1));
        char *e;
        errno = 0;
        double w = strtod(num, &e);
        int bad = e == num || *e != '\0' || errno == ERANGE || !isfinite(w) || !(w > 0);
        free(num);
        if (bad) {
            *why = "a class weight must be a positive number";
            return -1;
        }
        char *label = xstrndup(s, (size_t)(colon - s));
        for (size_t i = 0; i < p->ncw; i++)
            if (strcmp(p->cw_label[i], label) == 0) {
                free(label);
                *why = "a label is given twice";
                return -1;
            }
        p->cw_label = xrealloc(p->cw_label, (p->ncw + 1) * sizeof *p->cw_label);
        p->cw_weight = xrealloc(p->cw_weight, (p->ncw + 1) * sizeof *p->cw_weight);
        p->cw_label[p->ncw] = label;
        p->cw_weight[p->ncw++] = w;
        s = comma + 1;
    }
    return 0;
}

void lr_class_weight_text(strbuf *b, const lr_params *p)
{
    if (p->cw_kind == LR_CW_NONE) {
        sb_adds(b, "none");
        return;
    }
    if (p->cw_kind == LR_CW_BALANCED) {
        sb_adds(b, "balanced");
        return;
    }
    char num[NUMFMT_MAX];
    sb_addc(b, '{');
    for (size_t i = 0; i < p->ncw; i++) {
        if (i) sb_addc(b, ',');
        sb_adds(b, p->cw_label[i]);
        sb_addc(b, ':');
        sb_addn(b, num, (size_t)fmt_double(num, p->cw_weight[i]));
    }
    sb_addc(b, '}');
}

int lr_class_weights(const lr_params *p, char *const *labels, size_t nclasses, const size_t *counts,
                     double *weights, const char **bad)
{
    size_t n = 0;
    for (size_t c = 0; c < nclasses; c++) n += counts[c];
    for (size_t c = 0; c < nclasses; c++) {
        weights[c] = 1;
        /* scikit-learn: len(y) / (n_classes * np.bincount(y)) in float64 */
        if (p->cw_kind == LR_CW_BALANCED) weights[c] = (double)n / ((double)nclasses * (double)counts[c]);
    }
    if (p->cw_kind != LR_CW_EXPLICIT) return 0;
    for (size_t i = 0; i < p->ncw; i++) {
        char *const *hit = bsearch(&p->cw_label[i], labels, nclasses, sizeof *labels, cmp_str);
        if (!hit) {
            *bad = p->cw_label[i];
            return -1;
        }
        weights[hit - labels] = p->cw_weight[i];
    }
    return 0;
}

/* -------------------------------------------------------------- training */

/* The rows of a fit as liblinear lays them out: grouped by class (input
 * order within a class), as CSR with the bias column last, and by columns
 * for L1 or fast fits. Read-only once made: each fit has its own labels and
 * costs (prob.y and prob.C are NULL here). */
struct lr_layout {
    size_t K, dim, nrows;
    size_t *counts; /* K: rows per class */
    lr_penalty penalty;
    int fit_intercept, fast;
    double intercept_scaling;
    size_t *start; /* K + 1: where each class's rows begin */
    linsolve_problem prob;
    linsolve_cols cols;
    size_t *rep;   /* fast L1: the column each feature was merged into, or NULL */
    double *xsum;  /* fast: K x n, per class the sum of each column over its rows, from
                      which each fit's linsolve_ctl cost sums are made without a pass over X */
    size_t *rowptr;
    uint32_t *idx;
    double *val;
};

/* the rows' class counts; dies when a class has none */
static size_t *class_counts(const lr_data *d, const size_t *rows, size_t nrows)
{
    size_t K = d->nclasses;
    size_t *counts = xcalloc(K, sizeof *counts);
    for (size_t r = 0; r < nrows; r++) counts[d->cls[rows ? rows[r] : r]]++;
    for (size_t c = 0; c < K; c++)
        if (!counts[c]) die("class '%s' has no training rows", d->labels[c]);
    if (K < 2) die("one class ('%s') only: logistic regression needs two or more", d->labels[0]);
    return counts;
}

/* an untrained model of d's classes with options p */
static logreg_model *model_new(const lr_data *d, const size_t *counts, const lr_params *p)
{
    size_t K = d->nclasses;
    logreg_model *m = xcalloc(1, sizeof *m);
    m->nclasses = K;
    m->labels = xmalloc(K * sizeof *m->labels);
    for (size_t c = 0; c < K; c++) m->labels[c] = xstrdup(d->labels[c]);
    m->dim = d->dim;
    m->nvec = K == 2 ? 1 : K;
    lr_params_copy(&m->params, p);
    m->class_weight = xmalloc(K * sizeof *m->class_weight);
    const char *bad = NULL;
    if (lr_class_weights(p, d->labels, K, counts, m->class_weight, &bad) < 0)
        die("--class-weight: no class '%s' in the training data", bad);
    m->coef = xcalloc(m->nvec * (size_t)d->dim, sizeof *m->coef);
    m->intercept = xcalloc(m->nvec, sizeof *m->intercept);
    m->n_iter = xcalloc(m->nvec, sizeof *m->n_iter);
    return m;
}

/* fast: the matrix by columns for either penalty (the fast L2 solver
 * gathers its gradient and preconditioner from it), and for L1 identical
 * feature columns merged (linsolve_cols_merge_duplicates) */
lr_layout *logreg_layout_new(const lr_data *d, const size_t *rows, size_t nrows, const lr_params *p, int fast)
{
    if (!rows) nrows = d->n;
    size_t K = d->nclasses;
    lr_layout *s = xcalloc(1, sizeof *s);
    size_t *counts = s->counts = class_counts(d, rows, nrows);
    s->K = K;
    s->nrows = nrows;
    s->penalty = p->penalty;
    s->fit_intercept = p->fit_intercept;
    s->intercept_scaling = p->intercept_scaling;
    s->fast = fast;
    s->start = xcalloc(K + 1, sizeof *s->start);
    for (size_t c = 0; c < K; c++) s->start[c + 1] = s->start[c] + counts[c];
    size_t *perm = xmalloc(nrows * sizeof *perm);
    for (size_t r = 0; r < nrows; r++) {
        size_t row = rows ? rows[r] : r;
        perm[s->start[d->cls[row]]++] = row;
    }
    for (size_t c = K; c > 0; c--) s->start[c] = s->start[c - 1];
    s->start[0] = 0;

    size_t dim = (size_t)d->dim, n = dim + (p->fit_intercept ? 1 : 0), nnz = 0;
    if (n > INT_MAX || nrows > INT_MAX)
        die_at(d->name, 0, "%zu features or %zu rows: more than liblinear's solvers take (%d)", dim, nrows, INT_MAX);
    s->dim = dim;
    for (size_t r = 0; r < nrows; r++) nnz += d->rowptr[perm[r] + 1] - d->rowptr[perm[r]];
    nnz += p->fit_intercept ? nrows : 0;
    s->rowptr = xmalloc((nrows + 1) * sizeof *s->rowptr);
    s->idx = xmalloc(nnz * sizeof *s->idx);
    s->val = xmalloc(nnz * sizeof *s->val);
    size_t k = 0;
    s->rowptr[0] = 0;
    for (size_t r = 0; r < nrows; r++) {
        size_t a = d->rowptr[perm[r]], b = d->rowptr[perm[r] + 1];
        memcpy(s->idx + k, d->idx + a, (b - a) * sizeof *s->idx);
        memcpy(s->val + k, d->val + a, (b - a) * sizeof *s->val);
        k += b - a;
        if (p->fit_intercept) {
            s->idx[k] = (uint32_t)dim;
            s->val[k++] = p->intercept_scaling;
        }
        s->rowptr[r + 1] = k;
    }
    free(perm);
    s->prob = (linsolve_problem){nrows, n, s->rowptr, s->idx, s->val, NULL, NULL};
    if (p->penalty == LR_L1 || fast) {
        linsolve_cols_build(&s->cols, &s->prob);
        if (p->penalty == LR_L1 && fast) {
            s->rep = xmalloc(dim * sizeof *s->rep);
            linsolve_cols_merge_duplicates(&s->cols, dim, s->rep);
        }
    }
    if (fast) {
        /* the rows are grouped by class, and increase within a column */
        s->xsum = xcalloc(K * n, sizeof *s->xsum);
        for (size_t j = 0; j < n; j++) {
            size_t c = 0;
            for (size_t k = s->cols.colptr[j]; k < s->cols.colptr[j + 1]; k++) {
                while (s->cols.row[k] >= s->start[c + 1]) c++;
                s->xsum[c * n + j] += s->cols.val[k];
            }
        }
    }
    return s;
}

void logreg_layout_free(lr_layout *s)
{
    if (!s) return;
    linsolve_cols_free(&s->cols);
    free(s->counts);
    free(s->rep);
    free(s->xsum);
    free(s->start);
    free(s->rowptr);
    free(s->idx);
    free(s->val);
    free(s);
}

/* Solves subproblem v of m (its options and class weights) into w, with
 * the labels and costs in y and C (room for the rows) and, in fast mode,
 * the per-column cost sums in cx (room for 2 n); returns the iterations. */
static int solve(const lr_layout *s, const logreg_model *m, size_t v, double *y, double *C, double *cx,
                 linsolve_rng *rng, linsolve_ctl *ctl, double *w)
{
    const lr_params *p = &m->params;
    size_t K = s->K, pos = K == 2 ? 1 : v;
    double Cp = p->C * m->class_weight[pos];
    double Cn = K == 2 ? p->C * m->class_weight[0] : p->C;
    for (size_t c = 0; c < K; c++)
        for (size_t i = s->start[c]; i < s->start[c + 1]; i++) {
            y[i] = c == pos ? 1 : -1;
            C[i] = c == pos ? Cp : Cn;
        }
    linsolve_problem prob = s->prob;
    prob.y = y;
    prob.C = C;
    if (ctl && ctl->fast) {
        size_t n = prob.n;
        for (size_t j = 0; j < n; j++) {
            double neg = 0;
            for (size_t c = 0; c < K; c++)
                if (c != pos) neg += s->xsum[c * n + j];
            cx[j] = Cp * s->xsum[pos * n + j];
            cx[n + j] = Cn * neg;
        }
        ctl->cx_pos = cx;
        ctl->cx_neg = cx + n;
    }
    double tol = linsolve_primal_tol(&prob, p->tol);
    int max_iter = p->max_iter > 1000000000L ? 1000000000 : (int)p->max_iter;
    if (p->penalty == LR_L1) return linsolve_l1r_lr(&prob, &s->cols, tol, max_iter, rng, ctl, w);
    if (ctl && ctl->fast) return linsolve_l2r_lr_fast(&prob, &s->cols, tol, max_iter, ctl, w);
    return linsolve_l2r_lr(&prob, tol, max_iter, ctl, w);
}

/* A solve whose numbers overflowed (C x class weight too large for the
 * feature values) ends the run: there is no model to give. */
static void check_solved(const lr_data *d, const logreg_model *m, int n_iter, const double *w, size_t n)
{
    int ok = n_iter >= 0;
    for (size_t j = 0; ok && j < n; j++) ok = isfinite(w[j]);
    if (!ok)
        die_at(d->name, 0, "C=%g: the solver's numbers leave double precision's range (C x class weight too large "
               "or too small for these feature values): no model", m->params.C);
}

static void store(logreg_model *m, size_t v, const double *w, int n_iter, int stalled)
{
    size_t dim = (size_t)m->dim;
    memcpy(m->coef + v * dim, w, dim * sizeof *w);
    if (m->params.fit_intercept) m->intercept[v] = m->params.intercept_scaling * w[dim];
    m->n_iter[v] = n_iter;
    m->nstalled += (size_t)stalled;
}

logreg_model *logreg_train(const lr_data *d, const size_t *rows, size_t nrows, const lr_params *p)
{
    return logreg_train_opts(d, rows, nrows, p, NULL);
}

logreg_model *logreg_train_opts(const lr_data *d, const size_t *rows, size_t nrows, const lr_params *p,
                                 const lr_fit_opts *o)
{
    logreg_model *m;
    long max_iter = p->max_iter;
    logreg_train_multi(d, rows, nrows, p, o, &max_iter, 1, &m);
    return m;
}

/* weight vector v's start (n weights, the bias's last) from o's warm model
 * and its shifts */
static void warm_start(const lr_layout *s, const lr_params *p, const lr_fit_opts *o, size_t v, double *w0)
{
    const logreg_model *warm = o->warm;
    memcpy(w0, warm->coef + v * s->dim, s->dim * sizeof *w0);
    if (p->fit_intercept) w0[s->dim] = warm->intercept[v] / warm->params.intercept_scaling;
    for (size_t k = 0; k < 2; k++) {
        const logreg_model *sh = o->shift[k];
        if (!sh) continue;
        const double a = o->shift_coef[k], *ws = sh->coef + v * s->dim;
        for (size_t j = 0; j < s->dim; j++) w0[j] += a * ws[j];
        if (p->fit_intercept) w0[s->dim] += a * (sh->intercept[v] / sh->params.intercept_scaling);
    }
    /* a merged column's weight goes where its twin's is (rep[j] < j) */
    for (size_t j = 0; s->rep && j < s->dim; j++)
        if (s->rep[j] != j) {
            w0[s->rep[j]] += w0[j];
            w0[j] = 0;
        }
}

/* logreg_train_multi for a multinomial model: one L-BFGS solve for all
 * vectors; the smaller max_iter values from its snapshots */
static void train_softmax(const lr_data *d, const lr_layout *s, const lr_params *p, const lr_fit_opts *o,
                          const long *max_iters, size_t nmax, logreg_model **out)
{
    logreg_model *m = out[0];
    size_t n = s->prob.n, N = m->nvec * n;
    double *w = xmalloc(N * sizeof *w), *w0 = o && o->warm ? xmalloc(N * sizeof *w0) : NULL;
    double *C = xmalloc(s->nrows * sizeof *C);
    for (size_t c = 0; c < s->K; c++)
        for (size_t i = s->start[c]; i < s->start[c + 1]; i++) C[i] = p->C * m->class_weight[c];
    for (size_t v = 0; w0 && v < m->nvec; v++) warm_start(s, p, o, v, w0 + v * n);
    linsolve_snap *snap = xcalloc(nmax, sizeof *snap);
    for (size_t i = 1; i < nmax; i++) {
        snap[i - 1].at = (int)max_iters[i];
        snap[i - 1].w = xmalloc(N * sizeof *snap[i - 1].w);
    }
    linsolve_ctl ctl = {.w0 = w0, .nsnap = nmax - 1, .snap = snap};
    linsolve_softmax_problem prob = {s->nrows, n, s->K, s->start, s->rowptr, s->idx, s->val, C,
                                     p->fit_intercept ? (long)s->dim : -1};
    int max_iter = p->max_iter > 1000000000L ? 1000000000 : (int)p->max_iter;
    int it = linsolve_softmax_lr(&prob, p->tol, max_iter, &ctl, w);
    check_solved(d, m, it, w, N);
    /* one solve: counted once, on the first vector */
    for (size_t v = 0; v < m->nvec; v++) store(m, v, w + v * n, it, v == 0 && ctl.stalled);
    for (size_t i = 1; i < nmax; i++)
        for (size_t v = 0; v < m->nvec; v++) {
            if (snap[i - 1].taken) store(out[i], v, snap[i - 1].w + v * n, snap[i - 1].at, 0);
            else store(out[i], v, w + v * n, it, v == 0 && ctl.stalled);
        }
    for (size_t i = 0; i + 1 < nmax; i++) free(snap[i].w);
    free(snap);
    free(C);
    free(w0);
    free(w);
}

void logreg_train_multi(const lr_data *d, const size_t *rows, size_t nrows, const lr_params *p, const lr_fit_opts *o,
                        const long *max_iters, size_t nmax, logreg_model **out)
{
    lr_layout *own_layout = NULL;
    const lr_layout *s = o ? o->layout : NULL;
    int stop_stalled = o ? o->stop_stalled : 0, fast = o ? o->fast : 0;
    if (!s) s = own_layout = logreg_layout_new(d, rows, nrows, p, fast);
    else if (s->penalty != p->penalty || s->fit_intercept != p->fit_intercept || s->fast != fast ||
             s->intercept_scaling != p->intercept_scaling || s->nrows != (rows ? nrows : d->n))
        die("internal error: a fit on rows laid out for other options");
    const size_t *counts = s->counts;
    for (size_t i = 0; i < nmax; i++) {
        if (i && !(max_iters[i] < max_iters[i - 1])) die("internal error: max_iter values not strictly decreasing");
        lr_params pi = *p;
        pi.max_iter = max_iters[i];
        out[i] = model_new(d, counts, &pi);
    }
    logreg_model *m = out[0];
    const logreg_model *warm = o ? o->warm : NULL;
    if (warm && (warm->nvec != m->nvec || warm->dim != m->dim || warm->params.fit_intercept != p->fit_intercept))
        die("internal error: a warm start from a model of another shape");
    for (size_t k = 0; warm && k < 2; k++) {
        const logreg_model *sh = o->shift[k];
        if (sh && (sh->nvec != m->nvec || sh->dim != m->dim || sh->params.fit_intercept != p->fit_intercept))
            die("internal error: a warm start shifted by a model of another shape");
    }

    if (p->multinomial) {
        train_softmax(d, s, p, o, max_iters, nmax, out);
        logreg_layout_free(own_layout);
        return;
    }

    size_t n = s->prob.n;
    double *w = xmalloc(n * sizeof *w), *w0 = warm ? xmalloc(n * sizeof *w0) : NULL;
    double *y = xmalloc(2 * s->nrows * sizeof *y), *C = y + s->nrows;
    double *cx = fast ? xmalloc(2 * n * sizeof *cx) : NULL;
    /* one random stream per max_iter, seeded once per model: the classes
     * draw from it in turn (L1) */
    linsolve_rng *rng = xmalloc(nmax * sizeof *rng);
    if (p->penalty == LR_L1)
        for (size_t i = 0; i < nmax; i++) linsolve_rng_seed(&rng[i], p->seed);
    /* A smaller max_iter follows the largest one's solves, from snapshots,
     * until a subproblem reaches it: from the next subproblem on its random
     * state differs, and it solves on its own ("alone"). */
    linsolve_snap *snap = xcalloc(nmax, sizeof *snap);
    size_t *snap_of = xmalloc(nmax * sizeof *snap_of);
    for (size_t i = 0; i < nmax; i++) snap[i].w = xmalloc(n * sizeof *snap[i].w);
    int *alone = xcalloc(nmax, sizeof *alone), *alone_next = xcalloc(nmax, sizeof *alone_next);

    for (size_t v = 0; v < m->nvec; v++) {
        if (warm) warm_start(s, p, o, v, w0);
        size_t ns = 0;
        for (size_t i = 1; i < nmax; i++)
            if (!alone[i]) {
                snap[ns].at = (int)max_iters[i];
                snap_of[ns++] = i;
            }
        linsolve_ctl ctl = {.w0 = w0, .stop_stalled = stop_stalled, .fast = fast, .nsnap = ns, .snap = snap};
        int it = solve(s, m, v, y, C, cx, &rng[0], &ctl, w);
        check_solved(d, m, it, w, n);
        store(m, v, w, it, ctl.stalled);
        for (size_t k = 0; k < ns; k++) {
            size_t i = snap_of[k];
            if (!snap[k].taken) {
                store(out[i], v, w, it, ctl.stalled);
                rng[i] = rng[0];
            } else {
                store(out[i], v, snap[k].w, snap[k].at, 0);
                rng[i] = snap[k].rng;
                alone_next[i] = 1;
            }
        }
        for (size_t i = 1; i < nmax; i++)
            if (alone[i]) {
                linsolve_ctl own = {.w0 = w0, .stop_stalled = stop_stalled, .fast = fast};
                int own_it = solve(s, out[i], v, y, C, cx, &rng[i], &own, w);
                check_solved(d, out[i], own_it, w, n);
                store(out[i], v, w, own_it, own.stalled);
            }
        for (size_t i = 1; i < nmax; i++) alone[i] |= alone_next[i];
    }
    for (size_t i = 0; i < nmax; i++) free(snap[i].w);
    free(snap);
    free(snap_of);
    free(alone);
    free(alone_next);
    free(rng);
    free(w);
    free(w0);
    free(y);
    free(cx);
    logreg_layout_free(own_layout);
}

int logreg_hit_max_iter(const logreg_model *m)
{
    for (size_t v = 0; v < m->nvec; v++)
        if (m->n_iter[v] >= m->params.max_iter) return 1;
    return 0;
}

void logreg_free(logreg_model *m)
{
    if (!m) return;
    for (size_t c = 0; c < m->nclasses; c++) free(m->labels[c]);
    free(m->labels);
    free(m->coef);
    free(m->intercept);
    free(m->class_weight);
    free(m->n_iter);
    free(m->cv_json);
    lr_params_free(&m->params);
    free(m);
}

/* ------------------------------------------------------------ model file */

#define MODEL_FILE "logreg.json"
#define MODEL_FORMAT "pipeclf-logreg"
#define MODEL_VERSION 1

static void add_num(strbuf *b, double v)
{
    char num[NUMFMT_MAX];
    sb_addn(b, num, (size_t)fmt_double(num, v));
}

static void add_long(strbuf *b, long v)
{
    char num[32];
    sb_addn(b, num, (size_t)snprintf(num, sizeof num, "%ld", v));
}

static void add_key(strbuf *b, const char *key)
{
    json_quote(b, key, strlen(key));
    sb_addc(b, ':');
}

static char *model_path(const char *dir)
{
    size_t n = strlen(dir) + sizeof MODEL_FILE + 2;
    char *path = xmalloc(n);
    snprintf(path, n, "%s/%s", dir, MODEL_FILE);
    return path;
}

void logreg_save(const logreg_model *m, const char *model_dir)
{
    const lr_params *p = &m->params;
    strbuf b = {0};
    sb_adds(&b, "{\"format\":\"" MODEL_FORMAT "\",\"version\":");
    add_long(&b, MODEL_VERSION);
    sb_adds(&b, ",\n\"labels\":[");
    for (size_t c = 0; c < m->nclasses; c++) {
        if (c) sb_addc(&b, ',');
        json_quote(&b, m->labels[c], strlen(m->labels[c]));
    }
    sb_adds(&b, "],\n\"label2id\":{");
    for (size_t c = 0; c < m->nclasses; c++) {
        if (c) sb_addc(&b, ',');
        add_key(&b, m->labels[c]);
        add_long(&b, (long)c);
    }
    sb_adds(&b, "},\n\"dim\":");
    add_long(&b, m->dim);
    sb_adds(&b, ",\n\"options\":{\"C\":");
    add_num(&b, p->C);
    sb_adds(&b, p->penalty == LR_L1 ? ",\"penalty\":\"l1\"" : ",\"penalty\":\"l2\"");
    sb_adds(&b, ",\"class_weight\":");
    if (p->cw_kind == LR_CW_EXPLICIT) {
        sb_addc(&b, '{');
        for (size_t i = 0; i < p->ncw; i++) {
            if (i) sb_addc(&b, ',');
            add_key(&b, p->cw_label[i]);
            add_num(&b, p->cw_weight[i]);
        }
        sb_addc(&b, '}');
    } else {
        sb_adds(&b, p->cw_kind == LR_CW_BALANCED ? "\"balanced\"" : "\"none\"");
    }
    sb_adds(&b, ",\"tol\":");
    add_num(&b, p->tol);
    sb_adds(&b, ",\"max_iter\":");
    add_long(&b, p->max_iter);
    sb_adds(&b, p->fit_intercept ? ",\"fit_intercept\":true" : ",\"fit_intercept\":false");
    sb_adds(&b, ",\"intercept_scaling\":");
    add_num(&b, p->intercept_scaling);
    sb_adds(&b, ",\"seed\":");
    add_long(&b, (long)p->seed);
    /* only when set: one-vs-rest models read and write as before */
    if (p->multinomial) sb_adds(&b, ",\"multi_class\":\"multinomial\"");
    sb_adds(&b, "},\n\"class_weight_used\":[");
    for (size_t c = 0; c < m->nclasses; c++) {
        if (c) sb_addc(&b, ',');
        add_num(&b, m->class_weight[c]);
    }
    sb_adds(&b, "],\n\"n_iter\":[");
    for (size_t v = 0; v < m->nvec; v++) {
        if (v) sb_addc(&b, ',');
        add_long(&b, m->n_iter[v]);
    }
    sb_adds(&b, "],\n\"intercept\":[");
    for (size_t v = 0; v < m->nvec; v++) {
        if (v) sb_addc(&b, ',');
        add_num(&b, m->intercept[v]);
    }
    /* weight vectors stored sparse: L1 models are mostly zeros, and a
     * feature never seen in training keeps weight 0 under L2 as well */
    sb_adds(&b, "],\n\"coef\":[");
    for (size_t v = 0; v < m->nvec; v++) {
        const double *w = m->coef + v * (size_t)m->dim;
        sb_adds(&b, v ? ",\n{\"idx\":[" : "\n{\"idx\":[");
        int first = 1;
        for (long j = 0; j < m->dim; j++)
            if (w[j] != 0) {
                if (!first) sb_addc(&b, ',');
                first = 0;
                add_long(&b, j);
            }
        sb_adds(&b, "],\"val\":[");
        first = 1;
        for (long j = 0; j < m->dim; j++)
            if (w[j] != 0) {
                if (!first) sb_addc(&b, ',');
                first = 0;
                add_num(&b, w[j]);
            }
        sb_adds(&b, "]}");
    }
    sb_adds(&b, "]");
    if (m->cv_json) {
        sb_adds(&b, ",\n\"cv\":");
        sb_adds(&b, m->cv_json);
    }
    sb_adds(&b, "}\n");

    out_mkdirs(model_dir);
    char *path = model_path(model_dir);
    outfile o;
    out_open(&o, path);
    fwrite(b.s, 1, b.len, o.f);
    out_commit(&o);
    out_keep_dirs();
    free(path);
    sb_free(&b);
}

/* the loader's error: names the model file, exits 1 */
#define BAD(...) die_at(path, 0, __VA_ARGS__)

static const cJSON *need(const char *path, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) BAD("corrupt model: no \"%s\"", key);
    return v;
}

static double need_number(const char *path, const cJSON *obj, const char *key)
{
    const cJSON *v = need(path, obj, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) BAD("corrupt model: \"%s\" is not a number", key);
    return v->valuedouble;
}

static const cJSON *need_array(const char *path, const cJSON *obj, const char *key, int size)
{
    const cJSON *v = need(path, obj, key);
    if (!cJSON_IsArray(v)) BAD("corrupt model: \"%s\" is not an array", key);
    if (size >= 0 && cJSON_GetArraySize(v) != size)
        BAD("corrupt model: \"%s\" has %d entries, expected %d", key, cJSON_GetArraySize(v), size);
    return v;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: %s (is this a model directory written by logreg?)", path, strerror(errno));
    strbuf b = {0};
    if (sb_read_stream(&b, f) < 0) die("%s: read error: %s", path, strerror(errno));
    fclose(f);
    *len = b.len;
    return b.s;
}

static int int_value(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo &&
           v->valuedouble <= hi;
}

logreg_model *logreg_load(const char *model_dir)
{
    char *path = model_path(model_dir);
    size_t len;
    char *text = read_all(path, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long line = 1;
        for (const char *p = text; at && p < at && p < text + len; p++) line += *p == '\n';
        die_at(path, line, "not valid JSON: a corrupt or truncated model file");
    }
    free(text);
    if (!cJSON_IsObject(root)) BAD("corrupt model: not a JSON object");
    const char *format = rec_string(root, "format");
    if (!format || strcmp(format, MODEL_FORMAT) != 0) BAD("not a logreg model (\"format\" is not \"" MODEL_FORMAT "\")");
    if (need_number(path, root, "version") != MODEL_VERSION)
        BAD("model version %g is not supported (this program reads version %d)", need_number(path, root, "version"),
            MODEL_VERSION);

    logreg_model *m = xcalloc(1, sizeof *m);
    const cJSON *labels = need_array(path, root, "labels", -1);
    int K = cJSON_GetArraySize(labels);
    if (K < 2) BAD("corrupt model: fewer than two labels");
    m->nclasses = (size_t)K;
    m->labels = xcalloc((size_t)K, sizeof *m->labels);
    int c = 0;
    for (const cJSON *l = labels->child; l; l = l->next, c++) {
        if (!cJSON_IsString(l)) BAD("corrupt model: label %d is not a string", c);
        m->labels[c] = xstrdup(l->valuestring);
        if (c && strcmp(m->labels[c - 1], m->labels[c]) >= 0)
            BAD("corrupt model: labels are not in byte-sorted order (at '%s')", m->labels[c]);
    }
    const cJSON *dim = need(path, root, "dim");
    if (!int_value(dim, 1, 4294967295.0)) BAD("corrupt model: \"dim\" is not a positive integer");
    m->dim = (long)dim->valuedouble;
    m->nvec = K == 2 ? 1 : (size_t)K;

    lr_params_default(&m->params);
    const cJSON *opt = need(path, root, "options");
    if (!cJSON_IsObject(opt)) BAD("corrupt model: \"options\" is not an object");
    m->params.C = need_number(path, opt, "C");
    const char *pen = rec_string(opt, "penalty");
    if (!pen || lr_parse_penalty(pen, &m->params.penalty) < 0) BAD("corrupt model: \"penalty\" is not l1 or l2");
    m->params.tol = need_number(path, opt, "tol");
    const cJSON *mi = need(path, opt, "max_iter");
    if (!int_value(mi, 1, 1e15)) BAD("corrupt model: \"max_iter\" is not a positive integer");
    m->params.max_iter = (long)mi->valuedouble;
    const cJSON *fi = need(path, opt, "fit_intercept");
    if (!cJSON_IsBool(fi)) BAD("corrupt model: \"fit_intercept\" is not true or false");
    m->params.fit_intercept = cJSON_IsTrue(fi);
    m->params.intercept_scaling = need_number(path, opt, "intercept_scaling");
    const cJSON *seed = need(path, opt, "seed");
    if (!int_value(seed, 0, 4294967295.0)) BAD("corrupt model: \"seed\" is not an integer in [0, 2^32)");
    m->params.seed = (uint32_t)seed->valuedouble;
    const cJSON *mc = cJSON_GetObjectItemCaseSensitive(opt, "multi_class");
    if (mc && (!cJSON_IsString(mc) || lr_parse_multi_class(mc->valuestring, &m->params.multinomial) < 0))
        BAD("corrupt model: \"multi_class\" is not ovr or multinomial");
    if (lr_params_conflict(&m->params)) BAD("corrupt model: %s", lr_params_conflict(&m->params));
    const cJSON *cw = need(path, opt, "class_weight");
    if (cJSON_IsString(cw) && strcmp(cw->valuestring, "balanced") == 0) m->params.cw_kind = LR_CW_BALANCED;
    else if (cJSON_IsString(cw) && strcmp(cw->valuestring, "none") == 0) m->params.cw_kind = LR_CW_NONE;
    else if (cJSON_IsObject(cw)) {
        m->params.cw_kind = LR_CW_EXPLICIT;
        for (const cJSON *e = cw->child; e; e = e->next) {
            if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) BAD("corrupt model: a class weight is not a number");
            m->params.cw_label = xrealloc(m->params.cw_label, (m->params.ncw + 1) * sizeof(char *));
            m->params.cw_weight = xrealloc(m->params.cw_weight, (m->params.ncw + 1) * sizeof(double));
            m->params.cw_label[m->params.ncw] = xstrdup(e->string);
            m->params.cw_weight[m->params.ncw++] = e->valuedouble;
        }
    } else BAD("corrupt model: \"class_weight\" is not none, balanced or an object");

    const cJSON *cwv = need_array(path, root, "class_weight_used", K);
    m->class_weight = xmalloc((size_t)K * sizeof *m->class_weight);
    c = 0;
    for (const cJSON *e = cwv->child; e; e = e->next, c++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) BAD("corrupt model: \"class_weight_used\"[%d] is not a number", c);
        m->class_weight[c] = e->valuedouble;
    }
    int nvec = (int)m->nvec;
    const cJSON *it = need_array(path, root, "n_iter", nvec);
    m->n_iter = xmalloc(m->nvec * sizeof *m->n_iter);
    c = 0;
    for (const cJSON *e = it->child; e; e = e->next, c++) {
        if (!int_value(e, 0, 2147483647.0)) BAD("corrupt model: \"n_iter\"[%d] is not a count", c);
        m->n_iter[c] = (int)e->valuedouble;
    }
    const cJSON *icpt = need_array(path, root, "intercept", nvec);
    m->intercept = xmalloc(m->nvec * sizeof *m->intercept);
    c = 0;
    for (const cJSON *e = icpt->child; e; e = e->next, c++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) BAD("corrupt model: \"intercept\"[%d] is not a number", c);
        m->intercept[c] = e->valuedouble;
    }
    const cJSON *coef = need_array(path, root, "coef", nvec);
    m->coef = xcalloc(m->nvec * (size_t)m->dim, sizeof *m->coef);
    c = 0;
    for (const cJSON *vec = coef->child; vec; vec = vec->next, c++) {
        if (!cJSON_IsObject(vec)) BAD("corrupt model: \"coef\"[%d] is not an object {\"idx\",\"val\"}", c);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(vec, "idx");
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(vec, "val");
        if (!cJSON_IsArray(idx) || !cJSON_IsArray(val) || cJSON_GetArraySize(idx) != cJSON_GetArraySize(val))
            BAD("corrupt model: \"coef\"[%d] needs arrays \"idx\" and \"val\" of one length", c);
        double prev = -1;
        const cJSON *i = idx->child, *v = val->child;
        for (; i; i = i->next, v = v->next) {
            if (!int_value(i, 0, (double)m->dim - 1) || i->valuedouble <= prev)
                BAD("corrupt model: \"coef\"[%d].idx has an index out of [0, %ld) or out of order", c, m->dim);
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                BAD("corrupt model: \"coef\"[%d].val has a value that is not a finite number", c);
            m->coef[(size_t)c * (size_t)m->dim + (size_t)i->valuedouble] = v->valuedouble;
            prev = i->valuedouble;
        }
    }
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(root, "cv");
    if (cv) m->cv_json = cJSON_PrintUnformatted(cv);
    cJSON_Delete(root);
    free(path);
    return m;
}

/* ------------------------------------------------------------ prediction */

/* x's dim is the model's, or x gave none and its indices are within it */
static int fits_model(const logreg_model *m, const sparse_vec *x)
{
    return x->dim ? x->dim == m->dim : !x->n || (long)x->idx[x->n - 1] < m->dim;
}

void logreg_check_vector(const logreg_model *m, const sparse_vec *x, const char *file, long line)
{
    if (fits_model(m, x)) return;
    if (x->dim)
        die_at(file, line, "vector dimension %ld differs from the model's %ld (a vector from another tfidf model?)",
               x->dim, m->dim);
    die_at(file, line, "vector index %u is out of range [0, %ld) of the model's dim", x->idx[x->n - 1], m->dim);
}

void logreg_decision(const logreg_model *m, const sparse_vec *x, double *out)
{
    if (!fits_model(m, x))
        die("vector dimension %ld differs from the model's %ld", x->dim, m->dim);
    for (size_t v = 0; v < m->nvec; v++) {
        const double *w = m->coef + v * (size_t)m->dim;
        double s = 0;
        for (size_t k = 0; k < x->n; k++) s += x->val[k] * w[x->idx[k]];
        out[v] = s + m->intercept[v];
    }
    if (m->nclasses == 2) {
        out[1] = out[0];
        out[0] = -out[1];
    }
}

int logreg_proba(const logreg_model *m, const sparse_vec *x, double *out)
{
    logreg_decision(m, x, out);
    for (size_t c = 0; c < m->nclasses; c++)
        if (isnan(out[c])) return -1;
    if (m->nclasses == 2) {
        double p = 1 / (1 + exp(-out[1]));
        out[0] = 1 - p;
        out[1] = p;
        return 0;
    }
    double sum = 0;
    if (m->params.multinomial) {
        /* softmax (scikit-learn's predict_proba for multinomial fits); an
         * infinite largest score shares the whole mass among its ties */
        double top = out[0];
        for (size_t c = 1; c < m->nclasses; c++) top = out[c] > top ? out[c] : top;
        for (size_t c = 0; c < m->nclasses; c++) {
            out[c] = isinf(top) ? (out[c] == top) : exp(out[c] - top);
            sum += out[c];
        }
        for (size_t c = 0; c < m->nclasses; c++) out[c] /= sum;
        return 0;
    }
    for (size_t c = 0; c < m->nclasses; c++) {
        out[c] = 1 / (1 + exp(-out[c]));
        sum += out[c];
    }
    for (size_t c = 0; c < m->nclasses; c++) out[c] = sum == 0 ? 1.0 / (double)m->nclasses : out[c] / sum;
    return 0;
}

size_t logreg_predict(const logreg_model *m, const sparse_vec *x)
{
    double stack[16], *d = m->nclasses <= 16 ? stack : xmalloc(m->nclasses * sizeof *d);
    logreg_decision(m, x, d);
    size_t best = 0;
    for (size_t c = 1; c < m->nclasses; c++)
        if (d[c] > d[best]) best = c;
    if (d != stack) free(d);
    return best;
}
