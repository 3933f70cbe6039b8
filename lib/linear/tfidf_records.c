/* tfidf_records: the records tfidf reads, without building a cJSON tree for
 * each. A strict RFC 8259 scan of the line (tfidf_json.c) finds the text member and the
 * members to drop; the text is used in place when it has no escapes. A line
 * the scan does not take (invalid, or only what cJSON is lenient about:
 * control characters as blanks, "\u0000", escaped keys, ...) goes through
 * lib/core/ndjson's reader itself, replayed on that one line, so the records
 * accepted and every error message are exactly ndjson's. On the tweets
 * this reads records three times faster than cJSON. */
#include "tfidf.h"

#include "core/common.h"
#include "core/ndjson.h"
#include "core/utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void tfidf_line_parser_init(tfidf_line_parser *p, const char *field, int drop_text)
{
    memset(p, 0, sizeof *p);
    p->field = field;
    p->field_len = strlen(field);
    p->drop_text = drop_text;
}

void tfidf_line_parser_free(tfidf_line_parser *p)
{
    sb_free(&p->text);
    free(p->spans);
    memset(p, 0, sizeof *p);
}

void tfidf_reader_open(tfidf_reader *r, const char *path, const char *field, int drop_text)
{
    memset(r, 0, sizeof *r);
    ndjson_open(&r->in, path);
    tfidf_line_parser_init(&r->p, field, drop_text);
}

void tfidf_reader_close(tfidf_reader *r)
{
    ndjson_close(&r->in);
    tfidf_line_parser_free(&r->p);
    memset(r, 0, sizeof *r);
}

int tfidf_parse_line(tfidf_line_parser *r, const char *line, size_t n, const char **text, size_t *len, strbuf *prefix)
{
    if (memchr(line, '\0', n) || utf8_invalid_offset(line, n) < n) return 0;
    tfidf_scan s = {line, line + n};
    while (s.p < s.end && (*s.p == ' ' || *s.p == '\t')) s.p++;
    if (s.p >= s.end || *s.p != '{') return 0;
    const char *open = s.p++;
    tfidf_skip_blanks(&s);
    const char *value = NULL; /* of the text member */
    int drop = 0, members = 0;
    r->nspans = 0;
    if (s.p < s.end && *s.p == '}') {
        s.p++;
    } else {
        for (;;) {
            const char *key = s.p;
            int esc;
            if (s.p >= s.end || *s.p != '"' || !tfidf_scan_string(&s, &esc) || esc) return 0;
            size_t klen = (size_t)(s.p - key) - 2;
            tfidf_skip_blanks(&s);
            if (s.p >= s.end || *s.p != ':') return 0;
            s.p++;
            tfidf_skip_blanks(&s);
            const char *v = s.p;
            if (!tfidf_scan_value(&s, 1)) return 0;
            int is_field = klen == r->field_len && memcmp(key + 1, r->field, klen) == 0;
            int is_x = klen == 1 && key[1] == 'x';
            if (is_field && !value) value = v;
            int gone = is_x || (is_field && r->drop_text);
            drop |= gone;
            if (!gone) members++;
            if (r->nspans + 2 > r->spans_cap) {
                r->spans_cap = r->spans_cap ? 2 * r->spans_cap : 32;
                r->spans = xrealloc(r->spans, r->spans_cap * sizeof *r->spans);
            }
            /* every member's bytes, the dropped ones marked by an empty span */
            r->spans[r->nspans++] = (size_t)(key - line);
            r->spans[r->nspans++] = gone ? (size_t)(key - line) : (size_t)(s.p - line);
            tfidf_skip_blanks(&s);
            if (s.p >= s.end) return 0;
            if (*s.p == '}') {
                s.p++;
                break;
            }
            if (*s.p != ',') return 0;
            s.p++;
            tfidf_skip_blanks(&s);
        }
    }
    const char *close = s.p - 1;
    while (s.p < s.end && (*s.p == ' ' || *s.p == '\t')) s.p++;
    if (s.p != s.end) return 0;
    /* no text, or not a string: the full reader says so */
    if (!value || *value != '"') return 0;
    tfidf_scan vs = {value, s.end};
    int esc;
    tfidf_scan_string(&vs, &esc);
    if (esc) {
        sb_clear(&r->text);
        tfidf_decode_string(value, vs.p, &r->text);
        *text = sb_str(&r->text);
        *len = r->text.len;
    } else {
        *text = value + 1;
        *len = (size_t)(vs.p - value) - 2;
    }
    if (!drop) {
        sb_addn(prefix, open, (size_t)(close - open));
    } else {
        sb_addc(prefix, '{');
        int first = 1;
        for (size_t i = 0; i < r->nspans; i += 2) {
            if (r->spans[i] == r->spans[i + 1]) continue;
            if (!first) sb_addc(prefix, ',');
            sb_addn(prefix, line + r->spans[i], r->spans[i + 1] - r->spans[i]);
            first = 0;
        }
    }
    if (members) sb_addc(prefix, ',');
    return 1;
}

/* The slow path: lib/core/ndjson's reader on this one line (it dies with its own
 * message at the right line when the line is bad), then the record as cJSON. */
static void slow_record(tfidf_reader *r, const char *line, size_t n, long line_no, const char **text, size_t *len,
                        strbuf *prefix)
{
    tfidf_line_parser *p = &r->p;
    FILE *f = fmemopen((void *)line, n, "r");
    if (!f) die("cannot read a record: %s", strerror(errno));
    ndjson_reader one = r->in;
    one.f = f;
    one.line = line_no - 1;
    one.buf = NULL;
    one.cap = 0;
    one.owns_file = 0;
    cJSON *rec = ndjson_next(&one);
    fclose(f);
    free(one.buf);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, p->field);
    if (!v) die_at(r->in.name, line_no, "record has no \"%s\"", p->field);
    if (!cJSON_IsString(v)) die_at(r->in.name, line_no, "\"%s\" is not a string", p->field);
    sb_clear(&p->text);
    sb_adds(&p->text, v->valuestring);
    *text = sb_str(&p->text);
    *len = p->text.len;
    /* every such member, should a key come twice, as the fast path does */
    while (cJSON_GetObjectItemCaseSensitive(rec, "x")) cJSON_DeleteItemFromObjectCaseSensitive(rec, "x");
    while (p->drop_text && cJSON_GetObjectItemCaseSensitive(rec, p->field))
        cJSON_DeleteItemFromObjectCaseSensitive(rec, p->field);
    char *s = cJSON_PrintUnformatted(rec);
    if (!s) die("out of memory printing a record");
    sb_addn(prefix, s, strlen(s) - 1);
    if (rec->child) sb_addc(prefix, ',');
    free(s);
    cJSON_Delete(rec);
}

int tfidf_reader_line(tfidf_reader *r, const char **line, size_t *len)
{
    ndjson_reader *in = &r->in;
    for (;;) {
        errno = 0;
        ssize_t got = getline(&in->buf, &in->cap, in->f);
        if (got < 0) {
            if (ferror(in->f)) die_at(in->name, in->line + 1, "read error: %s", strerror(errno));
            return 0;
        }
        in->line++;
        if (in->progress && (in->line & 63) == 0) ndjson_progress_tick(in);
        size_t n = (size_t)got;
        while (n > 0 && (in->buf[n - 1] == '\n' || in->buf[n - 1] == '\r')) in->buf[--n] = '\0';
        size_t i = 0;
        while (i < n && (in->buf[i] == ' ' || in->buf[i] == '\t')) i++;
        if (i == n) continue; /* a blank line, as ndjson skips them */
        *line = in->buf;
        *len = n;
        return 1;
    }
}

void tfidf_reader_record(tfidf_reader *r, const char *line, size_t n, long line_no, const char **text, size_t *len,
                         strbuf *prefix)
{
    if (tfidf_parse_line(&r->p, line, n, text, len, prefix)) return;
    slow_record(r, line, n, line_no, text, len, prefix);
    r->slow++;
}

int tfidf_reader_next(tfidf_reader *r, const char **text, size_t *len, strbuf *prefix)
{
    const char *line;
    size_t n;
    if (!tfidf_reader_line(r, &line, &n)) return 0;
    tfidf_reader_record(r, line, n, r->in.line, text, len, prefix);
    return 1;
}
