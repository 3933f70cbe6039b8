/* tfidf against scikit-learn's TfidfVectorizer: the goldens in
 * tests/golden/tfidf/ were made by tests/ref/tfidf_ref.py (scikit-learn
 * 1.9.1, `make golden-tfidf`) from samples of the tweets that this test makes
 * again with csvclean from $SHARED (nothing of the data is in the repo):
 *   clean N: csvclean -q --preset tweet --id textID --label sentiment train.csv | head -n N
 *   raw N:   csvclean -q --id textID --label sentiment train.csv | head -n N
 * For each configuration it runs the real programs (tfidf fit, then tfidf
 * apply on the same records, which must give the same bytes, as sklearn's
 * transform gives fit_transform's matrix) and compares:
 *   - the vocabulary: the same terms in the same column order;
 *   - idf per term, to 1e-12 relative;
 *   - every vector value to 1e-6.
 * With max_features, sklearn keeps an arbitrary subset of the terms that tie
 * in corpus frequency at the cut (numpy's unstable argsort over them; we keep
 * the alphabetically first). The golden lists those terms (file `cut`); the
 * vocabularies must agree outside them and keep as many of them, and a
 * document holding a term kept by one side only is compared on the terms
 * both keep, each vector renormalised over them.
 * Also every line of analyzer.jsonl (build_analyzer() output on tricky
 * text), and the default pattern's scanner against PCRE2 on all raw tweets.
 * Binaries: BUILD/bin beside this test's BUILD/unit. */
#define _GNU_SOURCE
#include "check.h"

#include "core/common.h"
#include "core/ndjson.h"
#include "linear/sparse.h"
#include "core/strbuf.h"
#include "core/strmap.h"
#include "linear/tfidf.h"

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *bin_dir, tmp_dir[64];
static const char *shared;

/* A formatted string, malloc'ed. */
static char *str(const char *fmt, ...) PRINTF_LIKE(1, 2);
static char *str(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) die("out of memory");
    va_end(ap);
    return s;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) printf("# command failed (%d): %s\n", rc, cmd);
    return rc;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    strbuf b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) sb_addn(&b, chunk, got);
    fclose(f);
    if (len) *len = b.len;
    return b.s ? b.s : xstrdup("");
}

/* Splits text into lines in place. */
static char **lines_of(char *text, size_t *n)
{
    size_t cap = 1024, count = 0;
    char **lines = xmalloc(cap * sizeof *lines);
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (count == cap) lines = xrealloc(lines, (cap *= 2) * sizeof *lines);
        lines[count++] = p;
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    *n = count;
    return lines;
}

/* ---- a golden configuration ------------------------------------------ */

typedef struct golden {
    char **terms;
    double *idf;
    size_t n;
    strmap col;           /* term -> golden column */
    int has_cut;
    size_t cut_kept;
    strmap tied;          /* terms tied at the cut */
} golden;

static void read_golden(const char *dir, golden *g)
{
    memset(g, 0, sizeof *g);
    char *path = str("%s/vocab.jsonl", dir);
    size_t n;
    char *text = slurp(path, NULL);
    free(path);
    char **lines = lines_of(text, &n);
    g->terms = xmalloc((n + 1) * sizeof *g->terms);
    g->idf = xmalloc((n + 1) * sizeof *g->idf);
    for (size_t i = 0; i < n; i++) {
        if (!*lines[i]) continue;
        cJSON *a = cJSON_Parse(lines[i]);
        g->terms[g->n] = xstrdup(cJSON_GetArrayItem(a, 0)->valuestring);
        g->idf[g->n] = cJSON_GetArrayItem(a, 1)->valuedouble;
        strmap_put(&g->col, g->terms[g->n], strlen(g->terms[g->n]), g->n, NULL);
        g->n++;
        cJSON_Delete(a);
    }
    free(lines);
    free(text);
    path = str("%s/cut", dir);
    text = slurp(path, NULL);
    free(path);
    if (text) {
        g->has_cut = 1;
        lines = lines_of(text, &n);
        unsigned long cut_tf;
        sscanf(lines[0], "%lu %zu", &cut_tf, &g->cut_kept);
        for (size_t i = 1; i < n; i++) {
            if (!*lines[i]) continue;
            cJSON *s = cJSON_Parse(lines[i]);
            strmap_put(&g->tied, s->valuestring, strlen(s->valuestring), 0, NULL);
            cJSON_Delete(s);
        }
        free(lines);
        free(text);
    }
}

static void free_golden(golden *g)
{
    for (size_t i = 0; i < g->n; i++) free(g->terms[i]);
    free(g->terms);
    free(g->idf);
    strmap_free(&g->col);
    strmap_free(&g->tied);
}

/* One document as golden columns -> values ("col:val col:val"). */
typedef struct entry {
    size_t col; /* golden column */
    double val;
} entry;

static size_t parse_golden_row(char *line, entry *out)
{
    size_t n = 0;
    for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) {
        char *colon = strchr(tok, ':');
        out[n].col = strtoul(tok, NULL, 10);
        out[n++].val = strtod(colon + 1, NULL);
    }
    return n;
}

static void renormalise(entry *e, size_t n, enum tfidf_norm norm)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += norm == TFIDF_NORM_L2 ? e[i].val * e[i].val : fabs(e[i].val);
    if (norm == TFIDF_NORM_L2) s = sqrt(s);
    if (norm == TFIDF_NORM_NONE || s == 0) return;
    for (size_t i = 0; i < n; i++) e[i].val /= s;
}

static int by_col(const void *a, const void *b)
{
    size_t x = ((const entry *)a)->col, y = ((const entry *)b)->col;
    return (x > y) - (x < y);
}

/* Our vocabulary against the golden one; fills ours_to_golden (our column ->
 * golden column or SIZE_MAX). */
static void check_vocabulary(const char *name, const golden *g, const tfidf_model *m, size_t *ours_to_golden)
{
    char what[256];
    size_t dim = tfidf_dim(m), common = 0, ours_tied = 0, bad_term = 0, bad_idf = 0;
    int sorted = 1;
    for (size_t c = 0; c < dim; c++) {
        size_t len;
        const char *t = tfidf_term(m, c, &len);
        if (c > 0) {
            size_t plen;
            const char *p = tfidf_term(m, c - 1, &plen);
            int cmp = memcmp(p, t, plen < len ? plen : len);
            if (cmp > 0 || (cmp == 0 && plen >= len)) sorted = 0;
        }
        strmap_entry *e = strmap_find(&g->col, t, len);
        int tied = g->has_cut && strmap_find(&g->tied, t, len);
        ours_tied += tied;
        ours_to_golden[c] = e ? e->value : SIZE_MAX;
        if (e) {
            common++;
            double want = g->idf[e->value], got = tfidf_idf(m, c);
            if (fabs(got - want) > 1e-12 * fabs(want)) {
                if (bad_idf++ < 3) printf("# %s: idf of '%s' %.17g, sklearn %.17g\n", name, t, got, want);
            }
        } else if (!tied) {
            if (bad_term++ < 3) printf("# %s: '%s' is not in sklearn's vocabulary\n", name, t);
        }
    }
    unsigned char *in_ours = xcalloc(g->n + 1, 1);
    for (size_t c = 0; c < dim; c++)
        if (ours_to_golden[c] != SIZE_MAX) in_ours[ours_to_golden[c]] = 1;
    size_t golden_untied_missing = 0;
    for (size_t k = 0; k < g->n; k++) {
        int tied = g->has_cut && strmap_find(&g->tied, g->terms[k], strlen(g->terms[k]));
        if (!tied && !in_ours[k] && golden_untied_missing++ < 3)
            printf("# %s: sklearn's '%s' is missing\n", name, g->terms[k]);
    }
    free(in_ours);
    snprintf(what, sizeof what, "golden %s: column order is byte order", name);
    CHECK(what, sorted);
    if (g->has_cut) {
        snprintf(what, sizeof what, "golden %s: vocabulary outside the %zu terms tied at the max_features cut",
                 name, g->tied.count);
        CHECK(what, bad_term == 0 && golden_untied_missing == 0 && dim == g->n);
        snprintf(what, sizeof what, "golden %s: as many tied terms kept as sklearn (%zu)", name, g->cut_kept);
        CHECK(what, ours_tied == g->cut_kept);
    } else {
        snprintf(what, sizeof what, "golden %s: the same %zu features in the same order", name, g->n);
        int same = dim == g->n;
        for (size_t c = 0; same && c < dim; c++) same = ours_to_golden[c] == c;
        CHECK(what, same);
    }
    snprintf(what, sizeof what, "golden %s: idf of %zu common terms to 1e-12", name, common);
    CHECK(what, bad_idf == 0);
}

static void check_values(const char *name, const golden *g, const tfidf_model *m, const size_t *ours_to_golden,
                         const char *ours_path, const char *golden_dir)
{
    char what[256];
    char *path = str("%s/vectors", golden_dir);
    char *text = slurp(path, NULL);
    free(path);
    size_t nrows;
    char **rows = lines_of(text, &nrows);
    if (nrows && !*rows[nrows - 1]) nrows--;
    /* golden column -> whether our vocabulary has it */
    unsigned char *in_ours = xcalloc(g->n + 1, 1);
    for (size_t c = 0; c < tfidf_dim(m); c++)
        if (ours_to_golden[c] != SIZE_MAX) in_ours[ours_to_golden[c]] = 1;
    enum tfidf_norm norm = tfidf_model_opts(m)->norm;

    ndjson_reader r;
    ndjson_open(&r, ours_path);
    sparse_vec v = {0};
    entry *want = xmalloc((g->n + 1) * sizeof *want), *got = xmalloc((tfidf_dim(m) + 1) * sizeof *got);
    size_t doc = 0, bad = 0, renormalised = 0, bad_dim = 0;
    double worst = 0;
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        sparse_from_record(rec, "x", &v, r.name, r.line);
        bad_dim += v.dim != (long)tfidf_dim(m);
        cJSON_Delete(rec);
        if (doc >= nrows) {
            doc++;
            continue;
        }
        size_t nw = parse_golden_row(rows[doc], want), ng = 0;
        int differs = 0;
        for (size_t k = 0; k < v.n; k++) {
            size_t gc = ours_to_golden[v.idx[k]];
            if (gc == SIZE_MAX) differs = 1;
            else got[ng++] = (entry){gc, v.val[k]};
        }
        size_t nw_common = 0;
        for (size_t k = 0; k < nw; k++) {
            if (in_ours[want[k].col]) want[nw_common++] = want[k];
            else differs = 1;
        }
        if (differs) {
            renormalised++;
            renormalise(got, ng, norm);
            renormalise(want, nw_common, norm);
        }
        qsort(got, ng, sizeof *got, by_col);
        int ok = ng == nw_common;
        for (size_t k = 0; ok && k < ng; k++) {
            ok = got[k].col == want[k].col;
            double d = fabs(got[k].val - want[k].val);
            if (d > worst) worst = d;
            if (d > 1e-6) ok = 0;
        }
        if (!ok && bad++ < 3) printf("# %s: document %zu differs from sklearn's row\n", name, doc + 1);
        doc++;
    }
    ndjson_close(&r);
    snprintf(what, sizeof what, "golden %s: %zu documents, as many as sklearn's rows", name, doc);
    CHECK(what, doc == nrows && bad_dim == 0);
    snprintf(what, sizeof what,
             "golden %s: values to 1e-6 (worst %.1e; %zu documents with a term kept by one side only, renormalised)",
             name, worst, renormalised);
    CHECK(what, bad == 0);
    sparse_free(&v);
    free(want);
    free(got);
    free(in_ours);
    free(rows);
    free(text);
}

/* tests/golden/tfidf/NAME: make its sample, run tfidf, compare. */
static void check_config(const char *name, const char *sample_all[2])
{
    char *dir = str("tests/golden/tfidf/%s", name), *path = str("%s/args", dir);
    char *text = slurp(path, NULL);
    free(path);
    char kind[16] = "", *args = NULL;
    size_t ndocs = 0, n = 0;
    char **lines = text ? lines_of(text, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(lines[i], "sample ", 7) == 0) sscanf(lines[i] + 7, "%15s %zu", kind, &ndocs);
        if (strncmp(lines[i], "args ", 5) == 0 || strcmp(lines[i], "args") == 0) args = lines[i] + 4;
    }
    const char *all = strcmp(kind, "clean") == 0 ? sample_all[0] : sample_all[1];
    char what[256];
    snprintf(what, sizeof what, "golden %s: args file readable", name);
    CHECK(what, args && ndocs > 0);
    if (args && ndocs > 0) {
        char *cmd = str("head -n %zu %s > %s/%s.in && cd %s && '%s/tfidf' fit -q -m m_%s %s --drop-text %s.in > %s.fit"
                        " && '%s/tfidf' apply -m m_%s --drop-text %s.in > %s.apply && cmp -s %s.fit %s.apply",
                        ndocs, all, tmp_dir, name, tmp_dir, bin_dir, name, args, name, name, bin_dir, name, name,
                        name, name, name);
        snprintf(what, sizeof what, "golden %s: tfidf fit, then apply gives fit's output", name);
        int rc = run(cmd);
        free(cmd);
        CHECK(what, rc == 0);
        if (rc == 0) {
            golden g;
            read_golden(dir, &g);
            path = str("%s/m_%s", tmp_dir, name);
            tfidf_model *m = tfidf_load(path);
            free(path);
            size_t *map = xmalloc((tfidf_dim(m) + 1) * sizeof *map);
            check_vocabulary(name, &g, m, map);
            path = str("%s/%s.fit", tmp_dir, name);
            check_values(name, &g, m, map, path, dir);
            free(path);
            free(map);
            tfidf_free(m);
            free_golden(&g);
        }
    }
    free(lines);
    free(text);
    free(dir);
}

/* ---- the analyzer ------------------------------------------------------- */

static char **english_stop_words(size_t *n)
{
    char *text = slurp("data/stopwords/english.txt", NULL);
    size_t count;
    char **lines = lines_of(text, &count);
    char **words = xmalloc((count + 1) * sizeof *words);
    *n = 0;
    for (size_t i = 0; i < count; i++) {
        char *w = lines[i];
        size_t len = strlen(w);
        while (len && strchr(" \t\r", w[len - 1])) w[--len] = '\0';
        while (*w == ' ' || *w == '\t') w++;
        if (*w && *w != '#') words[(*n)++] = xstrdup(w);
    }
    free(lines);
    free(text);
    return words;
}

static void check_analyzer(void)
{
    size_t nstop;
    char **stop = english_stop_words(&nstop);
    size_t len;
    char *text = slurp("tests/golden/tfidf/analyzer.jsonl", &len);
    CHECK("analyzer golden readable", text != NULL);
    if (!text) return;
    size_t n;
    char **lines = lines_of(text, &n);
    size_t bad = 0, total = 0;
    tfidf_scratch s;
    tfidf_scratch_init(&s);
    for (size_t i = 0; i < n; i++) {
        if (!*lines[i]) continue;
        cJSON *rec = cJSON_Parse(lines[i]);
        const cJSON *o = cJSON_GetObjectItem(rec, "opts");
        tfidf_opts opts;
        tfidf_opts_init(&opts);
        const cJSON *v;
        if ((v = cJSON_GetObjectItem(o, "analyzer")))
            opts.analyzer = strcmp(v->valuestring, "char") == 0 ? TFIDF_CHAR : TFIDF_CHAR_WB;
        if ((v = cJSON_GetObjectItem(o, "ngram_range"))) {
            opts.ngram_min = cJSON_GetArrayItem(v, 0)->valueint;
            opts.ngram_max = cJSON_GetArrayItem(v, 1)->valueint;
        }
        if ((v = cJSON_GetObjectItem(o, "lowercase"))) opts.lowercase = cJSON_IsTrue(v);
        if ((v = cJSON_GetObjectItem(o, "token_pattern"))) opts.token_pattern = v->valuestring;
        if (cJSON_GetObjectItem(o, "stopwords")) {
            opts.stop_words = (const char *const *)stop;
            opts.n_stop_words = nstop;
        }
        char *err;
        tfidf_analyzer *a = tfidf_analyzer_new(&opts, &err);
        const char *doc = cJSON_GetObjectItem(rec, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(rec, "terms");
        int ok = a != NULL;
        if (a) {
            size_t nt = tfidf_analyze(a, &s, doc, strlen(doc));
            ok = nt == (size_t)cJSON_GetArraySize(want);
            const cJSON *w = want->child;
            for (size_t k = 0; ok && k < nt; k++, w = w->next)
                ok = strlen(w->valuestring) == s.term_len[k] &&
                     memcmp(w->valuestring, s.text.s + s.term_off[k], s.term_len[k]) == 0;
            if (!ok && bad < 5) {
                char *os = cJSON_PrintUnformatted(o);
                printf("# analyzer %s on \"%s\": %zu terms, sklearn %d:", os, doc, nt, cJSON_GetArraySize(want));
                for (size_t k = 0; k < nt && k < 12; k++) printf(" [%.*s]", (int)s.term_len[k], s.text.s + s.term_off[k]);
                printf("\n");
                free(os);
            }
            tfidf_analyzer_free(a);
        } else {
            printf("# analyzer: %s\n", err);
            free(err);
        }
        bad += !ok;
        total++;
        cJSON_Delete(rec);
    }
    char what[128];
    snprintf(what, sizeof what, "analyzer: build_analyzer() output on %zu (options, text) pairs", total);
    CHECK(what, bad == 0 && total > 100);
    tfidf_scratch_free(&s);
    free(lines);
    free(text);
    for (size_t i = 0; i < nstop; i++) free(stop[i]);
    free(stop);
}

/* The default pattern's hand-written scanner against PCRE2 running the same
 * pattern (spelt so that it is not recognised) on every raw tweet. */
static void check_scanner_on_tweets(const char *raw)
{
    tfidf_opts o;
    tfidf_opts_init(&o);
    char *err;
    tfidf_analyzer *fast = tfidf_analyzer_new(&o, &err);
    o.token_pattern = "(?u)(?:\\b\\w\\w+\\b)";
    tfidf_analyzer *re = tfidf_analyzer_new(&o, &err);
    tfidf_scratch s1, s2;
    tfidf_scratch_init(&s1);
    tfidf_scratch_init(&s2);
    tfidf_reader r;
    tfidf_reader_open(&r, raw, "text", 0);
    strbuf prefix = {0};
    const char *text;
    size_t len, docs = 0, differ = 0, tokens = 0;
    while (tfidf_reader_next(&r, &text, &len, &prefix)) {
        sb_clear(&prefix);
        size_t n1 = tfidf_analyze(fast, &s1, text, len), n2 = tfidf_analyze(re, &s2, text, len);
        tokens += n1;
        if (n1 != n2 || s1.text.len != s2.text.len || memcmp(s1.text.s, s2.text.s, s1.text.len) != 0) {
            if (differ++ < 3) printf("# scanner and PCRE2 differ on line %ld\n", r.in.line);
        }
        docs++;
    }
    char what[160];
    snprintf(what, sizeof what, "scanner: the same tokens as PCRE2 on all %zu raw tweets (%zu tokens)", docs, tokens);
    CHECK(what, differ == 0 && docs > 20000);
    sb_free(&prefix);
    tfidf_reader_close(&r);
    tfidf_scratch_free(&s1);
    tfidf_scratch_free(&s2);
    tfidf_analyzer_free(fast);
    tfidf_analyzer_free(re);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    (void)argc;
    prog_init("test_tfidf_golden");
    check_analyzer();

    shared = getenv("SHARED");
    char *self = xstrdup(argv[0]), resolved[PATH_MAX];
    char *bin = str("%s/../bin", dirname(self));
    free(self);
    bin_dir = xstrdup(realpath(bin, resolved) ? resolved : bin);
    free(bin);
    char *csvclean = str("%s/csvclean", bin_dir);
    char *train = str("%s/datasets/tweet_sentiment_extraction/train.csv", shared ? shared : "");
    if (!shared || access(train, R_OK) != 0 || access(csvclean, X_OK) != 0) {
        CHECK("golden: $SHARED tweets and csvclean at hand", 0);
        return check_exit();
    }
    strcpy(tmp_dir, "/tmp/tfidf-golden.XXXXXX");
    if (!mkdtemp(tmp_dir)) die("mkdtemp failed");
    char *clean = str("%s/clean.jsonl", tmp_dir), *raw = str("%s/raw.jsonl", tmp_dir);
    char *cmd = str("'%s' -q --preset tweet --id textID --label sentiment '%s' > %s"
                    " && '%s' -q --id textID --label sentiment '%s' > %s",
                    csvclean, train, clean, csvclean, train, raw);
    int rc = run(cmd);
    free(cmd);
    CHECK("golden: samples made with csvclean", rc == 0);
    if (rc == 0) {
        check_scanner_on_tweets(raw);
        const char *samples[2] = {clean, raw};
        DIR *d = opendir("tests/golden/tfidf");
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.' || strchr(e->d_name, '.')) continue;
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = xstrdup(e->d_name);
        }
        if (d) closedir(d);
        qsort(names, n, sizeof *names, by_name);
        CHECK("golden: configurations found", n >= 2);
        for (size_t i = 0; i < n; i++) {
            check_config(names[i], samples);
            free(names[i]);
        }
        free(names);
    }
    cmd = str("rm -rf '%s'", tmp_dir);
    run(cmd);
    free(cmd);
    free(clean);
    free(raw);
    free(csvclean);
    free(train);
    free(bin_dir);
    return check_exit();
}
