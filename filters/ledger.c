/* ledger: the experiment ledger. `add` appends one training run's row to the
 * ledger CSV (safe when many run at once: lib/eval/ledger_append); `xlsx`
 * writes the ledger as an Excel workbook, a sheet per study
 * (lib/eval/workbook). The format is lib/eval/ledger; this file holds the
 * options, the reading of the CSV (lib/text/csvread) and the outputs. */
#include "core/common.h"
#include "core/outfile.h"
#include "core/strbuf.h"
#include "text/csvread.h"
#include "eval/ledger.h"
#include "eval/ledger_append.h"
#include "eval/workbook.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: ledger add -o LEDGER --study NAME --run NAME --model NAME [OPTIONS]\n"
    "       ledger xlsx [-o FILE] [LEDGER]\n"
    "The experiment ledger, a CSV file with one row per training run (the\n"
    "studies keep runs/ledger.csv). add appends a run's row to LEDGER, first\n"
    "creating it with its header; any number of add may run at once on one\n"
    "file (make -j). xlsx writes a ledger (LEDGER or standard input) as an\n"
    "Excel workbook: a worksheet per study, numbers as numbers.\n"
    "\n"
    "The columns: study,run,model,params,val_accuracy,val_macro_f1,\n"
    "test_accuracy,test_macro_f1,wall_s,commit,date\n"
    "\n"
    "add:\n"
    "  -o, --output FILE    the ledger to append to (needed)\n"
    "  --study NAME         the study, as tweets or iclr (needed)\n"
    "  --run NAME           the run within the study, as bert (needed)\n"
    "  --model NAME         the model: an encoder's name or directory (needed)\n"
    "  --params TEXT        the run's settings, as 'lr=3e-5 epochs=4'\n"
    "  --val FILE           val_accuracy and val_macro_f1 from FILE, written by\n"
    "                       metrics --json (its \"accuracy\" and macro \"f1\")\n"
    "  --test FILE          test_accuracy and test_macro_f1 the same way\n"
    "  --wall SECONDS       wall_s, the run's wall-clock time\n"
    "  --commit ID          commit, the version of the code (default: empty)\n"
    "  --date DATE          date (default: now in UTC, as 2026-12-07T21:40:00Z)\n"
    "\n"
    "xlsx:\n"
    "  -o, --output FILE    the workbook, written atomically (default: standard\n"
    "                       output, when it is not a terminal)\n"
    "\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "A score or option left out leaves its cell empty. Numbers are written to\n"
    "read back exactly; a cell with a comma, a quote or a line break is quoted\n"
    "(RFC 4180). A file that does not start with the header is not a ledger,\n"
    "and bad input appends nothing. Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  ledger add -o runs/ledger.csv --study tweets --run bert --model MiniLM \\\n"
    "      --params 'lr=1e-4 epochs=2' --val bert/val.metrics.json \\\n"
    "      --test bert/test.metrics.json --wall 2710.5 --commit 3615acb\n"
    "  ledger xlsx -o runs/ledger.xlsx runs/ledger.csv\n";

enum command { CMD_ADD, CMD_XLSX };

enum { OPT_STUDY = 256, OPT_RUN, OPT_MODEL, OPT_PARAMS, OPT_VAL, OPT_TEST, OPT_WALL, OPT_COMMIT, OPT_DATE };

typedef struct config {
    enum command cmd;
    const char *output, *input;
    const char *study, *run, *model, *params, *val, *test, *wall_arg, *commit, *date;
    double wall;
} config;

NORETURN static void usage(void)
{
    fputs(usage_text, stdout);
    exit(0);
}

/* A text cell given as an option: one line of valid UTF-8; needed ones not empty. */
static void check_text(const char *opt, const char *s, int needed)
{
    if (!s) {
        if (needed) die_usage("%s is needed", opt);
        return;
    }
    if (needed && !*s) die_usage("%s: empty", opt);
    const char *why = ledger_text_check(s);
    if (why) die_usage("%s: %s", opt, why);
}

static void parse_args(config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"study", required_argument, 0, OPT_STUDY},
        {"run", required_argument, 0, OPT_RUN},
        {"model", required_argument, 0, OPT_MODEL},
        {"params", required_argument, 0, OPT_PARAMS},
        {"val", required_argument, 0, OPT_VAL},
        {"test", required_argument, 0, OPT_TEST},
        {"wall", required_argument, 0, OPT_WALL},
        {"commit", required_argument, 0, OPT_COMMIT},
        {"date", required_argument, 0, OPT_DATE},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    if (argc < 2) die_usage("a command is needed: add or xlsx");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) usage();
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) print_version();
    if (strcmp(cmd, "add") == 0) c->cmd = CMD_ADD;
    else if (strcmp(cmd, "xlsx") == 0) c->cmd = CMD_XLSX;
    else if (cmd[0] == '-') die_usage("the command (add or xlsx) comes first, before '%s'", cmd);
    else die_usage("unknown command '%s' (add or xlsx)", cmd);
    argc--, argv++;
    const char *add_only = NULL;
    int ch, index;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":o:hV", opts, &index)) != -1) {
        if (ch >= OPT_STUDY && ch <= OPT_DATE && !add_only) add_only = opts[index].name;
        switch (ch) {
        case 'o': c->output = optarg; break;
        case OPT_STUDY: c->study = optarg; break;
        case OPT_RUN: c->run = optarg; break;
        case OPT_MODEL: c->model = optarg; break;
        case OPT_PARAMS: c->params = optarg; break;
        case OPT_VAL: c->val = optarg; break;
        case OPT_TEST: c->test = optarg; break;
        case OPT_WALL: c->wall_arg = optarg; break;
        case OPT_COMMIT: c->commit = optarg; break;
        case OPT_DATE: c->date = optarg; break;
        case 'h': usage();
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (c->cmd == CMD_XLSX) {
        if (add_only) die_usage("--%s goes with add", add_only);
        if (argc - optind > 1) die_usage("one ledger at most, got %d", argc - optind);
        c->input = optind < argc ? argv[optind] : NULL;
        return;
    }
    if (optind < argc) die_usage("add takes no file argument ('%s'): the ledger is -o FILE", argv[optind]);
    if (!c->output) die_usage("-o LEDGER is needed");
    if (strcmp(c->output, "-") == 0) die_usage("-o: add appends to a file, not to standard output");
    check_text("--study", c->study, 1);
    check_text("--run", c->run, 1);
    check_text("--model", c->model, 1);
    check_text("--params", c->params, 0);
    check_text("--commit", c->commit, 0);
    check_text("--date", c->date, 0);
    if (c->wall_arg) {
        c->wall = parse_double_opt("--wall", c->wall_arg);
        if (c->wall < 0) die_usage("--wall: '%s' is below 0", c->wall_arg);
    }
}

/* ---- add ------------------------------------------------------------- */

static void run_add(const config *c)
{
    const char *cells[LEDGER_NCOLS] = {0};
    strbuf num[LEDGER_NCOLS] = {{0}};
    cells[LEDGER_STUDY] = c->study;
    cells[LEDGER_RUN] = c->run;
    cells[LEDGER_MODEL] = c->model;
    cells[LEDGER_PARAMS] = c->params;
    /* every input is read before the ledger is touched: bad input appends nothing */
    const struct { const char *path; int acc, f1; } scores[] = {
        {c->val, LEDGER_VAL_ACCURACY, LEDGER_VAL_MACRO_F1},
        {c->test, LEDGER_TEST_ACCURACY, LEDGER_TEST_MACRO_F1},
    };
    for (size_t i = 0; i < sizeof scores / sizeof *scores; i++) {
        if (!scores[i].path) continue;
        double acc, f1;
        ledger_scores_read(scores[i].path, &acc, &f1);
        ledger_number_text(&num[scores[i].acc], acc);
        ledger_number_text(&num[scores[i].f1], f1);
        cells[scores[i].acc] = num[scores[i].acc].s;
        cells[scores[i].f1] = num[scores[i].f1].s;
    }
    if (c->wall_arg) {
        ledger_number_text(&num[LEDGER_WALL_S], c->wall);
        cells[LEDGER_WALL_S] = num[LEDGER_WALL_S].s;
    }
    cells[LEDGER_COMMIT] = c->commit;
    char now[32];
    if (!c->date) {
        time_t t = time(NULL);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            die("cannot tell the date");
    }
    cells[LEDGER_DATE] = c->date ? c->date : now;

    strbuf row = {0};
    ledger_row_csv(&row, cells);
    ledger_append(c->output, row.s, row.len);
    sb_free(&row);
    for (int k = 0; k < LEDGER_NCOLS; k++) sb_free(&num[k]);
}

/* ---- xlsx ------------------------------------------------------------ */

static void read_ledger(ledger_table *t, const char *path)
{
    csv_reader *r = csv_open(path, CSV_NO_REPLACE_HINT);
    const char *name = csv_name(r);
    csv_row row;
    const char **cells = NULL;
    size_t cap = 0;
    int first = 1;
    while (csv_next(r, &row)) {
        if (row.n > cap) {
            cap = row.n;
            cells = xrealloc(cells, cap * sizeof *cells);
        }
        for (size_t k = 0; k < row.n; k++) cells[k] = sb_str(&row.field[k]);
        if (first) {
            if (!ledger_is_header(cells, row.n))
                die_at(name, row.line, "not a ledger: the first line is not \"%s\"", LEDGER_HEADER);
            first = 0;
            continue;
        }
        if (row.n != LEDGER_NCOLS)
            die_at(name, row.line, "%zu field%s, not the ledger's %d", row.n, row.n == 1 ? "" : "s", LEDGER_NCOLS);
        int bad;
        const char *why = ledger_row_check(cells, row.n, &bad);
        if (why && bad >= 0 && ledger_column_is_number(bad))
            die_at(name, row.line, "%s \"%.40s\" %s", ledger_columns[bad], cells[bad], why);
        if (why && bad >= 0) die_at(name, row.line, "%s %s", ledger_columns[bad], why);
        if (why) die_at(name, row.line, "%s", why);
        ledger_table_add(t, cells, row.line);
    }
    free(cells);
    csv_close(r);
}

/* Copies the file at path to f. */
static void copy_file(const char *path, FILE *f)
{
    FILE *in = fopen(path, "rb");
    if (!in) die("cannot read %s: %s", path, strerror(errno));
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, f);
    if (ferror(in)) die("cannot read %s: %s", path, strerror(errno));
    fclose(in);
}

static void run_xlsx(const config *c)
{
    int to_stdout = !c->output || strcmp(c->output, "-") == 0;
    if (to_stdout && isatty(STDOUT_FILENO))
        die_usage("a workbook is binary: give -o FILE or redirect standard output");
    /* the workbook carries the ledger's time, so one ledger gives one workbook */
    time_t created = time(NULL);
    int empty = 0;
    struct stat in_st, out_st;
    int in_file = c->input && strcmp(c->input, "-") != 0 && stat(c->input, &in_st) == 0;
    if (in_file && S_ISREG(in_st.st_mode)) {
        created = in_st.st_mtime;
        empty = in_st.st_size == 0;
    }
    if (in_file && !to_stdout && stat(c->output, &out_st) == 0 && out_st.st_dev == in_st.st_dev &&
        out_st.st_ino == in_st.st_ino)
        die_usage("-o %s is the ledger itself", c->output);

    ledger_table t = {0};
    if (!empty) read_ledger(&t, c->input);

    /* libxlsxwriter writes to a file name it can seek in: the output's own
     * temporary, or one in TMPDIR copied to standard output or a device */
    outfile out, scratch;
    out_open(&out, c->output);
    const char *target = out.tmp;
    if (!target) {
        const char *dir = getenv("TMPDIR");
        strbuf p = {0};
        sb_adds(&p, dir && *dir ? dir : "/tmp");
        sb_adds(&p, "/ledger.xlsx");
        out_open(&scratch, p.s);
        sb_free(&p);
        target = scratch.tmp;
    }
    ledger_workbook_write(target, &t, created, input_name(c->input));
    if (!out.tmp) {
        copy_file(scratch.tmp, out.f);
        out_abort(&scratch);
    }
    out_commit(&out);
    ledger_table_free(&t);
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    config c;
    parse_args(&c, argc, argv);
    if (c.cmd == CMD_ADD) run_add(&c);
    else run_xlsx(&c);
    return 0;
}
