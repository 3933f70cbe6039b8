#!/usr/bin/env python3
"""Independent reference for lib/core/prng.c: SplitMix64 seeding + xoshiro256**
(Blackman & Vigna's published algorithms). Writes tests/golden/prng.txt:
seed stream x1..x5 per line. Run by `make golden`."""
import sys

M = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


def seed(seed, stream):
    x = (seed ^ (stream * 0xD1B54A32D192ED03)) & M
    s = []
    for _ in range(4):
        x, v = splitmix64(x)
        s.append(v)
    return s


def next_(s):
    result = (rotl((s[1] * 5) & M, 7) * 9) & M
    t = (s[1] << 17) & M
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 45)
    return result


out = sys.stdout if len(sys.argv) < 2 else open(sys.argv[1], "w")
out.write("# seed stream next1 next2 next3 next4 next5 (tests/ref/prng_ref.py)\n")
for sd, st in [(0, 0), (42, 0), (42, 1), (42, 2), (1 << 63, 3), (123456789, 7)]:
    s = seed(sd, st)
    out.write(" ".join(str(v) for v in [sd, st] + [next_(s) for _ in range(5)]) + "\n")
