/* cmplot: charts as SVG — a confusion matrix from a metrics JSON document,
 * ROC and precision-recall curves from prediction records, bars comparing
 * runs from metrics JSON documents or a compare CSV, training curves from
 * a metrics log, lines and scatter plots of two columns of a CSV table. The
 * curves and AUCs come from lib/eval/metrics (the numbers of `metrics`), the
 * drawing from lib/eval/plot; this file reads inputs (and averages a lines
 * chart's repeated rows). */
#include "core/common.h"
#include "text/csvread.h"
#include "eval/metrics.h"
#include "eval/metrics_report.h"
#include "core/ndjson.h"
#include "core/outfile.h"
#include "eval/plot.h"
#include "core/strbuf.h"
#include "eval/svg.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: cmplot confusion [--normalize] METRICS.json -o cm.svg\n"
    "       cmplot roc|pr [--positive LABEL] PRED.jsonl -o roc.svg\n"
    "       cmplot bars [--compare] [--names L] [--metrics L] FILE... -o bars.svg\n"
    "       cmplot curves LOG.ndjson -o curves.svg\n"
    "       cmplot lines TABLE.csv --x COL --y COL [--group COL] -o lines.svg\n"
    "       cmplot scatter TABLE.csv --x COL --y COL [--group COL] [--label COL]\n"
    "              -o scatter.svg\n"
    "Draw a chart as SVG (standard output unless -o).\n"
    "\n"
    "Charts:\n"
    "  confusion   heatmap of the confusion matrix in a `metrics --json` document:\n"
    "              counts in the cells, shading by the share of the row\n"
    "  roc         one-vs-rest ROC curve per class from prediction records,\n"
    "              AUC in the legend (the ROC-AUC of `metrics`)\n"
    "  pr          precision-recall curve per class, average precision in the\n"
    "              legend\n"
    "  bars        grouped bars of summary metrics, one bar per run; FILEs are\n"
    "              `metrics --json` documents (one run each, or the runs of a\n"
    "              --compare document) or one `metrics --compare --format csv`\n"
    "              table\n"
    "  curves      training curves from a metrics log (NDJSON, a record per\n"
    "              evaluation): losses, other metrics, gradient norms and the\n"
    "              learning rate\n"
    "              against the step\n"
    "  lines       a line with markers per value of the --group column of a CSV\n"
    "              table with a header: --y against a numeric --x, points sorted\n"
    "              by x; rows repeating a (group, x) pair (seeds) are drawn as\n"
    "              their mean, with an error bar of one sample standard\n"
    "              deviation either side\n"
    "  scatter     a point per row of a CSV table, coloured by --group\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE    write the SVG to FILE (atomically)\n"
    "  --title TEXT         a title (or subtitle) instead of the default\n"
    "  --normalize          confusion: show row shares in the cells, not counts\n"
    "  --positive LABEL     roc, pr: only the curve of class LABEL\n"
    "  --label-field NAME   roc, pr: gold label field (default: label)\n"
    "  --pred-field NAME    roc, pr: predicted label field (default: pred)\n"
    "  --probs-field NAME   roc, pr: probabilities field (default: probs)\n"
    "  --compare            bars: the FILEs are runs to compare (the default)\n"
    "  --names LIST         bars: comma-separated run names, one per run\n"
    "  --metrics LIST       bars: summary metrics to show (default: accuracy,\n"
    "                       macro_precision,macro_recall,macro_f1,weighted_f1)\n"
    "  --x FIELD            curves: the x axis field (default: step);\n"
    "                       lines, scatter: the x column (numeric)\n"
    "  --y COL              lines, scatter: the y column (numeric)\n"
    "  --group COL          lines, scatter: a line or colour per value of COL\n"
    "  --label COL          scatter: name each point by its value of COL\n"
    "  --hline Y[:LABEL]    lines, scatter: a dashed reference line y = Y\n"
    "                       (repeatable)\n"
    "  --vline X[:LABEL]    lines, scatter: a dashed reference line x = X\n"
    "                       (repeatable)\n"
    "  --x-log              lines, scatter: x on a log2 scale (x > 0)\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "Summary metrics: accuracy, macro_precision, macro_recall, macro_f1,\n"
    "weighted_f1, roc_auc_macro, average_precision_macro, log_loss, ece,\n"
    "top_k_accuracy, pos_precision, pos_recall, pos_f1, pos_predicted_rate.\n"
    "Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  metrics --json test.json test.pred.jsonl\n"
    "  cmplot confusion test.json -o cm.svg\n"
    "  cmplot roc test.pred.jsonl -o roc.svg\n"
    "  cmplot bars --compare base.json bert.json --names baseline,bert -o bars.svg\n"
    "  cmplot curves model/train_log.ndjson -o curves.svg\n"
    "  cmplot lines iclr.csv --x gamma --y pred_rate --group proportion --x-log \\\n"
    "      --hline '0.5:true rate' -o pred_rate.svg\n";

enum chart { CONFUSION, ROC, PR, BARS, CURVES, LINES, SCATTER, N_CHARTS };

enum {
    OPT_TITLE = 256, OPT_NORMALIZE, OPT_POSITIVE, OPT_LABEL_FIELD, OPT_PRED_FIELD, OPT_PROBS_FIELD,
    OPT_COMPARE, OPT_NAMES, OPT_METRICS, OPT_X, OPT_Y, OPT_GROUP, OPT_LABEL, OPT_HLINE, OPT_VLINE, OPT_X_LOG
};

typedef struct config {
    enum chart chart;
    const char *output, *title, *positive, *names, *metrics, *xfield, *yfield, *group, *label;
    int normalize, xlog;
    pred_fields fields;
    plot_ref *hlines, *vlines;
    size_t nhlines, nvlines;
    char **files;
    size_t nfiles;
} config;

/* which charts take an option */
static const char *const chart_names[N_CHARTS] = {"confusion", "roc", "pr", "bars", "curves", "lines", "scatter"};
#define CHART_LIST "confusion, roc, pr, bars, curves, lines or scatter"

/* --hline Y[:LABEL], --vline X[:LABEL] */
static void add_ref(plot_ref **refs, size_t *n, const char *opt, const char *arg)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || errno || !isfinite(v) || (*end && *end != ':'))
        die_usage("%s: '%s' is not %s or %s:LABEL", opt, arg, opt[2] == 'h' ? "Y" : "X", opt[2] == 'h' ? "Y" : "X");
    *refs = xrealloc(*refs, (*n + 1) * sizeof **refs);
    (*refs)[*n].value = v;
    (*refs)[(*n)++].label = *end == ':' && end[1] ? end + 1 : NULL;
}

static void only_for(const config *c, const char *opt, unsigned charts)
{
    if (!(charts & (1u << c->chart))) die_usage("%s does not go with '%s'", opt, chart_names[c->chart]);
}

static void parse_args(config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"title", required_argument, 0, OPT_TITLE},
        {"normalize", no_argument, 0, OPT_NORMALIZE},
        {"positive", required_argument, 0, OPT_POSITIVE},
        {"label-field", required_argument, 0, OPT_LABEL_FIELD},
        {"pred-field", required_argument, 0, OPT_PRED_FIELD},
        {"probs-field", required_argument, 0, OPT_PROBS_FIELD},
        {"compare", no_argument, 0, OPT_COMPARE},
        {"names", required_argument, 0, OPT_NAMES},
        {"metrics", required_argument, 0, OPT_METRICS},
        {"x", required_argument, 0, OPT_X},
        {"y", required_argument, 0, OPT_Y},
        {"group", required_argument, 0, OPT_GROUP},
        {"label", required_argument, 0, OPT_LABEL},
        {"hline", required_argument, 0, OPT_HLINE},
        {"vline", required_argument, 0, OPT_VLINE},
        {"x-log", no_argument, 0, OPT_X_LOG},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    if (argc < 2) die_usage("which chart? " CHART_LIST);
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(usage_text, stdout);
        exit(0);
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) print_version();
    size_t k = 0;
    while (k < N_CHARTS && strcmp(cmd, chart_names[k]) != 0) k++;
    if (k == N_CHARTS) die_usage("unknown chart '%s' (" CHART_LIST ")", cmd);
    c->chart = (enum chart)k;
    const unsigned scores = 1u << ROC | 1u << PR, table = 1u << LINES | 1u << SCATTER;
    int ch;
    opterr = 0;
    optind = 2;
    while ((ch = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': c->output = optarg; break;
        case OPT_TITLE: c->title = optarg; break;
        case OPT_NORMALIZE: only_for(c, "--normalize", 1u << CONFUSION); c->normalize = 1; break;
        case OPT_POSITIVE: only_for(c, "--positive", scores); c->positive = optarg; break;
        case OPT_LABEL_FIELD: only_for(c, "--label-field", scores); c->fields.label = optarg; break;
        case OPT_PRED_FIELD: only_for(c, "--pred-field", scores); c->fields.pred = optarg; break;
        case OPT_PROBS_FIELD: only_for(c, "--probs-field", scores); c->fields.probs = optarg; break;
        case OPT_COMPARE: only_for(c, "--compare", 1u << BARS); break;
        case OPT_NAMES: only_for(c, "--names", 1u << BARS); c->names = optarg; break;
        case OPT_METRICS: only_for(c, "--metrics", 1u << BARS); c->metrics = optarg; break;
        case OPT_X: only_for(c, "--x", 1u << CURVES | table); c->xfield = optarg; break;
        case OPT_Y: only_for(c, "--y", table); c->yfield = optarg; break;
        case OPT_GROUP: only_for(c, "--group", table); c->group = optarg; break;
        case OPT_LABEL: only_for(c, "--label", 1u << SCATTER); c->label = optarg; break;
        case OPT_HLINE: only_for(c, "--hline", table); add_ref(&c->hlines, &c->nhlines, "--hline", optarg); break;
        case OPT_VLINE: only_for(c, "--vline", table); add_ref(&c->vlines, &c->nvlines, "--vline", optarg); break;
        case OPT_X_LOG: only_for(c, "--x-log", table); c->xlog = 1; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    c->files = argv + optind;
    c->nfiles = (size_t)(argc - optind);
    if (c->chart != BARS && c->nfiles > 1) die_usage("one input file at most, got %zu", c->nfiles);
    if (c->chart == BARS && c->nfiles == 0) die_usage("bars: which metrics files?");
    if ((table & (1u << c->chart)) && (!c->xfield || !c->yfield))
        die_usage("%s: which columns? --x COL and --y COL", chart_names[c->chart]);
    for (size_t i = 0; c->xlog && i < c->nvlines; i++)
        if (!(c->vlines[i].value > 0)) die_usage("--vline: %g is not above 0, as --x-log needs", c->vlines[i].value);
    if (c->nfiles == 0) {
        static char *stdin_only[] = {"-"};
        c->files = stdin_only;
        c->nfiles = 1;
    }
}

/* splits a comma-separated list; empty items are a usage error */
static char **split_list(const char *opt, const char *s, size_t *n)
{
    *n = 1;
    for (const char *p = s; *p; p++) *n += *p == ',';
    char **items = xcalloc(*n, sizeof *items);
    for (size_t i = 0; i < *n; i++) {
        size_t len = strcspn(s, ",");
        if (len == 0) die_usage("%s: an empty item in '%s'", opt, s);
        items[i] = xstrndup(s, len);
        s += len + 1;
    }
    return items;
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++) free(items[i]);
    free(items);
}

/* A whole JSON document; invalid JSON dies naming the line. */
static cJSON *read_json_document(const char *path)
{
    FILE *f = open_input(path);
    strbuf b = {0};
    if (sb_read_stream(&b, f) < 0) die("%s: read error: %s", input_name(path), strerror(errno));
    if (f != stdin) fclose(f);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(sb_str(&b), b.len, &end, 0);
    if (!j) {
        const char *err = cJSON_GetErrorPtr();
        long line = 1;
        for (const char *p = sb_str(&b); err && p < err; p++) line += *p == '\n';
        die_at(input_name(path), line, "invalid JSON");
    }
    sb_free(&b);
    return j;
}

static const cJSON *member(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* ------------------------------------------------------------- confusion */

static void chart_confusion(svg *s, const config *c)
{
    const char *name = input_name(c->files[0]);
    cJSON *doc = read_json_document(c->files[0]);
    if (member(doc, "runs")) die_at(name, 0, "a --compare document: plot one run's `metrics --json`");
    const cJSON *classes = member(doc, "classes"), *cm = member(doc, "confusion_matrix");
    if (!cJSON_IsArray(classes) || !cJSON_IsArray(cm))
        die_at(name, 0, "not a `metrics --json` document (no \"classes\" and \"confusion_matrix\")");
    size_t k = (size_t)cJSON_GetArraySize(classes);
    if (k == 0 || (size_t)cJSON_GetArraySize(cm) != k) die_at(name, 0, "\"confusion_matrix\" is not %zu x %zu", k, k);
    char **labels = xcalloc(k, sizeof *labels);
    size_t *counts = xcalloc(k * k, sizeof *counts);
    for (size_t i = 0; i < k; i++) {
        const cJSON *l = cJSON_GetArrayItem(classes, (int)i), *row = cJSON_GetArrayItem(cm, (int)i);
        if (!cJSON_IsString(l)) die_at(name, 0, "class %zu is not a string", i + 1);
        labels[i] = l->valuestring;
        if (!cJSON_IsArray(row) || (size_t)cJSON_GetArraySize(row) != k)
            die_at(name, 0, "\"confusion_matrix\" is not %zu x %zu", k, k);
        for (size_t j = 0; j < k; j++) {
            const cJSON *v = cJSON_GetArrayItem(row, (int)j);
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
                die_at(name, 0, "\"confusion_matrix\" holds a value that is not a count");
            counts[i * k + j] = (size_t)v->valuedouble;
        }
    }
    strbuf sub = {0};
    if (c->title) {
        sb_adds(&sub, c->title);
    } else {
        const cJSON *run = member(doc, "name"), *n = member(doc, "n"), *acc = member(doc, "accuracy");
        if (cJSON_IsString(run)) sb_adds(&sub, run->valuestring);
        if (cJSON_IsNumber(n) && cJSON_IsNumber(acc)) {
            char buf[96];
            snprintf(buf, sizeof buf, "%s%.0f records, accuracy %.4f", sub.len ? " \xE2\x80\x94 " : "", n->valuedouble,
                     acc->valuedouble);
            sb_adds(&sub, buf);
        }
    }
    plot_confusion(s, labels, k, counts, c->normalize, sub.len ? sub.s : NULL);
    sb_free(&sub);
    free(labels);
    free(counts);
    cJSON_Delete(doc);
}

/* --------------------------------------------------------------- ROC / PR */

static void chart_scores(svg *s, const config *c, int roc)
{
    pred_set set;
    pred_set_read(&set, c->files[0], &c->fields);
    if (!set.has_probs) die_at(set.name, 0, "no \"probs\" in the records: no %s curves", roc ? "ROC" : "PR");
    size_t only = (size_t)-1;
    if (c->positive) {
        only = pred_set_class(&set, c->positive);
        if (only == (size_t)-1)
            die_at(set.name, 0, "--positive: no class \"%s\" among gold labels, predictions or probs keys",
                   c->positive);
    }
    metrics m;
    metrics_compute(&m, &set);
    double *score = xmalloc(set.n * sizeof *score);
    unsigned char *truth = xmalloc(set.n);
    curve *curves = xcalloc(set.nclasses, sizeof *curves);
    plot_series *series = xcalloc(set.nclasses, sizeof *series);
    char **names = xcalloc(set.nclasses, sizeof *names);
    size_t ns = 0;
    for (size_t k = 0; k < set.nclasses; k++) {
        if (only != (size_t)-1 && k != only) continue;
        const class_metrics *cm = &m.per_class[k];
        strbuf name = {0}; /* the legend's note */
        char buf[64];
        plot_series *p = &series[ns];
        if (!class_scores(&set, k, score, truth)) {
            sb_adds(&name, " (no scores: not a model class)");
            p->faded = 1;
        } else if (roc) {
            roc_curve_binary(&curves[k], score, truth, set.n);
            if (isnan(cm->roc_auc)) {
                sb_adds(&name, cm->support ? " (AUC undefined: every record)" : " (AUC undefined: not in gold)");
                p->faded = 1;
            } else {
                snprintf(buf, sizeof buf, " (AUC = %.4f)", cm->roc_auc);
                sb_adds(&name, buf);
            }
        } else {
            pr_curve_binary(&curves[k], score, truth, set.n);
            snprintf(buf, sizeof buf, " (AP = %.4f)", cm->average_precision);
            sb_adds(&name, buf);
            if (!cm->support) {
                sb_adds(&name, ", not in gold");
                p->faded = 1;
            }
        }
        names[ns] = name.s;
        p->name = set.classes[k];
        p->note = names[ns];
        p->n = curves[k].n;
        p->x = curves[k].x;
        p->y = curves[k].y;
        p->steps = !roc;
        ns++;
    }
    char sub[160];
    if (roc)
        snprintf(sub, sizeof sub, isnan(m.roc_auc_macro) ? "ROC, one-vs-rest: no class has an AUC"
                                                         : "ROC, one-vs-rest: macro AUC = %.4f over %zu classes",
                 m.roc_auc_macro, m.roc_auc_classes);
    else
        snprintf(sub, sizeof sub, "Precision-recall, one-vs-rest: macro AP = %.4f", m.ap_macro);
    line_chart chart = {
        .title = sub,
        .xlabel = roc ? "False positive rate" : "Recall",
        .ylabel = roc ? "True positive rate" : "Precision",
        .xmin = 0, .xmax = 1, .ymin = 0, .ymax = 1,
        .diagonal = roc,
        .square = 1,
        .series = series,
        .nseries = ns,
    };
    strbuf title = {0};
    sb_adds(&title, c->title ? c->title : set.name);
    plot_line_charts(s, &chart, 1, title.s);
    sb_free(&title);
    for (size_t k = 0; k < set.nclasses; k++) curve_free(&curves[k]);
    for (size_t i = 0; i < ns; i++) free(names[i]);
    free(names);
    free(curves);
    free(series);
    free(score);
    free(truth);
    metrics_free(&m);
    pred_set_free(&set);
}

/* ------------------------------------------------------------------ table */

/* A CSV table with a header, read whole into strings (run tables are
 * small). */
typedef struct table {
    char *name;   /* for messages */
    char **head;  /* the header's column names */
    size_t ncols, nrows;
    char **cells; /* [row * ncols + column] */
    long head_line, *line; /* where the header and each row start */
} table;

static void table_read(table *t, const char *path)
{
    memset(t, 0, sizeof *t);
    csv_reader *r = csv_open(path, 0);
    t->name = xstrdup(csv_name(r));
    csv_row row;
    if (!csv_next(r, &row)) die_at(t->name, 0, "empty CSV");
    t->ncols = row.n;
    t->head_line = row.line;
    t->head = xcalloc(row.n, sizeof *t->head);
    for (size_t i = 0; i < row.n; i++) t->head[i] = xstrdup(row.field[i].s);
    size_t cap = 0;
    while (csv_next(r, &row)) {
        if (row.n != t->ncols) die_at(t->name, row.line, "%zu fields, the header has %zu", row.n, t->ncols);
        if (t->nrows == cap) {
            cap = cap ? 2 * cap : 16;
            t->cells = xrealloc(t->cells, cap * t->ncols * sizeof *t->cells);
            t->line = xrealloc(t->line, cap * sizeof *t->line);
        }
        for (size_t i = 0; i < row.n; i++) t->cells[t->nrows * t->ncols + i] = xstrdup(row.field[i].s);
        t->line[t->nrows++] = row.line;
    }
    csv_close(r);
}

static void table_free(table *t)
{
    free_list(t->head, t->ncols);
    free_list(t->cells, t->nrows * t->ncols);
    free(t->line);
    free(t->name);
}

/* the index of a column, or -1 */
static long table_find(const table *t, const char *col)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->head[i], col) == 0) return (long)i;
    return -1;
}

/* the index of a column; a table without it is bad input */
static size_t table_column(const table *t, const char *col)
{
    long i = table_find(t, col);
    if (i >= 0) return (size_t)i;
    strbuf have = {0};
    for (size_t k = 0; k < t->ncols; k++) {
        if (k) sb_adds(&have, ", ");
        sb_adds(&have, t->head[k]);
    }
    die_at(t->name, t->head_line, "no column \"%s\" (columns: %s)", col, have.s ? have.s : "none");
}

static const char *table_cell(const table *t, size_t row, size_t col) { return t->cells[row * t->ncols + col]; }

/* a cell as a number: NAN when empty (an undefined metric), bad input when
 * not a finite number */
static double table_number(const table *t, size_t row, size_t col)
{
    const char *s = table_cell(t, row, col);
    if (!*s) return NAN;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v))
        die_at(t->name, t->line[row], "\"%s\" is not a number in column %s", s, t->head[col]);
    return v;
}

/* ------------------------------------------------------------------- bars */

typedef struct run_values {
    char **names;
    double *values; /* [run * nmetrics + metric] */
    size_t n, cap;
} run_values;

static double *add_run(run_values *rv, const char *name, size_t nmetrics)
{
    if (rv->n == rv->cap) {
        rv->cap = rv->cap ? 2 * rv->cap : 8;
        rv->names = xrealloc(rv->names, rv->cap * sizeof *rv->names);
        rv->values = xrealloc(rv->values, rv->cap * nmetrics * sizeof *rv->values);
    }
    rv->names[rv->n] = xstrdup(name);
    return rv->values + nmetrics * rv->n++;
}

static void runs_from_document(run_values *rv, const char *path, const cJSON *doc, const cJSON *run,
                               char *const *metric, size_t nm)
{
    const char *name = input_name(path);
    const cJSON *summary = member(run, "summary"), *rn = member(run, "name");
    if (!cJSON_IsObject(summary)) die_at(name, 0, "not a `metrics --json` document (no \"summary\")");
    double *v = add_run(rv, cJSON_IsString(rn) ? rn->valuestring : name, nm);
    for (size_t k = 0; k < nm; k++) {
        const cJSON *x = member(summary, metric[k]);
        v[k] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
    }
    (void)doc;
}

static void runs_from_csv(run_values *rv, const char *path, char *const *metric, size_t nm)
{
    table t;
    table_read(&t, path);
    long run_col = table_find(&t, "run");
    if (run_col < 0) die_at(t.name, t.head_line, "no \"run\" column: not a `metrics --compare` table");
    size_t *col = xmalloc(nm * sizeof *col);
    for (size_t k = 0; k < nm; k++) col[k] = table_column(&t, metric[k]);
    for (size_t r = 0; r < t.nrows; r++) {
        double *v = add_run(rv, table_cell(&t, r, (size_t)run_col), nm);
        for (size_t k = 0; k < nm; k++) v[k] = table_number(&t, r, col[k]);
    }
    free(col);
    table_free(&t);
}

static void chart_bars(svg *s, const config *c)
{
    size_t nm;
    char **metric = split_list("--metrics", c->metrics ? c->metrics : "accuracy,macro_precision,macro_recall,"
                                                                      "macro_f1,weighted_f1", &nm);
    for (size_t k = 0; k < nm; k++)
        if (summary_lookup(metric[k]) < 0) die_usage("--metrics: no summary metric '%s'", metric[k]);
    run_values rv = {0};
    for (size_t i = 0; i < c->nfiles; i++) {
        const char *path = c->files[i];
        size_t len = strlen(path);
        if (len >= 4 && strcmp(path + len - 4, ".csv") == 0) {
            runs_from_csv(&rv, path, metric, nm);
            continue;
        }
        cJSON *doc = read_json_document(path);
        const cJSON *runs = member(doc, "runs");
        if (cJSON_IsArray(runs)) {
            for (const cJSON *r = runs->child; r; r = r->next) runs_from_document(&rv, path, doc, r, metric, nm);
        } else {
            runs_from_document(&rv, path, doc, doc, metric, nm);
        }
        cJSON_Delete(doc);
    }
    if (rv.n == 0) die("bars: no runs in the input");
    if (c->names) {
        size_t nn;
        char **names = split_list("--names", c->names, &nn);
        if (nn != rv.n) die_usage("--names: %zu names for %zu runs", nn, rv.n);
        for (size_t i = 0; i < nn; i++) {
            free(rv.names[i]);
            rv.names[i] = names[i];
        }
        free(names);
    }
    /* values by run for plot_bars: [run * ngroups + metric] is what we hold */
    char **display = xcalloc(nm, sizeof *display);
    for (size_t k = 0; k < nm; k++) {
        display[k] = xstrdup(metric[k]);
        for (char *p = display[k]; *p; p++)
            if (*p == '_') *p = ' ';
    }
    plot_bars(s, c->title ? c->title : "Comparison of runs", display, nm, rv.names, rv.n, rv.values);
    free_list(display, nm);
    free_list(rv.names, rv.n);
    free(rv.values);
    free_list(metric, nm);
}

/* ----------------------------------------------------------------- curves */

typedef struct log_series {
    char *key;
    double *x, *y;
    size_t n, cap;
} log_series;

/* Fields are grouped by scale: metrics in [0, 1] would be flattened beside a
 * gradient norm of 10, so norms get their own panel. */
enum panel { PANEL_LOSS, PANEL_METRIC, PANEL_NORM, PANEL_LR, N_PANELS };

static enum panel panel_of(const char *key)
{
    if (strstr(key, "loss")) return PANEL_LOSS;
    if (strcmp(key, "lr") == 0 || strstr(key, "learning_rate")) return PANEL_LR;
    if (strstr(key, "norm")) return PANEL_NORM;
    return PANEL_METRIC;
}

static void chart_curves(svg *s, const config *c)
{
    const char *xf = c->xfield ? c->xfield : "step";
    ndjson_reader r;
    ndjson_open(&r, c->files[0]);
    log_series *ser = NULL;
    size_t nser = 0, nrec = 0;
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        const cJSON *xv = member(rec, xf);
        if (!xv) {
            cJSON_Delete(rec);
            continue; /* a line without the x field (a final summary) */
        }
        if (!cJSON_IsNumber(xv)) die_at(r.name, r.line, "\"%s\" is not a number", xf);
        nrec++;
        for (const cJSON *m = rec->child; m; m = m->next) {
            if (!cJSON_IsNumber(m) || strcmp(m->string, xf) == 0 || strcmp(m->string, "step") == 0 ||
                strcmp(m->string, "epoch") == 0)
                continue;
            size_t i = 0;
            while (i < nser && strcmp(ser[i].key, m->string) != 0) i++;
            if (i == nser) {
                ser = xrealloc(ser, (nser + 1) * sizeof *ser);
                memset(&ser[nser], 0, sizeof *ser);
                ser[nser++].key = xstrdup(m->string);
            }
            log_series *p = &ser[i];
            if (p->n == p->cap) {
                p->cap = p->cap ? 2 * p->cap : 64;
                p->x = xrealloc(p->x, p->cap * sizeof *p->x);
                p->y = xrealloc(p->y, p->cap * sizeof *p->y);
            }
            p->x[p->n] = xv->valuedouble;
            p->y[p->n++] = m->valuedouble;
        }
        cJSON_Delete(rec);
    }
    const char *name = xstrdup(r.name);
    ndjson_close(&r);
    if (nrec == 0) die_at(name, 0, "no log records with \"%s\"", xf);
    if (nser == 0) die_at(name, 0, "no numeric fields to plot besides \"%s\"", xf);

    static const char *const panel_title[N_PANELS] = {"Loss", "Metrics", "Gradient norm", "Learning rate"};
    line_chart charts[N_PANELS];
    plot_series *series = xcalloc(nser, sizeof *series);
    size_t ncharts = 0, used = 0;
    for (int pn = 0; pn < N_PANELS; pn++) {
        size_t first = used;
        for (size_t i = 0; i < nser; i++) {
            if (panel_of(ser[i].key) != (enum panel)pn) continue;
            plot_series *p = &series[used++];
            p->name = ser[i].key;
            p->n = ser[i].n;
            p->x = ser[i].x;
            p->y = ser[i].y;
            p->markers = ser[i].n <= 40;
        }
        if (used == first) continue;
        line_chart *ch = &charts[ncharts++];
        memset(ch, 0, sizeof *ch);
        ch->title = panel_title[pn];
        ch->xlabel = xf;
        ch->xmin = ch->xmax = ch->ymax = NAN;
        /* losses, norms and rates from zero, metrics as they fall */
        ch->ymin = pn == PANEL_METRIC ? NAN : 0;
        ch->series = series + first;
        ch->nseries = used - first;
    }
    plot_line_charts(s, charts, ncharts, c->title ? c->title : "Training curves");
    for (size_t i = 0; i < nser; i++) {
        free(ser[i].key);
        free(ser[i].x);
        free(ser[i].y);
    }
    free(ser);
    free(series);
    free((char *)name);
}

/* ---------------------------------------------------------- lines, scatter */

/* The rows of one value of the --group column, in table order. */
typedef struct row_group {
    char *name;
    double *x, *y;
    char **labels; /* scatter --label, else NULL items */
    size_t n, cap;
    /* what is drawn: */
    double *err;
    char **tips;
    size_t ndrawn;
} row_group;

typedef struct pair {
    double x, y;
} pair;

static int by_x(const void *a, const void *b)
{
    double u = ((const pair *)a)->x, v = ((const pair *)b)->x;
    return (u > v) - (u < v);
}

/* y as a tooltip shows it */
static void value_text(char *buf, size_t size, double v)
{
    double a = fabs(v);
    snprintf(buf, size, a == 0 || (a >= 1e-3 && a < 1e5) ? "%.4f" : "%.4g", v);
}

/* The rows with both values, by group (in order of first appearance). */
static row_group *table_groups(const config *c, const table *t, size_t *ngroups)
{
    size_t xc = table_column(t, c->xfield), yc = table_column(t, c->yfield);
    long gc = c->group ? (long)table_column(t, c->group) : -1;
    long lc = c->label ? (long)table_column(t, c->label) : -1;
    if (t->nrows == 0) die_at(t->name, 0, "no rows under the header");
    row_group *g = NULL;
    size_t ng = 0, used = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        double x = table_number(t, r, xc), y = table_number(t, r, yc);
        if (isnan(x) || isnan(y)) continue; /* an empty cell: nothing to plot */
        if (c->xlog && !(x > 0))
            die_at(t->name, t->line[r], "%g in column %s: --x-log needs values above 0", x, c->xfield);
        const char *name = gc >= 0 ? table_cell(t, r, (size_t)gc) : c->yfield;
        if (!*name) name = "(empty)";
        size_t i = 0;
        while (i < ng && strcmp(g[i].name, name) != 0) i++;
        if (i == ng) {
            g = xrealloc(g, (ng + 1) * sizeof *g);
            memset(&g[ng], 0, sizeof *g);
            g[ng++].name = xstrdup(name);
        }
        row_group *p = &g[i];
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 8;
            p->x = xrealloc(p->x, p->cap * sizeof *p->x);
            p->y = xrealloc(p->y, p->cap * sizeof *p->y);
            p->labels = xrealloc(p->labels, p->cap * sizeof *p->labels);
        }
        p->x[p->n] = x;
        p->y[p->n] = y;
        p->labels[p->n++] = lc >= 0 && *table_cell(t, r, (size_t)lc) ? xstrdup(table_cell(t, r, (size_t)lc)) : NULL;
        used++;
    }
    if (used == 0) die_at(t->name, 0, "no row has values in both %s and %s", c->xfield, c->yfield);
    *ngroups = ng;
    return g;
}

/* "variant = accept, gamma = 4" */
static void point_head(strbuf *b, const config *c, const row_group *g, const char *label, double x)
{
    char buf[64];
    if (label) {
        sb_adds(b, label);
        sb_adds(b, ": ");
    }
    if (c->group) {
        sb_adds(b, c->group);
        sb_adds(b, " = ");
        sb_adds(b, g->name);
        sb_adds(b, ", ");
    }
    snprintf(buf, sizeof buf, "%s = %.6g", c->xfield, x);
    sb_adds(b, buf);
}

/* lines: each group sorted by x, the rows at one x replaced by their mean,
 * with the sample standard deviation (n - 1) as the error */
static void aggregate(const config *c, row_group *g)
{
    pair *p = xmalloc(g->n * sizeof *p);
    for (size_t i = 0; i < g->n; i++) p[i] = (pair){g->x[i], g->y[i]};
    qsort(p, g->n, sizeof *p, by_x);
    g->err = xmalloc(g->n * sizeof *g->err);
    g->tips = xcalloc(g->n, sizeof *g->tips);
    size_t m = 0;
    for (size_t i = 0; i < g->n;) {
        size_t j = i;
        double sum = 0, ss = 0;
        while (j < g->n && p[j].x == p[i].x) sum += p[j++].y;
        size_t k = j - i;
        double mean = sum / (double)k;
        for (size_t q = i; q < j; q++) ss += (p[q].y - mean) * (p[q].y - mean);
        double sd = k > 1 ? sqrt(ss / (double)(k - 1)) : NAN;
        strbuf tip = {0};
        char mbuf[32], sbuf[32], buf[128];
        point_head(&tip, c, g, NULL, p[i].x);
        value_text(mbuf, sizeof mbuf, mean);
        if (k > 1) {
            value_text(sbuf, sizeof sbuf, sd);
            snprintf(buf, sizeof buf, ": %s %s \xC2\xB1 %s (mean \xC2\xB1 sd of %zu rows)", c->yfield, mbuf, sbuf, k);
        } else {
            snprintf(buf, sizeof buf, ": %s %s", c->yfield, mbuf);
        }
        sb_adds(&tip, buf);
        g->x[m] = p[i].x;
        g->y[m] = mean;
        g->err[m] = sd;
        g->tips[m++] = tip.s;
        i = j;
    }
    g->ndrawn = m;
    free(p);
}

/* scatter: a point per row, its tooltip naming it */
static void point_tips(const config *c, row_group *g)
{
    g->tips = xcalloc(g->n, sizeof *g->tips);
    for (size_t i = 0; i < g->n; i++) {
        strbuf tip = {0};
        char ybuf[32];
        point_head(&tip, c, g, g->labels[i], g->x[i]);
        value_text(ybuf, sizeof ybuf, g->y[i]);
        sb_adds(&tip, ", ");
        sb_adds(&tip, c->yfield);
        sb_adds(&tip, " = ");
        sb_adds(&tip, ybuf);
        g->tips[i] = tip.s;
    }
    g->ndrawn = g->n;
}

static void chart_table(svg *s, const config *c)
{
    int lines = c->chart == LINES;
    table t;
    table_read(&t, c->files[0]);
    size_t ng;
    row_group *g = table_groups(c, &t, &ng);
    plot_series *series = xcalloc(ng, sizeof *series);
    for (size_t i = 0; i < ng; i++) {
        if (lines) aggregate(c, &g[i]);
        else point_tips(c, &g[i]);
        plot_series *p = &series[i];
        p->name = g[i].name;
        p->n = g[i].ndrawn;
        p->x = g[i].x;
        p->y = g[i].y;
        p->tips = g[i].tips;
        p->markers = 1;
        p->no_line = !lines;
        p->err = lines ? g[i].err : NULL;
        p->labels = c->label ? g[i].labels : NULL;
    }
    strbuf xlabel = {0}, title = {0};
    sb_adds(&xlabel, c->xfield);
    if (c->xlog) sb_adds(&xlabel, " (log scale)");
    if (c->title) sb_adds(&title, c->title);
    else {
        sb_adds(&title, c->yfield);
        sb_adds(&title, lines ? " by " : " against ");
        sb_adds(&title, c->xfield);
    }
    line_chart chart = {
        .xlabel = xlabel.s,
        .ylabel = c->yfield,
        .xmin = NAN, .xmax = NAN, .ymin = NAN, .ymax = NAN,
        .margins = 1,
        .xlog2 = c->xlog,
        .legend_title = c->group,
        .series = series,
        .nseries = ng,
        .hlines = c->hlines, .nhlines = c->nhlines,
        .vlines = c->vlines, .nvlines = c->nvlines,
    };
    plot_line_charts(s, &chart, 1, title.s);
    sb_free(&xlabel);
    sb_free(&title);
    for (size_t i = 0; i < ng; i++) {
        free(g[i].name);
        free(g[i].x);
        free(g[i].y);
        free(g[i].err);
        for (size_t j = 0; j < g[i].n; j++) free(g[i].labels[j]);
        free(g[i].labels);
        free_list(g[i].tips, g[i].ndrawn);
    }
    free(g);
    free(series);
    table_free(&t);
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    config c;
    parse_args(&c, argc, argv);
    svg s;
    switch (c.chart) {
    case CONFUSION: chart_confusion(&s, &c); break;
    case ROC: chart_scores(&s, &c, 1); break;
    case PR: chart_scores(&s, &c, 0); break;
    case BARS: chart_bars(&s, &c); break;
    case CURVES: chart_curves(&s, &c); break;
    case LINES:
    case SCATTER: chart_table(&s, &c); break;
    case N_CHARTS: break;
    }
    outfile out;
    out_open(&out, c.output);
    fwrite(s.b.s, 1, s.b.len, out.f);
    out_commit(&out);
    svg_free(&s);
    free(c.hlines);
    free(c.vlines);
    return 0;
}
