/* ledger: the experiment ledger (runs/ledger.csv), a CSV file with one row
 * per training run. This module is its format: the columns, a row as RFC
 * 4180 text, the checks a row read back must pass, and the two scores that
 * a metrics --json document gives a row. Appending under a lock is
 * ledger_append.h; the Excel workbook of a ledger is workbook.h. */
#ifndef PIPECLF_LEDGER_H
#define PIPECLF_LEDGER_H

#include <stddef.h>

#include "core/strbuf.h"

enum ledger_column {
    LEDGER_STUDY, LEDGER_RUN, LEDGER_MODEL, LEDGER_PARAMS,
    LEDGER_VAL_ACCURACY, LEDGER_VAL_MACRO_F1, LEDGER_TEST_ACCURACY, LEDGER_TEST_MACRO_F1,
    LEDGER_WALL_S, LEDGER_COMMIT, LEDGER_DATE,
    LEDGER_NCOLS
};

/* The header line without its newline: the column names joined by commas. */
#define LEDGER_HEADER \
    "study,run,model,params,val_accuracy,val_macro_f1,test_accuracy,test_macro_f1,wall_s,commit,date"
/* "study", "run", ..., "date" */
extern const char *const ledger_columns[LEDGER_NCOLS];
/* Whether a column holds numbers (or nothing) rather than text. */
int ledger_column_is_number(int col);

/* Appends one row, cells[LEDGER_NCOLS] (NULL = empty), as a CSV line with
 * its newline: a cell holding a comma, a quote, CR or LF is quoted, its
 * quotes doubled (RFC 4180). */
void ledger_row_csv(strbuf *b, const char *const *cells);
/* Appends a number cell: the shortest text that reads back as v. */
void ledger_number_text(strbuf *b, double v);

/* A number cell read back: 1 with *v set, 0 when empty, -1 when it is not
 * a finite number written in full. */
int ledger_cell_number(const char *s, double *v);
/* Whether a row of n cells is the header. */
int ledger_is_header(const char *const *cells, size_t n);
/* Checks a data row of n cells read back: NULL when it is a ledger row,
 * else why not, a static string that follows the name of *bad_col, the
 * column at fault ("is not a number"), or stands alone when *bad_col is
 * -1. A row has every column; a study, a run and a model; numbers (or
 * nothing) in the number columns; no control characters but tab and line
 * breaks. */
const char *ledger_row_check(const char *const *cells, size_t n, int *bad_col);

/* Text given for a text cell: NULL when fine, else why not (a static
 * string). It must be valid UTF-8 without control characters, so every
 * row stays one line and every cell a valid spreadsheet string. */
const char *ledger_text_check(const char *s);

/* The accuracy and macro-F1 of a metrics --json document (its "accuracy"
 * and "macro": {"f1"}). Dies naming the file, with the line for invalid
 * JSON, when it cannot be read, is not such a document, or the scores are
 * not numbers in [0, 1]. */
void ledger_scores_read(const char *path, double *accuracy, double *macro_f1);

/* The rows of a ledger read back, for the workbook. */
typedef struct ledger_table {
    char **cell;  /* nrows x LEDGER_NCOLS, row-major; "" for an empty cell */
    long *line;   /* the line each row starts on, for messages */
    size_t nrows, cap;
} ledger_table;

void ledger_table_add(ledger_table *t, const char *const *cells, long line);
void ledger_table_free(ledger_table *t);
static inline const char *ledger_cell(const ledger_table *t, size_t row, int col)
{
    return t->cell[row * LEDGER_NCOLS + (size_t)col];
}

#endif
