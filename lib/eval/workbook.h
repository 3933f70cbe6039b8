/* workbook: a ledger (ledger.h) as an Excel workbook, .xlsx, written by
 * libxlsxwriter: a worksheet per study, named after it, in the order the
 * studies first appear; each holds the ledger's header, bold, frozen and
 * with an autofilter, then the study's rows in ledger order. Number
 * columns are numbers (libxlsxwriter keeps 16 significant digits), text
 * columns strings; an empty cell stays empty. Only the programs that call
 * this link libxlsxwriter (mk/ledger.mk). */
#ifndef PIPECLF_WORKBOOK_H
#define PIPECLF_WORKBOOK_H

#include <stddef.h>
#include <time.h>

#include "ledger.h"

/* Excel's longest sheet name, in UTF-16 units */
#define SHEET_NAME_MAX 31

/* The sheet name of a study, given the names taken[0..ntaken) before it
 * (caller frees). Excel wants at most 31 characters, none of []:*?/\, no
 * apostrophe first or last, and a name unlike the others regardless of
 * case ("History" is its own): each bad character becomes '_', a long
 * name is cut, an empty one is "_", and a clash gets "~2", "~3", ... */
char *sheet_name_for(const char *study, char *const *taken, size_t ntaken);

/* Writes the rows of t as a workbook to path, a file libxlsxwriter
 * creates or truncates; with no rows, one sheet "ledger" with the header.
 * created: the workbook's creation time (its properties), so that the
 * same ledger gives the same bytes. name: the ledger's name in messages.
 * Dies (naming name and the row's line where a cell is at fault) when
 * libxlsxwriter refuses a cell or cannot write path. */
void ledger_workbook_write(const char *path, const ledger_table *t, time_t created, const char *name);

#endif
