/* ledger_append: adding a row to the ledger file while other processes do
 * the same (make -j runs many `ledger add` at once). The file is opened
 * for appending, created if missing, and locked (flock, exclusive) for the
 * whole check-and-write: a new or empty file gets the header first, an
 * existing one must start with the header and end with a newline, and the
 * row goes in with a single write(2), fsync'ed before the lock is let go.
 * A reader never sees half a row, and the rows of two writers never mix. */
#ifndef PIPECLF_LEDGER_APPEND_H
#define PIPECLF_LEDGER_APPEND_H

#include <stddef.h>

/* Appends row[0..len), one CSV line with its newline (ledger_row_csv), to
 * the ledger at path. Dies naming the file when it cannot be opened or
 * locked, is not a regular file, does not start with the ledger's header,
 * or does not end with a newline; a failed write is undone (the file is
 * cut back to its length before). */
void ledger_append(const char *path, const char *row, size_t len);

#endif
