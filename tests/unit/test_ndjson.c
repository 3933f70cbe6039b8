/* lib/core/ndjson: the escaped-NUL detector that keeps cJSON from cutting a
 * string short (json_has_nul_escape), on escapes next to each other,
 * escaped backslashes and lines that end inside an escape; and lib/core/progress's
 * reading bar on a regular file and on a pipe. */
#include "check.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "core/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int nul(const char *s) { return json_has_nul_escape(s, strlen(s)); }

static void test_nul_escape(void)
{
    CHECK("nul: plain text has none", !nul("{\"text\":\"hello\"}"));
    CHECK("nul: \\u0000 found", nul("{\"text\":\"a\\u0000b\"}"));
    CHECK("nul: at the very end", nul("\\u0000"));
    CHECK("nul: after another escape", nul("\\n\\u0000"));
    CHECK("nul: after an escaped backslash", nul("\\\\\\u0000"));
    CHECK("nul: an escaped backslash before u0000 is text", !nul("{\"text\":\"a\\\\u0000b\"}"));
    CHECK("nul: two escaped backslashes before u0000 are text", !nul("\\\\\\\\u0000"));
    CHECK("nul: other \\u escapes are not it", !nul("\\u0001\\u00e9\\u1000\\u0100"));
    CHECK("nul: a capital U is no escape", !nul("\\U0000"));
    CHECK("nul: cut short inside the escape", !nul("\\u000") && !nul("\\u") && !nul("\\"));
    /* the length bounds the scan: the escape just beyond it does not count */
    const char *s = "ab\\u0000";
    CHECK("nul: only within n bytes", !json_has_nul_escape(s, 5) && json_has_nul_escape(s, 8));
}

static void test_reading_bar(void)
{
    char path[] = "/tmp/test_ndjson.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w+");
    for (int i = 0; i < 100; i++) fprintf(f, "{\"i\":%d}\n", i); /* 10 x 8 + 90 x 9 bytes */
    fflush(f);
    rewind(f);
    progress p;
    progress_start_reading(&p, 0, f, "records");
    CHECK("bar: a regular file counts its bytes", p.bytes && p.total == 890 && strcmp(p.unit, "MB") == 0);
    fclose(f);
    unlink(path);

    int fds[2];
    CHECK("bar: pipe", pipe(fds) == 0);
    FILE *r = fdopen(fds[0], "r");
    progress_start_reading(&p, 0, r, "records");
    CHECK("bar: a pipe counts records, no total", !p.bytes && p.total == 0 && strcmp(p.unit, "records") == 0);
    fclose(r);
    close(fds[1]);
}

int main(void)
{
    prog_init("test_ndjson");
    test_nul_escape();
    test_reading_bar();
    return check_exit();
}
