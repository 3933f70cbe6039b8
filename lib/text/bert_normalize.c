#include "bert_normalize.h"
#include "core/common.h"
#include "unicode_tables.h"
#include "core/utf8.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

unsigned bert_uflags(uint32_t cp)
{
    if (cp >= 0x110000) return 0;
    return wp_u_stage2[(size_t)wp_u_stage1[cp >> 8] * 256 + (cp & 255)];
}

int bert_is_space(uint32_t cp) { return (bert_uflags(cp) & WP_U_SPACE) != 0; }

static const wp_u_map *find_map(const wp_u_map *v, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo].cp == cp ? &v[lo] : NULL;
}

static unsigned combining_class(uint32_t cp)
{
    size_t lo = 0, hi = sizeof wp_u_ccc / sizeof wp_u_ccc[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wp_u_ccc[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < sizeof wp_u_ccc / sizeof wp_u_ccc[0] && wp_u_ccc[lo].cp == cp ? wp_u_ccc[lo].ccc : 0;
}

static void push(bert_text *t, uint32_t cp)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->cps = xrealloc(t->cps, t->cap * sizeof *t->cps);
    }
    t->cps[t->n++] = cp;
}

/* The last steps for a code point in canonical order: Mn removal (part of
 * stripping accents) and lowercasing. Lowercasing comes after NFD, so what
 * it produces is neither reordered nor stripped: U+0130 keeps its U+0307, as
 * in HF. */
static void finish(bert_text *t, uint32_t cp, unsigned flags)
{
    unsigned f = bert_uflags(cp);
    if ((flags & BERT_STRIP_ACCENTS) && (f & WP_U_MN)) return;
    if ((flags & BERT_LOWER) && (f & WP_U_LOWER)) {
        const wp_u_map *m = find_map(wp_u_lower, sizeof wp_u_lower / sizeof wp_u_lower[0], cp);
        for (unsigned i = 0; i < m->len; i++) push(t, wp_u_pool[m->off + i]);
        return;
    }
    push(t, cp);
}

/* Canonical ordering of the pending run of combining marks (a stable sort
 * by combining class), then each one finished. Runs are short in real text
 * but unbounded in hostile text, hence a counting sort for long ones. */
static void flush_marks(bert_text *t, unsigned flags)
{
    size_t n = t->nmarks;
    if (n == 0) return;
    uint32_t *m = t->marks;
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t c = m[i];
            unsigned k = combining_class(c);
            size_t j = i;
            while (j > 0 && combining_class(m[j - 1]) > k) {
                m[j] = m[j - 1];
                j--;
            }
            m[j] = c;
        }
    } else {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[combining_class(m[i]) + 1]++;
        for (int k = 1; k < 257; k++) count[k] += count[k - 1];
        t->sorted = xrealloc(t->sorted, t->capmarks * sizeof *t->sorted);
        for (size_t i = 0; i < n; i++) t->sorted[count[combining_class(m[i])]++] = m[i];
        m = t->sorted;
    }
    for (size_t i = 0; i < n; i++) finish(t, m[i], flags);
    t->nmarks = 0;
}

static void hold_mark(bert_text *t, uint32_t cp)
{
    if (t->nmarks == t->capmarks) {
        t->capmarks = t->capmarks ? t->capmarks * 2 : 16;
        t->marks = xrealloc(t->marks, t->capmarks * sizeof *t->marks);
    }
    t->marks[t->nmarks++] = cp;
}

/* NFD of one code point when stripping accents: full canonical
 * decomposition (Hangul syllables by arithmetic); marks (combining class >
 * 0) wait for the next starter so that a run of them can be reordered. */
static void decompose(bert_text *t, uint32_t cp, unsigned f, unsigned flags)
{
    uint32_t buf[WP_U_MAP_MAX > 3 ? WP_U_MAP_MAX : 3];
    const uint32_t *d = &cp;
    size_t nd = 1;
    if (f & WP_U_DECOMP) {
        if (cp >= 0xAC00 && cp < 0xAC00 + 11172) {
            uint32_t s = cp - 0xAC00;
            buf[0] = 0x1100 + s / 588;
            buf[1] = 0x1161 + (s % 588) / 28;
            buf[2] = 0x11A7 + s % 28;
            nd = s % 28 ? 3 : 2;
            d = buf;
        } else {
            const wp_u_map *m = find_map(wp_u_decomp, sizeof wp_u_decomp / sizeof wp_u_decomp[0], cp);
            d = &wp_u_pool[m->off];
            nd = m->len;
        }
    }
    for (size_t i = 0; i < nd; i++) {
        if (bert_uflags(d[i]) & WP_U_CCC) {
            hold_mark(t, d[i]);
        } else {
            flush_marks(t, flags);
            finish(t, d[i], flags);
        }
    }
}

static void emit(bert_text *t, uint32_t cp, unsigned flags)
{
    if (flags & BERT_STRIP_ACCENTS) {
        decompose(t, cp, bert_uflags(cp), flags);
    } else {
        finish(t, cp, flags);
    }
}

/* ASCII classes for the fast path. \v and \f are both control and
 * whitespace: cleaning removes them (HF filters controls first), the
 * pre-tokenizer splits at them. */
enum { A_WORD, A_UPPER, A_SPACE, A_CONTROL, A_CONTROL_SPACE, A_PUNCT };
static unsigned char ascii_class[128];

static void init_ascii(void)
{
    for (int c = 0; c < 128; c++) {
        unsigned f = bert_uflags((uint32_t)c);
        ascii_class[c] = (f & WP_U_CONTROL) ? ((f & WP_U_SPACE) ? A_CONTROL_SPACE : A_CONTROL)
                         : (f & WP_U_SPACE) ? A_SPACE
                         : (f & WP_U_PUNCT) ? A_PUNCT
                         : (c >= 'A' && c <= 'Z') ? A_UPPER : A_WORD;
    }
}

/* encoders run in threads: the table is made once, by whichever comes first */
static pthread_once_t ascii_once = PTHREAD_ONCE_INIT;
static void ascii_init_once(void) { pthread_once(&ascii_once, init_ascii); }

void bert_normalize(bert_text *t, const char *s, size_t n, unsigned flags)
{
    ascii_init_once();
    const unsigned char *u = (const unsigned char *)s;
    t->n = 0;
    t->nmarks = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = u[i];
        if (cp < 0x80) {
            i++;
            /* ASCII: no decomposition, no marks, nothing CJK */
            unsigned c = ascii_class[cp];
            if (flags & BERT_CLEAN) {
                if (c == A_CONTROL || c == A_CONTROL_SPACE) continue;
                if (c == A_SPACE) cp = ' ';
            }
            if (t->nmarks) flush_marks(t, flags);
            if (c == A_UPPER && (flags & BERT_LOWER)) cp += 'a' - 'A';
            push(t, cp);
            continue;
        }
        int len = utf8_decode(u + i, n - i, &cp);
        if (len == 0) {
            cp = UTF8_REPLACEMENT;
            len = 1;
        }
        i += (size_t)len;
        unsigned f = bert_uflags(cp);
        if (flags & BERT_CLEAN) {
            if (cp == UTF8_REPLACEMENT || (f & WP_U_CONTROL)) continue;
            if (f & WP_U_SPACE) cp = ' ';
        }
        if ((flags & BERT_CHINESE) && (f & WP_U_CJK)) {
            emit(t, ' ', flags);
            emit(t, cp, flags);
            emit(t, ' ', flags);
        } else {
            emit(t, cp, flags);
        }
    }
    flush_marks(t, flags);
}

static void word_add(bert_text *t, size_t *len, const char *b, int n)
{
    if (*len + (size_t)n > t->wcap) {
        t->wcap = t->wcap ? t->wcap * 2 : 256;
        if (t->wcap < *len + (size_t)n) t->wcap = *len + (size_t)n;
        t->word = xrealloc(t->word, t->wcap);
    }
    memcpy(t->word + *len, b, (size_t)n);
    *len += (size_t)n;
}

void bert_pretokenize(bert_text *t, size_t max_chars, bert_word_fn fn, void *ctx)
{
    ascii_init_once();
    size_t len = 0, nchars = 0;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t cp = t->cps[i];
        unsigned space, punct;
        if (cp < 0x80) {
            unsigned c = ascii_class[cp];
            space = c == A_SPACE || c == A_CONTROL_SPACE;
            punct = c == A_PUNCT;
        } else {
            unsigned f = bert_uflags(cp);
            space = f & WP_U_SPACE;
            punct = f & WP_U_PUNCT;
        }
        if (space || punct) {
            if (nchars) fn(ctx, t->word, len, nchars);
            len = nchars = 0;
            if (space) continue;
        }
        char b[4];
        int blen = utf8_encode(cp, b);
        /* a word past max_chars is [UNK] whatever it holds: stop storing it */
        if (nchars <= max_chars) word_add(t, &len, b, blen);
        nchars++;
        if (punct) {
            fn(ctx, t->word, len, nchars);
            len = nchars = 0;
        }
    }
    if (nchars) fn(ctx, t->word, len, nchars);
}

void bert_text_free(bert_text *t)
{
    free(t->cps);
    free(t->marks);
    free(t->sorted);
    free(t->word);
    memset(t, 0, sizeof *t);
}
