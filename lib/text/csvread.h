/* csvread: an RFC 4180 CSV reader on libcsv. Quoted fields may hold commas,
 * doubled quotes and newlines; CRLF and a UTF-8 BOM are accepted; spaces are
 * kept (libcsv would trim them). Input is fed one physical line at a time so
 * every error names the line: malformed or unterminated quotes, NUL bytes,
 * invalid UTF-8 (or, with CSV_REPLACE_INVALID, U+FFFD in its place), a row
 * grown past the size limit. Blank lines are skipped. */
#ifndef PIPECLF_CSVREAD_H
#define PIPECLF_CSVREAD_H

#include <stddef.h>
#include <stdio.h>

#include "core/strbuf.h"

#define CSV_REPLACE_INVALID 1
/* invalid UTF-8 errors do not suggest --replace-invalid (csvclean's option) */
#define CSV_NO_REPLACE_HINT 2

typedef struct csv_row {
    size_t n;       /* number of fields */
    strbuf *field;  /* field[i].s, NUL-terminated, field[i].len bytes */
    long line;      /* physical line where the row starts */
} csv_row;

typedef struct csv_reader csv_reader;

/* path "-" or NULL = stdin */
csv_reader *csv_open(const char *path, int flags);
/* Reads the next row into *row (valid until the next call). Returns 1, or 0
 * at end of input. Dies on malformed input. */
int csv_next(csv_reader *r, csv_row *row);
const char *csv_name(const csv_reader *r);
/* The stream read (for a progress bar's position). */
FILE *csv_file(const csv_reader *r);
/* Number of invalid bytes replaced so far (CSV_REPLACE_INVALID). */
size_t csv_replaced(const csv_reader *r);
void csv_close(csv_reader *r);

/* The largest row accepted, in bytes; a runaway quote stops here. */
extern size_t csv_max_row_bytes;

#endif
