/* check.h: the unit-test harness. Each CHECK prints "PASS name" or
 * "FAIL name: where" (tests/run.sh counts those lines); check_exit() makes
 * the binary exit non-zero if anything failed. */
#ifndef PIPECLF_CHECK_H
#define PIPECLF_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(name, cond)                                                            \
    do {                                                                             \
        if (cond) printf("PASS %s\n", name);                                         \
        else {                                                                       \
            printf("FAIL %s: %s:%d: %s\n", name, __FILE__, __LINE__, #cond);         \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

#define CHECK_STR(name, got, want)                                                   \
    do {                                                                             \
        const char *g_ = (got), *w_ = (want);                                        \
        if (g_ && w_ && strcmp(g_, w_) == 0) printf("PASS %s\n", name);              \
        else {                                                                       \
            printf("FAIL %s: %s:%d: got \"%s\", want \"%s\"\n", name, __FILE__,      \
                   __LINE__, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

static inline int check_exit(void) { return check_failures ? 1 : 0; }

/* test inputs: xorshift64*, the same sequence in every run */
static uint64_t check_rng_state = 0x123456789ABCDEFull;
static inline uint64_t check_rnd(void)
{
    check_rng_state ^= check_rng_state >> 12;
    check_rng_state ^= check_rng_state << 25;
    check_rng_state ^= check_rng_state >> 27;
    return check_rng_state * 0x2545F4914F6CDD1Dull;
}

#endif
