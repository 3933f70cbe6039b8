/* fuzz_common: what the libFuzzer targets of tests/fuzz share (FUZZING.md).
 *
 * The readers die (lib/core/common's die, die_at, die_usage: message, exit 1)
 * on bad input, which would end the fuzzing process. The targets are linked
 * with -Wl,--wrap=die,--wrap=die_at,--wrap=die_usage,--wrap=warn (and
 * --wrap=fopen,--wrap=fmemopen,--wrap=fclose): inside FZ_GUARD a die
 * keeps its message in fz_error, closes the streams and frees the memory the
 * guarded code took since FZ_GUARD (every allocation is tracked through the
 * sanitizer allocator's hooks, libc's and cJSON's included), closes the file
 * descriptors it opened, and jumps back to FZ_GUARD, which then reads 0. So
 * an input the reader refuses costs no leak report and no exit, and leak
 * detection stays on for the inputs it accepts. Outside a guard, die prints
 * and exits as usual.
 *
 *     if (FZ_GUARD()) {
 *         m = reader(path);   // may die
 *         ...
 *         fz_end();           // leaves the guard: must run before returning
 *     } else {
 *         // died: fz_error holds the message; nothing of it is left
 *     }
 *
 * Values set inside the guard and used after a die must be volatile or
 * static. Guards do not nest. */
#ifndef PIPECLF_FUZZ_COMMON_H
#define PIPECLF_FUZZ_COMMON_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

extern jmp_buf fz_jmp;
extern char fz_error[512];
extern long fz_deaths;

/* Sets the program name and makes the scratch directory
 * (/dev/shm/pipeclf-fuzz-PID, removed at exit). */
void fz_init(const char *name);
/* PATH of a scratch file or directory called name (static buffer per slot 0..3). */
const char *fz_path(int slot, const char *name);
/* Writes data[0..n) to path (replacing it). */
void fz_write(const char *path, const void *data, size_t n);
/* Reads a whole file (malloc'd, NUL-terminated; *n its length). */
char *fz_slurp(const char *path, size_t *n);

void fz_begin(void);
void fz_end(void);
#define FZ_GUARD() (fz_begin(), setjmp(fz_jmp) == 0)

/* A broken invariant: prints what and aborts (a crash libFuzzer reports). */
#define FZ_CHECK(cond, what) ((cond) ? (void)0 : fz_fail(what, __FILE__, __LINE__))
void fz_fail(const char *what, const char *file, int line) __attribute__((noreturn));

/* Whether s[0..n) is valid UTF-8. */
int fz_utf8_valid(const char *s, size_t n);

#endif
