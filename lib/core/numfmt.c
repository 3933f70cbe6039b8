/* numfmt: the shortest of %.15g, %.16g and %.17g that reads back as the
 * same double. printf and strtod take about 2 us a number, more than all
 * the rest of writing a tf-idf vector or a model; fmt_double gets the same
 * digits from exact 128-bit integer arithmetic wherever %g prints without
 * an exponent ([1e-4, 1e14)), and calls printf elsewhere. */
#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fmt_double_printf(char *buf, double v)
{
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(buf, NUMFMT_MAX, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return len;
}

typedef unsigned __int128 u128;

static const uint64_t pow10_u64[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull,
};

#define P19 ((u128)10000000000000000000ull)
static const u128 pow10_u128_table[23] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, P19, P19 * 10, P19 * 100, P19 * 1000,
};

static inline u128 pow10_u128(int s) { return pow10_u128_table[s]; }

static const char two_digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* v (< 10^8) as exactly 8 digits */
static inline void digits8(char *d, uint32_t v)
{
    uint32_t hi = v / 10000, lo = v % 10000;
    memcpy(d, two_digits + 2 * (hi / 100), 2);
    memcpy(d + 2, two_digits + 2 * (hi % 100), 2);
    memcpy(d + 4, two_digits + 2 * (lo / 100), 2);
    memcpy(d + 6, two_digits + 2 * (lo % 100), 2);
}

/* Writes the fixed-point text of the decimal q * 10^(x - p + 1) (q has
 * exactly p digits, -4 <= x < p) as %.{p}g does: trailing zeros and a bare
 * point dropped. */
static int write_fixed(char *buf, int neg, uint64_t q, int p, int x)
{
    /* q as 18 digits, leading zeros, in three independent parts (a chain of
     * divisions by 100 would be the slowest thing here); its p digits end it */
    char all[48]; /* room for the fixed-size copies below */
    uint64_t hi = q / 100000000;
    digits8(all + 10, (uint32_t)(q - hi * 100000000));
    digits8(all + 2, (uint32_t)(hi % 100000000));
    memcpy(all, two_digits + 2 * (hi / 100000000), 2);
    char *digits = all + 18 - p;
    int nd = p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    /* fixed-size copies (buf has NUMFMT_MAX bytes), the length set after */
    char *o = buf + neg;
    buf[0] = '-';
    if (x >= 0) {
        if (nd <= x + 1) {
            memset(digits + nd, '0', 16 - (size_t)nd); /* an integer: its zeros */
            memcpy(o, digits, 16);
            o += x + 1;
        } else {
            memcpy(o, digits, 16);
            o[x + 1] = '.';
            memcpy(o + x + 2, digits + x + 1, 16);
            o += nd + 1;
        }
    } else {
        memcpy(o, "0.000000", 8);
        o += 1 - x;
        memcpy(o, digits, 17);
        o += nd;
    }
    *o = '\0';
    return (int)(o - buf);
}

/* q17 (17 digits) and low (k bits) are a * 10^s * 2^k. Rounds to 17 - log10(d)
 * digits (half to even) into *q and says whether that reads back as a: the
 * distance to a, times 10^s * 2^k, is under half an ulp (2^-k), i.e. twice
 * it under 10^s = scale, a tie going to the even mantissa m; below a power of
 * two the ulp underneath is half as wide. d is a constant where inlined. */
static inline __attribute__((always_inline)) int try_digits(uint64_t q17, uint64_t d, u128 low, int k, u128 scale,
                                                            uint64_t m, uint64_t *q)
{
    *q = q17 / d;
    u128 cut = ((u128)(q17 % d) << k) + low, whole = (u128)d << k, half = whole >> 1;
    int up = cut > half || (cut == half && (*q & 1));
    u128 dist = up ? whole - cut : cut;
    *q += (uint64_t)up;
    u128 twice = 2 * dist;
    if (!up && m == (1ull << 52) && dist != 0) twice *= 2;
    return twice < scale || (twice == scale && !(m & 1));
}

int fmt_double(char *buf, double v)
{
    int neg = signbit(v) != 0;
    double a = fabs(v);
    /* outside [1e-4, 1e14) %g may switch to exponent notation */
    if (!(a >= 1e-4 && a < 1e14)) return fmt_double_printf(buf, v);
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int k = 1075 - (int)(bits >> 52); /* a = m / 2^k, 6 <= k <= 66 in this range */

    /* x = floor(log10(a)): first from the binary exponent (floor(e * log10 2)
     * = e * 78913 >> 18 for small e), then exactly: a * 10^(16 - x) must have
     * 17 digits before the point */
    int e2 = 52 - k;
    int x = (e2 * 78913) >> 18;
    u128 n;
    uint64_t q17;
    for (;;) {
        n = (u128)m * pow10_u128(16 - x);
        u128 q = n >> k;
        if (q < pow10_u64[16]) x--;
        else if (q >= pow10_u64[17]) x++;
        else {
            q17 = (uint64_t)q;
            break;
        }
    }
    /* n = a * 10^s * 2^k exactly, s = 16 - x; its integer part q17 has 17
     * digits. Rounded to p digits: q17 / d with d = 10^(17 - p), the part cut
     * off being (q17 % d) * 2^k + (the low k bits of n) out of d * 2^k. */
    const u128 low = n & ((((u128)1) << k) - 1), scale = pow10_u128(16 - x);
    uint64_t q;
    int p;
    if (try_digits(q17, 100, low, k, scale, m, &q)) p = 15;
    else if (try_digits(q17, 10, low, k, scale, m, &q)) p = 16;
    else try_digits(q17, 1, low, k, scale, m, &q), p = 17; /* 17 digits always read back */
    if (q == pow10_u64[p]) q = pow10_u64[p - 1], x++;
    return write_fixed(buf, neg, q, p, x);
}
