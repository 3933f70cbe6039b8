/* Unit tests for lib/core/prng and lib/core/utf8. The PRNG golden values in
 * tests/golden/prng.txt come from tests/ref/prng_ref.py, an independent
 * Python implementation of SplitMix64 + xoshiro256** (the published
 * algorithms); a mismatch means the sequence changed on this platform. */
#include "check.h"
#include "core/prng.h"
#include "core/strbuf.h"
#include "core/utf8.h"

#include <inttypes.h>
#include <stdlib.h>

static void test_prng_golden(void)
{
    FILE *f = fopen("tests/golden/prng.txt", "r");
    CHECK("prng golden file present", f != NULL);
    if (!f) return;
    char line[256];
    int rows = 0, ok = 1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        uint64_t seed, stream, want[5];
        if (sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                   &seed, &stream, &want[0], &want[1], &want[2], &want[3], &want[4]) != 7) continue;
        prng r;
        prng_seed(&r, seed, stream);
        for (int i = 0; i < 5; i++)
            if (prng_next(&r) != want[i]) ok = 0;
        rows++;
    }
    fclose(f);
    CHECK("prng matches the Python reference sequence", ok && rows > 0);
}

static void test_prng_below(void)
{
    prng r;
    prng_seed(&r, 7, 0);
    int counts[5] = {0};
    for (int i = 0; i < 50000; i++) counts[prng_below(&r, 5)]++;
    int ok = 1;
    for (int i = 0; i < 5; i++)
        if (counts[i] < 9500 || counts[i] > 10500) ok = 0;
    CHECK("prng_below is roughly uniform", ok);
    double lo = 1, hi = 0;
    for (int i = 0; i < 10000; i++) {
        double u = prng_uniform(&r);
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    CHECK("prng_uniform in [0,1)", lo >= 0 && hi < 1 && lo < 0.01 && hi > 0.99);
    size_t v[10];
    for (size_t i = 0; i < 10; i++) v[i] = i;
    prng_shuffle(&r, v, 10);
    int seen[10] = {0}, perm = 1;
    for (size_t i = 0; i < 10; i++) seen[v[i]]++;
    for (size_t i = 0; i < 10; i++) perm &= seen[i] == 1;
    CHECK("prng_shuffle is a permutation", perm);
}

static void test_utf8(void)
{
    uint32_t cp;
    CHECK("utf8 ascii", utf8_decode((const unsigned char *)"A", 1, &cp) == 1 && cp == 'A');
    CHECK("utf8 2-byte", utf8_decode((const unsigned char *)"\xC3\xA9", 2, &cp) == 2 && cp == 0xE9);
    CHECK("utf8 4-byte", utf8_decode((const unsigned char *)"\xF0\x9F\x98\x80", 4, &cp) == 4 && cp == 0x1F600);
    CHECK("utf8 overlong rejected", utf8_decode((const unsigned char *)"\xC0\xAF", 2, &cp) == 0);
    CHECK("utf8 surrogate rejected", utf8_decode((const unsigned char *)"\xED\xA0\x80", 3, &cp) == 0);
    CHECK("utf8 truncated rejected", utf8_decode((const unsigned char *)"\xE2\x82", 2, &cp) == 0);
    CHECK("utf8 invalid offset", utf8_invalid_offset("ab\xFF" "c", 4) == 2);
    strbuf b = {0};
    size_t fixes = utf8_repair(&b, "a\xFF" "b\xC3", 4);
    CHECK_STR("utf8 repair", sb_str(&b), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
    CHECK("utf8 repair count", fixes == 2);
    char enc[4];
    CHECK("utf8 encode 3-byte", utf8_encode(0x20AC, enc) == 3 && memcmp(enc, "\xE2\x82\xAC", 3) == 0);
    sb_free(&b);
}

int main(void)
{
    test_prng_golden();
    test_prng_below();
    test_utf8();
    return check_exit();
}
