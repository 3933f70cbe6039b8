#include "gridsearch.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "core/numfmt.h"
#include "core/outfile.h"
#include "core/prng.h"
#include "core/strbuf.h"
#include "core/strmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* the prng stream of --seed that shuffles the folds */
#define STREAM_FOLDS 1

int gs_parse_scoring(const char *s, gs_scoring *out)
{
    if (strcmp(s, "macro_f1") == 0) *out = GS_MACRO_F1;
    else if (strcmp(s, "accuracy") == 0) *out = GS_ACCURACY;
    else if (strcmp(s, "weighted_f1") == 0) *out = GS_WEIGHTED_F1;
    else return -1;
    return 0;
}

const char *gs_scoring_name(gs_scoring s)
{
    return s == GS_ACCURACY ? "accuracy" : s == GS_WEIGHTED_F1 ? "weighted_f1" : "macro_f1";
}

/* ------------------------------------------------------------------ grid */

/* byte-sorted, as Python sorts the keys of a parameter grid: the order of
 * the product (gs_grid_parse) and of the table's columns */
static const char *const grid_keys[] = {"C",           "class_weight", "intercept_scaling", "max_iter",
                                        "multi_class", "penalty",      "tol"};
#define NGRID_KEYS (sizeof grid_keys / sizeof grid_keys[0])

static char *trim(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return xstrndup(s, n);
}

static double positive_number(const char *key, const char *v)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || !isfinite(x) || !(x > 0))
        die_usage("--grid: %s=%s: not a positive number", key, v);
    return x;
}

/* Sets key to the value text v in p and appends its canonical text to b. */
static void apply_value(lr_params *p, const char *key, const char *v, strbuf *b)
{
    char num[NUMFMT_MAX];
    if (strcmp(key, "C") == 0) {
        p->C = positive_number(key, v);
        sb_addn(b, num, (size_t)fmt_double(num, p->C));
    } else if (strcmp(key, "tol") == 0) {
        p->tol = positive_number(key, v);
        sb_addn(b, num, (size_t)fmt_double(num, p->tol));
    } else if (strcmp(key, "intercept_scaling") == 0) {
        p->intercept_scaling = positive_number(key, v);
        if (p->intercept_scaling > LR_MAX_ABS_VALUE)
            die_usage("--grid: %s=%s: more than %g (the bias column's value, a feature value like any other)", key, v,
                      LR_MAX_ABS_VALUE);
        sb_addn(b, num, (size_t)fmt_double(num, p->intercept_scaling));
    } else if (strcmp(key, "max_iter") == 0) {
        char *end;
        long x = strtol(v, &end, 10);
        if (end == v || *end != '\0' || x < 1 || x > 1000000000L)
            die_usage("--grid: max_iter=%s: not an integer in [1, 1000000000]", v);
        p->max_iter = x;
        sb_addn(b, num, (size_t)snprintf(num, sizeof num, "%ld", x));
    } else if (strcmp(key, "multi_class") == 0) {
        if (lr_parse_multi_class(v, &p->multinomial) < 0)
            die_usage("--grid: multi_class=%s: not ovr or multinomial", v);
        sb_adds(b, v);
    } else if (strcmp(key, "penalty") == 0) {
        if (lr_parse_penalty(v, &p->penalty) < 0) die_usage("--grid: penalty=%s: not l1 or l2", v);
        sb_adds(b, v);
    } else { /* class_weight */
        const char *why;
        if (lr_parse_class_weight(v, p, &why) < 0) die_usage("--grid: class_weight=%s: %s", v, why);
        lr_class_weight_text(b, p);
    }
}

typedef struct subgrid {
    char *spec;                  /* its text, trimmed (for messages) */
    size_t nvals[NGRID_KEYS];    /* per key of grid_keys: 0 where the sub-grid lacks it */
    char **vals[NGRID_KEYS];
    size_t ncand;
} subgrid;

/* the length of s up to its first sep outside braces */
static size_t span_outside_braces(const char *s, char sep)
{
    int depth = 0;
    const char *q = s;
    for (; *q && !(*q == sep && depth == 0); q++) {
        if (*q == '{') depth++;
        else if (*q == '}' && depth > 0) depth--;
    }
    return (size_t)(q - s);
}

/* one SPEC of 'SPEC | SPEC | ...': 'KEY=V,V,...;KEY=V,...' */
static void parse_subgrid(subgrid *sg)
{
    size_t nkeys = 0;
    const char *s = sg->spec;
    while (*s) {
        size_t len = span_outside_braces(s, ';');
        char *part = trim(s, len);
        s += len + (s[len] == ';');
        if (!*part) {
            free(part);
            continue;
        }
        char *eq = strchr(part, '=');
        if (!eq) die_usage("--grid: '%s' is not KEY=VALUE,VALUE,...", part);
        char *name = trim(part, (size_t)(eq - part));
        for (char *c = name; *c; c++)
            if (*c == '-') *c = '_';
        size_t key = NGRID_KEYS;
        for (size_t i = 0; i < NGRID_KEYS; i++)
            if (strcmp(name, grid_keys[i]) == 0) key = i;
        if (key == NGRID_KEYS)
            die_usage("--grid: unknown key '%s' (C, penalty, class_weight, max_iter, tol, intercept_scaling, "
                      "multi_class)", name);
        if (sg->nvals[key]) die_usage("--grid: key '%s' given twice", grid_keys[key]);
        free(name);
        nkeys++;
        /* values: ',' outside braces separates */
        const char *v = eq + 1;
        for (;;) {
            size_t vlen = span_outside_braces(v, ',');
            char *val = trim(v, vlen);
            if (!*val) die_usage("--grid: %s has an empty value", grid_keys[key]);
            sg->vals[key] = xrealloc(sg->vals[key], (sg->nvals[key] + 1) * sizeof *sg->vals[key]);
            sg->vals[key][sg->nvals[key]++] = val;
            if (!v[vlen]) break;
            v += vlen + 1;
        }
        free(part);
    }
    sg->ncand = nkeys ? 1 : 0;
    for (size_t i = 0; i < NGRID_KEYS; i++) {
        if (!sg->nvals[i]) continue;
        if (sg->ncand > 1000000 / sg->nvals[i]) die_usage("--grid: more than a million candidates");
        sg->ncand *= sg->nvals[i];
    }
}

void gs_grid_parse(gs_grid *g, const char *spec, const lr_params *base)
{
    memset(g, 0, sizeof *g);
    /* the sub-grids: '|' outside braces separates */
    subgrid *subs = NULL;
    size_t nsubs = 0;
    for (const char *s = spec;;) {
        size_t len = span_outside_braces(s, '|');
        subs = xrealloc(subs, (nsubs + 1) * sizeof *subs);
        memset(&subs[nsubs], 0, sizeof *subs);
        subs[nsubs++].spec = trim(s, len);
        if (!s[len]) break;
        s += len + 1;
    }
    size_t ncand = 0;
    int in_union[NGRID_KEYS] = {0};
    for (size_t h = 0; h < nsubs; h++) {
        subgrid *sg = &subs[h];
        parse_subgrid(sg);
        if (!sg->ncand) {
            if (nsubs == 1) die_usage("--grid: no KEY=VALUES in '%s'", spec);
            die_usage("--grid: sub-grid %zu of %zu is empty (no KEY=VALUES between the '|'s) in '%s'", h + 1, nsubs,
                      spec);
        }
        if (ncand + sg->ncand > 1000000) die_usage("--grid: more than a million candidates");
        ncand += sg->ncand;
        for (size_t i = 0; i < NGRID_KEYS; i++) in_union[i] |= sg->nvals[i] > 0;
    }

    /* the union of the keys, byte-sorted as grid_keys is */
    size_t nkeys = 0, col[NGRID_KEYS];
    g->keys = xmalloc(NGRID_KEYS * sizeof *g->keys);
    for (size_t i = 0; i < NGRID_KEYS; i++)
        if (in_union[i]) {
            col[i] = nkeys;
            g->keys[nkeys++] = xstrdup(grid_keys[i]);
        }
    g->nkeys = nkeys;
    g->ncand = ncand;
    g->cand = xmalloc(ncand * sizeof *g->cand);
    g->text = xcalloc(ncand * nkeys, sizeof *g->text);
    strbuf b = {0};
    size_t c = 0;
    for (size_t h = 0; h < nsubs; h++) {
        const subgrid *sg = &subs[h];
        for (size_t n = 0; n < sg->ncand; n++, c++) {
            lr_params_copy(&g->cand[c], base);
            size_t rest = n;
            for (size_t i = NGRID_KEYS; i-- > 0;) { /* the last key changes fastest */
                if (!sg->nvals[i]) continue;
                size_t vi = rest % sg->nvals[i];
                rest /= sg->nvals[i];
                sb_clear(&b);
                apply_value(&g->cand[c], grid_keys[i], sg->vals[i][vi], &b);
                g->text[c * nkeys + col[i]] = xstrdup(sb_str(&b));
            }
            const char *conflict = lr_params_conflict(&g->cand[c]);
            if (conflict) {
                sb_clear(&b);
                for (size_t i = 0; i < nkeys; i++) {
                    const char *t = g->text[c * nkeys + i];
                    if (!t) continue;
                    if (b.len) sb_addc(&b, ' ');
                    sb_adds(&b, g->keys[i]);
                    sb_addc(&b, '=');
                    sb_adds(&b, t);
                }
                if (nsubs == 1)
                    die_usage("--grid: the candidate %s: %s; give such candidates a grid of their own "
                              "(--grid 'SPEC | SPEC')", sb_str(&b), conflict);
                die_usage("--grid: sub-grid %zu of %zu ('%s'): the candidate %s: %s; give such candidates a grid of "
                          "their own", h + 1, nsubs, sg->spec, sb_str(&b), conflict);
            }
        }
    }
    sb_free(&b);
    for (size_t h = 0; h < nsubs; h++) {
        for (size_t i = 0; i < NGRID_KEYS; i++) {
            for (size_t j = 0; j < subs[h].nvals[i]; j++) free(subs[h].vals[i][j]);
            free(subs[h].vals[i]);
        }
        free(subs[h].spec);
    }
    free(subs);
}

void gs_grid_single(gs_grid *g, const lr_params *base)
{
    memset(g, 0, sizeof *g);
    g->ncand = 1;
    g->cand = xmalloc(sizeof *g->cand);
    lr_params_copy(&g->cand[0], base);
}

void gs_grid_free(gs_grid *g)
{
    for (size_t c = 0; c < g->ncand; c++) {
        lr_params_free(&g->cand[c]);
        for (size_t i = 0; i < g->nkeys; i++) free(g->text[c * g->nkeys + i]);
    }
    for (size_t i = 0; i < g->nkeys; i++) free(g->keys[i]);
    free(g->keys);
    free(g->cand);
    free(g->text);
    memset(g, 0, sizeof *g);
}

/* ----------------------------------------------------------------- folds */

void gs_stratified_folds(const lr_data *d, size_t k, uint64_t seed, size_t *fold_of)
{
    size_t K = d->nclasses;
    /* scikit-learn numbers the classes by first appearance for the deal */
    size_t *order = xmalloc(K * sizeof *order), *enc = xmalloc(K * sizeof *enc), norder = 0;
    for (size_t c = 0; c < K; c++) enc[c] = (size_t)-1;
    for (size_t i = 0; i < d->n && norder < K; i++)
        if (enc[d->cls[i]] == (size_t)-1) {
            enc[d->cls[i]] = norder;
            order[norder++] = d->cls[i];
        }
    size_t *count = xcalloc(K, sizeof *count);
    for (size_t i = 0; i < d->n; i++) count[d->cls[i]]++;
    prng r;
    prng_seed(&r, seed, STREAM_FOLDS);
    size_t *folds = xmalloc(d->n * sizeof *folds);
    size_t start = 0; /* where the class begins in the labels sorted by encoding */
    for (size_t e = 0; e < norder; e++) {
        size_t c = order[e], n = count[c], m = 0;
        /* fold f gets the positions p in [start, start + n) with p % k == f */
        for (size_t f = 0; f < k; f++) {
            size_t first = start + (f + k - start % k) % k;
            size_t a = first < start + n ? (start + n - first + k - 1) / k : 0;
            for (size_t j = 0; j < a; j++) folds[m++] = f;
        }
        prng_shuffle(&r, folds, n);
        m = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->cls[i] == c) fold_of[i] = folds[m++];
        start += n;
    }
    free(folds);
    free(count);
    free(order);
    free(enc);
}

size_t gs_read_folds(const char *path, const lr_data *d, const char *id_field, size_t *fold_of)
{
    strmap ids = {0};
    for (size_t i = 0; i < d->n; i++) {
        if (!d->ids[i])
            die_at(d->name, d->line[i], "record has no \"%s\" (--folds assigns folds by id)", id_field);
        int is_new;
        strmap_entry *e = strmap_put(&ids, d->ids[i], strlen(d->ids[i]), i, &is_new);
        if (!is_new) die_at(d->name, d->line[i], "duplicate id '%s' (first on line %ld)", d->ids[i], d->line[e->value]);
        fold_of[i] = (size_t)-1;
    }
    ndjson_reader r;
    ndjson_open(&r, path);
    size_t k = 0;
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        const char *id = rec_require_string(&r, rec, "id");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(rec, "fold");
        if (!f) die_at(r.name, r.line, "record has no \"fold\"");
        if (!cJSON_IsNumber(f) || f->valuedouble != floor(f->valuedouble) || f->valuedouble < 0 ||
            f->valuedouble > 1e6)
            die_at(r.name, r.line, "\"fold\" is not an integer in [0, 1000000]");
        strmap_entry *e = strmap_find(&ids, id, strlen(id));
        if (!e) die_at(r.name, r.line, "id '%s' is not in the training data", id);
        if (fold_of[e->value] != (size_t)-1) die_at(r.name, r.line, "id '%s' is given a fold twice", id);
        fold_of[e->value] = (size_t)f->valuedouble;
        if (fold_of[e->value] + 1 > k) k = fold_of[e->value] + 1;
        cJSON_Delete(rec);
    }
    for (size_t i = 0; i < d->n; i++)
        if (fold_of[i] == (size_t)-1) die_at(r.name, 0, "no fold for id '%s' (%s:%ld)", d->ids[i], d->name, d->line[i]);
    ndjson_close(&r);
    strmap_free(&ids);
    if (k < 2) die("%s: one fold only; cross-validation needs two or more", path);
    return k;
}

void gs_write_folds(const char *path, const lr_data *d, const size_t *fold_of, const char *id_field)
{
    strbuf b = {0};
    char num[32];
    for (size_t i = 0; i < d->n; i++) {
        if (!d->ids[i])
            die_at(d->name, d->line[i], "record has no \"%s\" (--folds-out names the rows by id)", id_field);
        sb_adds(&b, "{\"id\":");
        json_quote(&b, d->ids[i], strlen(d->ids[i]));
        sb_addn(&b, num, (size_t)snprintf(num, sizeof num, ",\"fold\":%zu}\n", fold_of[i]));
    }
    outfile o;
    out_open(&o, path);
    fwrite(b.s ? b.s : "", 1, b.len, o.f);
    out_commit(&o);
    sb_free(&b);
}

void gs_check_folds(const lr_data *d, const size_t *fold_of, size_t k)
{
    size_t K = d->nclasses;
    size_t *count = xcalloc(k * K, sizeof *count), *total = xcalloc(K, sizeof *total);
    for (size_t i = 0; i < d->n; i++) {
        count[fold_of[i] * K + d->cls[i]]++;
        total[d->cls[i]]++;
    }
    for (size_t f = 0; f < k; f++) {
        size_t rows = 0;
        for (size_t c = 0; c < K; c++) rows += count[f * K + c];
        if (!rows) die("fold %zu has no rows (%zu rows for %zu folds)", f, d->n, k);
        for (size_t c = 0; c < K; c++)
            if (count[f * K + c] == total[c])
                die("class '%s' (%zu row%s): all in fold %zu, none left to train on when it is held out",
                    d->labels[c], total[c], total[c] == 1 ? "" : "s", f);
    }
    free(count);
    free(total);
}

/* ---------------------------------------------------------------- scores */

double gs_score(gs_scoring s, const size_t *truth, const size_t *pred, size_t n, size_t nclasses)
{
    if (n == 0) return 0;
    if (s == GS_ACCURACY) {
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) ok += truth[i] == pred[i];
        return (double)ok / (double)n;
    }
    size_t *tp = xcalloc(3 * nclasses, sizeof *tp), *true_sum = tp + nclasses, *pred_sum = true_sum + nclasses;
    for (size_t i = 0; i < n; i++) {
        tp[truth[i]] += truth[i] == pred[i];
        true_sum[truth[i]]++;
        pred_sum[pred[i]]++;
    }
    /* F1 = 2 tp / (true + predicted), scikit-learn's form of it */
    double sum = 0, wsum = 0;
    size_t present = 0;
    for (size_t c = 0; c < nclasses; c++) {
        if (!true_sum[c] && !pred_sum[c]) continue;
        double f = 2.0 * (double)tp[c] / ((double)true_sum[c] + (double)pred_sum[c]);
        present++;
        if (s == GS_WEIGHTED_F1) sum += f * (double)true_sum[c], wsum += (double)true_sum[c];
        else sum += f;
    }
    free(tp);
    return s == GS_WEIGHTED_F1 ? sum / wsum : sum / (double)present;
}

/* ----------------------------------------------------------------- output */

static void add_num(strbuf *b, double v)
{
    char num[NUMFMT_MAX];
    sb_addn(b, num, (size_t)fmt_double(num, v));
}

/* the value of one grid key as JSON: numbers bare, class weights an object */
static void add_param_json(strbuf *b, const gs_grid *g, size_t c, size_t i)
{
    const char *key = g->keys[i], *text = g->text[c * g->nkeys + i];
    const lr_params *p = &g->cand[c];
    if (strcmp(key, "penalty") == 0 || strcmp(key, "multi_class") == 0) json_quote(b, text, strlen(text));
    else if (strcmp(key, "class_weight") == 0) {
        if (p->cw_kind != LR_CW_EXPLICIT) {
            json_quote(b, text, strlen(text));
            return;
        }
        sb_addc(b, '{');
        for (size_t j = 0; j < p->ncw; j++) {
            if (j) sb_addc(b, ',');
            json_quote(b, p->cw_label[j], strlen(p->cw_label[j]));
            sb_addc(b, ':');
            add_num(b, p->cw_weight[j]);
        }
        sb_addc(b, '}');
    } else sb_adds(b, text);
}

/* the candidate's own keys only (a key of another sub-grid is left out, as
 * in GridSearchCV's cv_results_['params']) */
static void add_params_json(strbuf *b, const gs_grid *g, size_t c)
{
    sb_addc(b, '{');
    for (size_t i = 0, n = 0; i < g->nkeys; i++) {
        if (!g->text[c * g->nkeys + i]) continue;
        if (n++) sb_addc(b, ',');
        json_quote(b, g->keys[i], strlen(g->keys[i]));
        sb_addc(b, ':');
        add_param_json(b, g, c, i);
    }
    sb_addc(b, '}');
}

static void add_csv_field(strbuf *b, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        sb_adds(b, s);
        return;
    }
    sb_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"') sb_addc(b, '"');
        sb_addc(b, *s);
    }
    sb_addc(b, '"');
}

static int ends_with_csv(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".csv") == 0;
}

void gs_write_table(const char *path, const gs_grid *g, const gs_result *r, gs_scoring s, int with_times)
{
    strbuf b = {0};
    char num[64];
    int csv = ends_with_csv(path);
    if (csv) {
        sb_adds(&b, "rank");
        for (size_t i = 0; i < g->nkeys; i++) {
            sb_addc(&b, ',');
            sb_adds(&b, g->keys[i]);
        }
        sb_adds(&b, ",mean_score,std_score");
        for (size_t f = 0; f < r->k; f++) {
            snprintf(num, sizeof num, ",fold%zu_score", f);
            sb_adds(&b, num);
        }
        sb_adds(&b, with_times ? ",mean_fit_time,std_fit_time,converged,scoring\n" : ",converged,scoring\n");
    }
    for (size_t c = 0; c < r->ncand; c++) {
        int converged = 1;
        for (size_t f = 0; f < r->k; f++) converged &= !r->hit_max_iter[c * r->k + f] && !r->stalled[c * r->k + f];
        if (csv) {
            snprintf(num, sizeof num, "%d", r->rank[c]);
            sb_adds(&b, num);
            for (size_t i = 0; i < g->nkeys; i++) { /* empty: a key of another sub-grid */
                sb_addc(&b, ',');
                if (g->text[c * g->nkeys + i]) add_csv_field(&b, g->text[c * g->nkeys + i]);
            }
            sb_addc(&b, ',');
            add_num(&b, r->mean[c]);
            sb_addc(&b, ',');
            add_num(&b, r->std[c]);
            for (size_t f = 0; f < r->k; f++) {
                sb_addc(&b, ',');
                add_num(&b, r->score[c * r->k + f]);
            }
            if (with_times) {
                snprintf(num, sizeof num, ",%.6f,%.6f", r->mean_time[c], r->std_time[c]);
                sb_adds(&b, num);
            }
            sb_adds(&b, converged ? ",true," : ",false,");
            sb_adds(&b, gs_scoring_name(s));
            sb_addc(&b, '\n');
            continue;
        }
        snprintf(num, sizeof num, "{\"rank\":%d,\"params\":", r->rank[c]);
        sb_adds(&b, num);
        add_params_json(&b, g, c);
        sb_adds(&b, ",\"scoring\":\"");
        sb_adds(&b, gs_scoring_name(s));
        sb_adds(&b, "\",\"mean_score\":");
        add_num(&b, r->mean[c]);
        sb_adds(&b, ",\"std_score\":");
        add_num(&b, r->std[c]);
        sb_adds(&b, ",\"fold_scores\":[");
        for (size_t f = 0; f < r->k; f++) {
            if (f) sb_addc(&b, ',');
            add_num(&b, r->score[c * r->k + f]);
        }
        sb_addc(&b, ']');
        if (with_times) {
            snprintf(num, sizeof num, ",\"mean_fit_time\":%.6f,\"std_fit_time\":%.6f", r->mean_time[c], r->std_time[c]);
            sb_adds(&b, num);
            sb_adds(&b, ",\"fit_times\":[");
            for (size_t f = 0; f < r->k; f++) {
                snprintf(num, sizeof num, "%s%.6f", f ? "," : "", r->fit_time[c * r->k + f]);
                sb_adds(&b, num);
            }
            sb_addc(&b, ']');
        }
        sb_adds(&b, converged ? ",\"converged\":true}\n" : ",\"converged\":false}\n");
    }
    outfile o;
    out_open(&o, path);
    fwrite(b.s ? b.s : "", 1, b.len, o.f);
    out_commit(&o);
    sb_free(&b);
}

char *gs_summary_json(const gs_grid *g, const gs_result *r, gs_scoring s)
{
    strbuf b = {0};
    char num[128];
    snprintf(num, sizeof num, "{\"scoring\":\"%s\",\"folds\":%zu,\"candidates\":%zu,\"best_index\":%zu,",
             gs_scoring_name(s), r->k, r->ncand, r->best);
    sb_adds(&b, num);
    sb_adds(&b, "\"best_params\":");
    add_params_json(&b, g, r->best);
    sb_adds(&b, ",\"best_score\":");
    add_num(&b, r->mean[r->best]);
    sb_adds(&b, ",\"best_std\":");
    add_num(&b, r->std[r->best]);
    sb_adds(&b, ",\"best_fold_scores\":[");
    for (size_t f = 0; f < r->k; f++) {
        if (f) sb_addc(&b, ',');
        add_num(&b, r->score[r->best * r->k + f]);
    }
    sb_adds(&b, r->exact ? "],\"search\":\"exact\"}" : "],\"search\":\"fast\"}");
    return b.s;
}
