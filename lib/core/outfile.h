/* outfile: atomic outputs. out_open() writes a named file through a hidden
 * temporary beside it; out_commit() flushes, fsyncs and renames it into
 * place. If the program dies first (error helper, SIGINT, SIGTERM) every
 * pending temporary is removed, so a reader never sees a half-written file.
 * A path of "-" or NULL means stdout, and an existing path that is not a
 * regular file (/dev/null, a FIFO) is written in place. */
#ifndef PIPECLF_OUTFILE_H
#define PIPECLF_OUTFILE_H

#include <stdio.h>

typedef struct outfile {
    FILE *f;
    char *path;   /* final path, NULL for stdout */
    char *tmp;    /* temporary path, NULL for stdout */
    int slot;     /* index in the pending table, -1 when none */
    int direct;   /* a device or FIFO, written in place */
} outfile;

void out_open(outfile *o, const char *path);
/* Checks every write succeeded, then renames; dies on failure. */
void out_commit(outfile *o);
/* Removes the temporary without publishing anything. */
void out_abort(outfile *o);

/* mkdir -p for an output directory. The directories it creates are removed
 * again (when still empty) if the program dies before out_keep_dirs(), so a
 * failed run leaves no trace; dies when path cannot be made a directory. */
void out_mkdirs(const char *path);
/* The outputs are committed: the directories out_mkdirs() made stay. */
void out_keep_dirs(void);

/* Writes to stdout failed (other than a broken pipe): die with a message. */
void check_stdout(void);

/* Copies the file from to to, atomically as every output here (a
 * temporary beside it, then a rename). Dies naming the file on error. */
void out_copy_file(const char *from, const char *to);

#endif
