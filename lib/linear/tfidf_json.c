/* tfidf_json: a strict RFC 8259 scanner, no tree built, for the hot reads of
 * tfidf: the records (tfidf_records.c) and the model's big arrays
 * (tfidf.c). Anything it refuses is left to cJSON by its callers, so it may
 * be stricter than cJSON but never more lenient. */
#include "tfidf.h"

#include "core/utf8.h"

#include <string.h>

/* cJSON refuses deeper nesting (CJSON_NESTING_LIMIT) */
#define MAX_DEPTH 1000

static inline int hex4(const char *p, uint32_t *v)
{
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (uint32_t)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') x |= (uint32_t)((c | 0x20) - 'a' + 10);
        else return 0;
    }
    *v = x;
    return 1;
}

/* A string at s->p (its opening quote); *escapes says whether it has any.
 * escapes are checked here (a \u0000 or a lone surrogate is refused: the
 * slow path decides those as cJSON does). */
int tfidf_scan_string(tfidf_scan *s, int *escapes)
{
    const char *p = s->p + 1, *end = s->end;
    *escapes = 0;
    for (;;) {
        /* the common run of plain bytes */
        while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\') p++;
        if (p >= end || (unsigned char)*p < 0x20) return 0;
        if (*p == '"') break;
        *escapes = 1;
        if (p + 1 >= end) return 0;
        char e = p[1];
        if (e == 'u') {
            uint32_t u, lo;
            if (end - p < 6 || !hex4(p + 2, &u) || u == 0) return 0;
            p += 6;
            if (u >= 0xDC00 && u <= 0xDFFF) return 0;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return 0;
                p += 6;
            }
        } else if (e && strchr("\"\\/bfnrt", e)) {
            p += 2;
        } else {
            return 0;
        }
    }
    s->p = p + 1;
    return 1;
}

/* Appends the string value at s (already checked) decoded to out. */
void tfidf_decode_string(const char *p, const char *end, strbuf *out)
{
    p++; /* the quote */
    while (p < end && *p != '"') {
        const char *run = p;
        while (p < end && *p != '"' && *p != '\\') p++;
        sb_addn(out, run, (size_t)(p - run));
        if (p >= end || *p == '"') break;
        char e = p[1];
        if (e == 'u') {
            uint32_t u = 0, lo = 0;
            hex4(p + 2, &u);
            p += 6;
            if (u >= 0xD800 && u <= 0xDBFF) {
                hex4(p + 2, &lo);
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            char b[4];
            sb_addn(out, b, (size_t)utf8_encode(u, b));
            continue;
        }
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        sb_addc(out, to[strchr(from, e) - from]);
        p += 2;
    }
}

int tfidf_scan_number(tfidf_scan *s)
{
    const char *p = s->p, *end = s->end;
    if (p < end && *p == '-') p++;
    if (p >= end) return 0;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9') p++;
    else return 0;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !(*p >= '0' && *p <= '9')) return 0;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !(*p >= '0' && *p <= '9')) return 0;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    s->p = p;
    return 1;
}

static int scan_literal(tfidf_scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return 0;
    s->p += n;
    return 1;
}

int tfidf_scan_value(tfidf_scan *s, int depth)
{
    if (s->p >= s->end) return 0;
    int esc;
    switch (*s->p) {
    case '"': return tfidf_scan_string(s, &esc);
    case 't': return scan_literal(s, "true", 4);
    case 'f': return scan_literal(s, "false", 5);
    case 'n': return scan_literal(s, "null", 4);
    case '{':
    case '[': {
        if (depth >= MAX_DEPTH) return 0;
        char close = *s->p == '{' ? '}' : ']';
        int object = close == '}';
        s->p++;
        tfidf_skip_blanks(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 1;
        }
        for (;;) {
            if (object) {
                if (s->p >= s->end || *s->p != '"' || !tfidf_scan_string(s, &esc)) return 0;
                tfidf_skip_blanks(s);
                if (s->p >= s->end || *s->p != ':') return 0;
                s->p++;
                tfidf_skip_blanks(s);
            }
            if (!tfidf_scan_value(s, depth + 1)) return 0;
            tfidf_skip_blanks(s);
            if (s->p >= s->end) return 0;
            if (*s->p == close) {
                s->p++;
                return 1;
            }
            if (*s->p != ',') return 0;
            s->p++;
            tfidf_skip_blanks(s);
        }
    }
    default: return tfidf_scan_number(s);
    }
}

