/* The random source of the L1 solver: MT19937 (as std::mt19937) and the
 * bounded-integer draw scikit-learn substitutes for rand() in its liblinear
 * (sklearn/svm/src/newrand/newrand.h, "tweaked Lemire"). Kept bit-exact so
 * that a seed gives liblinear's coordinate order; lib/core/prng serves every
 * other random choice in pipeclf. Also liblinear's subproblem tolerance. */
#include "linsolve.h"

void linsolve_rng_seed(linsolve_rng *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->i = 624;
}

void linsolve_rng_refill(linsolve_rng *r)
{
    /* the MT19937 state transition, in place in index order; the three
     * loops avoid a modulo per word */
    const uint32_t upper = 0x80000000u, lower = 0x7fffffffu, a = 0x9908b0dfu;
    uint32_t *mt = r->mt, y;
    int k = 0;
    for (; k < 624 - 397; k++) {
        y = (mt[k] & upper) | (mt[k + 1] & lower);
        mt[k] = mt[k + 397] ^ (y >> 1) ^ ((y & 1u) ? a : 0u);
    }
    for (; k < 623; k++) {
        y = (mt[k] & upper) | (mt[k + 1] & lower);
        mt[k] = mt[k + 397 - 624] ^ (y >> 1) ^ ((y & 1u) ? a : 0u);
    }
    y = (mt[623] & upper) | (mt[0] & lower);
    mt[623] = mt[396] ^ (y >> 1) ^ ((y & 1u) ? a : 0u);
    r->i = 0;
}

double linsolve_primal_tol(const linsolve_problem *p, double eps)
{
    size_t pos = 0;
    for (size_t i = 0; i < p->l; i++) pos += p->y[i] > 0;
    size_t neg = p->l - pos, m = pos < neg ? pos : neg;
    /* liblinear: eps*max(min(pos,neg), 1)/prob->l, int arithmetic promoted */
    return eps * (double)(m > 1 ? m : 1) / (double)p->l;
}
