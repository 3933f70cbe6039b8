/* fuzz_common: the die guard, allocation tracking and scratch files of the
 * libFuzzer targets (see fuzz_common.h). */
#include "fuzz_common.h"

#include "core/common.h"

#include <errno.h>
#include <fcntl.h>
#include <sanitizer/allocator_interface.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

jmp_buf fz_jmp;
char fz_error[512];
long fz_deaths;

/* ---- allocation tracking: an open-addressing set of the live blocks ---- */

#define SLOTS (1u << 21)
#define TOMB ((const void *)1)
static const void *slot[SLOTS];
static uint32_t touched[SLOTS]; /* slots written since fz_begin, for clearing */
static size_t ntouched;
static int tracking, overflow, guarded;

static uint32_t hash_ptr(const volatile void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 29;
    x *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> 40) & (SLOTS - 1);
}

static void on_malloc(const volatile void *p, size_t size)
{
    (void)size;
    if (!tracking || !p) return;
    if (ntouched == SLOTS) {
        overflow = 1;
        return;
    }
    uint32_t h = hash_ptr(p);
    while (slot[h] && slot[h] != TOMB) h = (h + 1) & (SLOTS - 1);
    slot[h] = (const void *)p;
    touched[ntouched++] = h;
}

static void on_free(const volatile void *p)
{
    if (!tracking || !p) return;
    for (uint32_t h = hash_ptr(p); slot[h]; h = (h + 1) & (SLOTS - 1))
        if (slot[h] == (const void *)p) {
            slot[h] = TOMB;
            return;
        }
}

static void clear_slots(void)
{
    for (size_t i = 0; i < ntouched; i++) slot[touched[i]] = NULL;
    ntouched = 0;
    overflow = 0;
}

/* ---- streams and descriptors opened inside a guard ---- */

#define MAX_FILES 64
static FILE *files[MAX_FILES];
static int nfiles;
static unsigned char fd_open_before[256];

FILE *__real_fopen(const char *path, const char *mode);
FILE *__real_fmemopen(void *buf, size_t size, const char *mode);
int __real_fclose(FILE *f);

static FILE *track_file(FILE *f)
{
    if (f && guarded) {
        if (nfiles == MAX_FILES) {
            fprintf(stderr, "fuzz: more than %d streams open in one guard\n", MAX_FILES);
            abort();
        }
        files[nfiles++] = f;
    }
    return f;
}

FILE *__wrap_fopen(const char *path, const char *mode) { return track_file(__real_fopen(path, mode)); }
FILE *__wrap_fmemopen(void *buf, size_t size, const char *mode)
{
    return track_file(__real_fmemopen(buf, size, mode));
}

int __wrap_fclose(FILE *f)
{
    for (int i = 0; i < nfiles; i++)
        if (files[i] == f) {
            files[i] = files[--nfiles];
            break;
        }
    return __real_fclose(f);
}

/* ---- the guard ---- */

void fz_begin(void)
{
    if (guarded) {
        fprintf(stderr, "fuzz: nested FZ_GUARD\n");
        abort();
    }
    guarded = 1;
    tracking = 1;
    fz_error[0] = 0;
}

void fz_end(void)
{
    tracking = 0;
    guarded = 0;
    clear_slots();
    nfiles = 0; /* what the reader left open is its leak, for LeakSanitizer */
}

/* Undoes what the guarded code held, then jumps back to FZ_GUARD. */
__attribute__((noreturn)) static void unwind(void)
{
    if (overflow) {
        fprintf(stderr, "fuzz: too many allocations in one guard to unwind (%s)\n", fz_error);
        abort();
    }
    while (nfiles > 0) __real_fclose(files[--nfiles]); /* frees through the hooks */
    tracking = 0;
    for (size_t i = 0; i < ntouched; i++) {
        const void *p = slot[touched[i]];
        if (p && p != TOMB) {
            slot[touched[i]] = TOMB;
            free((void *)p);
        }
    }
    clear_slots();
    for (int fd = 3; fd < 256; fd++)
        if (!fd_open_before[fd] && fcntl(fd, F_GETFD) != -1) close(fd);
    guarded = 0;
    fz_deaths++;
    longjmp(fz_jmp, 1);
}

static void dying(const char *file, long line, const char *fmt, va_list ap, int code)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (file && line > 0) snprintf(fz_error, sizeof fz_error, "%s:%ld: %s", file, line, msg);
    else if (file) snprintf(fz_error, sizeof fz_error, "%s: %s", file, msg);
    else snprintf(fz_error, sizeof fz_error, "%s", msg);
    if (guarded) unwind();
    fprintf(stderr, "%s: %s\n", prog_name, fz_error);
    _exit(code);
}

void __wrap_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dying(NULL, 0, fmt, ap, EXIT_DATA);
}

void __wrap_die_at(const char *file, long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dying(file ? file : "<stdin>", line, fmt, ap, EXIT_DATA);
}

void __wrap_die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dying(NULL, 0, fmt, ap, EXIT_USAGE);
}

/* warnings (a reader's notes on odd but accepted input) are not shown */
void __wrap_warn(const char *fmt, ...) { (void)fmt; }

/* ---- scratch files ---- */

static char scratch[64];

static void remove_scratch(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", scratch);
}

void fz_init(const char *name)
{
    prog_init(name);
    snprintf(scratch, sizeof scratch, "/dev/shm/pipeclf-fuzz-%ld", (long)getpid());
    if (access("/dev/shm", W_OK) != 0) snprintf(scratch, sizeof scratch, "/tmp/pipeclf-fuzz-%ld", (long)getpid());
    if (mkdir(scratch, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz: cannot make %s: %s\n", scratch, strerror(errno));
        exit(1);
    }
    atexit(remove_scratch);
    for (int fd = 0; fd < 256; fd++) fd_open_before[fd] = fcntl(fd, F_GETFD) != -1;
    if (!__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free)) {
        fprintf(stderr, "fuzz: cannot install the allocator hooks\n");
        exit(1);
    }
}

const char *fz_path(int s, const char *name)
{
    static char buf[4][160];
    snprintf(buf[s & 3], sizeof buf[0], "%s/%s", scratch, name);
    return buf[s & 3];
}

void fz_write(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
            abort();
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

char *fz_slurp(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot read %s: %s\n", path, strerror(errno));
        abort();
    }
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) b = realloc(b, cap *= 2);
        ssize_t r = read(fd, b + len, cap - len - 1);
        if (r < 0) abort();
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    b[len] = 0;
    *n = len;
    return b;
}

void fz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s: broken invariant at %s:%d: %s\n", prog_name, file, line, what);
    abort();
}

int fz_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!len || i + len > n) return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return 0;
        unsigned c1 = s[i + 1];
        if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) ||
            (c == 0xf4 && c1 > 0x8f))
            return 0;
        i += len;
    }
    return 1;
}
