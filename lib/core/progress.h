/* progress: a one-line progress bar on standard error for long loops (BERT
 * training, a grid search's fits, reading a large input): a bar,
 * done/total in its unit, the rate per second, the time left and a short
 * caller text (loss, learning rate), redrawn in place with '\r' at most ten
 * times a second; with no total known, the count, rate and time spent.
 * It is drawn only when enabled, which programs decide from isatty(2)
 * unless told (--progress / --quiet), so logs and pipes never get carriage
 * returns. Messages printed through progress_note() clear the bar first
 * and redraw it after; die() and warn() start a new line. Timing goes to
 * the screen only: nothing here affects a program's results. */
#ifndef PIPECLF_PROGRESS_H
#define PIPECLF_PROGRESS_H

#include "common.h"

#include <stdio.h>

typedef struct progress {
    int on;
    long total, first;     /* first: done at start (a resumed run) */
    long done;
    double t0, last_draw;
    int drawn;             /* a bar is on the line */
    const char *unit;      /* what is counted: "step", "fit", "MB", ... */
    double scale;          /* done and total are shown divided by this */
    int bytes;             /* progress_start_reading: counting a file's bytes */
    char text[96];
} progress;

/* The mode of a program's --quiet and --progress: quiet wins; --progress
 * draws even off a terminal; else a terminal decides. */
static inline int progress_mode(int quiet, int forced) { return quiet ? 0 : forced ? 1 : -1; }

/* mode: 1 on, 0 off, -1 when standard error is a terminal. Counts steps. */
void progress_start(progress *p, int mode, long total, long done);
/* The same counting unit (shown divided by scale: bytes as "MB" with
 * 1e6); total <= 0 when unknown: no bar and no time left, only the count,
 * the rate and the time spent. */
void progress_start_unit(progress *p, int mode, long total, long done, const char *unit, double scale);
/* A bar over reading f: its bytes (shown in MB) when f is a regular file,
 * else a count of what (e.g. "records"), no total known. progress_reading
 * then records the position in f, or count items for a pipe. */
void progress_start_reading(progress *p, int mode, FILE *f, const char *what);
void progress_reading(progress *p, FILE *f, long count);
/* Records done and the caller text (may be NULL); redraws when due or at
 * the end. */
void progress_update(progress *p, long done, const char *text);
/* A message line ("prog: ..." as warn() writes it) above the bar. */
void progress_note(progress *p, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Draws the final state and ends the line. */
void progress_end(progress *p);

/* Seconds on a monotonic clock. */
double progress_now(void);

#endif
