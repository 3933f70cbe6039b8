/* Unit test for lib/eval/ledger, ledger_append and workbook's sheet names:
 * rows as RFC 4180 text that Python's csv module would read back, number
 * cells that round-trip, the checks of rows read back, appending to a new,
 * an existing and a foreign file, and Excel's rules for sheet names.
 * (Many writers at once: tests/cases/ledger/concurrent_add.) */
#include "check.h"

#include "core/common.h"
#include "core/strbuf.h"
#include "eval/ledger.h"
#include "eval/ledger_append.h"
#include "eval/workbook.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_row_csv(void)
{
    const char *cells[LEDGER_NCOLS] = {"tweets", "bert", "a \"quoted\" name", "lr=1e-4, epochs=2"};
    cells[LEDGER_WALL_S] = "12.5";
    cells[LEDGER_DATE] = "2026-12-07T21:40:00Z";
    strbuf b = {0};
    ledger_row_csv(&b, cells);
    CHECK_STR("row: quotes doubled, commas quoted, NULL empty", b.s,
              "tweets,bert,\"a \"\"quoted\"\" name\",\"lr=1e-4, epochs=2\",,,,,12.5,,2026-12-07T21:40:00Z\n");
    sb_clear(&b);
    const char *breaks[LEDGER_NCOLS] = {"s", "r", "m", "a\nb", "", "", "", "", "", "c\r", " d "};
    ledger_row_csv(&b, breaks);
    CHECK_STR("row: line breaks quoted, spaces kept", b.s, "s,r,m,\"a\nb\",,,,,,\"c\r\", d \n");
    sb_free(&b);
    CHECK_STR("header: the columns joined", LEDGER_HEADER,
              "study,run,model,params,val_accuracy,val_macro_f1,test_accuracy,test_macro_f1,wall_s,commit,date");
    size_t len = 0;
    for (int k = 0; k < LEDGER_NCOLS; k++) len += strlen(ledger_columns[k]) + (k > 0);
    CHECK("header: ledger_columns spell it", len == strlen(LEDGER_HEADER) && ledger_is_header(ledger_columns, LEDGER_NCOLS));
}

static void test_numbers(void)
{
    size_t bad = 0;
    for (int i = 0; i < 20000; i++) {
        double v = (double)(check_rnd() >> 11) / 9007199254740992.0;
        if (i % 3 == 0) v = (double)(check_rnd() % 4629) / 4629.0;
        strbuf b = {0};
        ledger_number_text(&b, v);
        double back;
        if (ledger_cell_number(b.s, &back) != 1 || back != v) bad++;
        sb_free(&b);
    }
    CHECK("numbers: 20k scores read back exactly", bad == 0);
    double v = -1;
    CHECK("number cell: empty", ledger_cell_number("", &v) == 0 && v == -1);
    CHECK("number cell: 1e-3", ledger_cell_number("1e-3", &v) == 1 && v == 1e-3);
    CHECK("number cell: -2", ledger_cell_number("-2", &v) == 1 && v == -2);
    const char *refused[] = {"nan", "inf", "-inf", "0x1p3", " 1", "1 ", "1,5", "0.6x", "1e999", "-", "."};
    int all = 1;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) all &= ledger_cell_number(refused[i], &v) == -1;
    CHECK("number cell: nan, inf, hex, spaces, overflow, junk refused", all);
}

static void test_row_check(void)
{
    const char *row[LEDGER_NCOLS] = {"s", "r", "m", "", "0.5", "", "", "", "3", "", "d"};
    int bad;
    CHECK("check: a good row", ledger_row_check(row, LEDGER_NCOLS, &bad) == NULL && bad == -1);
    CHECK("check: 10 fields", ledger_row_check(row, LEDGER_NCOLS - 1, &bad) != NULL && bad == -1);
    row[LEDGER_MODEL] = "";
    CHECK("check: empty model", ledger_row_check(row, LEDGER_NCOLS, &bad) != NULL && bad == LEDGER_MODEL);
    row[LEDGER_MODEL] = "m";
    row[LEDGER_TEST_MACRO_F1] = "high";
    CHECK("check: a word in a number column", ledger_row_check(row, LEDGER_NCOLS, &bad) != NULL &&
                                                   bad == LEDGER_TEST_MACRO_F1);
    row[LEDGER_TEST_MACRO_F1] = "";
    row[LEDGER_PARAMS] = "a\tb\nc";
    CHECK("check: tab and line break in text", ledger_row_check(row, LEDGER_NCOLS, &bad) == NULL);
    row[LEDGER_PARAMS] = "a\033b";
    CHECK("check: escape in text", ledger_row_check(row, LEDGER_NCOLS, &bad) != NULL && bad == LEDGER_PARAMS);
    CHECK("text: one line of UTF-8", ledger_text_check("lr=1e-4\tété") == NULL);
    CHECK("text: newline refused", ledger_text_check("a\nb") != NULL);
    CHECK("text: invalid UTF-8 refused", ledger_text_check("a\xff") != NULL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return xstrdup("(missing)");
    strbuf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_addn(&b, buf, n);
    fclose(f);
    return b.s ? b.s : xstrdup("");
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* ledger_append in a child: 0 when it returned, else the exit status of its death */
static int append_in_child(const char *path, const char *row)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        ledger_append(path, row, strlen(row));
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_append(void)
{
    char dir[] = "/tmp/test_ledger.XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK("append: a temporary directory", 0);
        return;
    }
    char path[64], foreign[64], cut[64];
    snprintf(path, sizeof path, "%s/ledger.csv", dir);
    snprintf(foreign, sizeof foreign, "%s/foreign.csv", dir);
    snprintf(cut, sizeof cut, "%s/cut.csv", dir);
    CHECK("append: a new file", append_in_child(path, "s,r1,m,,,,,,,,d\n") == 0);
    CHECK("append: to it", append_in_child(path, "s,r2,m,,,,,,,,d\n") == 0);
    char *got = slurp(path);
    CHECK_STR("append: the header once, then the rows", got, LEDGER_HEADER "\ns,r1,m,,,,,,,,d\ns,r2,m,,,,,,,,d\n");
    free(got);
    put(path, "");
    CHECK("append: an empty file gets the header", append_in_child(path, "s,r3,m,,,,,,,,d\n") == 0);
    got = slurp(path);
    CHECK_STR("append: header and row", got, LEDGER_HEADER "\ns,r3,m,,,,,,,,d\n");
    free(got);
    put(foreign, "a,b\n1,2\n");
    CHECK("append: another CSV refused (exit 1)", append_in_child(foreign, "s,r,m,,,,,,,,d\n") == EXIT_DATA);
    got = slurp(foreign);
    CHECK_STR("append: ... and left as it was", got, "a,b\n1,2\n");
    free(got);
    put(cut, LEDGER_HEADER "\ns,r1,m,,,,,,,,d");
    CHECK("append: a cut-off last line refused", append_in_child(cut, "s,r,m,,,,,,,,d\n") == EXIT_DATA);
    put(cut, LEDGER_HEADER);
    CHECK("append: a header without its newline refused", append_in_child(cut, "s,r,m,,,,,,,,d\n") == EXIT_DATA);
    unlink(path);
    unlink(foreign);
    unlink(cut);
    rmdir(dir);
}

static void test_sheet_names(void)
{
    char *none[1] = {NULL};
    char *n = sheet_name_for("tweets", none, 0);
    CHECK_STR("sheet: a plain name stays", n, "tweets");
    free(n);
    n = sheet_name_for("a/b:c*d?[e]\\f", none, 0);
    CHECK_STR("sheet: bad characters become _", n, "a_b_c_d__e__f");
    free(n);
    n = sheet_name_for("'x'", none, 0);
    CHECK_STR("sheet: no apostrophe first or last", n, "_x_");
    free(n);
    n = sheet_name_for("", none, 0);
    CHECK_STR("sheet: empty", n, "_");
    free(n);
    n = sheet_name_for("0123456789012345678901234567890123456789", none, 0);
    CHECK_STR("sheet: cut to 31", n, "0123456789012345678901234567890");
    free(n);
    /* 30 ASCII + an astral character (2 UTF-16 units) would be 32 */
    n = sheet_name_for("012345678901234567890123456789\xF0\x9F\x98\x80", none, 0);
    CHECK_STR("sheet: cut by UTF-16 units, on a character", n, "012345678901234567890123456789");
    free(n);
    char *taken[] = {"Tweets", "tweets~2"};
    n = sheet_name_for("TWEETS", taken, 2);
    CHECK_STR("sheet: a clash regardless of case", n, "TWEETS~3");
    free(n);
    n = sheet_name_for("history", none, 0);
    CHECK_STR("sheet: History is Excel's", n, "history~2");
    free(n);
    char *long_taken[] = {"0123456789012345678901234567890"};
    n = sheet_name_for("0123456789012345678901234567890123", long_taken, 1);
    CHECK_STR("sheet: a clash of cut names", n, "01234567890123456789012345678~2");
    free(n);
}

int main(void)
{
    prog_init("test_ledger");
    test_row_csv();
    test_numbers();
    test_row_check();
    test_append();
    test_sheet_names();
    return check_exit();
}
