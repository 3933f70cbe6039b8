#include "wordpiece.h"
#include "bert_normalize.h"
#include "core/common.h"
#include "core/strbuf.h"
#include "core/utf8.h"

#include <cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* HF WordPiece's max_input_chars_per_word */
#define MAX_WORD_CHARS 100

/* The special tokens HF's BertWordPieceTokenizer registers (when the
 * vocabulary has them), matched in the raw text before normalization. */
enum { SP_UNK, SP_SEP, SP_CLS, SP_PAD, SP_MASK, SP_COUNT };
static const char *const special_key[SP_COUNT] = {"unk_token", "sep_token", "cls_token", "pad_token",
                                                   "mask_token"};
static const char *const special_default[SP_COUNT] = {"[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]"};

/* A slot of an open-addressing table: the upper 32 bits of the key's hash
 * (a cheap filter before comparing bytes) and the token id, -1 when empty.
 * The key bytes are the token's, in the vocabulary text. */
typedef struct slot {
    uint32_t tag;
    int32_t id;
} slot;

typedef struct table {
    slot *slots;
    size_t mask;
    size_t skip;    /* key = token minus its first `skip` bytes ("##" for pieces) */
    size_t longest; /* the longest key, in bytes */
} table;

typedef struct special {
    const char *s;
    size_t len;
    int32_t id;
} special;

struct wordpiece {
    char *path;
    char *text;      /* the vocabulary file, tokens in place */
    uint32_t *off;   /* token id -> offset in text */
    uint32_t *len;   /* token id -> length; UINT32_MAX: the id has no token
                      * (an empty line, or a duplicate's earlier line) */
    table whole;     /* every token */
    table pieces;    /* "##x" tokens, keyed by x: word-internal pieces */
    special specials[SP_COUNT];
    size_t nspecials; /* those in the vocabulary, longest first */
    unsigned char special_first[256];
    char *special_names[SP_COUNT];
    wp_info info;
};

/* Per-encoding scratch. */
struct wp_scratch {
    bert_text text;
    int32_t *seq[2]; /* token ids of text and text_b */
    size_t nseq[2], capseq[2];
    int which;       /* the sequence being filled */
    const wordpiece *wp;
    uint64_t *prefix; /* prefix hashes of the word being matched */
    size_t capprefix;
};

/* ---- hashing ---- */

#define FNV_OFFSET 0xCBF29CE484222325ull
#define FNV_PRIME 0x100000001B3ull

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
    return mix(h);
}

static int32_t table_find(const wordpiece *wp, const table *t, const char *key, size_t n, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        const slot *s = &t->slots[i];
        if (s->id < 0) return -1;
        if (s->tag == tag && wp->len[s->id] == n + t->skip &&
            memcmp(wp->text + wp->off[s->id] + t->skip, key, n) == 0)
            return s->id;
    }
}

/* Inserts id under its key; returns the id already there, or -1. */
static int32_t table_put(wordpiece *wp, table *t, int32_t id)
{
    const char *key = wp->text + wp->off[id] + t->skip;
    size_t n = wp->len[id] - t->skip;
    uint64_t h = hash_bytes(key, n);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        slot *s = &t->slots[i];
        if (s->id < 0) {
            s->tag = tag;
            s->id = id;
            if (n > t->longest) t->longest = n;
            return -1;
        }
        if (s->tag == tag && wp->len[s->id] == n + t->skip &&
            memcmp(wp->text + wp->off[s->id] + t->skip, key, n) == 0) {
            int32_t old = s->id;
            s->id = id; /* the later line wins, as in HF */
            return old;
        }
    }
}

static void table_init(table *t, size_t entries, size_t skip)
{
    size_t cap = 64;
    while (cap < entries * 2) cap *= 2;
    t->slots = xmalloc(cap * sizeof *t->slots);
    for (size_t i = 0; i < cap; i++) t->slots[i].id = -1;
    t->mask = cap - 1;
    t->skip = skip;
    t->longest = 0;
}

/* ---- loading ---- */

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot read %s: %s", path, strerror(errno));
    strbuf b = {0};
    if (sb_read_stream(&b, f) < 0) die("cannot read %s: %s", path, strerror(errno));
    fclose(f);
    *n = b.len;
    return b.s;
}

/* Length of s[0..n) without trailing whitespace (Rust's trim_end). */
static size_t trim_end(const char *s, size_t n)
{
    while (n > 0) {
        size_t start = n - 1;
        while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80 && n - start < 4) start--;
        uint32_t cp;
        int len = utf8_decode((const unsigned char *)s + start, n - start, &cp);
        if (len == 0 || (size_t)len != n - start || !bert_is_space(cp)) break;
        n = start;
    }
    return n;
}

static int config_bool(const cJSON *cfg, const char *path, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) return dflt;
    if (!cJSON_IsBool(v)) die_at(path, 0, "\"%s\" is not true, false or null", key);
    return cJSON_IsTrue(v);
}

/* A special token's name in tokenizer_config.json: a string, or an
 * AddedToken object with "content". */
static const char *config_token(const cJSON *cfg, const char *path, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v)) die_at(path, 0, "\"%s\" is not a token string", key);
    return v->valuestring;
}

static void read_config(wordpiece *wp, const char *path, int *lower, int *strip, int *chinese)
{
    size_t n;
    char *text = read_file(path, &n);
    cJSON *cfg = cJSON_ParseWithLength(text, n);
    free(text);
    if (!cfg) die_at(path, 0, "invalid JSON");
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        die_at(path, 0, "not a JSON object");
    }
    *lower = config_bool(cfg, path, "do_lower_case", 1);
    *strip = config_bool(cfg, path, "strip_accents", -1);
    *chinese = config_bool(cfg, path, "tokenize_chinese_chars", 1);
    for (int k = 0; k < SP_COUNT; k++) {
        const char *name = config_token(cfg, path, special_key[k]);
        if (name) {
            free(wp->special_names[k]);
            wp->special_names[k] = xstrdup(name);
        }
    }
    cJSON_Delete(cfg);
}

static void load_vocab(wordpiece *wp, int allow_duplicates)
{
    size_t n;
    wp->text = read_file(wp->path, &n);
    /* lines as Rust's BufRead::lines() gives them: split at '\n', a final
     * line without one counts, a final empty one does not */
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += wp->text[i] == '\n';
    if (n > 0 && wp->text[n - 1] != '\n') lines++;
    if (lines == 0) die_at(wp->path, 0, "empty vocabulary");
    if (lines > INT32_MAX || n > UINT32_MAX) die_at(wp->path, 0, "vocabulary too large");
    wp->off = xmalloc(lines * sizeof *wp->off);
    wp->len = xmalloc(lines * sizeof *wp->len);
    table_init(&wp->whole, lines, 0);
    size_t npieces = 0;
    size_t pos = 0;
    for (size_t id = 0; id < lines; id++) {
        const char *nl = memchr(wp->text + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - wp->text) : n;
        size_t bad = utf8_invalid_offset(wp->text + pos, end - pos);
        if (bad < end - pos) die_at(wp->path, (long)id + 1, "invalid UTF-8 at byte %zu", bad + 1);
        size_t len = trim_end(wp->text + pos, end - pos);
        wp->off[id] = (uint32_t)pos;
        wp->len[id] = (uint32_t)len;
        pos = end + 1;
        if (len == 0) {
            /* HF keeps "" as a token; no text ever looks it up */
            wp->len[id] = UINT32_MAX;
            continue;
        }
        int32_t old = table_put(wp, &wp->whole, (int32_t)id);
        if (old >= 0) {
            if (!allow_duplicates)
                die_at(wp->path, (long)id + 1, "duplicate token \"%.*s\" (first on line %ld)", (int)len,
                       wp->text + wp->off[id], (long)old + 1);
            wp->len[old] = UINT32_MAX;
        }
        npieces += len > 2 && memcmp(wp->text + wp->off[id], "##", 2) == 0;
    }
    wp->info.vocab_size = lines;
    table_init(&wp->pieces, npieces, 2);
    for (size_t id = 0; id < lines; id++) {
        if (wp->len[id] == UINT32_MAX || wp->len[id] <= 2) continue;
        if (memcmp(wp->text + wp->off[id], "##", 2) == 0) table_put(wp, &wp->pieces, (int32_t)id);
    }
}

static int cmp_special_len(const void *a, const void *b)
{
    const special *x = a, *y = b;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

wordpiece *wp_load_with(const char *path, const wp_load_opts *opts)
{
    wp_load_opts dflt = WP_LOAD_DEFAULTS;
    if (!opts) opts = &dflt;
    wordpiece *wp = xcalloc(1, sizeof *wp);
    for (int k = 0; k < SP_COUNT; k++) wp->special_names[k] = xstrdup(special_default[k]);
    int lower = 1, strip = -1, chinese = 1;
    struct stat st;
    if (stat(path, &st) != 0) die("cannot read %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path);
        wp->path = xmalloc(n + sizeof "/tokenizer_config.json");
        sprintf(wp->path, "%s/tokenizer_config.json", path);
        if (stat(wp->path, &st) == 0) read_config(wp, wp->path, &lower, &strip, &chinese);
        sprintf(wp->path, "%s/vocab.txt", path);
    } else {
        wp->path = xstrdup(path);
    }
    if (opts->lower >= 0) lower = opts->lower;
    if (opts->strip_accents >= 0) strip = opts->strip_accents;
    load_vocab(wp, opts->allow_duplicates);

    wp->info.lower = lower;
    wp->info.strip_accents = strip >= 0 ? strip : lower; /* HF: unset follows lowercase */
    wp->info.chinese_chars = chinese;
    wp->info.max_word_chars = MAX_WORD_CHARS;
    int32_t *ids[SP_COUNT] = {&wp->info.unk_id, &wp->info.sep_id, &wp->info.cls_id, &wp->info.pad_id,
                              &wp->info.mask_id};
    for (int k = 0; k < SP_COUNT; k++) {
        const char *name = wp->special_names[k];
        size_t n = strlen(name);
        *ids[k] = n ? wp_token_id(wp, name, n) : -1;
        if (*ids[k] < 0) {
            if (k == SP_UNK || k == SP_SEP || k == SP_CLS)
                die_at(wp->path, 0, "the vocabulary has no %s token", name);
            continue;
        }
        special *sp = &wp->specials[wp->nspecials++];
        sp->s = name;
        sp->len = n;
        sp->id = *ids[k];
        wp->special_first[(unsigned char)name[0]] = 1;
    }
    qsort(wp->specials, wp->nspecials, sizeof wp->specials[0], cmp_special_len);
    return wp;
}

wordpiece *wp_load(const char *path) { return wp_load_with(path, NULL); }

void wp_free(wordpiece *wp)
{
    if (!wp) return;
    free(wp->path);
    free(wp->text);
    free(wp->off);
    free(wp->len);
    free(wp->whole.slots);
    free(wp->pieces.slots);
    for (int k = 0; k < SP_COUNT; k++) free(wp->special_names[k]);
    free(wp);
}

const wp_info *wp_get_info(const wordpiece *wp) { return &wp->info; }
const char *wp_vocab_path(const wordpiece *wp) { return wp->path; }

int32_t wp_token_id(const wordpiece *wp, const char *token, size_t n)
{
    return table_find(wp, &wp->whole, token, n, hash_bytes(token, n));
}

const char *wp_id_token(const wordpiece *wp, int32_t id, size_t *n)
{
    if (id < 0 || (size_t)id >= wp->info.vocab_size || wp->len[id] == UINT32_MAX) return NULL;
    *n = wp->len[id];
    return wp->text + wp->off[id];
}

/* ---- encoding ---- */

static void seq_push(struct wp_scratch *s, int32_t id)
{
    int w = s->which;
    if (s->nseq[w] == s->capseq[w]) {
        s->capseq[w] = s->capseq[w] ? s->capseq[w] * 2 : 128;
        s->seq[w] = xrealloc(s->seq[w], s->capseq[w] * sizeof *s->seq[w]);
    }
    s->seq[w][s->nseq[w]++] = id;
}

/* Greedy longest-match-first WordPiece on one word, as HF: from the start of
 * what is left, the longest prefix in the vocabulary (written "##prefix"
 * after the first piece); no match at some point makes the whole word
 * [UNK]. Pieces end on character boundaries, which byte-wise matching gets
 * for free: a token is valid UTF-8, so it cannot end inside a character. */
static void wordpiece_word(void *ctx, const char *w, size_t len, size_t nchars)
{
    struct wp_scratch *s = ctx;
    const wordpiece *wp = s->wp;
    if (nchars > wp->info.max_word_chars) {
        seq_push(s, wp->info.unk_id);
        return;
    }
    size_t mark = s->nseq[s->which];
    size_t start = 0;
    while (start < len) {
        const table *t = start == 0 ? &wp->whole : &wp->pieces;
        size_t most = len - start < t->longest ? len - start : t->longest;
        if (most + 1 > s->capprefix) {
            s->capprefix = most + 1;
            s->prefix = xrealloc(s->prefix, s->capprefix * sizeof *s->prefix);
        }
        uint64_t h = FNV_OFFSET;
        for (size_t k = 0; k < most; k++) {
            h = (h ^ (unsigned char)w[start + k]) * FNV_PRIME;
            s->prefix[k + 1] = h;
        }
        int32_t id = -1;
        size_t k = most;
        for (; k > 0; k--) {
            /* only lengths ending on a character boundary */
            if (start + k < len && ((unsigned char)w[start + k] & 0xC0) == 0x80) continue;
            id = table_find(wp, t, w + start, k, mix(s->prefix[k]));
            if (id >= 0) break;
        }
        if (id < 0) {
            s->nseq[s->which] = mark;
            seq_push(s, wp->info.unk_id);
            return;
        }
        seq_push(s, id);
        start += k;
    }
}

static void tokenize_segment(struct wp_scratch *s, const char *text, size_t n)
{
    if (n == 0) return;
    const wp_info *in = &s->wp->info;
    unsigned flags = BERT_CLEAN | (in->chinese_chars ? BERT_CHINESE : 0) |
                     (in->strip_accents ? BERT_STRIP_ACCENTS : 0) | (in->lower ? BERT_LOWER : 0);
    bert_normalize(&s->text, text, n, flags);
    bert_pretokenize(&s->text, in->max_word_chars, wordpiece_word, s);
}

/* The leftmost, then longest, special token at text[i..n), or NULL. */
static const special *special_at(const wordpiece *wp, const char *text, size_t i, size_t n)
{
    for (size_t k = 0; k < wp->nspecials; k++) {
        const special *sp = &wp->specials[k];
        if (sp->len <= n - i && memcmp(text + i, sp->s, sp->len) == 0) return sp;
    }
    return NULL;
}

static void tokenize_sequence(struct wp_scratch *s, int which, const char *text, size_t n)
{
    const wordpiece *wp = s->wp;
    s->which = which;
    s->nseq[which] = 0;
    size_t seg = 0;
    for (size_t i = 0; i < n; i++) {
        if (!wp->special_first[(unsigned char)text[i]]) continue;
        const special *sp = special_at(wp, text, i, n);
        if (!sp) continue;
        tokenize_segment(s, text + seg, i - seg);
        seq_push(s, sp->id);
        i += sp->len - 1;
        seg = i + 1;
    }
    tokenize_segment(s, text + seg, n - seg);
}

static void reserve(wp_encoding *e, size_t n)
{
    if (n <= e->cap && e->ids) return;
    size_t cap = e->cap ? e->cap : 64;
    while (cap < n) cap *= 2;
    e->ids = xrealloc(e->ids, cap * sizeof *e->ids);
    e->type_ids = xrealloc(e->type_ids, cap);
    e->attention_mask = xrealloc(e->attention_mask, cap);
    e->cap = cap;
}

/* HF's truncate_encodings (utils/truncation.rs), stride 0, from the right.
 * n[0], n[1]: the lengths; returns 0 or WP_ERR_*. */
static int truncate_lengths(size_t *n, int pair, size_t max, wp_truncation strategy)
{
    size_t total = n[0] + (pair ? n[1] : 0);
    if (max == 0) {
        n[0] = n[1] = 0;
        return 0;
    }
    if (total <= max) return 0;
    size_t remove = total - max;
    if (strategy == WP_TRUNC_LONGEST_FIRST) {
        if (!pair) {
            n[0] = max;
            return 0;
        }
        size_t n1 = n[0], n2 = n[1];
        int swap = n1 > n2;
        if (swap) {
            size_t t = n1;
            n1 = n2;
            n2 = t;
        }
        if (n1 > max) n2 = n1;
        else n2 = n1 > max - n1 ? n1 : max - n1;
        if (n1 + n2 > max) {
            n1 = max / 2;
            n2 = n1 + max % 2;
        }
        if (swap) {
            size_t t = n1;
            n1 = n2;
            n2 = t;
        }
        if (n1 < n[0]) n[0] = n1;
        if (n2 < n[1]) n[1] = n2;
        return 0;
    }
    int target = strategy == WP_TRUNC_ONLY_FIRST ? 0 : 1;
    if (target == 1 && !pair) return WP_ERR_NO_SECOND;
    if (n[target] <= remove) return WP_ERR_TOO_SHORT;
    n[target] -= remove;
    return 0;
}

int wp_encode(const wordpiece *wp, const char *text, size_t n, const char *text_b, size_t nb,
              const wp_opts *opts, wp_encoding *out)
{
    static const wp_opts no_opts;
    if (!opts) opts = &no_opts;
    if (!out->scratch) out->scratch = xcalloc(1, sizeof *out->scratch);
    struct wp_scratch *s = out->scratch;
    s->wp = wp;
    int pair = text_b != NULL;
    tokenize_sequence(s, 0, text, n);
    s->nseq[1] = 0;
    if (pair) tokenize_sequence(s, 1, text_b, nb);

    size_t len[2] = {s->nseq[0], s->nseq[1]};
    size_t added = opts->no_special ? 0 : pair ? 3 : 2;
    out->len = 0;
    out->truncated = 0;
    /* HF subtracts the special tokens from max_length in unsigned
     * arithmetic: below their number it wraps around and nothing is cut */
    if (opts->truncation != WP_TRUNC_NONE && opts->max_len > 0 && opts->max_len >= added) {
        int err = truncate_lengths(len, pair, opts->max_len - added, opts->truncation);
        if (err) {
            out->n_a = out->n_b = 0;
            return err;
        }
        out->truncated = len[0] < s->nseq[0] || len[1] < s->nseq[1];
    }
    size_t total = len[0] + len[1] + added;
    size_t padded = opts->padding == WP_PAD_MAX_LENGTH && opts->max_len > total ? opts->max_len : total;
    reserve(out, padded);
    size_t k = 0;
    if (!opts->no_special) out->ids[k] = wp->info.cls_id, out->type_ids[k++] = 0;
    for (size_t i = 0; i < len[0]; i++) out->ids[k] = s->seq[0][i], out->type_ids[k++] = 0;
    if (!opts->no_special) out->ids[k] = wp->info.sep_id, out->type_ids[k++] = 0;
    if (pair) {
        for (size_t i = 0; i < len[1]; i++) out->ids[k] = s->seq[1][i], out->type_ids[k++] = 1;
        if (!opts->no_special) out->ids[k] = wp->info.sep_id, out->type_ids[k++] = 1;
    }
    memset(out->attention_mask, 1, k);
    out->len = k;
    out->n_a = len[0];
    out->n_b = len[1];
    if (padded > k) wp_pad(wp, out, padded);
    return 0;
}

void wp_pad(const wordpiece *wp, wp_encoding *e, size_t len)
{
    if (len <= e->len) return;
    reserve(e, len);
    for (size_t i = e->len; i < len; i++) {
        e->ids[i] = wp->info.pad_id;
        e->type_ids[i] = 0;
        e->attention_mask[i] = 0;
    }
    e->len = len;
}

void wp_encoding_free(wp_encoding *e)
{
    if (e->scratch) {
        bert_text_free(&e->scratch->text);
        free(e->scratch->seq[0]);
        free(e->scratch->seq[1]);
        free(e->scratch->prefix);
        free(e->scratch);
    }
    free(e->ids);
    free(e->type_ids);
    free(e->attention_mask);
    memset(e, 0, sizeof *e);
}

const char *wp_strerror(int err)
{
    switch (err) {
    case 0: return "no error";
    case WP_ERR_NO_SECOND: return "only_second truncation needs a second text (text_b)";
    case WP_ERR_TOO_SHORT: return "the sequence to truncate is too short for the maximum length";
    default: return "unknown error";
    }
}

/* ---- the stages on their own ---- */

_Static_assert(WP_NORM_CLEAN == BERT_CLEAN && WP_NORM_CHINESE == BERT_CHINESE &&
                   WP_NORM_STRIP_ACCENTS == BERT_STRIP_ACCENTS && WP_NORM_LOWER == BERT_LOWER,
               "wp_normalize passes its flags on");

void wp_normalize(const char *s, size_t n, unsigned flags, strbuf *out)
{
    bert_text t = {0};
    bert_normalize(&t, s, n, flags);
    for (size_t i = 0; i < t.n; i++) {
        char b[4];
        sb_addn(out, b, (size_t)utf8_encode(t.cps[i], b));
    }
    bert_text_free(&t);
}

static void add_word(void *ctx, const char *w, size_t len, size_t nchars)
{
    (void)nchars;
    sb_addn(ctx, w, len);
    sb_addc(ctx, '\n');
}

void wp_pretokenize(const char *s, size_t n, strbuf *out)
{
    bert_text t = {0};
    bert_normalize(&t, s, n, 0);
    bert_pretokenize(&t, SIZE_MAX - 1, add_word, out);
    bert_text_free(&t);
}
