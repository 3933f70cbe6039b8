/* tfidf_analyze: text -> terms, as TfidfVectorizer's build_analyzer():
 * lowercase, then for the word analyzer: the token pattern's matches
 * (re.findall), stop words removed, n-grams joined by single spaces; for
 * char: runs of 2+ whitespace made one space, then every character n-gram;
 * for char_wb: each whitespace-separated word padded with one space on both
 * sides, and its n-grams. */
#include "tfidf.h"

#include "core/common.h"
#include "core/strmap.h"
#include "text/textclean.h"
#include "core/utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct tfidf_analyzer {
    enum tfidf_analyzer_kind kind;
    int ngram_min, ngram_max;
    int lowercase;
    int fast;        /* the default pattern: scan word runs by hand */
    pcre2_code *re;  /* otherwise the token pattern */
    int group;       /* the pattern has one capturing group: it is the token */
    strmap stop;     /* empty = no stop words */
};

/* ---- character classes ------------------------------------------------- */

/* Python's str.isspace(): what str.split() and re's \s split on. */
static inline int is_space(uint32_t c)
{
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* \w of PCRE2 with UCP beyond ASCII, one bit per code point, taken from
 * PCRE2 itself so that the scanner and the pattern can never disagree: the
 * first time a code point of a block of 256 is met, \w+ runs over a string
 * of the whole block. (Building all 1.1M code points at once costs 11 ms,
 * a third of vectorising the tweets.) Threads may fill a block at the same
 * time: they store the same bits, and the block's flag is set after them. */
#define N_CODEPOINTS 0x110000u
#define BLOCK 256u
static _Atomic uint64_t unicode_word[N_CODEPOINTS / 64];
static _Atomic unsigned char block_ready[N_CODEPOINTS / BLOCK];
static pcre2_code *word_re;
static pthread_once_t word_re_once = PTHREAD_ONCE_INIT;

static void compile_word_re(void)
{
    int err;
    PCRE2_SIZE erroff;
    word_re = pcre2_compile((PCRE2_SPTR) "\\w+", PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &erroff, NULL);
    if (!word_re) die("internal error: PCRE2 cannot compile \\w+");
}

static void fill_block(uint32_t block)
{
    pthread_once(&word_re_once, compile_word_re);
    char text[BLOCK * 4];
    size_t len = 0;
    for (uint32_t c = block * BLOCK; c < (block + 1) * BLOCK; c++)
        if (c >= 0x80 && !(c >= 0xD800 && c <= 0xDFFF)) len += (size_t)utf8_encode(c, text + len);
    uint64_t bits[BLOCK / 64] = {0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    size_t start = 0;
    while (start < len && pcre2_match(word_re, (PCRE2_SPTR)text, len, start, PCRE2_NO_UTF_CHECK, md, NULL) > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        for (size_t i = ov[0]; i < ov[1];) {
            uint32_t c;
            i += (size_t)utf8_decode((const unsigned char *)text + i, ov[1] - i, &c);
            bits[(c % BLOCK) / 64] |= 1ull << (c % 64);
        }
        start = ov[1];
    }
    pcre2_match_data_free(md);
    for (uint32_t w = 0; w < BLOCK / 64; w++)
        atomic_store_explicit(&unicode_word[block * (BLOCK / 64) + w], bits[w], memory_order_relaxed);
    atomic_store_explicit(&block_ready[block], 1, memory_order_release);
}

static inline int is_unicode_word(uint32_t c)
{
    if (!atomic_load_explicit(&block_ready[c / BLOCK], memory_order_acquire)) fill_block(c / BLOCK);
    return (atomic_load_explicit(&unicode_word[c / 64], memory_order_relaxed) >> (c % 64)) & 1;
}

static inline int is_ascii_word(unsigned char c)
{
    return (unsigned)((c | 0x20) - 'a') < 26 || (unsigned)(c - '0') < 10 || c == '_';
}

/* ---- analyzer ------------------------------------------------------------ */

/* Python's leading inline flags "(?aiLmsux)": u is Python 3's default for
 * str patterns and unknown to PCRE2, a means ASCII classes (no UCP), the
 * others have PCRE2 equivalents. Returns the pattern without the group. */
static const char *python_flags(const char *p, uint32_t *options, char **err)
{
    if (strncmp(p, "(?", 2) != 0) return p;
    const char *q = p + 2;
    uint32_t o = 0;
    while (*q && strchr("aiLmsux", *q)) {
        switch (*q) {
        case 'a': o |= 1u << 31; break; /* marker: clear UCP below */
        case 'i': o |= PCRE2_CASELESS; break;
        case 'm': o |= PCRE2_MULTILINE; break;
        case 's': o |= PCRE2_DOTALL; break;
        case 'x': o |= PCRE2_EXTENDED; break;
        case 'L':
            *err = xstrdup("the flag (?L) (locale) cannot be used with text patterns");
            return NULL;
        default: break;
        }
        q++;
    }
    if (*q != ')' || q == p + 2) return p; /* not a flag group: (?:...), (?P<..>...) */
    if (o & (1u << 31)) *options &= ~(uint32_t)PCRE2_UCP;
    *options |= o & ~(1u << 31);
    return q + 1;
}

static int is_default_pattern(const char *p)
{
    return strcmp(p, TFIDF_DEFAULT_PATTERN) == 0 || strcmp(p, "\\b\\w\\w+\\b") == 0;
}

tfidf_analyzer *tfidf_analyzer_new(const tfidf_opts *o, char **err)
{
    *err = NULL;
    tfidf_analyzer *a = xcalloc(1, sizeof *a);
    a->kind = o->analyzer;
    a->ngram_min = o->ngram_min;
    a->ngram_max = o->ngram_max;
    a->lowercase = o->lowercase;
    if (a->kind == TFIDF_WORD) {
        const char *pattern = o->token_pattern ? o->token_pattern : TFIDF_DEFAULT_PATTERN;
        a->fast = is_default_pattern(pattern);
        if (!a->fast) {
            uint32_t options = PCRE2_UTF | PCRE2_UCP;
            const char *body = python_flags(pattern, &options, err);
            if (!body) {
                free(a);
                return NULL;
            }
            int code;
            PCRE2_SIZE erroff;
            a->re = pcre2_compile((PCRE2_SPTR)body, PCRE2_ZERO_TERMINATED, options, &code, &erroff, NULL);
            if (!a->re) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(code, msg, sizeof msg);
                size_t n = strlen((char *)msg) + 64;
                *err = xmalloc(n);
                snprintf(*err, n, "%s at offset %zu", (char *)msg, (size_t)erroff + (size_t)(body - pattern));
                free(a);
                return NULL;
            }
            pcre2_jit_compile(a->re, PCRE2_JIT_COMPLETE); /* the interpreter serves if JIT is missing */
            uint32_t groups = 0;
            pcre2_pattern_info(a->re, PCRE2_INFO_CAPTURECOUNT, &groups);
            if (groups > 1) {
                pcre2_code_free(a->re);
                free(a);
                *err = xstrdup("more than 1 capturing group in the token pattern; only a single group should be captured");
                return NULL;
            }
            a->group = groups == 1;
        }
        for (size_t i = 0; i < o->n_stop_words; i++)
            strmap_put(&a->stop, o->stop_words[i], strlen(o->stop_words[i]), 0, NULL);
    }
    return a;
}

void tfidf_analyzer_free(tfidf_analyzer *a)
{
    if (!a) return;
    if (a->re) pcre2_code_free(a->re);
    strmap_free(&a->stop);
    free(a);
}

int tfidf_analyzer_fast(const tfidf_analyzer *a) { return a->fast; }

void tfidf_scratch_init(tfidf_scratch *s) { memset(s, 0, sizeof *s); }

void tfidf_scratch_free(tfidf_scratch *s)
{
    sb_free(&s->lower);
    sb_free(&s->text);
    free(s->tok_start);
    free(s->tok_end);
    free(s->cp_off);
    free(s->term_off);
    free(s->term_len);
    if (s->match_data) pcre2_match_data_free(s->match_data);
    free(s->hashes);
    free(s->keys);
    memset(s, 0, sizeof *s);
}

/* Offsets are 32-bit: a document of 1 GiB or more is refused (padding and
 * lowercasing can make the working text longer than the input). */
static void check_size(size_t n)
{
    if (n >= UINT32_MAX / 4) die("a text of %zu bytes is too long to vectorise", n);
}

static void add_term(tfidf_scratch *s, size_t off, size_t len)
{
    if (s->nterms == s->term_cap) {
        s->term_cap = s->term_cap ? 2 * s->term_cap : 256;
        s->term_off = xrealloc(s->term_off, s->term_cap * sizeof *s->term_off);
        s->term_len = xrealloc(s->term_len, s->term_cap * sizeof *s->term_len);
    }
    s->term_off[s->nterms] = (uint32_t)off;
    s->term_len[s->nterms++] = (uint32_t)len;
}

/* A token, unless it is a stop word: copied to s->text, one space apart. */
static void add_token(const tfidf_analyzer *a, tfidf_scratch *s, const char *tok, size_t len)
{
    if (a->stop.count && strmap_find(&a->stop, tok, len)) return;
    if (s->ntok == s->tok_cap) {
        s->tok_cap = s->tok_cap ? 2 * s->tok_cap : 64;
        s->tok_start = xrealloc(s->tok_start, s->tok_cap * sizeof *s->tok_start);
        s->tok_end = xrealloc(s->tok_end, s->tok_cap * sizeof *s->tok_end);
    }
    if (s->ntok) sb_addc(&s->text, ' ');
    s->tok_start[s->ntok] = (uint32_t)s->text.len;
    sb_addn(&s->text, tok, len);
    s->tok_end[s->ntok++] = (uint32_t)s->text.len;
}

/* (?u)\b\w\w+\b: every maximal run of word characters two or more code
 * points long. */
static void scan_word_runs(const tfidf_analyzer *a, tfidf_scratch *s, const char *text, size_t n)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        /* skip non-word characters */
        while (i < n) {
            if (u[i] < 0x80) {
                if (is_ascii_word(u[i])) break;
                i++;
                continue;
            }
            uint32_t c;
            int len = utf8_decode(u + i, n - i, &c);
            if (len == 0) { i++; continue; }
            if (is_unicode_word(c)) break;
            i += (size_t)len;
        }
        if (i >= n) break;
        size_t start = i, chars = 0;
        while (i < n) {
            if (u[i] < 0x80) {
                if (!is_ascii_word(u[i])) break;
                i++;
            } else {
                uint32_t c;
                int len = utf8_decode(u + i, n - i, &c);
                if (len == 0 || !is_unicode_word(c)) break;
                i += (size_t)len;
            }
            chars++;
        }
        if (chars >= 2) add_token(a, s, text + start, i - start);
    }
}

/* re.findall: successive non-overlapping matches; after an empty match the
 * next one may not be empty at the same place (PCRE2's documented loop,
 * which gives Python 3.7+'s results). With one group the token is the
 * group ("" when it did not take part). */
static void find_all(const tfidf_analyzer *a, tfidf_scratch *s, const char *text, size_t n)
{
    if (!s->match_data) s->match_data = pcre2_match_data_create(2, NULL);
    pcre2_match_data *md = s->match_data;
    PCRE2_SPTR subj = (PCRE2_SPTR)text;
    size_t start = 0;
    uint32_t opts = 0;
    while (start <= n) {
        int rc = pcre2_match(a->re, subj, n, start, opts | PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (!opts || start >= n) break;
            uint32_t c;
            int len = utf8_decode((const unsigned char *)text + start, n - start, &c);
            start += len ? (size_t)len : 1;
            opts = 0;
            continue;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            die("token pattern: matching failed: %s", (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] < ov[0]) die("token pattern: \\K moved a match's start past its end");
        if (a->group) {
            if (ov[2] == PCRE2_UNSET) add_token(a, s, "", 0);
            else add_token(a, s, text + ov[2], ov[3] - ov[2]);
        } else {
            add_token(a, s, text + ov[0], ov[1] - ov[0]);
        }
        opts = ov[1] == ov[0] ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
        start = ov[1];
    }
}

static void word_ngrams(const tfidf_analyzer *a, tfidf_scratch *s)
{
    size_t nt = s->ntok;
    for (size_t len = (size_t)a->ngram_min; len <= (size_t)a->ngram_max && len <= nt; len++)
        for (size_t i = 0; i + len <= nt; i++)
            add_term(s, s->tok_start[i], s->tok_end[i + len - 1] - s->tok_start[i]);
}

/* Code point offsets of s->text[from..to) into s->cp_off[0..count], the last
 * one `to`. Returns the count of code points. */
static size_t code_points(tfidf_scratch *s, size_t from, size_t to)
{
    const unsigned char *u = (const unsigned char *)s->text.s;
    if (s->cp_cap < to - from + 1) {
        s->cp_cap = to - from + 1;
        free(s->cp_off);
        s->cp_off = xmalloc(s->cp_cap * sizeof *s->cp_off);
    }
    size_t count = 0;
    for (size_t i = from; i < to; count++) {
        s->cp_off[count] = (uint32_t)i;
        uint32_t c;
        int len = utf8_decode(u + i, to - i, &c);
        i += len ? (size_t)len : 1;
    }
    s->cp_off[count] = (uint32_t)to;
    return count;
}

static void char_ngrams(const tfidf_analyzer *a, tfidf_scratch *s, const char *text, size_t n)
{
    /* re.sub(r"\s\s+", " ", text) */
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        int len = utf8_decode(u + i, n - i, &c);
        if (len == 0) len = 1, c = u[i];
        if (!is_space(c)) {
            sb_addn(&s->text, text + i, (size_t)len);
            i += (size_t)len;
            continue;
        }
        size_t run_end = i + (size_t)len, run = 1;
        while (run_end < n) {
            uint32_t d;
            int l2 = utf8_decode(u + run_end, n - run_end, &d);
            if (l2 == 0 || !is_space(d)) break;
            run_end += (size_t)l2;
            run++;
        }
        if (run == 1) sb_addn(&s->text, text + i, (size_t)len);
        else sb_addc(&s->text, ' ');
        i = run_end;
    }
    size_t chars = code_points(s, 0, s->text.len);
    for (size_t len = (size_t)a->ngram_min; len <= (size_t)a->ngram_max && len <= chars; len++)
        for (size_t i = 0; i + len <= chars; i++)
            add_term(s, s->cp_off[i], s->cp_off[i + len] - s->cp_off[i]);
}

static void char_wb_ngrams(const tfidf_analyzer *a, tfidf_scratch *s, const char *text, size_t n)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0;
    for (;;) {
        /* the next word of str.split() */
        uint32_t c;
        int len = 0;
        while (i < n) {
            len = utf8_decode(u + i, n - i, &c);
            if (len == 0) len = 1, c = u[i];
            if (!is_space(c)) break;
            i += (size_t)len;
        }
        if (i >= n) break;
        size_t start = i;
        while (i < n) {
            len = utf8_decode(u + i, n - i, &c);
            if (len == 0) len = 1, c = u[i];
            if (is_space(c)) break;
            i += (size_t)len;
        }
        size_t from = s->text.len;
        sb_addc(&s->text, ' ');
        sb_addn(&s->text, text + start, i - start);
        sb_addc(&s->text, ' ');
        size_t w_len = code_points(s, from, s->text.len);
        const uint32_t *cp = s->cp_off;
        /* sklearn's loop: n-grams at every offset; a word shorter than n
         * gives itself once, and then no longer n-grams */
        for (size_t gram = (size_t)a->ngram_min; gram <= (size_t)a->ngram_max; gram++) {
            size_t offset = 0;
            size_t end = gram < w_len ? gram : w_len;
            add_term(s, cp[0], cp[end] - cp[0]);
            while (offset + gram < w_len) {
                offset++;
                add_term(s, cp[offset], cp[offset + gram] - cp[offset]);
            }
            if (offset == 0) break;
        }
    }
}

size_t tfidf_analyze(const tfidf_analyzer *a, tfidf_scratch *s, const char *text, size_t n)
{
    check_size(n);
    s->nterms = 0;
    s->ntok = 0;
    sb_clear(&s->text);
    if (a->lowercase) {
        sb_clear(&s->lower);
        tc_lower(text, n, &s->lower);
        text = sb_str(&s->lower);
        n = s->lower.len;
        check_size(n);
    }
    switch (a->kind) {
    case TFIDF_WORD:
        if (a->fast) scan_word_runs(a, s, text, n);
        else find_all(a, s, text, n);
        word_ngrams(a, s);
        break;
    case TFIDF_CHAR: char_ngrams(a, s, text, n); break;
    case TFIDF_CHAR_WB: char_wb_ngrams(a, s, text, n); break;
    }
    check_size(s->text.len);
    return s->nterms;
}
