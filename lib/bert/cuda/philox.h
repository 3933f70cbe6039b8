/* philox: the Philox4x32-10 counter-based generator (Salmon et al. 2011, the
 * Random123 generator that curand's Philox4_32_10 computes) and the dropout
 * draw built on it, as inline code for host C, CUDA device code and the
 * CPU emulation of tests/cuda alike.
 *
 * A counter-based generator is a pure function of (counter, key): the
 * backward pass recomputes a dropout mask instead of storing it, any thread
 * draws any element without shared state, and a CPU reference draws the
 * very same bits, so a kernel's mask is checked exactly. */
#ifndef PIPECLF_PHILOX_H
#define PIPECLF_PHILOX_H

#include <stdint.h>

#if defined(__CUDACC__)
#define PHILOX_FN static __host__ __device__ __forceinline__
#else
#define PHILOX_FN static inline
#endif

typedef struct philox4 {
    uint32_t v[4];
} philox4;

/* Random123's philox4x32 with 10 rounds on counter c0..c3 and key k0, k1
 * (its known-answer vectors: tests/cuda/test_device_host.c). */
PHILOX_FN philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        if (round) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    philox4 r = {{c0, c1, c2, c3}};
    return r;
}

/* The 32-bit draw of element i of dropout site `site` (each dropout of a
 * forward pass has its own site number) under a forward pass's key: one
 * Philox block gives the draws of four consecutive elements. */
PHILOX_FN uint32_t dropout_draw(uint64_t key, uint32_t site, uint64_t i)
{
    const philox4 r = philox4x32_10((uint32_t)(i >> 2), (uint32_t)(i >> 34), site, 0, (uint32_t)key,
                                    (uint32_t)(key >> 32));
    const uint32_t k = (uint32_t)(i & 3);
    /* selects, not r.v[k]: a run-time index would put r in local memory */
    return k == 0 ? r.v[0] : k == 1 ? r.v[1] : k == 2 ? r.v[2] : r.v[3];
}

/* The cut of dropout probability p (0 <= p < 1): an element is kept when its
 * draw is >= cut, with probability 1 - p, as lib/bert's CPU dropout decides
 * (there with its own generator's draws). */
PHILOX_FN uint32_t dropout_cut(double p)
{
    return (uint32_t)(p * 4294967296.0);
}

#endif
