#include "apportion.h"
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOLERANCE 1e-9

/* Hands out the `left` units still unassigned after the floors: one each to
 * the largest remainders, ties to the lower index. better(a, b, ctx) says
 * whether remainder a beats remainder b strictly. left < n always holds for
 * exact arithmetic; the wrap-around only guards against rounding. */
static void distribute(size_t left, size_t n, size_t *counts, int (*better)(size_t, size_t, const void *),
                       const void *ctx)
{
    unsigned char *taken = xcalloc(n, 1);
    size_t n_taken = 0;
    while (left > 0) {
        if (n_taken == n) {
            memset(taken, 0, n);
            n_taken = 0;
        }
        size_t best = n;
        for (size_t k = 0; k < n; k++) {
            if (taken[k]) continue;
            if (best == n || better(k, best, ctx)) best = k;
        }
        taken[best] = 1;
        n_taken++;
        counts[best]++;
        left--;
    }
    free(taken);
}

static int better_real(size_t a, size_t b, const void *ctx)
{
    const double *rem = ctx;
    return rem[a] > rem[b] + TOLERANCE;
}

int apportion(size_t total, const double *weights, size_t n, size_t *counts)
{
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
        counts[k] = 0;
        if (!(weights[k] >= 0) || !isfinite(weights[k])) return -1;
        sum += weights[k];
    }
    if (n == 0 || !(sum > 0)) return total == 0 ? 0 : -1;
    double *rem = xmalloc(n * sizeof *rem);
    size_t assigned = 0;
    for (size_t k = 0; k < n; k++) {
        double quota = (double)total * weights[k] / sum;
        double nearest = nearbyint(quota);
        if (fabs(quota - nearest) <= TOLERANCE * (1 + quota)) quota = nearest;
        double whole = floor(quota);
        counts[k] = (size_t)whole;
        rem[k] = quota - whole;
        assigned += counts[k];
    }
    /* snapping quotas up can, in principle, overshoot by a unit: take it back
     * from the smallest remainder among the non-empty counts */
    while (assigned > total) {
        size_t worst = n;
        for (size_t k = 0; k < n; k++)
            if (counts[k] > 0 && (worst == n || rem[k] < rem[worst])) worst = k;
        counts[worst]--;
        rem[worst] = 1;
        assigned--;
    }
    distribute(total - assigned, n, counts, better_real, rem);
    free(rem);
    return 0;
}

#ifdef __SIZEOF_INT128__
typedef unsigned __int128 wide;
#else
typedef long double wide; /* exact up to 64-bit products on x87; close enough elsewhere */
#endif

static int better_exact(size_t a, size_t b, const void *ctx)
{
    const wide *rem = ctx;
    return rem[a] > rem[b];
}

int apportion_sizes(size_t total, const size_t *weights, size_t n, size_t *counts)
{
    wide sum = 0;
    for (size_t k = 0; k < n; k++) {
        counts[k] = 0;
        sum += weights[k];
    }
    if (sum == 0) return total == 0 ? 0 : -1;
    /* quota = total*w/sum = counts[k] + rem[k]/sum; comparing the integer
     * numerators rem[k] compares the fractional remainders exactly */
    wide *rem = xmalloc(n * sizeof *rem);
    size_t assigned = 0;
    for (size_t k = 0; k < n; k++) {
        wide product = (wide)total * weights[k];
#ifdef __SIZEOF_INT128__
        counts[k] = (size_t)(product / sum);
        rem[k] = product % sum;
#else
        counts[k] = (size_t)floorl(product / sum);
        rem[k] = product - (wide)counts[k] * sum;
#endif
        assigned += counts[k];
    }
    distribute(total - assigned, n, counts, better_exact, rem);
    free(rem);
    return 0;
}

size_t round_half_up(double x)
{
    if (!(x > 0)) return 0;
    return (size_t)floor(x + 0.5 + TOLERANCE * (1 + x));
}
