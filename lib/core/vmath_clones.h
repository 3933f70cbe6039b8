/* vmath_clones: how lib/core/vmath and lib/core/vmath_d pick their code for the CPU.
 * CLONES makes an AVX2 clone of a function beside the default (SSE2 on
 * x86-64), chosen when the program loads. Neither target has FMA, so the
 * compiler cannot fuse a * b + c: both clones round every operation the
 * same way and give the same bits. Not under ThreadSanitizer, whose
 * instrumented ifunc resolver would run before its runtime is up. */
#ifndef PIPECLF_VMATH_CLONES_H
#define PIPECLF_VMATH_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(__SANITIZE_THREAD__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

#endif
