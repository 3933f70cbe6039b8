/* ndjson: streaming newline-delimited JSON records on cJSON. The reader holds
 * one line at a time (memory is constant per record), skips blank lines,
 * and dies with "prog: FILE:LINE: ..." on invalid JSON, invalid UTF-8, a
 * string holding an escaped NUL or a line that is not a JSON object. */
#ifndef PIPECLF_NDJSON_H
#define PIPECLF_NDJSON_H

#include <stdio.h>

#include <cJSON.h>

#include "progress.h"
#include "strbuf.h"

typedef struct ndjson_reader {
    FILE *f;
    const char *name; /* for messages */
    long line;        /* line number of the record last returned */
    char *buf;
    size_t cap;
    int owns_file;
    /* cJSON ends a string at an escaped NUL ("\u0000") and drops the rest,
     * so by default such a line is an error; a reader that re-reads those
     * strings itself (wptok) sets this. */
    int nul_escape_ok;
    progress *progress; /* reading progress, or NULL (ndjson_progress) */
} ndjson_reader;

/* path "-" or NULL = stdin */
void ndjson_open(ndjson_reader *r, const char *path);
/* Next record (caller frees with cJSON_Delete), or NULL at end of input. */
cJSON *ndjson_next(ndjson_reader *r);
void ndjson_close(ndjson_reader *r);

/* A progress bar for reading r on p (mode: progress_start's): the bytes of
 * a regular file, the records of anything else (no total known). Readers
 * of r's lines update it with ndjson_progress_tick after each line (done
 * by ndjson_next); ndjson_progress_end draws the last state. */
void ndjson_progress(ndjson_reader *r, progress *p, int mode);
void ndjson_progress_tick(ndjson_reader *r);
void ndjson_progress_end(ndjson_reader *r);

/* The first escape \u0000 in the JSON text s[0..n) (not the text
 * "\\u0000": an escaped backslash before it), or NULL. */
const char *json_nul_escape(const char *s, size_t n);
/* Whether s[0..n) has one. */
static inline int json_has_nul_escape(const char *s, size_t n) { return json_nul_escape(s, n) != NULL; }

/* Writes rec compactly on one line. */
void ndjson_write(FILE *f, const cJSON *rec);

/* The string value of key, or NULL when absent or not a string. */
const char *rec_string(const cJSON *rec, const char *key);
/* Like rec_string but dies naming the reader's file and line when absent. */
const char *rec_require_string(const ndjson_reader *r, const cJSON *rec, const char *key);
/* Sets key to a string value, replacing any earlier value. */
void rec_set_string(cJSON *rec, const char *key, const char *value);

/* Appends s[0..n) as a JSON string literal (quotes included) to b, escaping
 * as cJSON does: quote, backslash and control characters; UTF-8 kept as is. */
void json_quote(strbuf *b, const char *s, size_t n);

#endif
