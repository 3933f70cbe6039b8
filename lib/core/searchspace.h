/* searchspace: a hyperparameter search space written in one line, and the
 * trials of a grid or a random search over it (make sweep's SPACE):
 *
 *   lr=1e-5..1e-4:log;batch=16,32;epochs=2..4;warmup=0,0.1
 *
 * Each parameter is NAME=LIST (values as written, comma-separated) or
 * NAME=LO..HI with optional flags :log (log-uniform) and :N (a grid of N
 * points). What a name means (and whether it takes whole numbers) is the
 * caller's business: it says so with ss_param.integer before drawing.
 *
 * Values come out as text: a list's values as written, a range's
 * points and draws rounded to 3 significant digits ("3.16e-05"), whole
 * numbers for integer parameters. Random draws use lib/core/prng, so a seed
 * gives the same trials on every machine. */
#ifndef PIPECLF_SEARCHSPACE_H
#define PIPECLF_SEARCHSPACE_H

#include <stddef.h>

#include "prng.h"

typedef struct ss_param {
    char *name;
    char **values;   /* a list: its values as written; NULL for a range */
    size_t nvalues;
    double lo, hi;   /* a range: its bounds */
    int log;         /* :log, a log-uniform range (lo > 0) */
    int points;      /* :N, the grid points of a range (0: not given) */
    int integer;     /* set by the caller: whole numbers only */
} ss_param;

typedef struct search_space {
    ss_param *p;
    size_t n;
} search_space;

/* Parses spec; returns 0, or -1 with a message in err (which names the
 * parameter or the part that is wrong). */
int ss_parse(search_space *s, const char *spec, char *err, size_t errlen);
void ss_free(search_space *s);

/* The values a grid search takes for p: a list's values; a range's points
 * (N of them, by default 3 or, for an integer range, every whole number
 * from LO to HI). Returns their number; *out is an array of strings to free
 * with ss_values_free. -1 with err when an integer range's points are not
 * whole numbers in a row. */
long ss_grid_values(const ss_param *p, char ***out, char *err, size_t errlen);
void ss_values_free(char **v, long n);

/* One random value of p: uniform over a list, uniform (or log-uniform)
 * over a range, a whole number in [LO, HI] for an integer range. */
char *ss_draw(const ss_param *p, prng *r);

#endif
