/* metrics_report: how `metrics` shows its scores — the human-readable text
 * report, the full JSON document (--json, read back by cmplot) and the
 * table comparing runs (--compare, Markdown or CSV). The summary metrics
 * (one number per run) have fixed names shared by the JSON "summary"
 * object, the compare table's columns and cmplot's bar charts. */
#ifndef PIPECLF_METRICS_REPORT_H
#define PIPECLF_METRICS_REPORT_H

#include <stdio.h>

#include "metrics.h"
#include "core/strbuf.h"

/* Everything computed for one prediction file. Optional parts are NULL. */
typedef struct run_report {
    const char *name;                   /* --names entry, else the file name */
    const pred_set *s;
    const metrics *m;
    const positive_metrics *positive;   /* --positive */
    const char *by_field;               /* --by */
    const group_metrics *groups;        /* s->ngroups entries */
    const size_t *train_count;          /* --train: per class */
    const size_bin *bins;               /* --bins over train counts */
    size_t nbins;
    const size_t *bin_of;               /* per class: its bin or (size_t)-1 */
    const top_k_metrics *top_k;         /* --top-k */
} run_report;

/* The summary metrics, in table order. */
typedef enum summary_metric {
    SUM_ACCURACY, SUM_MACRO_PRECISION, SUM_MACRO_RECALL, SUM_MACRO_F1, SUM_WEIGHTED_F1,
    SUM_ROC_AUC_MACRO, SUM_AP_MACRO, SUM_LOG_LOSS, SUM_ECE, SUM_TOP_K_ACCURACY,
    SUM_POS_PRECISION, SUM_POS_RECALL, SUM_POS_F1, SUM_POS_PREDICTED_RATE,
    SUM_COUNT
} summary_metric;
/* "accuracy", "macro_precision", ..., "pos_predicted_rate" */
extern const char *const summary_names[SUM_COUNT];
/* The value of a summary metric for a run; NAN when it has none (no
 * probabilities, no --top-k, no --positive). */
double summary_value(const run_report *r, summary_metric k);
/* The metric of a name, or -1. */
int summary_lookup(const char *name);

/* The JSON document, pretty-printed, ending with a newline. */
void report_json(strbuf *b, const run_report *r);
/* Several runs: {"runs": [document, ...]} */
void report_json_runs(strbuf *b, const run_report *runs, size_t n);
/* The text report. */
void report_text(FILE *f, const run_report *r);

typedef enum table_format { TABLE_MD, TABLE_CSV } table_format;
/* One row per run: name, file, n, every summary metric (top-k and positive
 * columns only if some run has --top-k or --positive; then also the k or
 * the positive label after n). Markdown rounds to 4 decimals; CSV
 * prints round-trip numbers. An undefined value is an empty cell. */
void compare_table(FILE *f, const run_report *runs, size_t n, table_format fmt);

#endif
