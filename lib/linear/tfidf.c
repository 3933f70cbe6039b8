/* tfidf: fitting (vocabulary, pruning, idf), the model file, and vectors.
 * The rules are scikit-learn's CountVectorizer.fit_transform and
 * TfidfTransformer (sklearn/feature_extraction/text.py). */
#include "tfidf.h"

#include "core/common.h"
#include "core/ndjson.h"
#include "core/numfmt.h"
#include "core/utf8.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tfidf_opts_init(tfidf_opts *o)
{
    memset(o, 0, sizeof *o);
    o->analyzer = TFIDF_WORD;
    o->ngram_min = o->ngram_max = 1;
    o->lowercase = 1;
    o->token_pattern = NULL;
    o->min_df = (tfidf_df_limit){0, 1};
    o->max_df = (tfidf_df_limit){1, 1.0};
    o->max_features = 0;
    o->norm = TFIDF_NORM_L2;
    o->use_idf = o->smooth_idf = 1;
    o->sublinear_tf = 0;
}

int tfidf_parse_df(const char *s, tfidf_df_limit *out)
{
    size_t digits = strspn(s, "0123456789");
    if (digits > 0 && s[digits] == '\0') {
        if (digits > 15) return -1;
        *out = (tfidf_df_limit){0, strtod(s, NULL)};
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* strtod would also take " 1", "inf", "0x1p-1": a fraction is written in decimal */
    if (end == s || *end != '\0' || errno == ERANGE || strspn(s, "0123456789.eE+-") != strlen(s)) return -1;
    if (!(v >= 0.0 && v <= 1.0)) return -1;
    *out = (tfidf_df_limit){1, v};
    return 0;
}

const char *tfidf_analyzer_name(enum tfidf_analyzer_kind k)
{
    return k == TFIDF_CHAR ? "char" : k == TFIDF_CHAR_WB ? "char_wb" : "word";
}

const char *tfidf_norm_name(enum tfidf_norm n)
{
    return n == TFIDF_NORM_L1 ? "l1" : n == TFIDF_NORM_L2 ? "l2" : "none";
}

/* ---- hashing ------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 31;
    return h;
}

/* 8 bytes at a time: terms are short and hashed once per occurrence */
static inline uint64_t hash_term(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xC2B2AE3D27D4EB4Full;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)(unsigned char)s[i] << (8 * i);
    return mix64(h ^ w);
}

/* ---- a table of terms: ids, bytes, and a hash index ---------------------- */

/* Open addressing with linear probing over 32-bit slots (id + 1, 0 =
 * empty). A term keeps the low 32 bits of its hash: where it belongs, and a
 * check that spares most string compares. Kept small (fit holds every
 * distinct n-gram of the input: the table's cache misses are most of fit's
 * time). */
typedef struct term_ref {
    size_t off;     /* in chars */
    uint32_t len;
    uint32_t hash;  /* low bits of hash_term */
    uint32_t df;    /* fit's counts: documents, */
    uint32_t tf;    /* and occurrences in the corpus */
} term_ref;

typedef struct term_table {
    strbuf chars;     /* the terms back to back */
    term_ref *ref;
    size_t n, cap;
    uint32_t *slots;
    size_t nslots;    /* a power of two */
} term_table;

static inline const char *term_bytes(const term_table *t, size_t id) { return t->chars.s + t->ref[id].off; }

/* a[0..n) == b[0..n), for the short strings terms are (libc's memcmp is a
 * call and more for them) */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t x, y;
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return 0;
        }
        if (i == n) return 1;
        uint64_t x, y; /* the last 8 bytes, overlapping */
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* The id of term s[0..n) with hash h, or -1 and in *slot where it goes. */
static inline long table_find(const term_table *t, const char *s, size_t n, uint64_t h, size_t *slot)
{
    uint32_t h32 = (uint32_t)h;
    size_t mask = t->nslots - 1, i = h32 & mask;
    for (;;) {
        uint32_t v = t->slots[i];
        if (!v) break;
        const term_ref *r = &t->ref[v - 1];
        if (r->hash == h32 && r->len == n && same_bytes(t->chars.s + r->off, s, n)) return (long)v - 1;
        i = (i + 1) & mask;
    }
    *slot = i;
    return -1;
}

/* Four times the slots: fewer rounds of rehashing into fresh memory. */
static void table_grow(term_table *t)
{
    size_t nslots = t->nslots * 4, mask = nslots - 1;
    uint32_t *slots = xcalloc(nslots, sizeof *slots);
    for (size_t id = 0; id < t->n; id++) {
        size_t i = t->ref[id].hash & mask;
        while (slots[i]) i = (i + 1) & mask;
        slots[i] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
}

static uint32_t table_add(term_table *t, const char *s, size_t n, uint64_t h, size_t slot)
{
    if (t->n >= UINT32_MAX - 1) die("more than 4 billion distinct terms");
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        t->ref = xrealloc(t->ref, t->cap * sizeof *t->ref);
    }
    uint32_t id = (uint32_t)t->n++;
    t->ref[id] = (term_ref){.off = t->chars.len, .len = (uint32_t)n, .hash = (uint32_t)h};
    sb_addn(&t->chars, s, n);
    t->slots[slot] = id + 1;
    if (2 * t->n > t->nslots) table_grow(t);
    return id;
}

/* The id of a term, added if new. */
static uint32_t table_put(term_table *t, const char *s, size_t n)
{
    uint64_t h = hash_term(s, n);
    size_t slot = 0;
    long id = table_find(t, s, n, h, &slot);
    return id >= 0 ? (uint32_t)id : table_add(t, s, n, h, slot);
}

static void table_init(term_table *t)
{
    memset(t, 0, sizeof *t);
    t->nslots = 4096;
    t->slots = xcalloc(t->nslots, sizeof *t->slots);
}

static void table_free(term_table *t)
{
    sb_free(&t->chars);
    free(t->ref);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---- the model ----------------------------------------------------------- */

struct tfidf_model {
    tfidf_opts opts;          /* its strings point into the fields below */
    char *token_pattern;
    char **stop_words;
    tfidf_analyzer *analyzer;
    term_table vocab;         /* id = column */
    double *idf;              /* NULL without use_idf */
    size_t n_documents;
};

size_t tfidf_dim(const tfidf_model *m) { return m->vocab.n; }

const char *tfidf_term(const tfidf_model *m, size_t col, size_t *len)
{
    if (len) *len = m->vocab.ref[col].len;
    return term_bytes(&m->vocab, col);
}

double tfidf_idf(const tfidf_model *m, size_t col) { return m->idf ? m->idf[col] : 1.0; }
const tfidf_opts *tfidf_model_opts(const tfidf_model *m) { return &m->opts; }
const tfidf_analyzer *tfidf_model_analyzer(const tfidf_model *m) { return m->analyzer; }

/* Copies the strings of o into m and points m->opts at the copies. */
static void model_set_opts(tfidf_model *m, const tfidf_opts *o)
{
    m->opts = *o;
    m->token_pattern = xstrdup(o->token_pattern ? o->token_pattern : TFIDF_DEFAULT_PATTERN);
    m->opts.token_pattern = m->token_pattern;
    if (o->stop_words) {
        m->stop_words = xcalloc(o->n_stop_words + 1, sizeof *m->stop_words);
        for (size_t i = 0; i < o->n_stop_words; i++) m->stop_words[i] = xstrdup(o->stop_words[i]);
        m->opts.stop_words = (const char *const *)m->stop_words;
    }
}

void tfidf_free(tfidf_model *m)
{
    if (!m) return;
    free(m->token_pattern);
    for (size_t i = 0; m->stop_words && i < m->opts.n_stop_words; i++) free(m->stop_words[i]);
    free(m->stop_words);
    tfidf_analyzer_free(m->analyzer);
    table_free(&m->vocab);
    free(m->idf);
    free(m);
}

/* ---- vectors --------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts keys (column << 32 | count): insertion sort for the few of a
 * typical document, qsort beyond. */
static void sort_keys(uint64_t *k, size_t n)
{
    if (n > 48) {
        qsort(k, n, sizeof *k, cmp_u64);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t v = k[i];
        size_t j = i;
        while (j > 0 && k[j - 1] > v) k[j] = k[j - 1], j--;
        k[j] = v;
    }
}

/* Term counts (sorted keys) -> the TfidfTransformer row: tf (or 1 + ln tf),
 * times idf, normalised as sklearn.preprocessing.normalize does (a zero row
 * stays zero). */
static void weigh(const tfidf_model *m, const uint64_t *keys, size_t n, sparse_vec *out)
{
    sparse_clear(out);
    out->dim = (long)m->vocab.n;
    if (out->cap < n) {
        out->cap = n;
        out->idx = xrealloc(out->idx, n * sizeof *out->idx);
        out->val = xrealloc(out->val, n * sizeof *out->val);
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t col = (uint32_t)(keys[i] >> 32);
        uint32_t count = (uint32_t)keys[i];
        double tf = (double)count;
        if (m->opts.sublinear_tf) tf = count == 1 ? 1.0 : log(tf) + 1.0; /* ln 1 = 0 exactly */
        if (m->idf) tf *= m->idf[col];
        out->idx[i] = col;
        out->val[i] = tf;
        if (m->opts.norm == TFIDF_NORM_L2) sum += tf * tf;
        else if (m->opts.norm == TFIDF_NORM_L1) sum += fabs(tf);
    }
    out->n = n;
    if (m->opts.norm == TFIDF_NORM_NONE || sum == 0.0) return;
    if (m->opts.norm == TFIDF_NORM_L2) sum = sqrt(sum);
    for (size_t i = 0; i < n; i++) out->val[i] /= sum;
}

void tfidf_vectorize(const tfidf_model *m, tfidf_scratch *s, const char *text, size_t n, sparse_vec *out)
{
    size_t nterms = tfidf_analyze(m->analyzer, s, text, n);
    if (s->keys_cap < nterms) {
        s->keys_cap = nterms > 2 * s->keys_cap ? nterms : 2 * s->keys_cap;
        s->keys = xrealloc(s->keys, s->keys_cap * sizeof *s->keys);
        s->hashes = xrealloc(s->hashes, s->keys_cap * sizeof *s->hashes);
    }
    const term_table *t = &m->vocab;
    for (size_t i = 0; i < nterms; i++) { /* prefetched first, so that the misses overlap */
        s->hashes[i] = hash_term(s->text.s + s->term_off[i], s->term_len[i]);
        __builtin_prefetch(&t->slots[(uint32_t)s->hashes[i] & (t->nslots - 1)]);
    }
    /* the columns of the terms, sorted, then counted: keys (column << 32 | count) */
    size_t nk = 0, slot;
    for (size_t i = 0; i < nterms; i++) {
        long col = table_find(t, s->text.s + s->term_off[i], s->term_len[i], s->hashes[i], &slot);
        if (col >= 0) s->keys[nk++] = (uint64_t)col << 32;
    }
    sort_keys(s->keys, nk);
    size_t distinct = 0;
    for (size_t i = 0; i < nk; i++) {
        if (distinct && s->keys[distinct - 1] >> 32 == s->keys[i] >> 32) s->keys[distinct - 1]++;
        else s->keys[distinct++] = s->keys[i] | 1;
    }
    weigh(m, s->keys, distinct, out);
}

/* ---- fitting --------------------------------------------------------------- */

struct tfidf_fitter {
    tfidf_opts opts;
    tfidf_model *proto;     /* owns the copies of the option strings */
    tfidf_analyzer *analyzer;
    tfidf_scratch scratch;
    term_table terms;         /* with the counts per term */
    uint64_t *hashes;         /* of the terms of the document being added */
    uint32_t *ids;            /* their ids */
    size_t hash_cap;
    /* every document as (term id, count) pairs */
    uint32_t *pair_id, *pair_count;
    size_t npairs, pairs_cap;
    size_t *doc_start; /* n_docs + 1 */
    size_t n_docs, docs_cap;
    uint32_t *remap;   /* term id -> column or UINT32_MAX, after finish */
};

tfidf_fitter *tfidf_fitter_new(const tfidf_opts *o, char **err)
{
    tfidf_fitter *f = xcalloc(1, sizeof *f);
    f->proto = xcalloc(1, sizeof *f->proto);
    model_set_opts(f->proto, o);
    f->opts = f->proto->opts;
    f->analyzer = tfidf_analyzer_new(&f->opts, err);
    if (!f->analyzer) {
        tfidf_free(f->proto);
        free(f);
        return NULL;
    }
    tfidf_scratch_init(&f->scratch);
    table_init(&f->terms);
    f->docs_cap = 1024;
    f->doc_start = xmalloc((f->docs_cap + 1) * sizeof *f->doc_start);
    f->doc_start[0] = 0;
    return f;
}

size_t tfidf_fitter_docs(const tfidf_fitter *f) { return f->n_docs; }

static void sort_u32(uint32_t *v, size_t n)
{
    if (n > 48) {
        qsort(v, n, sizeof *v, cmp_u32);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) v[j] = v[j - 1], j--;
        v[j] = x;
    }
}

void tfidf_fitter_add(tfidf_fitter *f, const char *text, size_t n)
{
    tfidf_scratch *s = &f->scratch;
    size_t nterms = tfidf_analyze(f->analyzer, s, text, n);
    if (f->n_docs >= UINT32_MAX - 1) die("more than 4 billion documents");
    if (f->npairs + nterms > f->pairs_cap) {
        size_t cap = f->pairs_cap ? 2 * f->pairs_cap : 1 << 16;
        while (cap < f->npairs + nterms) cap *= 2;
        f->pair_id = xrealloc(f->pair_id, cap * sizeof *f->pair_id);
        f->pair_count = xrealloc(f->pair_count, cap * sizeof *f->pair_count);
        f->pairs_cap = cap;
    }
    if (f->hash_cap < nterms) {
        f->hash_cap = nterms > 2 * f->hash_cap ? nterms : 2 * f->hash_cap;
        f->hashes = xrealloc(f->hashes, f->hash_cap * sizeof *f->hashes);
        f->ids = xrealloc(f->ids, f->hash_cap * sizeof *f->ids);
    }
    /* The table is far bigger than the caches: the home slots of all the
     * document's terms are prefetched first, then the terms they hold, so
     * that the cache misses overlap; then the lookups. */
    term_table *tt = &f->terms;
    for (size_t i = 0; i < nterms; i++) {
        uint64_t h = hash_term(s->text.s + s->term_off[i], s->term_len[i]);
        f->hashes[i] = h;
        __builtin_prefetch(&tt->slots[(uint32_t)h & (tt->nslots - 1)]);
    }
    for (size_t i = 0; i < nterms; i++) {
        uint32_t v = tt->slots[(uint32_t)f->hashes[i] & (tt->nslots - 1)];
        if (v) __builtin_prefetch(&tt->ref[v - 1]);
    }
    for (size_t i = 0; i < nterms; i++) {
        const char *t = s->text.s + s->term_off[i];
        size_t len = s->term_len[i], slot;
        long found = table_find(tt, t, len, f->hashes[i], &slot);
        f->ids[i] = found < 0 ? table_add(tt, t, len, f->hashes[i], slot) : (uint32_t)found;
    }
    /* the document's (id, count) pairs */
    sort_u32(f->ids, nterms);
    for (size_t i = 0; i < nterms;) {
        size_t j = i + 1;
        while (j < nterms && f->ids[j] == f->ids[i]) j++;
        term_ref *r = &tt->ref[f->ids[i]];
        if (r->tf > UINT32_MAX - (j - i)) die("a term occurs more than 4 billion times");
        r->df++;
        r->tf += (uint32_t)(j - i);
        f->pair_id[f->npairs] = f->ids[i];
        f->pair_count[f->npairs++] = (uint32_t)(j - i);
        i = j;
    }
    if (f->n_docs + 1 > f->docs_cap) {
        f->docs_cap *= 2;
        f->doc_start = xrealloc(f->doc_start, (f->docs_cap + 1) * sizeof *f->doc_start);
    }
    f->doc_start[++f->n_docs] = f->npairs;
}

/* Terms in byte order (= Python's str order: UTF-8 keeps code point
 * order), compared by an 8-byte big-endian prefix first. Terms hold no NUL
 * (record strings cannot), so a shorter term's zero padding sorts first. */
typedef struct sort_item {
    uint64_t prefix;
    uint32_t id;
} sort_item;

static const term_table *sort_table;

static int cmp_terms(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->prefix != y->prefix) return x->prefix < y->prefix ? -1 : 1;
    const term_table *t = sort_table;
    size_t lx = t->ref[x->id].len, ly = t->ref[y->id].len;
    if (lx <= 8 || ly <= 8) return (lx > ly) - (lx < ly);
    size_t n = (lx < ly ? lx : ly) - 8;
    int c = memcmp(term_bytes(t, x->id) + 8, term_bytes(t, y->id) + 8, n);
    return c ? c : (lx > ly) - (lx < ly);
}

static void sort_by_term(const term_table *t, uint32_t *ids, size_t n)
{
    sort_item *items = xmalloc((n ? n : 1) * sizeof *items);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = (const unsigned char *)term_bytes(t, ids[i]);
        size_t len = t->ref[ids[i]].len;
        uint64_t p = 0;
        for (size_t k = 0; k < 8; k++) p = p << 8 | (k < len ? s[k] : 0);
        items[i] = (sort_item){p, ids[i]};
    }
    sort_table = t;
    qsort(items, n, sizeof *items, cmp_terms);
    for (size_t i = 0; i < n; i++) ids[i] = items[i].id;
    free(items);
}

/* The k-th largest of v[0..n) (k from 0); v is reordered. */
static uint64_t kth_largest(uint64_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint64_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];
        uint64_t pivot = (a > b) == (b > c) ? b : (a > b) == (a > c) ? c : a; /* median of three */
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot) i++;
            while (v[j] < pivot) j--;
            if (i <= j) {
                uint64_t t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

static double doc_count(tfidf_df_limit l, size_t n_docs) { return l.is_fraction ? l.value * (double)n_docs : l.value; }

tfidf_model *tfidf_fitter_finish(tfidf_fitter *f, tfidf_fit_stats *st)
{
    memset(st, 0, sizeof *st);
    size_t nterms = f->terms.n, n_docs = f->n_docs;
    st->documents = n_docs;
    st->terms_seen = nterms;
    if (n_docs == 0) die("no documents to fit");
    if (nterms == 0) die("empty vocabulary; perhaps the documents only contain stop words");
    double high = doc_count(f->opts.max_df, n_docs), low = doc_count(f->opts.min_df, n_docs);
    if (high < low)
        die("max_df corresponds to < documents than min_df (max_df %g documents, min_df %g, of %zu)", high, low,
            n_docs);

    uint32_t *kept = xmalloc(nterms * sizeof *kept);
    size_t nkept = 0;
    for (size_t id = 0; id < nterms; id++)
        if ((double)f->terms.ref[id].df <= high && (double)f->terms.ref[id].df >= low) kept[nkept++] = (uint32_t)id;
    st->pruned_df = nterms - nkept;

    size_t limit = (size_t)f->opts.max_features;
    if (limit && nkept > limit) {
        /* the most frequent in the corpus; at the cut, equal frequencies go
         * to the alphabetically first */
        uint64_t *tfs = xmalloc(nkept * sizeof *tfs);
        for (size_t i = 0; i < nkept; i++) tfs[i] = f->terms.ref[kept[i]].tf;
        uint64_t cut = kth_largest(tfs, nkept, limit - 1);
        free(tfs);
        size_t above = 0, tied = 0;
        uint32_t *ties = xmalloc(nkept * sizeof *ties);
        for (size_t i = 0; i < nkept; i++) {
            uint64_t tf = f->terms.ref[kept[i]].tf;
            if (tf > cut) kept[above++] = kept[i];
            else if (tf == cut) ties[tied++] = kept[i];
        }
        sort_by_term(&f->terms, ties, tied);
        size_t take = limit - above;
        memcpy(kept + above, ties, take * sizeof *kept);
        if (tied > take) st->tied_at_cut = tied;
        free(ties);
        st->pruned_max_features = nkept - limit;
        nkept = limit;
    }
    if (nkept == 0) {
        free(kept);
        die("after pruning, no terms remain; try a lower --min-df or a higher --max-df");
    }
    sort_by_term(&f->terms, kept, nkept);
    st->features = nkept;

    tfidf_model *m = f->proto;
    f->proto = NULL;
    table_init(&m->vocab);
    m->n_documents = n_docs;
    f->remap = xmalloc(nterms * sizeof *f->remap);
    memset(f->remap, 0xFF, nterms * sizeof *f->remap);
    if (f->opts.use_idf) m->idf = xmalloc(nkept * sizeof *m->idf);
    double smooth = f->opts.smooth_idf ? 1.0 : 0.0;
    for (size_t col = 0; col < nkept; col++) {
        uint32_t id = kept[col];
        table_put(&m->vocab, term_bytes(&f->terms, id), f->terms.ref[id].len);
        f->remap[id] = (uint32_t)col;
        /* numpy's order of operations: idf = log((n + s) / (df + s)) + 1 */
        if (m->idf) m->idf[col] = log(((double)n_docs + smooth) / ((double)f->terms.ref[id].df + smooth)) + 1.0;
    }
    free(kept);
    char *err;
    m->analyzer = tfidf_analyzer_new(&m->opts, &err);
    if (!m->analyzer) die("token pattern: %s", err); /* compiled once already */
    return m;
}

void tfidf_fitter_vector(const tfidf_fitter *f, const tfidf_model *m, size_t doc, sparse_vec *out)
{
    size_t from = f->doc_start[doc], to = f->doc_start[doc + 1], n = 0;
    uint64_t stack[256];
    uint64_t *keys = to - from <= 256 ? stack : xmalloc((to - from) * sizeof *keys);
    for (size_t p = from; p < to; p++) {
        uint32_t col = f->remap[f->pair_id[p]];
        if (col != UINT32_MAX) keys[n++] = (uint64_t)col << 32 | f->pair_count[p];
    }
    sort_keys(keys, n);
    weigh(m, keys, n, out);
    if (keys != stack) free(keys);
}

void tfidf_fitter_free(tfidf_fitter *f)
{
    if (!f) return;
    tfidf_free(f->proto);
    tfidf_analyzer_free(f->analyzer);
    tfidf_scratch_free(&f->scratch);
    table_free(&f->terms);
    free(f->hashes);
    free(f->ids);
    free(f->pair_id);
    free(f->pair_count);
    free(f->doc_start);
    free(f->remap);
    free(f);
}

/* ---- the model file ---------------------------------------------------- */

static void add_bool(strbuf *b, const char *key, int v)
{
    sb_adds(b, ",\n  \"");
    sb_adds(b, key);
    sb_adds(b, v ? "\": true" : "\": false");
}

static void add_key(strbuf *b, const char *key)
{
    sb_adds(b, ",\n  \"");
    sb_adds(b, key);
    sb_adds(b, "\": ");
}

static void add_count(strbuf *b, size_t v)
{
    char num[32];
    sb_addn(b, num, (size_t)snprintf(num, sizeof num, "%zu", v));
}

/* a fraction keeps a '.' (1.0, not 1) so that it reads back as a fraction */
static void add_df(strbuf *b, const char *key, tfidf_df_limit l)
{
    add_key(b, key);
    char num[NUMFMT_MAX + 2];
    if (!l.is_fraction) {
        snprintf(num, sizeof num, "%.0f", l.value);
    } else {
        fmt_double(num, l.value);
        if (!strpbrk(num, ".eE")) strcat(num, ".0");
    }
    sb_adds(b, num);
}

void tfidf_write_model(const tfidf_model *m, FILE *f)
{
    const tfidf_opts *o = &m->opts;
    strbuf b = {0};
    sb_adds(&b, "{\n  \"format\": \"" TFIDF_FORMAT "\"");
    add_key(&b, "version");
    add_count(&b, TFIDF_FORMAT_VERSION);
    add_key(&b, "analyzer");
    sb_addc(&b, '"');
    sb_adds(&b, tfidf_analyzer_name(o->analyzer));
    sb_addc(&b, '"');
    add_key(&b, "ngram_range");
    sb_addc(&b, '[');
    add_count(&b, (size_t)o->ngram_min);
    sb_adds(&b, ", ");
    add_count(&b, (size_t)o->ngram_max);
    sb_addc(&b, ']');
    add_bool(&b, "lowercase", o->lowercase);
    add_key(&b, "token_pattern");
    json_quote(&b, o->token_pattern, strlen(o->token_pattern));
    add_key(&b, "stop_words");
    if (!o->stop_words) {
        sb_adds(&b, "null");
    } else {
        sb_addc(&b, '[');
        for (size_t i = 0; i < o->n_stop_words; i++) {
            if (i) sb_adds(&b, ", ");
            json_quote(&b, o->stop_words[i], strlen(o->stop_words[i]));
        }
        sb_addc(&b, ']');
    }
    add_df(&b, "min_df", o->min_df);
    add_df(&b, "max_df", o->max_df);
    add_key(&b, "max_features");
    if (o->max_features) add_count(&b, (size_t)o->max_features);
    else sb_adds(&b, "null");
    add_key(&b, "norm");
    sb_adds(&b, o->norm == TFIDF_NORM_L1 ? "\"l1\"" : o->norm == TFIDF_NORM_L2 ? "\"l2\"" : "null");
    add_bool(&b, "use_idf", o->use_idf);
    add_bool(&b, "smooth_idf", o->smooth_idf);
    add_bool(&b, "sublinear_tf", o->sublinear_tf);
    add_key(&b, "n_documents");
    add_count(&b, m->n_documents);
    add_key(&b, "n_features");
    add_count(&b, m->vocab.n);
    add_key(&b, "vocabulary");
    sb_addc(&b, '[');
    for (size_t col = 0; col < m->vocab.n; col++) {
        sb_adds(&b, col ? ",\n    " : "\n    ");
        json_quote(&b, term_bytes(&m->vocab, col), m->vocab.ref[col].len);
        if (b.len > (1u << 20)) {
            fwrite(b.s, 1, b.len, f);
            sb_clear(&b);
        }
    }
    sb_adds(&b, "\n  ]");
    add_key(&b, "idf");
    if (!m->idf) {
        sb_adds(&b, "null");
    } else {
        sb_addc(&b, '[');
        for (size_t col = 0; col < m->vocab.n; col++) {
            sb_adds(&b, col ? ",\n    " : "\n    ");
            char num[NUMFMT_MAX];
            sb_addn(&b, num, (size_t)fmt_double(num, m->idf[col]));
            if (b.len > (1u << 20)) {
                fwrite(b.s, 1, b.len, f);
                sb_clear(&b);
            }
        }
        sb_adds(&b, "\n  ]");
    }
    sb_adds(&b, "\n}\n");
    fwrite(b.s, 1, b.len, f);
    sb_free(&b);
}

/* ---- loading ----------------------------------------------------------- */

/* Every complaint names the model file; none has a line but JSON errors. */
#define BAD(...) die_at(path, 0, __VA_ARGS__)

static char *read_file(const char *path, const char *dir, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        if (err == ENOENT && access(dir, F_OK) != 0)
            die("model directory %s does not exist (tfidf fit -m %s writes one)", dir, dir);
        die("cannot read %s: %s", path, strerror(err));
    }
    strbuf b = {0};
    if (sb_read_stream(&b, f) < 0) die("cannot read %s: %s", path, strerror(errno));
    fclose(f);
    *len = b.len;
    return b.s;
}

static const cJSON *member(const char *path, const cJSON *root, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) BAD("the model has no \"%s\"", key);
    return v;
}

static int get_bool(const char *path, const cJSON *root, const char *key)
{
    const cJSON *v = member(path, root, key);
    if (!cJSON_IsBool(v)) BAD("\"%s\" is not true or false", key);
    return cJSON_IsTrue(v);
}

static double get_count(const char *path, const cJSON *root, const char *key, double min)
{
    const cJSON *v = member(path, root, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > 9007199254740992.0)
        BAD("\"%s\" is not an integer >= %.0f", key, min);
    return v->valuedouble;
}

static const char *get_string(const char *path, const cJSON *root, const char *key)
{
    const cJSON *v = member(path, root, key);
    if (!cJSON_IsString(v)) BAD("\"%s\" is not a string", key);
    return v->valuestring;
}

/* Whether the number literal after "key": in the file text is written as a
 * fraction (has '.' or an exponent): JSON parsers forget 1 versus 1.0. */
static int literal_is_fraction(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = text; (p = strstr(p, key)) != NULL; p += klen) {
        if (p == text || p[-1] != '"' || p[klen] != '"') continue;
        const char *q = p + klen + 1;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
        if (*q != ':') continue;
        q++;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
        size_t n = strspn(q, "0123456789.eE+-");
        for (size_t i = 0; i < n; i++)
            if (q[i] == '.' || q[i] == 'e' || q[i] == 'E') return 1;
        return 0;
    }
    return 0;
}

static tfidf_df_limit get_df(const char *path, const cJSON *root, const char *text, const char *key)
{
    const cJSON *v = member(path, root, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0)) BAD("\"%s\" is not a number >= 0", key);
    tfidf_df_limit l = {literal_is_fraction(text, key), v->valuedouble};
    if (l.is_fraction && l.value > 1) BAD("\"%s\" is a fraction above 1", key);
    /* a count is a whole number a double holds exactly (longer literals do
     * not even survive cJSON's number buffer, so they would not round-trip) */
    if (!l.is_fraction && (l.value != floor(l.value) || l.value > 9007199254740992.0))
        BAD("\"%s\" is not a whole document count up to 2^53", key);
    return l;
}

/* The fast way in for the big model files of the study (100k terms): a
 * strict scan reads "vocabulary" (into vocab, checking the byte order) and
 * "idf" (*idf, NULL for null) without cJSON trees, and copies every other
 * member into head, a small JSON object for the checks below. 0 when the
 * file is anything but well-formed and sorted: the cJSON path then reads it
 * and names what is wrong. */
static int scan_model(const char *text, size_t len, strbuf *head, term_table *vocab, double **idf, size_t *nidf)
{
    tfidf_scan s = {text, text + len};
    strbuf term = {0};
    int ok = 0, seen_vocab = 0, seen_idf = 0;
    *idf = NULL;
    *nidf = 0;
    tfidf_skip_blanks(&s);
    if (s.p >= s.end || *s.p++ != '{') goto out;
    sb_addc(head, '{');
    for (int first = 1;; first = 0) {
        tfidf_skip_blanks(&s);
        const char *key = s.p;
        int esc;
        if (s.p >= s.end || *s.p != '"' || !tfidf_scan_string(&s, &esc) || esc) goto out;
        size_t klen = (size_t)(s.p - key);
        tfidf_skip_blanks(&s);
        if (s.p >= s.end || *s.p++ != ':') goto out;
        tfidf_skip_blanks(&s);
        if (klen == 12 && memcmp(key, "\"vocabulary\"", 12) == 0) {
            if (seen_vocab++ || s.p >= s.end || *s.p++ != '[') goto out;
            tfidf_skip_blanks(&s);
            size_t prev_off = 0, prev_len = 0;
            if (s.p < s.end && *s.p == ']') s.p++;
            else
                for (;;) {
                    const char *t = s.p;
                    if (s.p >= s.end || *s.p != '"' || !tfidf_scan_string(&s, &esc)) goto out;
                    const char *bytes = t + 1;
                    size_t n = (size_t)(s.p - t) - 2;
                    if (esc) {
                        sb_clear(&term);
                        tfidf_decode_string(t, s.p, &term);
                        bytes = term.s, n = term.len;
                    }
                    if (vocab->n) { /* strictly after the one before */
                        int c = memcmp(vocab->chars.s + prev_off, bytes, prev_len < n ? prev_len : n);
                        if (c > 0 || (c == 0 && prev_len >= n)) goto out;
                    }
                    prev_off = vocab->chars.len, prev_len = n;
                    table_put(vocab, bytes, n);
                    tfidf_skip_blanks(&s);
                    if (s.p < s.end && *s.p == ',') {
                        s.p++;
                        tfidf_skip_blanks(&s);
                        continue;
                    }
                    if (s.p >= s.end || *s.p++ != ']') goto out;
                    break;
                }
        } else if (klen == 5 && memcmp(key, "\"idf\"", 5) == 0 && s.p < s.end && *s.p == '[') {
            if (seen_idf++) goto out;
            s.p++;
            tfidf_skip_blanks(&s);
            size_t cap = 1024;
            *idf = xmalloc(cap * sizeof **idf);
            if (s.p < s.end && *s.p == ']') s.p++;
            else
                for (;;) {
                    const char *num = s.p;
                    if (!tfidf_scan_number(&s)) goto out;
                    /* the text holds a NUL at its end, and a number stops at a non-digit */
                    double v = strtod(num, NULL);
                    if (!isfinite(v) || v <= 0) goto out;
                    if (*nidf == cap) *idf = xrealloc(*idf, (cap *= 2) * sizeof **idf);
                    (*idf)[(*nidf)++] = v;
                    tfidf_skip_blanks(&s);
                    if (s.p < s.end && *s.p == ',') {
                        s.p++;
                        tfidf_skip_blanks(&s);
                        continue;
                    }
                    if (s.p >= s.end || *s.p++ != ']') goto out;
                    break;
                }
        } else {
            if (!tfidf_scan_value(&s, 1)) goto out;
            if (!first) sb_addc(head, ',');
            sb_addn(head, key, (size_t)(s.p - key));
        }
        tfidf_skip_blanks(&s);
        if (s.p >= s.end) goto out;
        if (*s.p == '}') break;
        if (*s.p++ != ',') goto out;
    }
    s.p++;
    tfidf_skip_blanks(&s);
    ok = s.p == s.end && seen_vocab;
    sb_addc(head, '}');
out:
    sb_free(&term);
    return ok;
}

tfidf_model *tfidf_load(const char *model_dir)
{
    strbuf pb = {0};
    sb_adds(&pb, model_dir);
    if (pb.len && pb.s[pb.len - 1] != '/') sb_addc(&pb, '/');
    sb_adds(&pb, TFIDF_MODEL_FILE);
    const char *path = pb.s;
    size_t len;
    char *text = read_file(path, model_dir, &len);
    if (memchr(text, '\0', len)) BAD("NUL byte in the model file (corrupt?)");
    size_t bad_utf8 = utf8_invalid_offset(text, len);
    if (bad_utf8 < len) BAD("invalid UTF-8 at byte %zu (corrupt model file?)", bad_utf8 + 1);
    term_table fast_vocab;
    table_init(&fast_vocab);
    double *fast_idf;
    size_t fast_nidf;
    strbuf head = {0};
    int fast = scan_model(text, len, &head, &fast_vocab, &fast_idf, &fast_nidf);
    cJSON *root;
    if (fast) {
        root = cJSON_Parse(head.s);
        if (!root) die("internal error: cannot parse the model's options");
    } else {
        table_free(&fast_vocab);
        free(fast_idf);
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (!root) {
            const char *at = cJSON_GetErrorPtr();
            long line = 1;
            for (const char *p = text; at && p < at && p < text + len; p++) line += *p == '\n';
            die_at(path, line, "not valid JSON: a corrupt or truncated model file");
        }
        while (end && end < text + len && strchr(" \t\r\n", *end)) end++;
        if (end && end < text + len) BAD("extra text after the model's JSON object (corrupt?)");
    }
    sb_free(&head);
    if (!cJSON_IsObject(root)) BAD("not a tfidf model (not a JSON object)");
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, TFIDF_FORMAT) != 0)
        BAD("not a tfidf model (\"format\" is not \"" TFIDF_FORMAT "\")");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsNumber(version)) BAD("the model has no \"version\"");
    if (version->valuedouble != TFIDF_FORMAT_VERSION)
        BAD("model format version %g is not supported (this tfidf reads version %d)", version->valuedouble,
            TFIDF_FORMAT_VERSION);

    tfidf_opts o;
    tfidf_opts_init(&o);
    const char *analyzer = get_string(path, root, "analyzer");
    if (strcmp(analyzer, "word") == 0) o.analyzer = TFIDF_WORD;
    else if (strcmp(analyzer, "char") == 0) o.analyzer = TFIDF_CHAR;
    else if (strcmp(analyzer, "char_wb") == 0) o.analyzer = TFIDF_CHAR_WB;
    else BAD("\"analyzer\" is not word, char or char_wb");
    const cJSON *range = member(path, root, "ngram_range");
    if (!cJSON_IsArray(range) || cJSON_GetArraySize(range) != 2 || !cJSON_IsNumber(range->child) ||
        !cJSON_IsNumber(range->child->next))
        BAD("\"ngram_range\" is not [MIN, MAX]");
    double lo = range->child->valuedouble, hi = range->child->next->valuedouble;
    if (lo != floor(lo) || hi != floor(hi) || lo < 1 || hi < lo || hi > 1000)
        BAD("\"ngram_range\" is not [MIN, MAX] with 1 <= MIN <= MAX <= 1000");
    o.ngram_min = (int)lo;
    o.ngram_max = (int)hi;
    o.lowercase = get_bool(path, root, "lowercase");
    o.token_pattern = get_string(path, root, "token_pattern");
    const cJSON *stop = member(path, root, "stop_words");
    const char **stop_words = NULL;
    if (cJSON_IsArray(stop)) {
        o.n_stop_words = (size_t)cJSON_GetArraySize(stop);
        stop_words = xcalloc(o.n_stop_words + 1, sizeof *stop_words);
        size_t i = 0;
        for (const cJSON *w = stop->child; w; w = w->next, i++) {
            if (!cJSON_IsString(w)) BAD("\"stop_words\"[%zu] is not a string", i);
            stop_words[i] = w->valuestring;
        }
        o.stop_words = stop_words;
    } else if (!cJSON_IsNull(stop)) {
        BAD("\"stop_words\" is neither null nor a list of strings");
    }
    o.min_df = get_df(path, root, text, "min_df");
    o.max_df = get_df(path, root, text, "max_df");
    const cJSON *maxf = member(path, root, "max_features");
    if (!cJSON_IsNull(maxf)) o.max_features = (long)get_count(path, root, "max_features", 1);
    const cJSON *norm = member(path, root, "norm");
    if (cJSON_IsNull(norm)) o.norm = TFIDF_NORM_NONE;
    else if (cJSON_IsString(norm) && strcmp(norm->valuestring, "l2") == 0) o.norm = TFIDF_NORM_L2;
    else if (cJSON_IsString(norm) && strcmp(norm->valuestring, "l1") == 0) o.norm = TFIDF_NORM_L1;
    else BAD("\"norm\" is not \"l2\", \"l1\" or null");
    o.use_idf = get_bool(path, root, "use_idf");
    o.smooth_idf = get_bool(path, root, "smooth_idf");
    o.sublinear_tf = get_bool(path, root, "sublinear_tf");
    size_t n_documents = (size_t)get_count(path, root, "n_documents", 1);
    size_t n_features = (size_t)get_count(path, root, "n_features", 1);

    tfidf_model *m = xcalloc(1, sizeof *m);
    model_set_opts(m, &o);
    free(stop_words);
    m->n_documents = n_documents;
    if (fast) {
        m->vocab = fast_vocab;
        const cJSON *idf = cJSON_GetObjectItemCaseSensitive(root, "idf"); /* null here, if there */
        if (!idf && !fast_idf) BAD("the model has no \"idf\"");
        if (o.use_idf ? idf || !fast_idf : !cJSON_IsNull(idf))
            BAD("\"idf\" must be a list of numbers with use_idf, null without");
        m->idf = fast_idf;
        if (m->vocab.n != n_features)
            BAD("\"vocabulary\" has %zu terms but \"n_features\" is %zu (truncated?)", m->vocab.n, n_features);
        if (m->idf && fast_nidf != n_features)
            BAD("\"idf\" has %zu values for %zu terms (truncated?)", fast_nidf, n_features);
    } else {
        const cJSON *vocab = member(path, root, "vocabulary");
        if (!cJSON_IsArray(vocab)) BAD("\"vocabulary\" is not a list of terms");
        const cJSON *idf = member(path, root, "idf");
        if (o.use_idf ? !cJSON_IsArray(idf) : !cJSON_IsNull(idf))
            BAD("\"idf\" must be a list of numbers with use_idf, null without");
        table_init(&m->vocab);
        const char *prev = NULL;
        for (const cJSON *t = vocab->child; t; t = t->next) {
            size_t col = m->vocab.n;
            if (!cJSON_IsString(t)) BAD("vocabulary entry %zu is not a string", col);
            if (prev && strcmp(prev, t->valuestring) >= 0)
                BAD("vocabulary entry %zu is not after the one before it: the terms must be sorted and unique", col);
            prev = t->valuestring;
            table_put(&m->vocab, t->valuestring, strlen(t->valuestring));
        }
        if (m->vocab.n != n_features)
            BAD("\"vocabulary\" has %zu terms but \"n_features\" is %zu (truncated?)", m->vocab.n, n_features);
        if (o.use_idf) {
            if ((size_t)cJSON_GetArraySize(idf) != n_features)
                BAD("\"idf\" has %d values for %zu terms (truncated?)", cJSON_GetArraySize(idf), n_features);
            m->idf = xmalloc(n_features * sizeof *m->idf);
            size_t col = 0;
            for (const cJSON *v = idf->child; v; v = v->next, col++) {
                if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0)
                    BAD("\"idf\"[%zu] is not a positive number", col);
                m->idf[col] = v->valuedouble;
            }
        }
    }
    /* idf = ln((1 + n) / (1 + df)) + 1 (smooth) or ln(n / df) + 1 with
     * 1 <= df <= n documents: anything outside [1, 1 + ln(n + 1)] is damage,
     * and a huge one would overflow the norm (a value of 0, silently) */
    double idf_max = 1 + log((double)n_documents + 1);
    for (size_t col = 0; m->idf && col < n_features; col++)
        if (!(m->idf[col] >= 1 - 1e-12 && m->idf[col] <= idf_max * (1 + 1e-12)))
            BAD("\"idf\"[%zu] = %g is outside [1, %g], what %zu documents can give (a damaged model?)", col,
                m->idf[col], idf_max, n_documents);
    char *err;
    m->analyzer = tfidf_analyzer_new(&m->opts, &err);
    if (!m->analyzer) BAD("token_pattern: %s", err);
    cJSON_Delete(root);
    free(text);
    sb_free(&pb);
    return m;
}
