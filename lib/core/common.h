/* common: program identity, error reporting with the SPEC's exit codes, and
 * checked allocation. Every filter calls prog_init() first; every message then
 * starts with the program's name, and data errors name FILE:LINE.
 *
 * Exit codes: 0 ok, 1 data error (bad input), 2 usage error (bad options). */
#ifndef PIPECLF_COMMON_H
#define PIPECLF_COMMON_H

#include <stddef.h>
#include <stdio.h>

#define EXIT_DATA 1
#define EXIT_USAGE 2

#define PIPECLF_VERSION "0.1.0"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

extern const char *prog_name;
/* Set by lib/core/progress while a bar is on standard error's current line:
 * messages (die, warn) end that line first instead of joining it. */
extern int stderr_mid_line;

/* Sets the program name, restores default SIGPIPE (a broken pipe ends the
 * program quietly) and installs handlers that remove pending atomic outputs
 * on SIGINT/SIGTERM. */
void prog_init(const char *name);

/* usage error: "prog: message" + "Try 'prog --help'." on stderr, exit 2 */
NORETURN void die_usage(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* data error at a place in the input: "prog: FILE:LINE: message", exit 1.
 * line <= 0 leaves the line out ("prog: FILE: message"). */
NORETURN void die_at(const char *file, long line, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* data or system error without a place: "prog: message", exit 1 */
NORETURN void die(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* warning: "prog: message", no exit */
void warn(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Before dying, the error helpers call every registered cleanup (atomic
 * outputs register theirs to remove their temporary files). */
void atexit_on_error(void (*fn)(void));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* The name to show for an input path: "-" and NULL read as "<stdin>". */
const char *input_name(const char *path);
/* Opens an input path ("-" or NULL = stdin); dies with a clear message. */
FILE *open_input(const char *path);

/* Strict number parsing for option values: the whole string must be a
 * number. Dies with a usage error naming the option otherwise. */
double parse_double_opt(const char *opt, const char *s);
long parse_long_opt(const char *opt, const char *s, long min, long max);
/* A fraction written as 0.25, 25% or 1/4. */
double parse_fraction_opt(const char *opt, const char *s);

/* "dir/name", newly allocated. */
char *path_join(const char *dir, const char *name);

/* Prints "prog (pipeclf) VERSION" and exits 0. */
NORETURN void print_version(void);

#endif
