#include "metrics_report.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "core/numfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const summary_names[SUM_COUNT] = {
    "accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1",
    "roc_auc_macro", "average_precision_macro", "log_loss", "ece", "top_k_accuracy",
    "pos_precision", "pos_recall", "pos_f1", "pos_predicted_rate",
};

double summary_value(const run_report *r, summary_metric k)
{
    const metrics *m = r->m;
    const positive_metrics *p = r->positive;
    switch (k) {
    case SUM_ACCURACY: return m->accuracy;
    case SUM_MACRO_PRECISION: return m->macro.precision;
    case SUM_MACRO_RECALL: return m->macro.recall;
    case SUM_MACRO_F1: return m->macro.f1;
    case SUM_WEIGHTED_F1: return m->weighted.f1;
    case SUM_ROC_AUC_MACRO: return m->roc_auc_macro;
    case SUM_AP_MACRO: return m->ap_macro;
    case SUM_LOG_LOSS: return m->log_loss;
    case SUM_ECE: return m->ece;
    case SUM_TOP_K_ACCURACY: return r->top_k ? r->top_k->accuracy : NAN;
    case SUM_POS_PRECISION: return p ? p->s.precision : NAN;
    case SUM_POS_RECALL: return p ? p->s.recall : NAN;
    case SUM_POS_F1: return p ? p->s.f1 : NAN;
    case SUM_POS_PREDICTED_RATE: return p ? p->predicted_rate : NAN;
    default: return NAN;
    }
}

/* Whether a run's JSON summary has the metric: the optional ones only when
 * asked for. */
static int summary_present(const run_report *r, int k)
{
    if (k == SUM_TOP_K_ACCURACY) return r->top_k != NULL;
    if (k >= SUM_POS_PRECISION) return r->positive != NULL;
    return 1;
}

int summary_lookup(const char *name)
{
    for (int k = 0; k < SUM_COUNT; k++)
        if (strcmp(summary_names[k], name) == 0) return k;
    return -1;
}

/* ------------------------------------------------------------------- JSON */

static void j_num(strbuf *b, double v)
{
    char buf[NUMFMT_MAX];
    if (!isfinite(v)) sb_adds(b, "null");
    else sb_addn(b, buf, (size_t)fmt_double(buf, v));
}

static void j_size(strbuf *b, size_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", v);
    sb_adds(b, buf);
}

static void j_str(strbuf *b, const char *s) { json_quote(b, s, strlen(s)); }

/* `"key": ` after a separator (nothing before the first member) */
static void j_key(strbuf *b, const char *sep, const char *key)
{
    sb_adds(b, sep);
    j_str(b, key);
    sb_adds(b, ": ");
}

static void j_prf(strbuf *b, const prf *p)
{
    j_key(b, "{", "precision");
    j_num(b, p->precision);
    j_key(b, ", ", "recall");
    j_num(b, p->recall);
    j_key(b, ", ", "f1");
    j_num(b, p->f1);
}

static void bin_label(char *buf, size_t size, const size_bin *bin, int first)
{
    char lo[NUMFMT_MAX], hi[NUMFMT_MAX];
    fmt_double(lo, bin->lo);
    if (isinf(bin->hi)) strcpy(hi, "inf");
    else fmt_double(hi, bin->hi);
    snprintf(buf, size, "%s%s, %s]", first ? "[" : "(", lo, hi);
}

static void json_document(strbuf *b, const run_report *r, const char *indent)
{
    const pred_set *s = r->s;
    const metrics *m = r->m;
    strbuf nl = {0}; /* newline + indent of a member */
    sb_adds(&nl, ",\n");
    sb_adds(&nl, indent);
    sb_adds(&nl, "  ");
    const char *sep = nl.s;

    sb_adds(b, "{\n");
    sb_adds(b, indent);
    j_key(b, "  ", "name");
    j_str(b, r->name);
    j_key(b, sep, "file");
    j_str(b, s->name);
    j_key(b, sep, "n");
    j_size(b, s->n);
    j_key(b, sep, "classes");
    sb_addc(b, '[');
    for (size_t k = 0; k < s->nclasses; k++) {
        if (k) sb_adds(b, ", ");
        j_str(b, s->classes[k]);
    }
    sb_addc(b, ']');
    j_key(b, sep, "summary");
    for (int k = 0; k < SUM_COUNT; k++) {
        if (!summary_present(r, k)) continue;
        j_key(b, k ? ", " : "{", summary_names[k]); /* accuracy, first, is always there */
        j_num(b, summary_value(r, (summary_metric)k));
    }
    sb_addc(b, '}');
    j_key(b, sep, "accuracy");
    j_num(b, m->accuracy);
    j_key(b, sep, "correct");
    j_size(b, m->correct);
    j_key(b, sep, "macro");
    j_prf(b, &m->macro);
    j_key(b, ", ", "classes");
    j_size(b, m->macro_classes);
    sb_addc(b, '}');
    j_key(b, sep, "weighted");
    j_prf(b, &m->weighted);
    sb_addc(b, '}');
    j_key(b, sep, "has_probs");
    sb_adds(b, m->has_probs ? "true" : "false");
    j_key(b, sep, "roc_auc_macro");
    j_num(b, m->roc_auc_macro);
    j_key(b, sep, "roc_auc_classes");
    j_size(b, m->roc_auc_classes);
    j_key(b, sep, "average_precision_macro");
    j_num(b, m->ap_macro);
    j_key(b, sep, "log_loss");
    j_num(b, m->log_loss);
    j_key(b, sep, "ece");
    j_num(b, m->ece);
    if (r->top_k) {
        j_key(b, sep, "top_k");
        j_key(b, "{", "k");
        j_size(b, r->top_k->k);
        j_key(b, ", ", "correct");
        j_size(b, r->top_k->correct);
        j_key(b, ", ", "accuracy");
        j_num(b, r->top_k->accuracy);
        sb_addc(b, '}');
    }

    j_key(b, sep, "per_class");
    sb_addc(b, '[');
    for (size_t k = 0; k < s->nclasses; k++) {
        const class_metrics *c = &m->per_class[k];
        sb_adds(b, k ? sep : "\n");
        if (!k) sb_adds(b, indent), sb_adds(b, "  ");
        j_key(b, "  {", "label");
        j_str(b, s->classes[k]);
        j_key(b, ", ", "support");
        j_size(b, c->support);
        j_key(b, ", ", "predicted");
        j_size(b, c->predicted);
        j_key(b, ", ", "tp");
        j_size(b, c->tp);
        j_key(b, ", ", "precision");
        j_num(b, c->s.precision);
        j_key(b, ", ", "recall");
        j_num(b, c->s.recall);
        j_key(b, ", ", "f1");
        j_num(b, c->s.f1);
        j_key(b, ", ", "predicted_rate");
        j_num(b, c->predicted_rate);
        j_key(b, ", ", "in_macro");
        sb_adds(b, c->in_macro ? "true" : "false");
        j_key(b, ", ", "scored");
        sb_adds(b, s->col[k] >= 0 ? "true" : "false");
        j_key(b, ", ", "roc_auc");
        j_num(b, c->roc_auc);
        j_key(b, ", ", "average_precision");
        j_num(b, c->average_precision);
        if (r->train_count) {
            j_key(b, ", ", "train_count");
            j_size(b, r->train_count[k]);
        }
        sb_addc(b, '}');
    }
    sb_addc(b, ']');

    j_key(b, sep, "confusion_matrix");
    sb_addc(b, '[');
    for (size_t g = 0; g < s->nclasses; g++) {
        sb_adds(b, g ? sep : "\n");
        if (!g) sb_adds(b, indent), sb_adds(b, "  ");
        sb_adds(b, "  [");
        for (size_t p = 0; p < s->nclasses; p++) {
            if (p) sb_adds(b, ", ");
            j_size(b, m->confusion[g * s->nclasses + p]);
        }
        sb_addc(b, ']');
    }
    sb_addc(b, ']');

    if (m->has_probs) {
        j_key(b, sep, "calibration");
        j_key(b, "{", "n_bins");
        j_size(b, METRICS_CALIB_BINS);
        j_key(b, ", ", "ece");
        j_num(b, m->ece);
        j_key(b, ", ", "bins");
        sb_addc(b, '[');
        for (size_t i = 0; i < METRICS_CALIB_BINS; i++) {
            const calib_bin *cb = &m->calib[i];
            sb_adds(b, i ? sep : "\n");
            if (!i) sb_adds(b, indent), sb_adds(b, "  ");
            j_key(b, "  {", "lo");
            j_num(b, cb->lo);
            j_key(b, ", ", "hi");
            j_num(b, cb->hi);
            j_key(b, ", ", "n");
            j_size(b, cb->n);
            j_key(b, ", ", "confidence");
            j_num(b, cb->confidence);
            j_key(b, ", ", "accuracy");
            j_num(b, cb->accuracy);
            sb_addc(b, '}');
        }
        sb_adds(b, "]}");
    }

    if (r->positive) {
        const positive_metrics *p = r->positive;
        j_key(b, sep, "positive");
        j_key(b, "{", "label");
        j_str(b, p->label);
        j_key(b, ", ", "support");
        j_size(b, p->support);
        j_key(b, ", ", "predicted");
        j_size(b, p->predicted);
        j_key(b, ", ", "precision");
        j_num(b, p->s.precision);
        j_key(b, ", ", "recall");
        j_num(b, p->s.recall);
        j_key(b, ", ", "f1");
        j_num(b, p->s.f1);
        j_key(b, ", ", "predicted_rate");
        j_num(b, p->predicted_rate);
        j_key(b, ", ", "gold_rate");
        j_num(b, p->gold_rate);
        sb_addc(b, '}');
    }

    if (r->groups) {
        j_key(b, sep, "by");
        j_key(b, "{", "field");
        j_str(b, r->by_field);
        j_key(b, ", ", "groups");
        sb_addc(b, '[');
        for (size_t g = 0; g < s->ngroups; g++) {
            const group_metrics *gm = &r->groups[g];
            sb_adds(b, g ? sep : "\n");
            if (!g) sb_adds(b, indent), sb_adds(b, "  ");
            j_key(b, "  {", "value");
            j_str(b, gm->value);
            j_key(b, ", ", "n");
            j_size(b, gm->n);
            j_key(b, ", ", "correct");
            j_size(b, gm->correct);
            j_key(b, ", ", "accuracy");
            j_num(b, gm->accuracy);
            j_key(b, ", ", "macro_f1");
            j_num(b, gm->macro_f1);
            sb_addc(b, '}');
        }
        sb_adds(b, "]}");
    }

    if (r->bins) {
        j_key(b, sep, "class_size_bins");
        sb_addc(b, '[');
        for (size_t i = 0; i < r->nbins; i++) {
            const size_bin *bin = &r->bins[i];
            char label[2 * NUMFMT_MAX + 8];
            bin_label(label, sizeof label, bin, i == 0);
            sb_adds(b, i ? sep : "\n");
            if (!i) sb_adds(b, indent), sb_adds(b, "  ");
            j_key(b, "  {", "bin");
            j_str(b, label);
            j_key(b, ", ", "lo");
            j_num(b, bin->lo);
            j_key(b, ", ", "hi");
            j_num(b, bin->hi); /* null: no upper bound */
            j_key(b, ", ", "classes");
            sb_addc(b, '[');
            int first = 1;
            for (size_t k = 0; k < s->nclasses; k++) {
                if (r->bin_of[k] != i || !m->per_class[k].support) continue;
                if (!first) sb_adds(b, ", ");
                first = 0;
                j_str(b, s->classes[k]);
            }
            sb_addc(b, ']');
            j_key(b, ", ", "n");
            j_size(b, bin->n);
            j_key(b, ", ", "correct");
            j_size(b, bin->correct);
            j_key(b, ", ", "accuracy");
            j_num(b, bin->accuracy);
            j_key(b, ", ", "macro_f1");
            j_num(b, bin->macro_f1);
            sb_addc(b, '}');
        }
        sb_addc(b, ']');
    }
    sb_addc(b, '\n');
    sb_adds(b, indent);
    sb_addc(b, '}');
    sb_free(&nl);
}

void report_json(strbuf *b, const run_report *r)
{
    json_document(b, r, "");
    sb_addc(b, '\n');
}

void report_json_runs(strbuf *b, const run_report *runs, size_t n)
{
    sb_adds(b, "{\"runs\": [\n");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_adds(b, ",\n");
        sb_adds(b, "  ");
        json_document(b, &runs[i], "  ");
    }
    sb_adds(b, "\n]}\n");
}

/* ------------------------------------------------------------------- text */

/* code points of a UTF-8 string */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* s in exactly `width` columns: padded, or cut (at a character boundary)
 * with "..." */
static void put_cell(FILE *f, const char *s, size_t width)
{
    size_t w = text_width(s);
    if (w <= width) {
        fputs(s, f);
        for (; w < width; w++) fputc(' ', f);
        return;
    }
    size_t keep = width > 3 ? width - 3 : 0, seen = 0;
    const char *p = s;
    while (*p) {
        if (((unsigned char)*p & 0xC0) != 0x80) {
            if (seen == keep) break;
            seen++;
        }
        p++;
    }
    fwrite(s, 1, (size_t)(p - s), f);
    fwrite("...", 1, width < 3 ? width : 3, f);
}

static void put_num(FILE *f, double v, int width)
{
    if (isnan(v)) fprintf(f, "%*s", width, "-");
    else fprintf(f, "%*.4f", width, v);
}

#define NAME_MAX_WIDTH 40

void report_text(FILE *f, const run_report *r)
{
    const pred_set *s = r->s;
    const metrics *m = r->m;
    size_t k = s->nclasses;
    fprintf(f, "%s: %zu record%s, %zu class%s\n", r->name, s->n, s->n == 1 ? "" : "s", k, k == 1 ? "" : "es");
    fprintf(f, "accuracy   %.4f  (%zu of %zu)\n", m->accuracy, m->correct, s->n);
    fprintf(f, "           precision  recall      f1\n");
    fprintf(f, "macro      %9.4f %7.4f %7.4f  (over %zu classes)\n", m->macro.precision, m->macro.recall,
            m->macro.f1, m->macro_classes);
    fprintf(f, "weighted   %9.4f %7.4f %7.4f\n", m->weighted.precision, m->weighted.recall, m->weighted.f1);
    if (m->has_probs) {
        fprintf(f, "ROC-AUC macro ");
        put_num(f, m->roc_auc_macro, 0);
        fprintf(f, " (over %zu classes)  average precision macro %.4f\n", m->roc_auc_classes, m->ap_macro);
        fprintf(f, "log loss %.4f  ECE (%d bins) %.4f\n", m->log_loss, METRICS_CALIB_BINS, m->ece);
    } else {
        fprintf(f, "no probabilities: no ROC-AUC, average precision, log loss or ECE\n");
    }
    if (r->top_k) {
        const top_k_metrics *t = r->top_k;
        fprintf(f, "top-%zu accuracy %.4f  (%zu of %zu)%s\n", t->k, t->accuracy, t->correct, s->n,
                t->k >= k ? "  k >= the number of classes: always 1" : "");
    }

    size_t nw = 5;
    for (size_t c = 0; c < k; c++) {
        size_t w = text_width(s->classes[c]);
        if (w > nw) nw = w;
    }
    if (nw > NAME_MAX_WIDTH) nw = NAME_MAX_WIDTH;
    fprintf(f, "\n %2s  ", "#");
    put_cell(f, "class", nw);
    fprintf(f, "  support  predicted    rate  precision  recall      f1  ROC-AUC      AP%s\n",
            r->train_count ? "    train" : "");
    for (size_t c = 0; c < k; c++) {
        const class_metrics *cm = &m->per_class[c];
        fprintf(f, "%3zu  ", c + 1);
        put_cell(f, s->classes[c], nw);
        fprintf(f, "  %7zu  %9zu  %.4f  %9.4f %7.4f %7.4f ", cm->support, cm->predicted, cm->predicted_rate,
                cm->s.precision, cm->s.recall, cm->s.f1);
        put_num(f, cm->roc_auc, 8);
        put_num(f, cm->average_precision, 8);
        if (r->train_count) fprintf(f, "  %7zu", r->train_count[c]);
        fputc('\n', f);
    }

    /* wide enough for the largest count and the class numbers */
    size_t max = 0;
    for (size_t i = 0; i < k * k; i++)
        if (m->confusion[i] > max) max = m->confusion[i];
    int cw = snprintf(NULL, 0, "%zu", max);
    int iw = snprintf(NULL, 0, "%zu", k);
    if (iw > cw) cw = iw;
    fprintf(f, "\nconfusion matrix (rows: gold, columns: predicted; classes numbered as above)\n%*s", iw + 1, "");
    for (size_t c = 0; c < k; c++) fprintf(f, " %*zu", cw, c + 1);
    fputc('\n', f);
    for (size_t g = 0; g < k; g++) {
        fprintf(f, "%*zu ", iw, g + 1);
        for (size_t p = 0; p < k; p++) fprintf(f, " %*zu", cw, m->confusion[g * k + p]);
        fputc('\n', f);
    }

    if (r->positive) {
        const positive_metrics *p = r->positive;
        fprintf(f, "\npositive class \"%s\": precision %.4f  recall %.4f  F1 %.4f  predicted rate %.4f"
                   " (%zu of %zu; gold rate %.4f)\n",
                p->label, p->s.precision, p->s.recall, p->s.f1, p->predicted_rate, p->predicted, s->n,
                p->gold_rate);
    }

    if (r->groups) {
        size_t gw = text_width(r->by_field);
        for (size_t g = 0; g < s->ngroups; g++) {
            size_t w = text_width(s->groups[g]);
            if (w > gw) gw = w;
        }
        if (gw > NAME_MAX_WIDTH) gw = NAME_MAX_WIDTH;
        fprintf(f, "\nby %s\n", r->by_field);
        put_cell(f, r->by_field, gw);
        fprintf(f, "  %7s  accuracy  macro-F1\n", "n");
        for (size_t g = 0; g < s->ngroups; g++) {
            const group_metrics *gm = &r->groups[g];
            put_cell(f, gm->value, gw);
            fprintf(f, "  %7zu  %8.4f  %8.4f\n", gm->n, gm->accuracy, gm->macro_f1);
        }
    }

    if (r->bins) {
        fprintf(f, "\nby class size (training count)\n%-20s  classes        n  accuracy  macro-F1\n", "bin");
        for (size_t i = 0; i < r->nbins; i++) {
            char label[2 * NUMFMT_MAX + 8];
            bin_label(label, sizeof label, &r->bins[i], i == 0);
            fprintf(f, "%-20s  %7zu  %7zu  ", label, r->bins[i].nclasses, r->bins[i].n);
            put_num(f, r->bins[i].accuracy, 8);
            fputs("  ", f);
            put_num(f, r->bins[i].macro_f1, 8);
            fputc('\n', f);
        }
    }
}

/* ------------------------------------------------------------------ table */

static void table_text(FILE *f, const char *s, table_format fmt)
{
    if (fmt == TABLE_CSV) {
        if (!strpbrk(s, ",\"\r\n")) {
            fputs(s, f);
            return;
        }
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
        return;
    }
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
}

void compare_table(FILE *f, const run_report *runs, size_t n, table_format fmt)
{
    int shown[SUM_COUNT] = {0}; /* a column where some run has the metric */
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < SUM_COUNT; k++) shown[k] |= summary_present(&runs[i], k);
    int with_top_k = shown[SUM_TOP_K_ACCURACY], with_positive = shown[SUM_POS_PRECISION];
    const char *sep = fmt == TABLE_CSV ? "," : " | ";
    const char *open = fmt == TABLE_CSV ? "" : "| ", *close = fmt == TABLE_CSV ? "\n" : " |\n";

    fprintf(f, "%srun%sfile%sn", open, sep, sep);
    if (with_top_k) fprintf(f, "%stop_k", sep);
    if (with_positive) fprintf(f, "%spositive", sep);
    for (int k = 0; k < SUM_COUNT; k++)
        if (shown[k]) fprintf(f, "%s%s", sep, summary_names[k]);
    fputs(close, f);
    if (fmt == TABLE_MD) {
        fputs("|---|---|--:", f);
        if (with_top_k) fputs("|--:", f);
        if (with_positive) fputs("|---", f);
        for (int k = 0; k < SUM_COUNT; k++)
            if (shown[k]) fputs("|--:", f);
        fputs("|\n", f);
    }
    for (size_t i = 0; i < n; i++) {
        const run_report *r = &runs[i];
        fputs(open, f);
        table_text(f, r->name, fmt);
        fputs(sep, f);
        table_text(f, r->s->name, fmt);
        fprintf(f, "%s%zu", sep, r->s->n);
        if (with_top_k) {
            fputs(sep, f);
            if (r->top_k) fprintf(f, "%zu", r->top_k->k);
        }
        if (with_positive) {
            fputs(sep, f);
            if (r->positive) table_text(f, r->positive->label, fmt);
        }
        for (int k = 0; k < SUM_COUNT; k++) {
            if (!shown[k]) continue;
            double v = summary_value(r, (summary_metric)k);
            fputs(sep, f);
            if (isnan(v)) continue;
            if (fmt == TABLE_MD) {
                fprintf(f, "%.4f", v);
            } else {
                char buf[NUMFMT_MAX];
                fmt_double(buf, v);
                fputs(buf, f);
            }
        }
        fputs(close, f);
    }
}
