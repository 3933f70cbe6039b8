/* prng: xoshiro256** seeded through SplitMix64. Integer-only arithmetic, so
 * a seed gives the same sequence on every platform and compiler; every
 * random choice in pipeclf draws from one of these. Independent streams for
 * independent decisions come from prng_seed(seed, stream). */
#ifndef PIPECLF_PRNG_H
#define PIPECLF_PRNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct prng {
    uint64_t s[4];
} prng;

/* stream separates uses of one user seed (split, subsample, ...), so that
 * skipping one decision does not shift the numbers another one sees */
void prng_seed(prng *r, uint64_t seed, uint64_t stream);
uint64_t prng_next(prng *r);
/* uniform integer in [0, n), n > 0, without modulo bias */
uint64_t prng_below(prng *r, uint64_t n);
/* uniform double in [0, 1) with 53 random bits */
double prng_uniform(prng *r);
/* Fisher-Yates shuffle of n size_t values */
void prng_shuffle(prng *r, size_t *v, size_t n);

#endif
