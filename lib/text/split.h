/* split: exact stratified splitting and class-wise sampling. These functions
 * see rows only through their class index (the caller numbers classes in
 * byte-sorted label order) and decide with the seeded PRNG which rows go
 * where; the rows themselves stay with the caller. Classes are visited in
 * index order and rows within a class in input order, so a seed gives the
 * same result on every platform. Sizes come from lib/text/apportion. */
#ifndef PIPECLF_SPLIT_H
#define PIPECLF_SPLIT_H

#include <stddef.h>

#include "core/prng.h"

/* Split ratios as written: "70/15/15", "80/20", "0.7,0.15,0.15" ('/' or ','
 * between values). They are percentages when any value ends in '%' or
 * exceeds 1, and must then sum to 100, otherwise to 1 (within 1e-9,
 * relative); each must be positive. Returns the number of values, stored in
 * *ratios (xmalloc'd); dies with a usage error naming opt otherwise. */
size_t parse_ratios_opt(const char *opt, const char *s, double **ratios);

/* The default names of n splits: train,test; train,val,test; else
 * split1..splitN. An xmalloc'd array of xmalloc'd strings. */
char **default_split_names(size_t n);

/* Rows grouped by class: the rows of class c are rows[start[c]] up to
 * rows[start[c + 1]], in input order. */
typedef struct class_rows {
    size_t nclasses;
    size_t *start; /* nclasses + 1 offsets */
    size_t *rows;
} class_rows;

/* Groups the rows subset[0..n) (0..n-1 when subset is NULL) by class_of[row]. */
void class_rows_build(class_rows *cr, const size_t *class_of, const size_t *subset, size_t n,
                      size_t nclasses);
void class_rows_free(class_rows *cr);
static inline size_t class_size(const class_rows *cr, size_t c) { return cr->start[c + 1] - cr->start[c]; }
/* sizes[c] = class_size(cr, c) for every class */
void class_sizes(const class_rows *cr, size_t *sizes);

/* Exact stratification: counts[c * nsplits + s] = apportion(size of class c,
 * ratios), so every split gets its share of every class to within one row. */
void split_counts(const class_rows *cr, const double *ratios, size_t nsplits, size_t *counts);

/* Like split_counts, but split `fixed` gets exactly per_class rows of every
 * class (a balanced set) and the other splits share the rest of each class
 * by ratios (nsplits - 1 values, in split order without `fixed`). Returns
 * the first class smaller than per_class, or nclasses when none is. */
size_t split_counts_per_class(const class_rows *cr, const double *ratios, size_t nsplits, size_t fixed,
                              size_t per_class, size_t *counts);

/* Shuffles each class's rows with r (classes in order) and deals them out in
 * split order: the first counts[c * nsplits] rows to split 0, the next
 * counts[c * nsplits + 1] to split 1, ...; writes split_of[row]. */
void split_assign(const class_rows *cr, const size_t *counts, size_t nsplits, prng *r, size_t *split_of);

/* Draws want[c] rows of each class c and writes copies[row], the number of
 * times each row of cr is drawn. want[c] <= size: without replacement (the
 * class's rows shuffled with r, the first want[c] kept once, the rest 0).
 * want[c] > size: every row once plus want[c] - size extra copies drawn
 * uniformly with replacement. A class with no rows draws nothing. */
void sample_by_class(const class_rows *cr, const size_t *want, prng *r, size_t *copies);

/* Sizes for resampling to a target share at a fixed total: class `target`
 * gets target_count rows, the others share total - target_count by
 * apportion over their sizes. Returns -1 when the others have no rows to
 * share something left over (or target_count > total). Whether each class
 * has enough rows is the caller's check (want[c] <= sizes[c]). */
int resample_counts(const size_t *sizes, size_t nclasses, size_t target, size_t target_count, size_t total,
                    size_t *want);

/* Random over/under-sampling sizes: every class that has rows is raised to
 * the largest size (up != 0) or cut to the smallest; empty classes stay 0. */
void balance_counts(const size_t *sizes, size_t nclasses, int up, size_t *want);

#endif
