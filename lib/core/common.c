#include "common.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *prog_name = "pipeclf";
int stderr_mid_line;

#define MAX_CLEANUPS 8
static void (*cleanups[MAX_CLEANUPS])(void);
static int n_cleanups;

void atexit_on_error(void (*fn)(void))
{
    for (int i = 0; i < n_cleanups; i++)
        if (cleanups[i] == fn) return;
    if (n_cleanups < MAX_CLEANUPS) cleanups[n_cleanups++] = fn;
}

/* Every error path ends here: remove pending outputs, flush, and leave with
 * _exit so that what the failing code still held is not reported as a leak
 * under LeakSanitizer (it is not one: the process is ending). */
NORETURN static void exit_after_error(int code)
{
    while (n_cleanups > 0) cleanups[--n_cleanups]();
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

/* set by outfile.c: removes temp files using only async-signal-safe calls */
void outfile_signal_cleanup(void);

static void on_fatal_signal(int sig)
{
    outfile_signal_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

void prog_init(const char *name)
{
    const char *slash = strrchr(name, '/');
    prog_name = slash ? slash + 1 : name;
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
}

static void vmessage(const char *file, long line, const char *fmt, va_list ap)
{
    fflush(stdout);
    if (stderr_mid_line) fputc('\n', stderr);
    stderr_mid_line = 0;
    if (file && line > 0) fprintf(stderr, "%s: %s:%ld: ", prog_name, file, line);
    else if (file) fprintf(stderr, "%s: %s: ", prog_name, file);
    else fprintf(stderr, "%s: ", prog_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(NULL, 0, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", prog_name);
    exit_after_error(EXIT_USAGE);
}

void die_at(const char *file, long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(file ? file : "<stdin>", line, fmt, ap);
    va_end(ap);
    exit_after_error(EXIT_DATA);
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(NULL, 0, fmt, ap);
    va_end(ap);
    exit_after_error(EXIT_DATA);
}

void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(NULL, 0, fmt, ap);
    va_end(ap);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) die("out of memory (%zu bytes)", n);
    return q;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

const char *input_name(const char *path)
{
    return (!path || strcmp(path, "-") == 0) ? "<stdin>" : path;
}

FILE *open_input(const char *path)
{
    if (!path || strcmp(path, "-") == 0) return stdin;
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: %s", path, strerror(errno));
    return f;
}

double parse_double_opt(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        die_usage("%s: '%s' is not a number", opt, s);
    return v;
}

long parse_long_opt(const char *opt, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        die_usage("%s: '%s' is not an integer", opt, s);
    if (v < min || v > max)
        die_usage("%s: %ld is out of range [%ld, %ld]", opt, v, min, max);
    return v;
}

double parse_fraction_opt(const char *opt, const char *s)
{
    const char *slash = strchr(s, '/');
    size_t n = strlen(s);
    double v;
    if (slash) {
        char *num = xstrndup(s, (size_t)(slash - s));
        double a = parse_double_opt(opt, num), b = parse_double_opt(opt, slash + 1);
        free(num);
        if (b == 0) die_usage("%s: '%s' divides by zero", opt, s);
        v = a / b;
    } else if (n > 0 && s[n - 1] == '%') {
        char *num = xstrndup(s, n - 1);
        v = parse_double_opt(opt, num) / 100.0;
        free(num);
    } else {
        v = parse_double_opt(opt, s);
    }
    if (!(v >= 0.0 && v <= 1.0)) die_usage("%s: '%s' is not a fraction in [0, 1]", opt, s);
    return v;
}

void print_version(void)
{
    printf("%s (pipeclf) %s\n", prog_name, PIPECLF_VERSION);
    exit(0);
}

char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}
