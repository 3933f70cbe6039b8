/* vmath_d: exp and log over arrays of doubles, four lanes at a time (GCC
 * vector extensions; SSE2 pairs by default, an AVX2 clone chosen at load
 * time, no FMA in either so both give the same bits), for the grid
 * search's fast solvers, whose line searches and loss evaluations take an
 * exp and a log per training row. libm's scalar calls were a tenth of the
 * search's time.
 *
 * The arithmetic is fdlibm's (e_exp.c, e_log.c: the same reductions and
 * minimax polynomials), so results are within 1 ulp of the correctly
 * rounded value, as glibc's are, though not always the same bits
 * (tests/unit/test_vmath_d.c). exp: +inf above 709.78, 0 below -745.14;
 * log: -inf at 0, NaN below; NaN stays NaN. y may be x. */
#ifndef PIPECLF_VMATH_D_H
#define PIPECLF_VMATH_D_H

#include <stddef.h>

void vmd_exp(double *y, const double *x, size_t n);
void vmd_log(double *y, const double *x, size_t n);

#endif
