#include "ledger_append.h"
#include "ledger.h"
#include "core/common.h"
#include "core/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file must start with the header line (LF or CRLF, after a UTF-8 BOM
 * if a spreadsheet saved it so: csvread takes those too) and end with a
 * newline: a row written after a cut-off line would join it. */
static void check_existing(int fd, const char *path, off_t size)
{
    static const char header[] = LEDGER_HEADER;
    size_t hlen = sizeof header - 1;
    char buf[sizeof header + 4];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    if (n < 0) die("cannot read %s: %s", path, strerror(errno));
    size_t got = (size_t)n;
    const char *s = buf;
    if (got >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, got -= 3;
    int ok = got >= hlen + 1 && memcmp(s, header, hlen) == 0 &&
             (s[hlen] == '\n' || (got >= hlen + 2 && s[hlen] == '\r' && s[hlen + 1] == '\n'));
    if (!ok) die_at(path, 1, "not a ledger: the first line is not \"%s\"", header);
    char last;
    if (pread(fd, &last, 1, size - 1) != 1) die("cannot read %s: %s", path, strerror(errno));
    if (last != '\n') die_at(path, 0, "the last line has no newline (cut off?); nothing appended");
}

void ledger_append(const char *path, const char *row, size_t len)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) die("cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) die("cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) die_at(path, 0, "not a regular file");
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) die("cannot lock %s: %s", path, strerror(errno));
    /* the size now, under the lock: another writer may have added rows */
    if (fstat(fd, &st) != 0) die("cannot stat %s: %s", path, strerror(errno));
    strbuf out = {0};
    if (st.st_size == 0) {
        sb_adds(&out, LEDGER_HEADER "\n");
    } else {
        check_existing(fd, path, st.st_size);
    }
    sb_addn(&out, row, len);
    ssize_t put = write(fd, out.s, out.len);
    if (put < 0 || (size_t)put != out.len) {
        int err = put < 0 ? errno : ENOSPC;
        if (ftruncate(fd, st.st_size) != 0)
            die("cannot write %s: %s; part of the row may be left at its end", path, strerror(err));
        die("cannot write %s: %s; nothing appended", path, strerror(err));
    }
    if (fsync(fd) != 0 && errno != EINVAL) die("cannot write %s: %s", path, strerror(errno));
    sb_free(&out);
    flock(fd, LOCK_UN);
    if (close(fd) != 0) die("cannot write %s: %s", path, strerror(errno));
}
