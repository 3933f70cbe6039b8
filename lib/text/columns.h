/* columns: picks named CSV columns out of a header row, so programs select
 * fields by name even when several input files order them differently. */
#ifndef PIPECLF_COLUMNS_H
#define PIPECLF_COLUMNS_H

#include <stddef.h>

#include "csvread.h"

/* Index of column `name` in the header row, or -1 when absent. Dies
 * naming the file when the name appears twice. */
long column_find(const csv_row *header, const char *file, const char *name);
/* Like column_find, but absence is an error that lists the columns there. */
size_t column_require(const csv_row *header, const char *file, const char *name);

#endif
