/* Unit tests for lib/linear/tfidf*: the vector JSON against sparse_append_json,
 * min_df/max_df parsing, the fitting rules on small corpora (expected values worked out from scikit-learn's
 * definitions in the comments), model write -> load round trip, the
 * default-pattern scanner against PCRE2 on every code point, and threads
 * sharing a model. Parity with scikit-learn itself: test_tfidf_golden.c. */
#include "check.h"

#include "core/common.h"
#include "core/ndjson.h"
#include "linear/sparse.h"
#include "core/strbuf.h"
#include "linear/tfidf.h"
#include "core/utf8.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_vector_json(void)
{
    sparse_vec v = {0};
    strbuf a = {0}, b = {0};
    int same = 1;
    for (int t = 0; t < 200 && same; t++) {
        sparse_clear(&v);
        v.dim = (long)(check_rnd() % 100000) + 1;
        uint32_t idx = 0;
        size_t n = check_rnd() % 30;
        for (size_t k = 0; k < n; k++) {
            idx += (uint32_t)(check_rnd() % 1000) + (k ? 1 : 0);
            sparse_push(&v, idx, (double)(check_rnd() >> 11) / 9007199254740992.0 * (t % 2 ? 1 : 1e5));
        }
        sb_clear(&a);
        sb_clear(&b);
        tfidf_append_vector_json(&a, &v);
        sparse_append_json(&b, &v);
        same = strcmp(sb_str(&a), sb_str(&b)) == 0;
    }
    CHECK("vector JSON: the same bytes as sparse_append_json (200 vectors, empty ones too)", same);
    sparse_free(&v);
    sb_free(&a);
    sb_free(&b);
}

static int df_is(const char *s, int is_fraction, double value)
{
    tfidf_df_limit l;
    return tfidf_parse_df(s, &l) == 0 && l.is_fraction == is_fraction && l.value == value;
}

static int df_rejected(const char *s)
{
    tfidf_df_limit l;
    return tfidf_parse_df(s, &l) != 0;
}

static void test_parse_df(void)
{
    CHECK("df: '2' is a count", df_is("2", 0, 2));
    CHECK("df: '0' is a count", df_is("0", 0, 0));
    CHECK("df: '1' is a count (one document)", df_is("1", 0, 1));
    CHECK("df: '1.0' is a fraction (every document)", df_is("1.0", 1, 1.0));
    CHECK("df: '0.95' is a fraction", df_is("0.95", 1, 0.95));
    CHECK("df: '.5' is a fraction", df_is(".5", 1, 0.5));
    CHECK("df: '1e-3' is a fraction", df_is("1e-3", 1, 1e-3));
    CHECK("df: '2.5' rejected (a fraction above 1)", df_rejected("2.5"));
    CHECK("df: '2.0' rejected (a fraction above 1)", df_rejected("2.0"));
    CHECK("df: '-1' rejected", df_rejected("-1"));
    CHECK("df: 'abc', '', ' 1', 'inf', 'nan', '0x1p-1' rejected",
          df_rejected("abc") && df_rejected("") && df_rejected(" 1") && df_rejected("inf") && df_rejected("nan") &&
              df_rejected("0x1p-1"));
}

/* ---- fitting ------------------------------------------------------------ */

static tfidf_model *fit_docs(const tfidf_opts *o, const char *const *docs, size_t n, tfidf_fitter **out)
{
    char *err;
    tfidf_fitter *f = tfidf_fitter_new(o, &err);
    if (!f) {
        printf("# fitter: %s\n", err);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) tfidf_fitter_add(f, docs[i], strlen(docs[i]));
    tfidf_fit_stats st;
    tfidf_model *m = tfidf_fitter_finish(f, &st);
    *out = f;
    return m;
}

/* The vocabulary as "t1|t2|..." */
static char *vocab_text(const tfidf_model *m)
{
    strbuf b = {0};
    for (size_t c = 0; c < tfidf_dim(m); c++) {
        size_t len;
        const char *t = tfidf_term(m, c, &len);
        if (c) sb_addc(&b, '|');
        sb_addn(&b, t, len);
    }
    return b.s ? b.s : xstrdup("");
}

static void check_vocab(const char *name, const tfidf_opts *o, const char *const *docs, size_t n, const char *want)
{
    tfidf_fitter *f;
    tfidf_model *m = fit_docs(o, docs, n, &f);
    char *got = vocab_text(m);
    CHECK_STR(name, got, want);
    free(got);
    tfidf_free(m);
    tfidf_fitter_free(f);
}

static void test_fit_rules(void)
{
    static const char *const docs[] = {"aa bb", "aa cc cc", "aa bb dd", "ee"};
    tfidf_opts o;
    tfidf_opts_init(&o);
    /* df: aa 3, bb 2, cc 1, dd 1, ee 1; byte order */
    check_vocab("fit: default keeps every term, byte order", &o, docs, 4, "aa|bb|cc|dd|ee");
    o.max_df = (tfidf_df_limit){0, 1}; /* count: at most 1 document */
    check_vocab("fit: --max-df 1 (a count) keeps df <= 1", &o, docs, 4, "cc|dd|ee");
    o.max_df = (tfidf_df_limit){1, 1.0}; /* fraction: all 4 documents */
    o.min_df = (tfidf_df_limit){0, 2};
    check_vocab("fit: --min-df 2 keeps df >= 2", &o, docs, 4, "aa|bb");
    o.min_df = (tfidf_df_limit){1, 0.5}; /* 0.5 * 4 = 2 documents */
    check_vocab("fit: --min-df 0.5 of 4 documents keeps df >= 2", &o, docs, 4, "aa|bb");
    o.min_df = (tfidf_df_limit){0, 1};
    o.max_df = (tfidf_df_limit){1, 0.5}; /* <= 2 documents */
    check_vocab("fit: --max-df 0.5 of 4 documents keeps df <= 2", &o, docs, 4, "bb|cc|dd|ee");
    o.max_df = (tfidf_df_limit){1, 1.0};
    /* corpus frequency: aa 3, cc 2, bb 2, dd 1, ee 1: the top 2 are aa and
     * one of bb/cc (tied at 2): the alphabetically first, bb */
    o.max_features = 2;
    check_vocab("fit: --max-features 2 breaks the tie at the cut alphabetically", &o, docs, 4, "aa|bb");
    o.max_features = 3;
    check_vocab("fit: --max-features 3", &o, docs, 4, "aa|bb|cc");
    o.max_features = 0;
    o.ngram_min = 1, o.ngram_max = 2;
    check_vocab("fit: --ngram 1,2", &o, docs, 4, "aa|aa bb|aa cc|bb|bb dd|cc|cc cc|dd|ee");
    o.ngram_min = 2;
    check_vocab("fit: --ngram 2,2", &o, docs, 3, "aa bb|aa cc|bb dd|cc cc");
    tfidf_opts_init(&o);
    static const char *const stop[] = {"bb", "cc"};
    o.stop_words = stop;
    o.n_stop_words = 2;
    o.ngram_max = 2;
    /* stop words go before the n-grams: "aa bb dd" gives the bigram "aa dd" */
    check_vocab("fit: stop words removed before n-grams", &o, docs, 4, "aa|aa dd|dd|ee");

    /* idf and weights, norm none: n = 4 documents; smooth idf =
     * ln((1 + n) / (1 + df)) + 1; cc occurs twice in document 2 */
    tfidf_opts_init(&o);
    o.norm = TFIDF_NORM_NONE;
    tfidf_fitter *f;
    tfidf_model *m = fit_docs(&o, docs, 4, &f);
    sparse_vec v = {0};
    tfidf_fitter_vector(f, m, 1, &v); /* "aa cc cc": aa col 0, cc col 2 */
    double idf_aa = log(5.0 / 4.0) + 1, idf_cc = log(5.0 / 2.0) + 1;
    CHECK("fit: smooth idf = ln((1+n)/(1+df)) + 1", fabs(tfidf_idf(m, 0) - idf_aa) < 1e-15 &&
                                                       fabs(tfidf_idf(m, 2) - idf_cc) < 1e-15);
    CHECK("fit: raw tf * idf without norm", v.n == 2 && v.idx[0] == 0 && v.idx[1] == 2 &&
                                                fabs(v.val[0] - idf_aa) < 1e-15 && fabs(v.val[1] - 2 * idf_cc) < 1e-15);
    CHECK("fit: dim is the vocabulary size", v.dim == 5);
    tfidf_free(m);
    tfidf_fitter_free(f);
    o.sublinear_tf = 1;
    o.smooth_idf = 0;
    m = fit_docs(&o, docs, 4, &f);
    tfidf_fitter_vector(f, m, 1, &v);
    /* no smoothing: ln(n/df) + 1; sublinear: 1 + ln(tf) */
    CHECK("fit: --no-smooth-idf and --sublinear-tf",
          fabs(v.val[0] - (log(4.0 / 3.0) + 1)) < 1e-15 && fabs(v.val[1] - (1 + log(2.0)) * (log(4.0 / 1.0) + 1)) < 1e-15);
    tfidf_free(m);
    tfidf_fitter_free(f);
    o.use_idf = 0;
    o.sublinear_tf = 0;
    o.norm = TFIDF_NORM_L1;
    m = fit_docs(&o, docs, 4, &f);
    tfidf_fitter_vector(f, m, 1, &v);
    CHECK("fit: --no-idf --norm l1: counts over their sum", fabs(v.val[0] - 1.0 / 3) < 1e-15 && fabs(v.val[1] - 2.0 / 3) < 1e-15);
    tfidf_free(m);
    tfidf_fitter_free(f);
    o.use_idf = 1;
    o.norm = TFIDF_NORM_L2;
    static const char *const with_empty[] = {"aa bb", "x !", "bb"};
    m = fit_docs(&o, with_empty, 3, &f);
    tfidf_fitter_vector(f, m, 1, &v);
    CHECK("fit: a document without terms gets an empty vector", v.n == 0 && v.dim == 2);
    tfidf_fitter_vector(f, m, 0, &v);
    CHECK("fit: l2 norm gives unit length", fabs(v.val[0] * v.val[0] + v.val[1] * v.val[1] - 1) < 1e-15);
    tfidf_free(m);
    tfidf_fitter_free(f);
    sparse_free(&v);
}

/* --max-features against the definition, on random corpora full of ties:
 * the N terms of largest corpus frequency, ties to the alphabetically first,
 * then in byte order. Words "wK", corpus frequencies counted here. */
typedef struct word_count {
    char word[8];
    size_t count;
} word_count;

static int by_count_then_word(const void *a, const void *b)
{
    const word_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

static int by_word(const void *a, const void *b) { return strcmp(((const word_count *)a)->word, ((const word_count *)b)->word); }

static void test_max_features_random(void)
{
    int bad = 0;
    for (int trial = 0; trial < 40 && !bad; trial++) {
        size_t nwords = 5 + check_rnd() % 300, ndocs = 1 + check_rnd() % 60, limit = 1 + check_rnd() % (nwords + 5);
        word_count *wc = xcalloc(nwords, sizeof *wc);
        for (size_t w = 0; w < nwords; w++) snprintf(wc[w].word, sizeof wc[w].word, "w%zu", w);
        char **docs = xcalloc(ndocs, sizeof *docs);
        for (size_t d = 0; d < ndocs; d++) {
            strbuf b = {0};
            size_t len = check_rnd() % 40;
            for (size_t k = 0; k < len; k++) {
                size_t w = check_rnd() % (check_rnd() % 2 ? nwords : 1 + nwords / 8); /* some words far more often */
                wc[w].count++;
                sb_adds(&b, wc[w].word);
                sb_addc(&b, ' ');
            }
            docs[d] = b.s ? b.s : xstrdup("");
        }
        size_t seen = 0;
        for (size_t w = 0; w < nwords; w++) seen += wc[w].count > 0;
        qsort(wc, nwords, sizeof *wc, by_count_then_word);
        size_t keep = limit < seen ? limit : seen;
        qsort(wc, keep, sizeof *wc, by_word);
        strbuf want = {0};
        for (size_t w = 0; w < keep; w++) {
            if (w) sb_addc(&want, '|');
            sb_adds(&want, wc[w].word);
        }
        if (seen == 0) {
            for (size_t d = 0; d < ndocs; d++) free(docs[d]);
            free(docs);
            free(wc);
            sb_free(&want);
            continue;
        }
        tfidf_opts o;
        tfidf_opts_init(&o);
        o.max_features = (long)limit;
        tfidf_fitter *f;
        tfidf_model *m = fit_docs(&o, (const char *const *)docs, ndocs, &f);
        char *got = vocab_text(m);
        if (strcmp(got, sb_str(&want)) != 0) {
            printf("# trial %d: max_features %zu: got %s\n#   want %s\n", trial, limit, got, sb_str(&want));
            bad = 1;
        }
        free(got);
        tfidf_free(m);
        tfidf_fitter_free(f);
        for (size_t d = 0; d < ndocs; d++) free(docs[d]);
        free(docs);
        free(wc);
        sb_free(&want);
    }
    CHECK("fit: --max-features on 40 random corpora: most frequent, ties alphabetically", !bad);
}

/* fit -> write -> load -> vectorize gives fit's vectors, bit for bit */
static void test_round_trip(void)
{
    static const char *const docs[] = {
        "The quick brown fox jumps over the lazy dog", "Über café naïve ÇA", "the dog barks; the fox runs",
        "lazy lazy lazy days", "1234 numbers_and_words 56", "", "quick quick fox",
    };
    size_t n = sizeof docs / sizeof *docs;
    tfidf_opts o;
    tfidf_opts_init(&o);
    o.ngram_max = 3;
    o.sublinear_tf = 1;
    o.max_features = 20;
    static const char *const stop[] = {"the", "over"};
    o.stop_words = stop;
    o.n_stop_words = 2;
    tfidf_fitter *f;
    tfidf_model *m = fit_docs(&o, docs, n, &f);
    char dir[] = "/tmp/test_tfidf.XXXXXX";
    CHECK("round trip: temp dir", mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/" TFIDF_MODEL_FILE, dir);
    FILE *out = fopen(path, "w");
    tfidf_write_model(m, out);
    fclose(out);
    tfidf_model *loaded = tfidf_load(dir);
    char *a = vocab_text(m), *b = vocab_text(loaded);
    CHECK_STR("round trip: the same vocabulary", b, a);
    int same = tfidf_dim(m) == tfidf_dim(loaded);
    for (size_t c = 0; same && c < tfidf_dim(m); c++) same = tfidf_idf(m, c) == tfidf_idf(loaded, c);
    CHECK("round trip: idf exactly", same);
    const tfidf_opts *lo = tfidf_model_opts(loaded);
    CHECK("round trip: options", lo->ngram_max == 3 && lo->sublinear_tf && lo->max_features == 20 &&
                                     lo->n_stop_words == 2 && strcmp(lo->stop_words[1], "over") == 0 &&
                                     lo->max_df.is_fraction && lo->max_df.value == 1.0 && !lo->min_df.is_fraction);
    tfidf_scratch s;
    tfidf_scratch_init(&s);
    sparse_vec v1 = {0}, v2 = {0};
    same = 1;
    for (size_t d = 0; d < n; d++) {
        tfidf_fitter_vector(f, m, d, &v1);
        tfidf_vectorize(loaded, &s, docs[d], strlen(docs[d]), &v2);
        same = same && v1.n == v2.n && v1.dim == v2.dim;
        for (size_t k = 0; same && k < v1.n; k++) same = v1.idx[k] == v2.idx[k] && v1.val[k] == v2.val[k];
    }
    CHECK("round trip: a loaded model's vectors are fit's, bit for bit", same);

    /* the same file with a form feed for a blank: cJSON takes it, the strict
     * scan does not, so the model is read the slow way; it must be the same */
    FILE *in = fopen(path, "r");
    strbuf text = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, in)) > 0) sb_addn(&text, chunk, got);
    fclose(in);
    out = fopen(path, "w");
    fputs("{\f", out);
    fputs(text.s + 1, out);
    fclose(out);
    sb_free(&text);
    tfidf_model *slow = tfidf_load(dir);
    char *c = vocab_text(slow);
    same = strcmp(a, c) == 0 && tfidf_dim(slow) == tfidf_dim(m);
    for (size_t col = 0; same && col < tfidf_dim(m); col++) same = tfidf_idf(m, col) == tfidf_idf(slow, col);
    const tfidf_opts *so = tfidf_model_opts(slow);
    same = same && so->ngram_max == 3 && so->sublinear_tf && so->max_features == 20 && so->n_stop_words == 2 &&
           so->max_df.is_fraction && !so->min_df.is_fraction;
    CHECK("round trip: the slow (cJSON) model reader gives the same model", same);
    free(c);
    tfidf_free(slow);
    free(a);
    free(b);
    sparse_free(&v1);
    sparse_free(&v2);
    tfidf_scratch_free(&s);
    tfidf_free(loaded);
    tfidf_free(m);
    tfidf_fitter_free(f);
    unlink(path);
    rmdir(dir);
}

/* The default pattern's scanner and PCRE2 running the same pattern (written
 * so that it is not recognised as the default) agree on every code point:
 * each sits between ASCII letters, "x" + c + "y". */
static void test_scanner_vs_pcre2(void)
{
    strbuf text = {0};
    for (uint32_t c = 1; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        char u[4];
        sb_addc(&text, 'x');
        sb_addn(&text, u, (size_t)utf8_encode(c, u));
        sb_adds(&text, "y ");
    }
    tfidf_opts o;
    tfidf_opts_init(&o);
    o.lowercase = 0;
    char *err;
    tfidf_analyzer *fast = tfidf_analyzer_new(&o, &err);
    o.token_pattern = "(?u)(?:\\b\\w\\w+\\b)";
    tfidf_analyzer *re = tfidf_analyzer_new(&o, &err);
    CHECK("scanner: the default pattern uses the scanner, another spelling PCRE2",
          tfidf_analyzer_fast(fast) && !tfidf_analyzer_fast(re));
    tfidf_scratch s1, s2;
    tfidf_scratch_init(&s1);
    tfidf_scratch_init(&s2);
    size_t n1 = tfidf_analyze(fast, &s1, text.s, text.len), n2 = tfidf_analyze(re, &s2, text.s, text.len);
    int same = n1 == n2 && s1.text.len == s2.text.len && memcmp(s1.text.s, s2.text.s, s1.text.len) == 0;
    CHECK("scanner: the same tokens as PCRE2 for all 1,112,062 code points", same && n1 > 100000);
    tfidf_scratch_free(&s1);
    tfidf_scratch_free(&s2);
    tfidf_analyzer_free(fast);
    tfidf_analyzer_free(re);
    sb_free(&text);
}

/* ---- reading records ------------------------------------------------------ */

/* tfidf_reader against cJSON: for each line, the text must be cJSON's
 * string and the prefix + "x" must parse
 * to the record as cJSON reads it, without "x" (and the text with
 * drop_text). Lines the strict scan takes and lines only cJSON takes
 * (leading zeros, control characters, \f as a blank, escaped keys). A
 * \u0000, which cJSON would cut the string at, is an error
 * (tests/cases/tfidf/nul_escape). */
static const char *const reader_lines[] = {
    "{\"id\":\"1\",\"text\":\"plain\",\"label\":\"pos\"}",
    "{\"text\":\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t end\"}",
    "{\"text\":\"\\u00e9\\u4e2d\\ud83d\\ude00 mixed \xc3\xa9\"}",
    "   {\"a\":[1,2,{\"b\":null,\"c\":[]}],\"text\":\"x\",\"c\":-0.5e+10,\"d\":true,\"e\":{}}",
    "{\"x\":{\"dim\":1},\"text\":\"t\",\"y\":1}",
    "{\"text\":\"only\"}",
    "{\"text\":\"first\",\"text\":\"second\"}",
    "{\"te\\u0078t\":\"escaped key\"}",
    "{\"text\" : \"spaces\" , \"id\" : 2 }\t ",
    "{\"n\":01,\"text\":\"leading zero\"}",
    "{\"text\":\"ctl\x01char\"}",
    "{\f\"text\":\"form feed\"}",
    "{\"id\":\"\\\"quoted\\\"\",\"text\":\"t\",\"x\":[1],\"z\":\"\\u00e9\"}\r",
};

static void test_reader(void)
{
    size_t n = sizeof reader_lines / sizeof *reader_lines;
    char path[] = "/tmp/test_tfidf_reader.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    for (size_t i = 0; i < n; i++) fprintf(f, "%s\n\n", reader_lines[i]);
    fclose(f);
    for (int drop = 0; drop <= 1; drop++) {
        tfidf_reader r;
        tfidf_reader_open(&r, path, "text", drop);
        strbuf prefix = {0};
        const char *text;
        size_t len, i = 0, bad = 0;
        while (tfidf_reader_next(&r, &text, &len, &prefix)) {
            cJSON *want = cJSON_Parse(reader_lines[i]);
            char *want_text = xstrdup(rec_string(want, "text"));
            while (cJSON_GetObjectItemCaseSensitive(want, "x")) cJSON_DeleteItemFromObjectCaseSensitive(want, "x");
            while (drop && cJSON_GetObjectItemCaseSensitive(want, "text"))
                cJSON_DeleteItemFromObjectCaseSensitive(want, "text");
            sb_adds(&prefix, "\"x\":0}");
            cJSON *got = cJSON_Parse(prefix.s);
            cJSON_DeleteItemFromObjectCaseSensitive(got, "x");
            /* compared as printed: cJSON_Compare mistakes duplicate keys */
            char *g = got ? cJSON_PrintUnformatted(got) : xstrdup("(invalid)"), *w = cJSON_PrintUnformatted(want);
            int ok = len == strlen(want_text) && memcmp(text, want_text, len) == 0 && strcmp(g, w) == 0;
            free(g);
            free(w);
            free(want_text);
            if (!ok && bad++ < 3) printf("# line %zu (drop %d): text [%.*s], prefix %s\n", i + 1, drop, (int)len, text, prefix.s);
            cJSON_Delete(got);
            cJSON_Delete(want);
            sb_clear(&prefix);
            i++;
        }
        CHECK(drop ? "reader: text and record as cJSON has them, --drop-text" : "reader: text and record as cJSON has them",
              bad == 0 && i == n && r.in.line == (long)(2 * n));
        /* lines 8, 10, 11, 12: an escaped key, 01, a control character, \f */
        CHECK(drop ? "reader: the strict scan takes the other 9 lines, --drop-text" : "reader: the strict scan takes the other 9 lines",
              r.slow == 4);
        sb_free(&prefix);
        tfidf_reader_close(&r);
    }
    unlink(path);
}

/* ---- threads sharing one model ------------------------------------------ */

typedef struct job {
    const tfidf_model *m;
    const char *const *docs;
    size_t n;
    double sum; /* of every value, in order */
} job;

static void *vectorize_all(void *arg)
{
    job *j = arg;
    tfidf_scratch s;
    tfidf_scratch_init(&s);
    sparse_vec v = {0};
    for (int rep = 0; rep < 200; rep++)
        for (size_t d = 0; d < j->n; d++) {
            tfidf_vectorize(j->m, &s, j->docs[d], strlen(j->docs[d]), &v);
            for (size_t k = 0; k < v.n; k++) j->sum += v.val[k] * (double)(v.idx[k] + 1);
        }
    sparse_free(&v);
    tfidf_scratch_free(&s);
    return NULL;
}

/* Threads vectorise with one model, each with its own scratch; the default
 * pattern's scanner fills its character table lazily from several threads
 * at once (this runs before anything else has met these scripts). */
static void threads_agree(const char *name, const char *pattern)
{
    static const char *const docs[] = {"alpha beta gamma", "beta gamma delta ñandú", "gamma delta epsilon alpha",
                                       "zeta ἀλφα βῆτα дельта", "देवनागरी 漢字 かな ｆｕｌｌ", "ქართული ᏣᎳᎩ 𝔘𝔫𝔦"};
    size_t n = sizeof docs / sizeof *docs;
    tfidf_opts o;
    tfidf_opts_init(&o);
    o.ngram_max = 2;
    o.token_pattern = pattern;
    tfidf_fitter *f;
    tfidf_model *m = fit_docs(&o, docs, n, &f);
    job jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){m, docs, n, 0};
        pthread_create(&t[i], NULL, vectorize_all, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    job one = {m, docs, n, 0};
    vectorize_all(&one);
    int same = 1;
    for (int i = 0; i < 4; i++) same = same && jobs[i].sum == one.sum;
    CHECK(name, same && one.sum > 0);
    tfidf_free(m);
    tfidf_fitter_free(f);
}

static void test_threads(void)
{
    /* the vocabulary is fitted before the threads start: fit_docs analyses
     * the documents, so the scanner's table would be filled already; a
     * fresh model with unseen scripts goes through the threads first */
    static const char *const seed_docs[] = {"plain ascii only", "more ascii"};
    tfidf_opts o;
    tfidf_opts_init(&o);
    tfidf_fitter *f;
    tfidf_model *m = fit_docs(&o, seed_docs, 2, &f);
    static const char *const fresh[] = {"ascii ᚠᚢᚦ ᚨᚱ runes", "ꦗꦮ javanese ꦲꦏ꧀ꦱꦫ", "ascii 𐌰𐌱 gothic"};
    job jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){m, fresh, 3, 0};
        pthread_create(&t[i], NULL, vectorize_all, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    int same = 1;
    for (int i = 0; i < 4; i++) same = same && jobs[i].sum == jobs[0].sum;
    CHECK("threads: the scanner's table filled by 4 threads at once", same && jobs[0].sum > 0);
    tfidf_free(m);
    tfidf_fitter_free(f);
    threads_agree("threads: 4 threads share a model (default pattern), each with its scratch, and agree", NULL);
    threads_agree("threads: 4 threads share a model (PCRE2 pattern), each with its scratch, and agree", "\\w+");
}

int main(void)
{
    prog_init("test_tfidf");
    test_vector_json();
    test_parse_df();
    test_reader();
    test_threads();
    test_fit_rules();
    test_max_features_random();
    test_round_trip();
    test_scanner_vs_pcre2();
    return check_exit();
}
