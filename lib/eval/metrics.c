#include "metrics.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "core/numfmt.h"
#include "core/strmap.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MISSING_GROUP "(missing)"

/* ---------------------------------------------------------------- reading */

/* Labels get provisional ids in order of first appearance while reading;
 * pred_set_read renumbers them in byte order at the end. */
typedef struct label_table {
    strmap ids;
    char **names;
    size_t n, cap;
} label_table;

static size_t label_id(label_table *t, const char *s)
{
    int is_new;
    strmap_entry *e = strmap_put(&t->ids, s, strlen(s), t->n, &is_new);
    if (is_new) {
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 16;
            t->names = xrealloc(t->names, t->cap * sizeof *t->names);
        }
        t->names[t->n++] = xstrdup(s);
    }
    return e->value;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts t's names and returns rank[provisional id]; t->names is handed over
 * to the caller in sorted order. */
static size_t *label_table_sort(label_table *t)
{
    char **sorted = xmalloc((t->n ? t->n : 1) * sizeof *sorted);
    memcpy(sorted, t->names, t->n * sizeof *sorted);
    qsort(sorted, t->n, sizeof *sorted, compare_strings);
    size_t *rank = xmalloc((t->n ? t->n : 1) * sizeof *rank);
    for (size_t r = 0; r < t->n; r++) rank[strmap_find(&t->ids, sorted[r], strlen(sorted[r]))->value] = r;
    free(t->names);
    t->names = sorted;
    strmap_free(&t->ids);
    return rank;
}

typedef struct growing {
    size_t *gold, *pred, *group;
    double *probs;
    size_t cap;
} growing;

static void grow(growing *g, size_t n, size_t ncols, int by)
{
    if (n < g->cap) return;
    g->cap = g->cap ? 2 * g->cap : 1024;
    g->gold = xrealloc(g->gold, g->cap * sizeof *g->gold);
    g->pred = xrealloc(g->pred, g->cap * sizeof *g->pred);
    if (by) g->group = xrealloc(g->group, g->cap * sizeof *g->group);
    if (ncols) g->probs = xrealloc(g->probs, g->cap * ncols * sizeof *g->probs);
}

static const char *field_or(const char *f, const char *dflt) { return f && *f ? f : dflt; }

/* The text of a --by value: strings as they are, numbers as round-trip
 * decimals (a year 2017 reads "2017"), booleans, null or absent as missing. */
static const char *group_text(const ndjson_reader *r, const cJSON *v, const char *field, char *buf)
{
    if (!v || cJSON_IsNull(v)) return MISSING_GROUP;
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        fmt_double(buf, v->valuedouble);
        return buf;
    }
    die_at(r->name, r->line, "\"%s\" (--by) is neither a string, a number nor a boolean", field);
}

void pred_set_read(pred_set *s, const char *path, const pred_fields *fields)
{
    pred_fields none = {0};
    if (!fields) fields = &none;
    const char *label_f = field_or(fields->label, "label");
    const char *pred_f = field_or(fields->pred, "pred");
    const char *probs_f = field_or(fields->probs, "probs");
    const char *by_f = fields->by;

    memset(s, 0, sizeof *s);
    ndjson_reader r;
    ndjson_open(&r, path);
    s->name = xstrdup(r.name);

    label_table labels = {0}, groups = {0};
    growing g = {0};
    size_t ncols = 0;        /* probs columns, in the first record's key order */
    size_t *col_class = NULL; /* provisional class id of each column */
    strmap col_of = {0};     /* probs key -> column */
    long *seen = NULL;       /* per column: last record line it was seen on */
    long first_line = 0;
    char numbuf[NUMFMT_MAX];
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        size_t i = s->n;
        if (i == 0) first_line = r.line;
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(rec, label_f);
        if (!lab || cJSON_IsNull(lab))
            die_at(r.name, r.line, "record has no gold \"%s\": unlabeled predictions have nothing to score",
                   label_f);
        if (!cJSON_IsString(lab)) die_at(r.name, r.line, "\"%s\" is not a string", label_f);
        const char *pred = rec_require_string(&r, rec, pred_f);
        const cJSON *probs = cJSON_GetObjectItemCaseSensitive(rec, probs_f);
        if (probs && cJSON_IsNull(probs)) probs = NULL;

        if (i == 0) {
            s->has_probs = probs != NULL;
            if (probs) {
                if (!cJSON_IsObject(probs)) die_at(r.name, r.line, "\"%s\" is not an object", probs_f);
                for (const cJSON *p = probs->child; p; p = p->next) {
                    int is_new;
                    strmap_put(&col_of, p->string, strlen(p->string), ncols, &is_new);
                    if (!is_new) die_at(r.name, r.line, "\"%s\" has the key \"%s\" twice", probs_f, p->string);
                    col_class = xrealloc(col_class, (ncols + 1) * sizeof *col_class);
                    col_class[ncols++] = label_id(&labels, p->string);
                }
                if (ncols == 0) die_at(r.name, r.line, "\"%s\" is empty", probs_f);
                seen = xcalloc(ncols, sizeof *seen);
            }
        } else if (!probs != !s->has_probs) {
            die_at(r.name, r.line, s->has_probs ? "record has no \"%s\" (line %ld has)"
                                                : "record has \"%s\" but line %ld has not",
                   probs_f, first_line);
        }
        grow(&g, i, ncols, by_f != NULL);
        g.gold[i] = label_id(&labels, lab->valuestring);
        g.pred[i] = label_id(&labels, pred);

        if (probs) {
            if (!cJSON_IsObject(probs)) die_at(r.name, r.line, "\"%s\" is not an object", probs_f);
            size_t nkeys = 0;
            double sum = 0;
            for (const cJSON *p = probs->child; p; p = p->next, nkeys++) {
                strmap_entry *e = strmap_find(&col_of, p->string, strlen(p->string));
                if (!e)
                    die_at(r.name, r.line, "\"%s\" has the key \"%s\", not in line %ld's", probs_f, p->string,
                           first_line);
                if (seen[e->value] == r.line)
                    die_at(r.name, r.line, "\"%s\" has the key \"%s\" twice", probs_f, p->string);
                seen[e->value] = r.line;
                if (!cJSON_IsNumber(p))
                    die_at(r.name, r.line, "probability of \"%s\" is not a number", p->string);
                double v = p->valuedouble;
                if (!(v >= 0 && v <= 1))
                    die_at(r.name, r.line, "probability of \"%s\" is %s, not in [0, 1]", p->string,
                           isfinite(v) ? (fmt_double(numbuf, v), numbuf) : "not finite");
                g.probs[i * ncols + e->value] = v;
                sum += v;
            }
            if (nkeys != ncols)
                die_at(r.name, r.line, "\"%s\" has %zu key%s, line %ld has %zu", probs_f, nkeys,
                       nkeys == 1 ? "" : "s", first_line, ncols);
            if (fabs(sum - 1) > METRICS_SUM_TOLERANCE)
                die_at(r.name, r.line, "probabilities sum to %.10g, not 1 (within %g)", sum, METRICS_SUM_TOLERANCE);
            if (!strmap_find(&col_of, pred, strlen(pred)))
                die_at(r.name, r.line, "pred \"%s\" is not a key of \"%s\"", pred, probs_f);
        }
        if (by_f) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, by_f);
            g.group[i] = label_id(&groups, group_text(&r, v, by_f, numbuf));
        }
        s->n++;
        cJSON_Delete(rec);
    }
    if (s->n == 0) die_at(r.name, 0, "no prediction records");
    ndjson_close(&r);

    size_t *rank = label_table_sort(&labels);
    s->nclasses = labels.n;
    s->classes = labels.names;
    s->gold = g.gold;
    s->pred = g.pred;
    for (size_t i = 0; i < s->n; i++) {
        s->gold[i] = rank[s->gold[i]];
        s->pred[i] = rank[s->pred[i]];
    }
    s->col = xmalloc(s->nclasses * sizeof *s->col);
    for (size_t k = 0; k < s->nclasses; k++) s->col[k] = -1;
    if (s->has_probs) {
        /* columns in class order: a class's column is its rank among the
         * scored classes */
        for (size_t c = 0; c < ncols; c++) s->col[rank[col_class[c]]] = 0;
        size_t next = 0;
        for (size_t k = 0; k < s->nclasses; k++)
            if (s->col[k] == 0) s->col[k] = (long)next++;
        s->nscored = ncols;
        s->probs = xmalloc(s->n * ncols * sizeof *s->probs);
        for (size_t i = 0; i < s->n; i++)
            for (size_t c = 0; c < ncols; c++)
                s->probs[i * ncols + (size_t)s->col[rank[col_class[c]]]] = g.probs[i * ncols + c];
        free(g.probs);
    }
    free(rank);
    if (by_f) {
        rank = label_table_sort(&groups);
        s->ngroups = groups.n;
        s->groups = groups.names;
        s->group = g.group;
        for (size_t i = 0; i < s->n; i++) s->group[i] = rank[s->group[i]];
        free(rank);
    }
    free(col_class);
    free(seen);
    strmap_free(&col_of);
}

void pred_set_free(pred_set *s)
{
    for (size_t k = 0; k < s->nclasses; k++) free(s->classes[k]);
    for (size_t k = 0; k < s->ngroups; k++) free(s->groups[k]);
    free(s->classes);
    free(s->groups);
    free(s->gold);
    free(s->pred);
    free(s->group);
    free(s->col);
    free(s->probs);
    free(s->name);
    memset(s, 0, sizeof *s);
}

size_t pred_set_class(const pred_set *s, const char *label)
{
    size_t lo = 0, hi = s->nclasses;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->classes[mid], label);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return (size_t)-1;
}

int class_scores(const pred_set *s, size_t cls, double *score, unsigned char *truth)
{
    if (!s->has_probs || s->col[cls] < 0) return 0;
    size_t c = (size_t)s->col[cls];
    for (size_t i = 0; i < s->n; i++) {
        score[i] = s->probs[i * s->nscored + c];
        truth[i] = s->gold[i] == cls;
    }
    return 1;
}

void train_counts_read(size_t *counts, const pred_set *s, const char *path, const char *label_field)
{
    label_field = field_or(label_field, "label");
    memset(counts, 0, s->nclasses * sizeof *counts);
    ndjson_reader r;
    ndjson_open(&r, path);
    cJSON *rec;
    size_t n = 0;
    while ((rec = ndjson_next(&r))) {
        size_t k = pred_set_class(s, rec_require_string(&r, rec, label_field));
        if (k != (size_t)-1) counts[k]++;
        n++;
        cJSON_Delete(rec);
    }
    if (n == 0) die_at(r.name, 0, "no training records");
    ndjson_close(&r);
}

/* ----------------------------------------------------------------- scores */

prf prf_from_counts(size_t tp, size_t support, size_t predicted)
{
    prf p;
    p.precision = predicted ? (double)tp / (double)predicted : 0;
    p.recall = support ? (double)tp / (double)support : 0;
    /* sklearn >= 1.3 computes F1 from the counts, not from P and R */
    size_t denom = predicted + support;
    p.f1 = denom ? 2.0 * (double)tp / (double)denom : 0;
    return p;
}

/* macro over classes with support or predictions, weighted by support */
static void average_prf(const size_t *tp, const size_t *support, const size_t *predicted, size_t k,
                        prf *macro, prf *weighted, size_t *macro_classes)
{
    prf m = {0, 0, 0}, w = {0, 0, 0};
    size_t nm = 0, total = 0;
    for (size_t c = 0; c < k; c++) {
        if (!support[c] && !predicted[c]) continue;
        prf p = prf_from_counts(tp[c], support[c], predicted[c]);
        m.precision += p.precision, m.recall += p.recall, m.f1 += p.f1;
        double sw = (double)support[c];
        w.precision += sw * p.precision, w.recall += sw * p.recall, w.f1 += sw * p.f1;
        nm++;
        total += support[c];
    }
    if (nm) m.precision /= (double)nm, m.recall /= (double)nm, m.f1 /= (double)nm;
    if (total) w.precision /= (double)total, w.recall /= (double)total, w.f1 /= (double)total;
    if (macro) *macro = m;
    if (weighted) *weighted = w;
    if (macro_classes) *macro_classes = nm;
}

typedef struct scored {
    double score;
    unsigned char truth;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* Cumulative (fp, tp) at each distinct score, highest score first: the
 * points of sklearn's _binary_clf_curve. Returns their number. (Sorting
 * the pairs themselves, not indices, keeps the sort in cache: it is most
 * of the time `metrics` takes.) */
static size_t clf_curve(const double *score, const unsigned char *truth, size_t n, size_t **fps, size_t **tps)
{
    scored *v = xmalloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (scored){score[i], truth[i]};
    qsort(v, n, sizeof *v, by_score_desc);
    *fps = xmalloc((n ? n : 1) * sizeof **fps);
    *tps = xmalloc((n ? n : 1) * sizeof **tps);
    size_t m = 0, tp = 0, fp = 0;
    for (size_t j = 0; j < n; j++) {
        if (v[j].truth) tp++;
        else fp++;
        if (j + 1 == n || v[j + 1].score != v[j].score) {
            (*fps)[m] = fp;
            (*tps)[m] = tp;
            m++;
        }
    }
    free(v);
    return m;
}

static double auc_of_curve(const size_t *fps, const size_t *tps, size_t m)
{
    size_t pos = m ? tps[m - 1] : 0, neg = m ? fps[m - 1] : 0;
    if (!pos || !neg) return NAN;
    /* twice the trapezoid area in integer counts: exact */
    uint64_t area = 0, fp0 = 0, tp0 = 0;
    for (size_t t = 0; t < m; t++) {
        area += (fps[t] - fp0) * (tps[t] + tp0);
        fp0 = fps[t];
        tp0 = tps[t];
    }
    return (double)area / (2.0 * (double)pos * (double)neg);
}

static double ap_of_curve(const size_t *fps, const size_t *tps, size_t m)
{
    size_t pos = m ? tps[m - 1] : 0, tp0 = 0;
    double ap = 0;
    if (!pos) return 0;
    for (size_t t = 0; t < m; t++) {
        double precision = (double)tps[t] / (double)(tps[t] + fps[t]);
        ap += ((double)(tps[t] - tp0) / (double)pos) * precision;
        tp0 = tps[t];
    }
    return ap;
}

double roc_auc_binary(const double *score, const unsigned char *truth, size_t n)
{
    size_t *fps, *tps;
    size_t m = clf_curve(score, truth, n, &fps, &tps);
    double auc = auc_of_curve(fps, tps, m);
    free(fps);
    free(tps);
    return auc;
}

double average_precision_binary(const double *score, const unsigned char *truth, size_t n)
{
    size_t *fps, *tps;
    size_t m = clf_curve(score, truth, n, &fps, &tps);
    double ap = ap_of_curve(fps, tps, m);
    free(fps);
    free(tps);
    return ap;
}

static void curve_alloc(curve *c, size_t n)
{
    c->n = 0;
    c->x = xmalloc((n ? n : 1) * sizeof *c->x);
    c->y = xmalloc((n ? n : 1) * sizeof *c->y);
}

void curve_free(curve *c)
{
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

void roc_curve_binary(curve *c, const double *score, const unsigned char *truth, size_t n)
{
    size_t *fps, *tps;
    size_t m = clf_curve(score, truth, n, &fps, &tps);
    curve_alloc(c, m + 1);
    size_t pos = m ? tps[m - 1] : 0, neg = m ? fps[m - 1] : 0;
    if (pos && neg) {
        c->x[0] = c->y[0] = 0;
        c->n = 1;
        for (size_t t = 0; t < m; t++) {
            /* keep the ends and every corner (sklearn's drop_intermediate) */
            if (m > 2 && t > 0 && t + 1 < m && fps[t + 1] - fps[t] == fps[t] - fps[t - 1] &&
                tps[t + 1] - tps[t] == tps[t] - tps[t - 1])
                continue;
            c->x[c->n] = (double)fps[t] / (double)neg;
            c->y[c->n] = (double)tps[t] / (double)pos;
            c->n++;
        }
    }
    free(fps);
    free(tps);
}

void pr_curve_binary(curve *c, const double *score, const unsigned char *truth, size_t n)
{
    size_t *fps, *tps;
    size_t m = clf_curve(score, truth, n, &fps, &tps);
    curve_alloc(c, m + 1);
    size_t pos = m ? tps[m - 1] : 0;
    if (pos) {
        c->x[0] = 0;
        c->y[0] = 1;
        c->n = 1;
        for (size_t t = 0; t < m; t++) {
            c->x[c->n] = (double)tps[t] / (double)pos;
            c->y[c->n] = (double)tps[t] / (double)(tps[t] + fps[t]);
            c->n++;
        }
    }
    free(fps);
    free(tps);
}

/* the inner edges of METRICS_CALIB_BINS equal-width bins, as
 * numpy.linspace(0, 1, B + 1) computes them (i * step) */
static double calib_edge(size_t i)
{
    return i == METRICS_CALIB_BINS ? 1.0 : (double)i * (1.0 / METRICS_CALIB_BINS);
}

static void calibration(metrics *m, const pred_set *s)
{
    double conf_sum[METRICS_CALIB_BINS] = {0};
    size_t correct[METRICS_CALIB_BINS] = {0};
    for (size_t b = 0; b < METRICS_CALIB_BINS; b++) {
        m->calib[b].lo = calib_edge(b);
        m->calib[b].hi = calib_edge(b + 1);
        m->calib[b].n = 0;
    }
    for (size_t i = 0; i < s->n; i++) {
        const double *row = s->probs + i * s->nscored;
        double conf = row[0];
        for (size_t c = 1; c < s->nscored; c++)
            if (row[c] > conf) conf = row[c];
        /* numpy.searchsorted(inner edges, conf): bins are (lo, hi] */
        size_t b = 0;
        while (b + 1 < METRICS_CALIB_BINS && calib_edge(b + 1) < conf) b++;
        m->calib[b].n++;
        conf_sum[b] += conf;
        correct[b] += s->gold[i] == s->pred[i];
    }
    m->ece = 0;
    for (size_t b = 0; b < METRICS_CALIB_BINS; b++) {
        calib_bin *cb = &m->calib[b];
        if (!cb->n) {
            cb->confidence = cb->accuracy = NAN;
            continue;
        }
        cb->confidence = conf_sum[b] / (double)cb->n;
        cb->accuracy = (double)correct[b] / (double)cb->n;
        m->ece += (double)cb->n / (double)s->n * fabs(cb->accuracy - cb->confidence);
    }
}

static void probability_scores(metrics *m, const pred_set *s)
{
    double *score = xmalloc(s->n * sizeof *score);
    unsigned char *truth = xmalloc(s->n);
    double roc_sum = 0, ap_sum = 0;
    m->roc_auc_classes = 0;
    for (size_t k = 0; k < s->nclasses; k++) {
        class_metrics *c = &m->per_class[k];
        if (!class_scores(s, k, score, truth)) continue;
        size_t *fps, *tps, points = clf_curve(score, truth, s->n, &fps, &tps);
        c->roc_auc = auc_of_curve(fps, tps, points);
        c->average_precision = ap_of_curve(fps, tps, points);
        free(fps);
        free(tps);
        if (!isnan(c->roc_auc)) {
            roc_sum += c->roc_auc;
            m->roc_auc_classes++;
        }
        ap_sum += c->average_precision;
    }
    m->roc_auc_macro = m->roc_auc_classes ? roc_sum / (double)m->roc_auc_classes : NAN;
    m->ap_macro = ap_sum / (double)s->nscored;

    /* sklearn's log_loss: clip to [eps, 1 - eps], no renormalising; a gold
     * label the model has no column for has probability 0 */
    double loss = 0;
    for (size_t i = 0; i < s->n; i++) {
        long col = s->col[s->gold[i]];
        double p = col < 0 ? 0 : s->probs[i * s->nscored + (size_t)col];
        if (p < DBL_EPSILON) p = DBL_EPSILON;
        if (p > 1 - DBL_EPSILON) p = 1 - DBL_EPSILON;
        loss -= log(p);
    }
    m->log_loss = loss / (double)s->n;
    calibration(m, s);
    free(score);
    free(truth);
}

void metrics_compute(metrics *m, const pred_set *s)
{
    memset(m, 0, sizeof *m);
    size_t k = s->nclasses;
    m->n = s->n;
    m->nclasses = k;
    m->confusion = xcalloc(k * k, sizeof *m->confusion);
    m->per_class = xcalloc(k, sizeof *m->per_class);
    for (size_t i = 0; i < s->n; i++) {
        m->confusion[s->gold[i] * k + s->pred[i]]++;
        m->per_class[s->gold[i]].support++;
        m->per_class[s->pred[i]].predicted++;
        if (s->gold[i] == s->pred[i]) {
            m->per_class[s->gold[i]].tp++;
            m->correct++;
        }
    }
    m->accuracy = (double)m->correct / (double)s->n;
    size_t *tp = xmalloc(k * sizeof *tp), *sup = xmalloc(k * sizeof *sup), *prd = xmalloc(k * sizeof *prd);
    for (size_t c = 0; c < k; c++) {
        class_metrics *cm = &m->per_class[c];
        cm->s = prf_from_counts(cm->tp, cm->support, cm->predicted);
        cm->predicted_rate = (double)cm->predicted / (double)s->n;
        cm->in_macro = cm->support || cm->predicted;
        cm->roc_auc = cm->average_precision = NAN;
        tp[c] = cm->tp, sup[c] = cm->support, prd[c] = cm->predicted;
    }
    average_prf(tp, sup, prd, k, &m->macro, &m->weighted, &m->macro_classes);
    free(tp);
    free(sup);
    free(prd);
    m->has_probs = s->has_probs;
    m->roc_auc_macro = m->ap_macro = m->log_loss = m->ece = NAN;
    if (s->has_probs) probability_scores(m, s);
}

void metrics_free(metrics *m)
{
    free(m->per_class);
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

void positive_compute(positive_metrics *p, const pred_set *s, size_t cls)
{
    memset(p, 0, sizeof *p);
    p->label = s->classes[cls];
    size_t tp = 0;
    for (size_t i = 0; i < s->n; i++) {
        p->support += s->gold[i] == cls;
        p->predicted += s->pred[i] == cls;
        tp += s->gold[i] == cls && s->pred[i] == cls;
    }
    p->s = prf_from_counts(tp, p->support, p->predicted);
    p->predicted_rate = (double)p->predicted / (double)s->n;
    p->gold_rate = (double)p->support / (double)s->n;
}

/* the score top-k ranks a class by: its probability, 0 without a column */
static double class_score(const pred_set *s, size_t i, size_t cls)
{
    return s->col[cls] < 0 ? 0 : s->probs[i * s->nscored + (size_t)s->col[cls]];
}

void top_k_compute(top_k_metrics *t, const pred_set *s, size_t k)
{
    t->k = k;
    t->correct = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t g = s->gold[i];
        int hit;
        if (s->nclasses == 2 && k == 1) {
            /* sklearn's binary case thresholds the second class's score, so
             * a 0.5 tie goes to the first class, unlike the rule below */
            hit = (class_score(s, i, 1) > 0.5) == (g == 1);
        } else {
            /* gold's place in sklearn's order: higher scores first, then
             * the later class first among equal scores */
            double sg = class_score(s, i, g);
            size_t ahead = 0;
            for (size_t c = 0; c < s->nclasses && ahead < k; c++) {
                double sc = class_score(s, i, c);
                ahead += sc > sg || (sc == sg && c > g);
            }
            hit = ahead < k;
        }
        t->correct += (size_t)hit;
    }
    t->accuracy = (double)t->correct / (double)s->n;
}

void groups_compute(group_metrics *out, const pred_set *s)
{
    size_t k = s->nclasses;
    /* records ordered by group (counting sort), then one group at a time */
    size_t *start = xcalloc(s->ngroups + 1, sizeof *start);
    for (size_t i = 0; i < s->n; i++) start[s->group[i] + 1]++;
    for (size_t g = 0; g < s->ngroups; g++) start[g + 1] += start[g];
    size_t *order = xmalloc(s->n * sizeof *order), *fill = xmalloc((s->ngroups + 1) * sizeof *fill);
    memcpy(fill, start, (s->ngroups + 1) * sizeof *fill);
    for (size_t i = 0; i < s->n; i++) order[fill[s->group[i]]++] = i;
    size_t *tp = xmalloc(k * sizeof *tp), *sup = xmalloc(k * sizeof *sup), *prd = xmalloc(k * sizeof *prd);
    for (size_t g = 0; g < s->ngroups; g++) {
        memset(tp, 0, k * sizeof *tp);
        memset(sup, 0, k * sizeof *sup);
        memset(prd, 0, k * sizeof *prd);
        group_metrics *gm = &out[g];
        gm->value = s->groups[g];
        gm->n = start[g + 1] - start[g];
        gm->correct = 0;
        for (size_t j = start[g]; j < start[g + 1]; j++) {
            size_t i = order[j];
            sup[s->gold[i]]++;
            prd[s->pred[i]]++;
            if (s->gold[i] == s->pred[i]) {
                tp[s->gold[i]]++;
                gm->correct++;
            }
        }
        prf macro;
        average_prf(tp, sup, prd, k, &macro, NULL, NULL);
        gm->accuracy = (double)gm->correct / (double)gm->n;
        gm->macro_f1 = macro.f1;
    }
    free(tp);
    free(sup);
    free(prd);
    free(order);
    free(fill);
    free(start);
}

void size_bins_compute(size_bin *out, size_t *bin_of, const pred_set *s, const size_t *train_count,
                       const double *edges, size_t nedges)
{
    size_t nbins = nedges - 1;
    for (size_t b = 0; b < nbins; b++) {
        memset(&out[b], 0, sizeof out[b]);
        out[b].lo = edges[b];
        out[b].hi = edges[b + 1];
    }
    size_t *cls_bin = xmalloc(s->nclasses * sizeof *cls_bin);
    size_t *support = xcalloc(s->nclasses, sizeof *support);
    for (size_t i = 0; i < s->n; i++) support[s->gold[i]]++;
    for (size_t k = 0; k < s->nclasses; k++) {
        double c = (double)train_count[k];
        cls_bin[k] = (size_t)-1;
        for (size_t b = 0; b < nbins; b++)
            if ((c > edges[b] || (b == 0 && c == edges[0])) && c <= edges[b + 1]) {
                cls_bin[k] = b;
                break;
            }
        if (cls_bin[k] != (size_t)-1 && support[k]) out[cls_bin[k]].nclasses++;
        if (bin_of) bin_of[k] = cls_bin[k];
    }
    for (size_t i = 0; i < s->n; i++) {
        size_t b = cls_bin[s->gold[i]];
        if (b == (size_t)-1) continue;
        out[b].n++;
        out[b].correct += s->gold[i] == s->pred[i];
    }
    /* macro-F1 per bin: counts over the bin's records, averaged over its
     * gold classes only, so a wrong prediction of another bin's class
     * lowers the recall of the gold class and no other F1 */
    size_t k = s->nclasses;
    size_t *tp = xmalloc(k * sizeof *tp), *sup = xmalloc(k * sizeof *sup), *prd = xmalloc(k * sizeof *prd);
    for (size_t b = 0; b < nbins; b++) {
        out[b].accuracy = out[b].macro_f1 = NAN;
        if (!out[b].n) continue;
        out[b].accuracy = (double)out[b].correct / (double)out[b].n;
        memset(tp, 0, k * sizeof *tp);
        memset(sup, 0, k * sizeof *sup);
        memset(prd, 0, k * sizeof *prd);
        for (size_t i = 0; i < s->n; i++) {
            if (cls_bin[s->gold[i]] != b) continue;
            sup[s->gold[i]]++;
            prd[s->pred[i]]++;
            tp[s->gold[i]] += s->gold[i] == s->pred[i];
        }
        /* average_prf skips a class with neither support nor predictions */
        for (size_t c = 0; c < k; c++)
            if (!sup[c]) prd[c] = 0;
        prf macro;
        average_prf(tp, sup, prd, k, &macro, NULL, NULL);
        out[b].macro_f1 = macro.f1;
    }
    free(tp);
    free(sup);
    free(prd);
    free(cls_bin);
    free(support);
}
