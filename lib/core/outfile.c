#include "outfile.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PENDING 64
/* temp paths of outputs not yet committed; read by the signal handler */
static char *volatile pending[MAX_PENDING];

void outfile_signal_cleanup(void)
{
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i]) unlink(pending[i]);
}

static void remove_pending(void)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        if (pending[i]) {
            unlink(pending[i]);
            pending[i] = NULL;
        }
    }
}

void out_open(outfile *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    if (!path || strcmp(path, "-") == 0) {
        o->f = stdout;
        return;
    }
    /* A device or pipe (/dev/null, /dev/stdout, a FIFO) is written in place:
     * renaming a temporary over it would replace the device itself. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        o->f = fopen(path, "wb");
        if (!o->f) die("cannot open %s: %s", path, strerror(errno));
        o->direct = 1;
        return;
    }
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
    size_t n = strlen(path) + 32;
    o->path = xstrdup(path);
    o->tmp = xmalloc(n);
    snprintf(o->tmp, n, "%.*s.%s.tmp.XXXXXX", (int)dirlen, path, path + dirlen);
    int fd = mkstemp(o->tmp);
    if (fd < 0) die("cannot create %s: %s", path, strerror(errno));
    fchmod(fd, 0644);
    o->f = fdopen(fd, "wb");
    if (!o->f) die("cannot open %s: %s", path, strerror(errno));
    for (int i = 0; i < MAX_PENDING; i++) {
        if (!pending[i]) {
            pending[i] = o->tmp;
            o->slot = i;
            break;
        }
    }
    if (o->slot < 0) die("too many open outputs");
    atexit_on_error(remove_pending);
}

static void release(outfile *o)
{
    if (o->slot >= 0) pending[o->slot] = NULL;
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
    o->slot = -1;
}

void out_commit(outfile *o)
{
    if (o->direct) {
        if (fclose(o->f) != 0) die("cannot write: %s", strerror(errno));
        memset(o, 0, sizeof *o);
        o->slot = -1;
        return;
    }
    if (!o->path) {
        check_stdout();
        return;
    }
    int bad = fflush(o->f) != 0 || ferror(o->f);
    if (!bad && fsync(fileno(o->f)) != 0 && errno != EINVAL) bad = 1;
    int err = errno;
    if (fclose(o->f) != 0) bad = 1, err = errno;
    if (bad) die("cannot write %s: %s", o->path, strerror(err));
    if (rename(o->tmp, o->path) != 0) die("cannot rename to %s: %s", o->path, strerror(errno));
    release(o);
}

void out_abort(outfile *o)
{
    if (o->direct) {
        fclose(o->f);
        memset(o, 0, sizeof *o);
        o->slot = -1;
        return;
    }
    if (!o->path) return;
    fclose(o->f);
    unlink(o->tmp);
    release(o);
}

void check_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno == EPIPE) exit(0);
        die("cannot write standard output: %s", strerror(errno));
    }
}

static char **created_dirs;
static size_t n_created_dirs;

static void remove_created_dirs(void)
{
    while (n_created_dirs > 0) rmdir(created_dirs[--n_created_dirs]);
}

void out_mkdirs(const char *path)
{
    char *p = xstrdup(path);
    for (char *q = p + 1;; q++) {
        if (*q != '/' && *q != '\0') continue;
        char saved = *q;
        *q = '\0';
        if (mkdir(p, 0777) == 0) {
            created_dirs = xrealloc(created_dirs, (n_created_dirs + 1) * sizeof *created_dirs);
            created_dirs[n_created_dirs++] = xstrdup(p);
            atexit_on_error(remove_created_dirs);
        } else if (errno != EEXIST) {
            int err = errno;
            free(p);
            die("cannot create directory %s: %s", path, strerror(err));
        }
        *q = saved;
        if (!saved) break;
    }
    free(p);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) die("%s: not a directory", path);
}

void out_keep_dirs(void)
{
    for (size_t k = 0; k < n_created_dirs; k++) free(created_dirs[k]);
    free(created_dirs);
    created_dirs = NULL;
    n_created_dirs = 0;
}

void out_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) die("cannot open %s: %s", from, strerror(errno));
    outfile o;
    out_open(&o, to);
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, got, o.f) != got) break;
    if (ferror(in)) die("cannot read %s", from);
    fclose(in);
    out_commit(&o);
}
