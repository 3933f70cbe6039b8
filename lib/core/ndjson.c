#include "ndjson.h"
#include "common.h"
#include "utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void ndjson_open(ndjson_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->f = open_input(path);
    r->owns_file = r->f != stdin;
    r->name = input_name(path);
}

const char *json_nul_escape(const char *s, size_t n)
{
    const char *end = s + n;
    for (const char *p = s; (p = memchr(p, '\\', (size_t)(end - p)));) {
        if (p + 1 == end) return NULL;
        if (p[1] == 'u' && end - p >= 6 && !memcmp(p + 2, "0000", 4)) return p;
        p += 2; /* the escaped character, a backslash included, is not the start of another escape */
    }
    return NULL;
}

cJSON *ndjson_next(ndjson_reader *r)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->buf, &r->cap, r->f);
        if (n < 0) {
            if (ferror(r->f)) die_at(r->name, r->line + 1, "read error: %s", strerror(errno));
            return NULL;
        }
        r->line++;
        if (r->progress && (r->line & 63) == 0) ndjson_progress_tick(r);
        while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r')) r->buf[--n] = '\0';
        size_t i = 0;
        while (i < (size_t)n && (r->buf[i] == ' ' || r->buf[i] == '\t')) i++;
        if (i == (size_t)n) continue; /* blank line */
        if (memchr(r->buf, '\0', (size_t)n)) die_at(r->name, r->line, "NUL byte in input");
        size_t bad = utf8_invalid_offset(r->buf, (size_t)n);
        if (bad < (size_t)n) die_at(r->name, r->line, "invalid UTF-8 at byte %zu", bad + 1);
        if (!r->nul_escape_ok && json_has_nul_escape(r->buf, (size_t)n))
            die_at(r->name, r->line, "a string holds \"\\u0000\" (U+0000), which would cut it short: not taken");
        const char *end = NULL;
        cJSON *rec = cJSON_ParseWithLengthOpts(r->buf, (size_t)n, &end, 0);
        if (!rec) {
            const char *err = cJSON_GetErrorPtr();
            long col = err ? (long)(err - r->buf) + 1 : 1;
            die_at(r->name, r->line, "invalid JSON at column %ld", col);
        }
        while (end && (*end == ' ' || *end == '\t')) end++;
        if (end && end < r->buf + n) {
            cJSON_Delete(rec);
            die_at(r->name, r->line, "extra text after the JSON object at column %ld",
                   (long)(end - r->buf) + 1);
        }
        if (!cJSON_IsObject(rec)) {
            cJSON_Delete(rec);
            die_at(r->name, r->line, "record is not a JSON object");
        }
        return rec;
    }
}

void ndjson_progress(ndjson_reader *r, progress *p, int mode)
{
    progress_start_reading(p, mode, r->f, "records");
    r->progress = p->on ? p : NULL; /* nothing to count for a bar not shown */
}

void ndjson_progress_tick(ndjson_reader *r)
{
    if (r->progress) progress_reading(r->progress, r->f, r->line);
}

void ndjson_progress_end(ndjson_reader *r)
{
    if (!r->progress) return;
    ndjson_progress_tick(r);
    progress_end(r->progress);
    r->progress = NULL;
}

void ndjson_close(ndjson_reader *r)
{
    if (r->owns_file) fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

void ndjson_write(FILE *f, const cJSON *rec)
{
    char *s = cJSON_PrintUnformatted(rec);
    if (!s) die("out of memory printing a record");
    fputs(s, f);
    fputc('\n', f);
    free(s);
}

const char *rec_string(const cJSON *rec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *rec_require_string(const ndjson_reader *r, const cJSON *rec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!v) die_at(r->name, r->line, "record has no \"%s\"", key);
    if (!cJSON_IsString(v)) die_at(r->name, r->line, "\"%s\" is not a string", key);
    return v->valuestring;
}

void rec_set_string(cJSON *rec, const char *key, const char *value)
{
    cJSON *s = cJSON_CreateString(value);
    if (!s) die("out of memory");
    if (cJSON_GetObjectItemCaseSensitive(rec, key)) cJSON_ReplaceItemInObjectCaseSensitive(rec, key, s);
    else cJSON_AddItemToObject(rec, key, s);
}

void json_quote(strbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, n + 2);
    sb_addc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sb_addn(b, s + start, i - start);
        start = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
        }
        sb_adds(b, esc);
    }
    sb_addn(b, s + start, n - start);
    sb_addc(b, '"');
}
