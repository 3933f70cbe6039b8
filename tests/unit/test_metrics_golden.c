/* Golden test of lib/eval/metrics against scikit-learn: every prediction set in
 * tests/golden/metrics/NAME.jsonl is scored, written as `metrics --json`
 * writes it (report_json), parsed back, and each number compared with
 * NAME.sklearn.json, made by tests/ref/metrics_ref.py (`make
 * golden-metrics`) from the same file with scikit-learn 1.9.1
 * (accuracy_score, precision_recall_fscore_support zero_division=0,
 * confusion_matrix, roc_auc_score, average_precision_score, log_loss,
 * calibration_curve, top_k_accuracy_score with labels=classes for k = 1, 2,
 * 3, and per class-size bin accuracy_score and f1_score average='macro'
 * with the script's training counts). Tolerance 1e-9, relative above 1;
 * top-k accuracies, ratios of counts, must be equal. */
#include "check.h"
#include "eval/metrics.h"
#include "eval/metrics_report.h"
#include "core/ndjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#define TOL 1e-9

static cJSON *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    strbuf b = {0};
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_addn(&b, buf, n);
    fclose(f);
    cJSON *j = cJSON_Parse(sb_str(&b));
    sb_free(&b);
    return j;
}

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* both null, or both numbers within TOL */
static int same_number(const cJSON *got, const cJSON *want)
{
    if (!got || !want) return 0;
    if (cJSON_IsNull(want)) return cJSON_IsNull(got);
    if (!cJSON_IsNumber(got) || !cJSON_IsNumber(want)) return 0;
    double g = got->valuedouble, w = want->valuedouble;
    return fabs(g - w) <= TOL * (fabs(w) > 1 ? fabs(w) : 1);
}

static char name_buf[512];
static const char *name(const char *set, const char *what)
{
    snprintf(name_buf, sizeof name_buf, "metrics golden %s: %s", set, what);
    return name_buf;
}

static void check_number(const char *set, const char *what, const cJSON *got, const cJSON *want)
{
    if (same_number(got, want)) {
        printf("PASS %s\n", name(set, what));
    } else {
        char *g = got ? cJSON_PrintUnformatted(got) : NULL, *w = want ? cJSON_PrintUnformatted(want) : NULL;
        printf("FAIL %s: got %s, want %s\n", name(set, what), g ? g : "(none)", w ? w : "(none)");
        free(g);
        free(w);
        check_failures++;
    }
}

/* got[i].field against want[i] for every class */
static void check_per_class(const char *set, const char *field, const cJSON *per_class, const cJSON *want)
{
    int n = cJSON_GetArraySize(want), bad = 0;
    CHECK(name(set, "per_class length"), cJSON_GetArraySize(per_class) == n);
    for (int i = 0; i < n && i < cJSON_GetArraySize(per_class); i++) {
        const cJSON *g = get(cJSON_GetArrayItem(per_class, i), field), *w = cJSON_GetArrayItem(want, i);
        if (!same_number(g, w)) {
            char what[128];
            snprintf(what, sizeof what, "%s of class %d", field, i + 1);
            check_number(set, what, g, w);
            bad = 1;
        }
    }
    char what[128];
    snprintf(what, sizeof what, "per-class %s (%d classes)", field, n);
    if (!bad) printf("PASS %s\n", name(set, what));
}

static void check_set(const char *set)
{
    char path[256];
    snprintf(path, sizeof path, "tests/golden/metrics/%s.sklearn.json", set);
    cJSON *want = load_json(path);
    CHECK(name(set, "golden file readable"), want != NULL);
    if (!want) return;

    const cJSON *by = get(want, "by"), *pos = get(want, "positive");
    pred_fields fields = {0};
    if (by) fields.by = get(by, "field")->valuestring;
    snprintf(path, sizeof path, "tests/golden/metrics/%s.jsonl", set);
    pred_set s;
    pred_set_read(&s, path, &fields);
    metrics m;
    metrics_compute(&m, &s);
    run_report r = {.name = set, .s = &s, .m = &m};
    positive_metrics p;
    if (pos) {
        positive_compute(&p, &s, pred_set_class(&s, get(pos, "label")->valuestring));
        r.positive = &p;
    }
    group_metrics *groups = NULL;
    if (by) {
        groups = calloc(s.ngroups, sizeof *groups);
        groups_compute(groups, &s);
        r.by_field = fields.by;
        r.groups = groups;
    }
    /* top-k: k = 2 through report_json (summary and "top_k"), every k
     * directly; a k >= the number of classes must give exactly 1 */
    const cJSON *topk_want = get(want, "top_k_accuracy");
    top_k_metrics topk;
    top_k_compute(&topk, &s, 2);
    r.top_k = &topk;
    const cJSON *bins_want = get(want, "class_size_bins");
    size_t *train_count = NULL, *bin_of = NULL, nbins = 0;
    size_bin *bins = NULL;
    if (bins_want) {
        const cJSON *counts = get(bins_want, "train_counts"), *edges_j = get(bins_want, "edges");
        train_count = calloc(s.nclasses, sizeof *train_count);
        for (const cJSON *c = counts->child; c; c = c->next) {
            size_t k = pred_set_class(&s, c->string);
            if (k != (size_t)-1) train_count[k] = (size_t)c->valuedouble;
        }
        size_t nedges = (size_t)cJSON_GetArraySize(edges_j);
        double edges[16];
        for (size_t i = 0; i < nedges && i < 16; i++) {
            const cJSON *e = cJSON_GetArrayItem(edges_j, (int)i);
            edges[i] = cJSON_IsString(e) ? INFINITY : e->valuedouble;
        }
        nbins = nedges - 1;
        bins = calloc(nbins, sizeof *bins);
        bin_of = calloc(s.nclasses, sizeof *bin_of);
        size_bins_compute(bins, bin_of, &s, train_count, edges, nedges);
        r.train_count = train_count;
        r.bins = bins;
        r.nbins = nbins;
        r.bin_of = bin_of;
    }
    strbuf b = {0};
    report_json(&b, &r);
    cJSON *got = cJSON_Parse(sb_str(&b));
    CHECK(name(set, "report_json parses"), got != NULL);
    if (!got) return;

    const cJSON *classes = get(want, "classes");
    int same = cJSON_GetArraySize(classes) == cJSON_GetArraySize(get(got, "classes"));
    for (int i = 0; same && i < cJSON_GetArraySize(classes); i++)
        same = strcmp(cJSON_GetArrayItem(classes, i)->valuestring,
                      cJSON_GetArrayItem(get(got, "classes"), i)->valuestring) == 0;
    CHECK(name(set, "classes in byte order"), same);
    check_number(set, "n", get(got, "n"), get(want, "n"));
    check_number(set, "accuracy", get(got, "accuracy"), get(want, "accuracy"));
    const cJSON *per_class = get(got, "per_class");
    check_per_class(set, "precision", per_class, get(want, "precision"));
    check_per_class(set, "recall", per_class, get(want, "recall"));
    check_per_class(set, "f1", per_class, get(want, "f1"));
    check_per_class(set, "support", per_class, get(want, "support"));
    check_per_class(set, "roc_auc", per_class, get(want, "roc_auc"));
    check_per_class(set, "average_precision", per_class, get(want, "average_precision"));
    const char *avg[] = {"macro", "weighted"}, *fld[] = {"precision", "recall", "f1"};
    for (int a = 0; a < 2; a++)
        for (int f = 0; f < 3; f++) {
            char what[64];
            snprintf(what, sizeof what, "%s %s", avg[a], fld[f]);
            check_number(set, what, get(get(got, avg[a]), fld[f]), get(get(want, avg[a]), fld[f]));
        }
    const cJSON *cm_got = get(got, "confusion_matrix"), *cm_want = get(want, "confusion_matrix");
    int cm_same = cJSON_GetArraySize(cm_got) == cJSON_GetArraySize(cm_want);
    for (int i = 0; cm_same && i < cJSON_GetArraySize(cm_want); i++) {
        const cJSON *rg = cJSON_GetArrayItem(cm_got, i), *rw = cJSON_GetArrayItem(cm_want, i);
        cm_same = cJSON_GetArraySize(rg) == cJSON_GetArraySize(rw);
        for (int j = 0; cm_same && j < cJSON_GetArraySize(rw); j++)
            cm_same = cJSON_GetArrayItem(rg, j)->valuedouble == cJSON_GetArrayItem(rw, j)->valuedouble;
    }
    CHECK(name(set, "confusion matrix"), cm_same);
    check_number(set, "roc_auc_macro", get(got, "roc_auc_macro"), get(want, "roc_auc_macro"));
    check_number(set, "average_precision_macro", get(got, "average_precision_macro"),
                 get(want, "average_precision_macro"));
    check_number(set, "log_loss", get(got, "log_loss"), get(want, "log_loss"));
    check_number(set, "ece", get(got, "ece"), get(want, "ece"));
    CHECK(name(set, "top-2 accuracy in the summary and top_k"),
          get(get(got, "summary"), "top_k_accuracy")->valuedouble == get(topk_want, "2")->valuedouble &&
              get(get(got, "top_k"), "accuracy")->valuedouble == get(topk_want, "2")->valuedouble &&
              get(get(got, "top_k"), "k")->valuedouble == 2);
    for (size_t k = 1; k <= 3; k++) {
        char key[8], what[64];
        snprintf(key, sizeof key, "%zu", k);
        snprintf(what, sizeof what, "top-%zu accuracy", k);
        top_k_compute(&topk, &s, k);
        double w = get(topk_want, key)->valuedouble;
        if (topk.accuracy == w && (k < s.nclasses || w == 1)) {
            printf("PASS %s\n", name(set, what));
        } else {
            printf("FAIL %s: got %.17g, want %.17g\n", name(set, what), topk.accuracy, w);
            check_failures++;
        }
    }
    if (bins_want) {
        const cJSON *bg = get(got, "class_size_bins"), *bw = get(bins_want, "bins");
        CHECK(name(set, "number of class-size bins"), cJSON_GetArraySize(bg) == cJSON_GetArraySize(bw));
        for (int i = 0; i < cJSON_GetArraySize(bw) && i < cJSON_GetArraySize(bg); i++) {
            const cJSON *g = cJSON_GetArrayItem(bg, i), *w = cJSON_GetArrayItem(bw, i);
            const cJSON *cg = get(g, "classes"), *cw = get(w, "classes");
            int same_classes = cJSON_GetArraySize(cg) == cJSON_GetArraySize(cw);
            for (int j = 0; same_classes && j < cJSON_GetArraySize(cw); j++)
                same_classes = strcmp(cJSON_GetArrayItem(cg, j)->valuestring, cJSON_GetArrayItem(cw, j)->valuestring) == 0;
            char what[128];
            snprintf(what, sizeof what, "bin %d classes", i + 1);
            CHECK(name(set, what), same_classes);
            const char *keys[] = {"lo", "hi", "n", "accuracy", "macro_f1"};
            for (int k = 0; k < 5; k++) {
                snprintf(what, sizeof what, "bin %d %s", i + 1, keys[k]);
                check_number(set, what, get(g, keys[k]), get(w, keys[k]));
            }
        }
    }
    if (pos) {
        const cJSON *pg = get(got, "positive");
        const char *keys[] = {"precision", "recall", "f1", "support", "predicted_rate"};
        for (int i = 0; i < 5; i++) {
            char what[64];
            snprintf(what, sizeof what, "positive %s", keys[i]);
            check_number(set, what, get(pg, keys[i]), get(pos, keys[i]));
        }
    }
    if (by) {
        const cJSON *gg = get(get(got, "by"), "groups"), *gw = get(by, "groups");
        CHECK(name(set, "by: number of groups"), cJSON_GetArraySize(gg) == cJSON_GetArraySize(gw));
        for (int i = 0; i < cJSON_GetArraySize(gw) && i < cJSON_GetArraySize(gg); i++) {
            const cJSON *g = cJSON_GetArrayItem(gg, i), *w = cJSON_GetArrayItem(gw, i);
            char what[128];
            snprintf(what, sizeof what, "by value %d", i + 1);
            CHECK_STR(name(set, what), get(g, "value")->valuestring, get(w, "value")->valuestring);
            const char *keys[] = {"n", "accuracy", "macro_f1"};
            for (int k = 0; k < 3; k++) {
                snprintf(what, sizeof what, "by %s %s", get(w, "value")->valuestring, keys[k]);
                check_number(set, what, get(g, keys[k]), get(w, keys[k]));
            }
        }
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
    sb_free(&b);
    free(groups);
    free(train_count);
    free(bin_of);
    free(bins);
    metrics_free(&m);
    pred_set_free(&s);
}

int main(void)
{
    const char *sets[] = {"binary", "three", "tracks26", "degenerate"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) check_set(sets[i]);
    return check_exit();
}
