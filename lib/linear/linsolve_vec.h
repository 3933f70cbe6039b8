/* Vector algebra shared by the fast solvers (linsolve_tron_fast.c,
 * linsolve_softmax.c), internal to lib/linear/linsolve. */
#ifndef PIPECLF_LINSOLVE_VEC_H
#define PIPECLF_LINSOLVE_VEC_H

#include <stddef.h>

/* a'b in four partial sums, so that the additions do not wait on each other */
static inline double linsolve_dot(size_t n, const double *a, const double *b)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

#endif
