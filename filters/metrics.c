/* metrics: prediction records -> a text report of classification scores on
 * standard output and, with --json, the full JSON document; with --compare,
 * one table of several prediction files. The scores are lib/eval/metrics, their
 * presentation lib/eval/metrics_report; this file holds options and files. */
#include "core/common.h"
#include "eval/metrics.h"
#include "eval/metrics_report.h"
#include "core/outfile.h"
#include "core/strbuf.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: metrics [OPTIONS] [FILE]\n"
    "       metrics --compare [OPTIONS] FILE...\n"
    "Score prediction records {\"label\", \"pred\", \"probs\"} (FILE or standard\n"
    "input) as scikit-learn does: accuracy; precision, recall and F1 per class,\n"
    "macro and weighted; the confusion matrix; predicted rate per class; with\n"
    "probabilities, one-vs-rest ROC-AUC and average precision, log loss and\n"
    "calibration error (ECE, 15 bins), and top-k accuracy when asked. A text\n"
    "report goes to standard output.\n"
    "\n"
    "Options:\n"
    "  --json FILE          also write every number as JSON (read by cmplot)\n"
    "  -o, --output FILE    the report (or table) to FILE, not standard output\n"
    "  --positive LABEL     precision, recall, F1 and predicted rate of LABEL\n"
    "  --top-k K            top-K accuracy (sklearn's top_k_accuracy_score): gold\n"
    "                       among the K most probable classes; needs probs\n"
    "  --by FIELD           accuracy, macro-F1 and n per value of FIELD (e.g. year)\n"
    "  --train FILE         records whose labels give training counts per class,\n"
    "                       for accuracy and macro-F1 by class-size bins\n"
    "  --bins LIST          class-size bin edges, increasing, the last may be inf\n"
    "                       (default with --train: 0,50,100,200,inf); bins are\n"
    "                       (lo, hi], the first [lo, hi]\n"
    "  --compare            several prediction files: one table of the main\n"
    "                       metrics, a row per file\n"
    "  --names LIST         comma-separated run names, one per file (default: the\n"
    "                       file names)\n"
    "  --format FMT         the --compare table: md (Markdown, default) or csv\n"
    "  --label-field NAME   gold label field (default: label)\n"
    "  --pred-field NAME    predicted label field (default: pred)\n"
    "  --probs-field NAME   probabilities field (default: probs)\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "Classes are the byte-sorted union of gold labels, predictions and probs\n"
    "keys. Macro averages run over the classes present in gold or predictions\n"
    "(sklearn's default); an undefined ROC-AUC (class absent from gold) is null\n"
    "and left out of the macro. Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  metrics --json test.metrics.json test.pred.jsonl\n"
    "  metrics --positive accept --by year iclr.pred.jsonl\n"
    "  metrics --top-k 3 papers.pred.jsonl\n"
    "  metrics --train split/train.jsonl --bins 0,50,100,200,inf papers.pred.jsonl\n"
    "  metrics --compare --names base,bert --format csv base.jsonl bert.jsonl\n";

enum {
    OPT_JSON = 256, OPT_POSITIVE, OPT_TOP_K, OPT_BY, OPT_TRAIN, OPT_BINS, OPT_COMPARE, OPT_NAMES, OPT_FORMAT,
    OPT_LABEL_FIELD, OPT_PRED_FIELD, OPT_PROBS_FIELD
};

typedef struct config {
    const char *json, *output, *positive, *train, *bins_arg, *names_arg, *format;
    pred_fields fields;
    int compare;
    size_t top_k; /* 0: not asked */
    char **files;
    size_t nfiles;
    char **names; /* nfiles entries when --names is given */
    double *edges;
    size_t nedges;
    table_format table;
} config;

static void parse_bins(config *c, const char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    c->edges = xmalloc(n * sizeof *c->edges);
    c->nedges = n;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(s, ",");
        char *item = xstrndup(s, len);
        s += len + 1;
        if (strcmp(item, "inf") == 0 && i == n - 1) c->edges[i] = INFINITY;
        else c->edges[i] = parse_double_opt("--bins", item);
        free(item);
        if (i > 0 && !(c->edges[i] > c->edges[i - 1])) die_usage("--bins: edges must increase");
    }
    if (n < 2) die_usage("--bins: at least two edges, as 0,50,inf");
}

static void parse_names(config *c)
{
    const char *s = c->names_arg;
    size_t n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    if (n != c->nfiles)
        die_usage("--names: %zu name%s for %zu file%s", n, n == 1 ? "" : "s", c->nfiles, c->nfiles == 1 ? "" : "s");
    c->names = xcalloc(n, sizeof *c->names);
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(s, ",");
        if (len == 0) die_usage("--names: an empty name");
        c->names[i] = xstrndup(s, len);
        s += len + 1;
    }
}

static void parse_args(config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", required_argument, 0, OPT_JSON},
        {"output", required_argument, 0, 'o'},
        {"positive", required_argument, 0, OPT_POSITIVE},
        {"top-k", required_argument, 0, OPT_TOP_K},
        {"by", required_argument, 0, OPT_BY},
        {"train", required_argument, 0, OPT_TRAIN},
        {"bins", required_argument, 0, OPT_BINS},
        {"compare", no_argument, 0, OPT_COMPARE},
        {"names", required_argument, 0, OPT_NAMES},
        {"format", required_argument, 0, OPT_FORMAT},
        {"label-field", required_argument, 0, OPT_LABEL_FIELD},
        {"pred-field", required_argument, 0, OPT_PRED_FIELD},
        {"probs-field", required_argument, 0, OPT_PROBS_FIELD},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_JSON: c->json = optarg; break;
        case 'o': c->output = optarg; break;
        case OPT_POSITIVE: c->positive = optarg; break;
        case OPT_TOP_K: c->top_k = (size_t)parse_long_opt("--top-k", optarg, 1, 1000000); break;
        case OPT_BY: c->fields.by = optarg; break;
        case OPT_TRAIN: c->train = optarg; break;
        case OPT_BINS: c->bins_arg = optarg; break;
        case OPT_COMPARE: c->compare = 1; break;
        case OPT_NAMES: c->names_arg = optarg; break;
        case OPT_FORMAT: c->format = optarg; break;
        case OPT_LABEL_FIELD: c->fields.label = optarg; break;
        case OPT_PRED_FIELD: c->fields.pred = optarg; break;
        case OPT_PROBS_FIELD: c->fields.probs = optarg; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    static char *stdin_only[] = {"-"};
    c->files = optind < argc ? argv + optind : stdin_only;
    c->nfiles = optind < argc ? (size_t)(argc - optind) : 1;
    if (!c->compare && c->nfiles > 1)
        die_usage("one input file at most, got %zu (several files go with --compare)", c->nfiles);
    if (c->compare && optind >= argc) die_usage("--compare needs the prediction files");
    if (c->format) {
        if (!c->compare) die_usage("--format goes with --compare");
        if (strcmp(c->format, "md") == 0) c->table = TABLE_MD;
        else if (strcmp(c->format, "csv") == 0) c->table = TABLE_CSV;
        else die_usage("--format: '%s' is neither md nor csv", c->format);
    }
    if (c->bins_arg && !c->train) die_usage("--bins goes with --train");
    if (c->train) parse_bins(c, c->bins_arg ? c->bins_arg : "0,50,100,200,inf");
    if (c->names_arg) parse_names(c);
    size_t stdin_files = 0;
    for (size_t i = 0; i < c->nfiles; i++) stdin_files += strcmp(c->files[i], "-") == 0;
    if (c->train && strcmp(c->train, "-") == 0) stdin_files++;
    if (stdin_files > 1) die_usage("standard input can be read once only");
}

/* Everything computed for one file; the report points into it. */
typedef struct run {
    pred_set s;
    metrics m;
    positive_metrics positive;
    top_k_metrics top_k;
    group_metrics *groups;
    size_t *train_count, *bin_of;
    size_bin *bins;
    run_report report;
} run;

static void score_file(run *r, const config *c, const char *path, const char *name)
{
    memset(r, 0, sizeof *r);
    pred_set_read(&r->s, path, &c->fields);
    metrics_compute(&r->m, &r->s);
    run_report *rep = &r->report;
    rep->name = name ? name : r->s.name;
    rep->s = &r->s;
    rep->m = &r->m;
    if (c->positive) {
        size_t k = pred_set_class(&r->s, c->positive);
        if (k == (size_t)-1)
            die_at(r->s.name, 0, "--positive: no class \"%s\" among gold labels, predictions or probs keys",
                   c->positive);
        positive_compute(&r->positive, &r->s, k);
        rep->positive = &r->positive;
    }
    if (c->top_k) {
        if (!r->s.has_probs)
            die_at(r->s.name, 0, "--top-k needs probabilities, and the records have no \"%s\"",
                   c->fields.probs ? c->fields.probs : "probs");
        top_k_compute(&r->top_k, &r->s, c->top_k);
        rep->top_k = &r->top_k;
    }
    if (c->fields.by) {
        r->groups = xcalloc(r->s.ngroups, sizeof *r->groups);
        groups_compute(r->groups, &r->s);
        rep->by_field = c->fields.by;
        rep->groups = r->groups;
    }
    if (c->train) {
        r->train_count = xmalloc(r->s.nclasses * sizeof *r->train_count);
        r->bin_of = xmalloc(r->s.nclasses * sizeof *r->bin_of);
        r->bins = xcalloc(c->nedges - 1, sizeof *r->bins);
        train_counts_read(r->train_count, &r->s, c->train, c->fields.label);
        size_bins_compute(r->bins, r->bin_of, &r->s, r->train_count, c->edges, c->nedges);
        rep->train_count = r->train_count;
        rep->bins = r->bins;
        rep->nbins = c->nedges - 1;
        rep->bin_of = r->bin_of;
    }
}

static void run_free(run *r)
{
    free(r->groups);
    free(r->train_count);
    free(r->bin_of);
    free(r->bins);
    metrics_free(&r->m);
    pred_set_free(&r->s);
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    config c;
    parse_args(&c, argc, argv);

    run *runs = xcalloc(c.nfiles, sizeof *runs);
    run_report *reports = xcalloc(c.nfiles, sizeof *reports);
    for (size_t i = 0; i < c.nfiles; i++) {
        score_file(&runs[i], &c, c.files[i], c.names ? c.names[i] : NULL);
        reports[i] = runs[i].report;
    }

    outfile json_out, text_out;
    if (c.json) {
        strbuf b = {0};
        if (c.compare) report_json_runs(&b, reports, c.nfiles);
        else report_json(&b, &reports[0]);
        out_open(&json_out, c.json);
        fwrite(b.s, 1, b.len, json_out.f);
        sb_free(&b);
    }
    out_open(&text_out, c.output);
    if (c.compare) {
        compare_table(text_out.f, reports, c.nfiles, c.table);
    } else {
        report_text(text_out.f, &reports[0]);
    }
    if (c.json) out_commit(&json_out);
    out_commit(&text_out);

    for (size_t i = 0; i < c.nfiles; i++) run_free(&runs[i]);
    free(runs);
    free(reports);
    if (c.names)
        for (size_t i = 0; i < c.nfiles; i++) free(c.names[i]);
    free(c.names);
    free(c.edges);
    return 0;
}
