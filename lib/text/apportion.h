/* apportion: largest-remainder apportionment, the rule behind every exact
 * size in stratsplit (per-class split sizes, subsample and resample sizes).
 * Given a total T and non-negative weights w[k] summing to W > 0, the counts
 * c[k] sum to exactly T and each lies within 1 of its quota T*w[k]/W: every
 * k first gets floor(quota), then the units left over go one each to the
 * largest fractional remainders, ties to the lower index. */
#ifndef PIPECLF_APPORTION_H
#define PIPECLF_APPORTION_H

#include <stddef.h>

/* Real weights (split ratios such as 70/15/15 or 0.7,0.15,0.15). Quotas
 * within 1e-9 of an integer count as that integer, and remainders within
 * 1e-9 of each other as tied, so that decimal ratios that are not exact in
 * binary give the same counts whichever way they are written.
 * Returns 0, or -1 (counts all 0) when a weight is negative or not finite,
 * or when every weight is 0 and total > 0. */
int apportion(size_t total, const double *weights, size_t n, size_t *counts);

/* Integer weights (class sizes): exact integer arithmetic, no tolerance.
 * Returns 0, or -1 (counts all 0) when every weight is 0 and total > 0. */
int apportion_sizes(size_t total, const size_t *weights, size_t n, size_t *counts);

/* x rounded to the nearest integer, halves up, for x >= 0; values within
 * 1e-9 (relative) below a half count as the half, so 0.35 * 10 gives 4. */
size_t round_half_up(double x);

#endif
