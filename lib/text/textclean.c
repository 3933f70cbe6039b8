#include "textclean.h"

#include "core/common.h"
#include "core/datadir.h"
#include "html_entities.h"
#include "core/strmap.h"
#include "core/utf8.h"

#include <libstemmer.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wctype.h>

/* ---- character classes ------------------------------------------------ */

/* glibc's C.UTF-8 classes through a locale object of our own: setlocale
 * would change how the programs print numbers. (locale_t)0 when the locale
 * is missing; the classes are then ASCII-only. */
static locale_t utf8_locale;
static pthread_once_t utf8_locale_once = PTHREAD_ONCE_INIT;

static void open_utf8_locale(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static locale_t ctype_locale(void)
{
    pthread_once(&utf8_locale_once, open_utf8_locale);
    return utf8_locale;
}

static inline int ascii_alpha(uint32_t c) { return (c | 0x20) - 'a' < 26; }
static inline int ascii_digit(uint32_t c) { return c - '0' < 10; }

/* Python's str.isalnum() or '_' (the \w of Python's re). */
static inline int is_word(uint32_t c, locale_t loc)
{
    if (c < 0x80) return ascii_alpha(c) || ascii_digit(c) || c == '_';
    /* superscripts 2 3 1 and the fractions 1/4 1/2 3/4 are numeric to
     * Python (category No) but not alphanumeric to glibc; the only such
     * difference in Latin-1, and mis-encoded tweets are full of U+00BD. */
    if (c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE)) return 1;
    return loc && iswalnum_l((wint_t)c, loc);
}

/* Python's str.isalpha(). */
static inline int is_letter(uint32_t c, locale_t loc)
{
    if (c < 0x80) return ascii_alpha(c);
    return loc && iswalpha_l((wint_t)c, loc);
}

/* Python's str.isspace() (glibc's iswspace differs: no U+00A0, U+0085...). */
static inline int is_space(uint32_t c)
{
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The code point at s[i] and its length. The input is valid UTF-8 by
 * contract; a stray byte is still stepped over one at a time, as U+FFFD. */
static inline size_t decode_at(const unsigned char *s, size_t n, size_t i, uint32_t *cp)
{
    if (s[i] < 0x80) {
        *cp = s[i];
        return 1;
    }
    int len = utf8_decode(s + i, n - i, cp);
    if (len) return (size_t)len;
    *cp = UTF8_REPLACEMENT;
    return 1;
}

/* ---- html unescape ---------------------------------------------------- */

/* CPython's html.unescape finds references with the regex
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * the 32 counts characters. */
#define HTML_REF_NAME_SCAN 32

/* strcmp(e, name[0..len)), name not NUL-terminated (and it may hold NULs) */
static int name_cmp(const char *e, const char *name, size_t len)
{
    for (size_t k = 0; k < len; k++) {
        unsigned char a = (unsigned char)e[k], b = (unsigned char)name[k];
        if (a == 0) return -1;
        if (a != b) return a < b ? -1 : 1;
    }
    return e[len] ? 1 : 0;
}

static const char *entity_lookup(const char *name, size_t len)
{
    size_t lo = 0, hi = sizeof html_entities / sizeof html_entities[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(html_entities[mid].name, name, len);
        if (c == 0) return html_entities[mid].utf8;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int is_invalid_codepoint(uint32_t c)
{
    size_t lo = 0, hi = sizeof html_invalid_codepoints / sizeof html_invalid_codepoints[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (html_invalid_codepoints[mid] == c) return 1;
        if (html_invalid_codepoints[mid] < c) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

static void add_codepoint(strbuf *out, uint32_t c)
{
    char buf[4];
    sb_addn(out, buf, (size_t)utf8_encode(c, buf));
}

/* Python's _replace_charref for a numeric reference. */
static void add_numeric_ref(strbuf *out, uint32_t num)
{
    for (size_t k = 0; k < sizeof html_invalid_charrefs / sizeof html_invalid_charrefs[0] && num <= 0x9F; k++)
        if (html_invalid_charrefs[k].code == num) {
            sb_adds(out, html_invalid_charrefs[k].utf8);
            return;
        }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) add_codepoint(out, UTF8_REPLACEMENT);
    else if (!is_invalid_codepoint(num)) add_codepoint(out, num);
}

static inline int hex_value(unsigned char c)
{
    if (ascii_digit(c)) return c - '0';
    unsigned letter = (unsigned)(c | 0x20) - 'a';
    return letter < 6 ? (int)letter + 10 : -1;
}

/* Tries a numeric reference at s[i] == '&', s[i+1] == '#'. Returns the end
 * of the match, or i when there is none. */
static size_t numeric_ref(const unsigned char *s, size_t n, size_t i, strbuf *out)
{
    size_t j = i + 2;
    unsigned base = 10;
    if (j + 1 < n && (s[j] | 0x20) == 'x' && hex_value(s[j + 1]) >= 0) base = 16, j++;
    else if (!(j < n && ascii_digit(s[j]))) return i;
    uint32_t num = 0;
    for (; j < n; j++) {
        int d = base == 16 ? hex_value(s[j]) : ascii_digit(s[j]) ? s[j] - '0' : -1;
        if (d < 0) break;
        if (num <= 0x10FFFF) num = num * base + (uint32_t)d; /* past it, the value no longer matters */
    }
    if (j < n && s[j] == ';') j++;
    add_numeric_ref(out, num);
    return j;
}

/* Tries a named reference at s[i] == '&'. Returns the end of the match, or
 * i when there is none. */
static size_t named_ref(const unsigned char *s, size_t n, size_t i, strbuf *out)
{
    size_t j = i + 1, chars = 0, ascii = 0;
    while (j < n && chars < HTML_REF_NAME_SCAN) {
        unsigned char c = s[j];
        if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';')
            break;
        uint32_t cp;
        if (ascii == j - i - 1 && c < 0x80) ascii++;
        j += decode_at(s, n, j, &cp);
        chars++;
    }
    if (chars == 0) return i;
    if (j < n && s[j] == ';') j++, chars++;
    const char *name = (const char *)s + i + 1;
    size_t len = j - i - 1;
    const char *rep = len <= HTML_ENTITY_NAME_MAX ? entity_lookup(name, len) : NULL;
    if (rep) {
        sb_adds(out, rep);
        return j;
    }
    /* the longest proper prefix (of 2+ characters) that is a name; such a
     * prefix has no ';', so it is one of the legacy names, all ASCII */
    size_t x = chars - 1;
    if (x > ascii) x = ascii;
    if (x > HTML_ENTITY_BARE_MAX) x = HTML_ENTITY_BARE_MAX;
    for (; x >= 2; x--) {
        rep = entity_lookup(name, x);
        if (rep) {
            sb_adds(out, rep);
            sb_addn(out, name + x, len - x);
            return j;
        }
    }
    return i;
}

void tc_html_unescape(const char *in, size_t n, strbuf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < n) {
        const unsigned char *amp = memchr(s + i, '&', n - i);
        if (!amp) break;
        size_t a = (size_t)(amp - s);
        sb_addn(out, in + i, a - i);
        size_t end = a + 1 < n && s[a + 1] == '#' ? numeric_ref(s, n, a, out) : named_ref(s, n, a, out);
        if (end == a) {
            sb_addc(out, '&');
            end = a + 1;
        }
        i = end;
    }
    if (i < n) sb_addn(out, in + i, n - i);
}

/* ---- tags, urls, mentions, hashtags, controls ------------------------- */

void tc_strip_tags(const char *in, size_t n, strbuf *out)
{
    size_t i = 0;
    while (i < n) {
        const char *lt = memchr(in + i, '<', n - i);
        if (!lt) break;
        size_t a = (size_t)(lt - in);
        sb_addn(out, in + i, a - i);
        i = a + 1;
        if (i < n && (ascii_alpha((unsigned char)in[i]) || in[i] == '/' || in[i] == '!')) {
            size_t k = i + 1;
            while (k < n && in[k] != '<' && in[k] != '>') k++;
            if (k < n && in[k] == '>') {
                sb_addc(out, ' ');
                i = k + 1;
                continue;
            }
        }
        sb_addc(out, '<');
    }
    if (i < n) sb_addn(out, in + i, n - i);
}

/* Whether s[0..n) starts with lit (lowercase), ASCII letters case-folded. */
static int starts_with_ci(const char *s, size_t n, const char *lit)
{
    size_t k = 0;
    for (; lit[k]; k++) {
        if (k >= n) return 0;
        unsigned char c = (unsigned char)s[k];
        if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
        if (c != (unsigned char)lit[k]) return 0;
    }
    return 1;
}

static size_t url_prefix(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0] | 0x20;
    if (c == 'h') {
        if (starts_with_ci(s, n, "http://")) return 7;
        if (starts_with_ci(s, n, "https://")) return 8;
    } else if (c == 'w' && starts_with_ci(s, n, "www.")) {
        return 4;
    }
    return 0;
}

void tc_remove_urls(const char *in, size_t n, strbuf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, copied = 0;
    while (i < n) {
        size_t p = url_prefix(in + i, n - i);
        if (!p) {
            i++;
            continue;
        }
        sb_addn(out, in + copied, i - copied);
        sb_addc(out, ' ');
        i += p;
        while (i < n) {
            uint32_t cp;
            size_t len = decode_at(s, n, i, &cp);
            if (is_space(cp)) break;
            i += len;
        }
        copied = i;
    }
    sb_addn(out, in + copied, n - copied);
}

/* The end of the run of word characters starting at s[i]. */
static size_t word_run_end(const unsigned char *s, size_t n, size_t i, locale_t loc)
{
    while (i < n) {
        uint32_t cp;
        size_t len = decode_at(s, n, i, &cp);
        if (!is_word(cp, loc)) break;
        i += len;
    }
    return i;
}

void tc_remove_mentions(const char *in, size_t n, strbuf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    locale_t loc = ctype_locale();
    size_t i = 0;
    while (i < n) {
        const char *at = memchr(in + i, '@', n - i);
        if (!at) break;
        size_t a = (size_t)(at - in);
        sb_addn(out, in + i, a - i);
        size_t end = word_run_end(s, n, a + 1, loc);
        if (end > a + 1) {
            sb_addc(out, ' ');
            i = end;
        } else {
            sb_addc(out, '@');
            i = a + 1;
        }
    }
    if (i < n) sb_addn(out, in + i, n - i);
}

void tc_hashtags(const char *in, size_t n, strbuf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    locale_t loc = ctype_locale();
    size_t i = 0;
    while (i < n) {
        const char *hash = memchr(in + i, '#', n - i);
        if (!hash) break;
        size_t a = (size_t)(hash - in);
        sb_addn(out, in + i, a - i);
        uint32_t cp = 0;
        if (a + 1 < n) decode_at(s, n, a + 1, &cp);
        if (!(a + 1 < n && is_word(cp, loc))) sb_addc(out, '#');
        i = a + 1;
    }
    if (i < n) sb_addn(out, in + i, n - i);
}

void tc_controls(const char *in, size_t n, strbuf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, copied = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = 0;
        if (c < 0x20 || c == 0x7F) len = 1;
        else if (c == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F) len = 2; /* U+0080-U+009F */
        if (!len) {
            i++;
            continue;
        }
        sb_addn(out, in + copied, i - copied);
        sb_addc(out, ' ');
        i += len;
        copied = i;
    }
    sb_addn(out, in + copied, n - copied);
}

/* ---- squeeze, repeats, lowercase -------------------------------------- */

void tc_squeeze(const char *in, size_t n, strbuf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    int wrote = 0, gap = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = decode_at(s, n, i, &cp);
        if (is_space(cp)) {
            gap = 1;
            i += len;
            continue;
        }
        size_t start = i;
        i += len;
        while (i < n) { /* the whole non-space run at once */
            len = decode_at(s, n, i, &cp);
            if (is_space(cp)) break;
            i += len;
        }
        if (gap && wrote) sb_addc(out, ' ');
        sb_addn(out, in + start, i - start);
        wrote = 1;
        gap = 0;
    }
}

void tc_cap_repeats(const char *in, size_t n, int max, strbuf *out)
{
    if (max <= 0) {
        sb_addn(out, in, n);
        return;
    }
    const unsigned char *s = (const unsigned char *)in;
    locale_t loc = ctype_locale();
    size_t i = 0, copied = 0;
    uint32_t prev = UINT32_MAX;
    int run = 0, prev_word = -1; /* -1: not yet asked */
    while (i < n) {
        uint32_t cp;
        size_t len = decode_at(s, n, i, &cp);
        if (cp != prev) {
            prev = cp;
            prev_word = -1;
            run = 1;
            i += len;
            continue;
        }
        if (prev_word < 0) prev_word = is_word(cp, loc);
        if (++run <= max || !prev_word) {
            i += len;
            continue;
        }
        sb_addn(out, in + copied, i - copied);
        i += len;
        copied = i;
    }
    sb_addn(out, in + copied, n - copied);
}

void tc_lower(const char *in, size_t n, strbuf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    locale_t loc = ctype_locale();
    sb_reserve(out, n);
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) { /* an ASCII run, written in place */
            size_t start = i;
            while (i < n && s[i] < 0x80) i++;
            sb_reserve(out, i - start);
            char *d = out->s + out->len;
            for (size_t k = start; k < i; k++) {
                unsigned char c = s[k];
                d[k - start] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
            }
            out->len += i - start;
            out->s[out->len] = '\0';
            continue;
        }
        uint32_t cp;
        int len = utf8_decode(s + i, n - i, &cp);
        if (!len) { /* not UTF-8: kept as it is */
            sb_addc(out, (char)s[i++]);
            continue;
        }
        i += (size_t)len;
        if (cp == 0x130) sb_adds(out, "i\xCC\x87"); /* Python's full mapping: i + combining dot above */
        else add_codepoint(out, loc ? (uint32_t)towlower_l((wint_t)cp, loc) : cp);
    }
}

/* ---- stopwords -------------------------------------------------------- */

struct stopword_set {
    strmap words;
};

char *stopwords_resolve(const char *arg)
{
    struct stat st;
    if (strchr(arg, '/') || stat(arg, &st) == 0) return xstrdup(arg);
    const char *dir = data_dir();
    if (!dir) die_usage("--stopwords: cannot find the data directory (set PIPECLF_DATA to the folder holding stopwords/)");
    strbuf path = {0};
    sb_adds(&path, dir);
    sb_adds(&path, "/stopwords/");
    sb_adds(&path, arg);
    sb_adds(&path, ".txt");
    if (stat(path.s, &st) != 0)
        die_usage("--stopwords: no list '%s' (looked for %s; PIPECLF_DATA sets the data directory)", arg, path.s);
    return path.s;
}

char **stopwords_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) die("cannot read %s", path);
    char **words = xcalloc(1, sizeof *words);
    *n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) != -1) {
        char *w = line, *end = line + got;
        while (w < end && (*w == ' ' || *w == '\t' || *w == '\r' || *w == '\n')) w++;
        while (end > w && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n')) end--;
        if (w == end || *w == '#') continue;
        words = xrealloc(words, (*n + 1) * sizeof *words);
        words[(*n)++] = xstrndup(w, (size_t)(end - w));
    }
    int bad = ferror(f);
    free(line);
    fclose(f);
    if (bad) die("cannot read %s", path);
    return words;
}

stopword_set *stopwords_load(const char *path)
{
    size_t n;
    char **words = stopwords_read(path, &n);
    stopword_set *set = xcalloc(1, sizeof *set);
    for (size_t i = 0; i < n; i++) {
        strmap_put(&set->words, words[i], strlen(words[i]), 0, NULL);
        free(words[i]);
    }
    free(words);
    return set;
}

int stopwords_contains(const stopword_set *s, const char *w, size_t n)
{
    return strmap_find(&s->words, w, n) != NULL;
}

void stopwords_free(stopword_set *s)
{
    if (!s) return;
    strmap_free(&s->words);
    free(s);
}

/* ---- drivers ---------------------------------------------------------- */

/* Intermediate results between steps, reused from call to call. */
static _Thread_local strbuf scratch[2];

enum step { S_UNESCAPE, S_TAGS, S_URLS, S_MENTIONS, S_HASHTAGS, S_CONTROLS, S_SQUEEZE, S_REPEATS };

static void run_step(const textclean_opts *o, enum step st, const char *in, size_t n, strbuf *out)
{
    switch (st) {
    case S_UNESCAPE: tc_html_unescape(in, n, out); break;
    case S_TAGS: tc_strip_tags(in, n, out); break;
    case S_URLS: tc_remove_urls(in, n, out); break;
    case S_MENTIONS: tc_remove_mentions(in, n, out); break;
    case S_HASHTAGS: tc_hashtags(in, n, out); break;
    case S_CONTROLS: tc_controls(in, n, out); break;
    case S_SQUEEZE: tc_squeeze(in, n, out); break;
    case S_REPEATS: tc_cap_repeats(in, n, o->max_repeat, out); break;
    }
}

void textclean_normalize(const textclean_opts *o, const char *in, size_t n, strbuf *out)
{
    enum step steps[8];
    int k = 0;
    if (o->html) steps[k++] = S_UNESCAPE, steps[k++] = S_TAGS;
    if (o->urls) steps[k++] = S_URLS;
    if (o->mentions) steps[k++] = S_MENTIONS;
    if (o->hashtags) steps[k++] = S_HASHTAGS;
    if (o->controls) steps[k++] = S_CONTROLS;
    if (o->squeeze) steps[k++] = S_SQUEEZE;
    if (o->max_repeat > 0) steps[k++] = S_REPEATS;
    if (n == 0 || k == 0) {
        if (n) sb_addn(out, in, n);
        return;
    }
    const char *src = in;
    size_t len = n;
    for (int i = 0; i < k; i++) {
        strbuf *dst = i == k - 1 ? out : &scratch[i % 2];
        if (dst != out) sb_clear(dst);
        run_step(o, steps[i], src, len, dst);
        src = sb_str(dst);
        len = dst->len;
    }
}

int textclean_has_token_steps(const textclean_opts *o)
{
    return o->lower || o->alpha_only || o->stopwords || o->stemmer;
}

static void add_token(const textclean_opts *o, const char *tok, size_t len, strbuf *out, int *first)
{
    if (o->stopwords && stopwords_contains(o->stopwords, tok, len)) return;
    if (!*first) sb_addc(out, ' ');
    *first = 0;
    if (!o->stemmer) {
        sb_addn(out, tok, len);
        return;
    }
    if (len > INT_MAX) die("token too long to stem (%zu bytes)", len);
    const sb_symbol *stem = sb_stemmer_stem(o->stemmer, (const sb_symbol *)tok, (int)len);
    if (!stem) die("out of memory");
    sb_addn(out, (const char *)stem, (size_t)sb_stemmer_length(o->stemmer));
}

void textclean_tokens(const textclean_opts *o, const char *in, size_t n, strbuf *out)
{
    if (n == 0) return;
    if (o->lower) {
        sb_clear(&scratch[0]);
        tc_lower(in, n, &scratch[0]);
        in = scratch[0].s;
        n = scratch[0].len;
    }
    const unsigned char *s = (const unsigned char *)in;
    locale_t loc = ctype_locale();
    int first = 1;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = decode_at(s, n, i, &cp);
        int in_token = o->alpha_only ? is_letter(cp, loc) : !is_space(cp);
        if (!in_token) {
            i += len;
            continue;
        }
        size_t start = i;
        i += len;
        while (i < n) {
            len = decode_at(s, n, i, &cp);
            if (!(o->alpha_only ? is_letter(cp, loc) : !is_space(cp))) break;
            i += len;
        }
        add_token(o, in + start, i - start, out, &first);
    }
}
