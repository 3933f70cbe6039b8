/* Golden test of logreg against scikit-learn (tests/golden/logreg/, made by
 * tests/ref/logreg_ref.py). For every configuration the real program is run
 * with the golden's options, the model it wrote is loaded with logreg_load,
 * and its decision values, probabilities and predictions are compared with
 * scikit-learn's; the program must warn about stopping at max_iter exactly
 * when scikit-learn does. The largest differences seen are printed.
 *
 * liblinear.jsonl.gz: LogisticRegression(solver='liblinear') for the
 * two-class set, liblinear's one-vs-rest through
 * sklearn.svm._base._fit_liblinear for the three-class tweets, over C, both
 * penalties, class weights, tol, max_iter and the intercept options; the
 * same arithmetic, so: predictions equal on at least 99.5% of rows and
 * decision values to 1e-3 relative (the bar), the iteration counts
 * and the number of nonzero weights equal, predict_proba to 1e-9.
 *
 * multinomial.jsonl.gz: LogisticRegression(solver='lbfgs') (multinomial for
 * the tweets, binomial for the binary set) against --multi-class
 * multinomial. The L-BFGS line searches differ, so only the optimum is
 * common: where both ran to tol 1e-10 ("tight"), decision values to 1e-3
 * relative + 1e-5 and probabilities to 1e-5, predictions on 99.5% of rows;
 * at scikit-learn's default tol, predictions on 99.5% of rows and
 * probabilities to 0.02 (both sides stop about tol short of the optimum,
 * by other paths); stopped at max_iter, the iterations equal.
 *
 * grid_list.json: GridSearchCV with a list of grids (param_grid=[{C,
 * penalty, class_weight} one-vs-rest, {C, class_weight} multinomial at tol
 * 1e-10]) against `logreg --grid 'SPEC | SPEC'` on scikit-learn's folds:
 * with --exact every candidate's params (its own keys), fold scores, mean
 * and rank to the bit (the multinomial fits reach the optimum on both sides,
 * so the predictions agree), and the same best candidate; the fast search
 * every mean within 0.01 (the golden_grid_fast bar) and the same winner. */
#include "check.h"
#include "core/common.h"
#include "linear/logreg.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOLDEN "tests/golden/logreg/"

static char *bin_dir(const char *argv0)
{
    /* BUILD/unit/test_logreg_golden -> BUILD/bin */
    char *dir = xstrdup(argv0);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else strcpy(dir, ".");
    size_t n = strlen(dir) + 16;
    char *bin = xmalloc(n);
    snprintf(bin, n, "%s/../bin", dir);
    free(dir);
    return bin;
}

static char *slurp_gz(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    strbuf b = {0};
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_addn(&b, buf, n);
    if (pclose(f) != 0) {
        sb_free(&b);
        return NULL;
    }
    return b.s;
}

static char *slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    strbuf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_addn(&b, buf, n);
    fclose(f);
    if (!b.s) sb_adds(&b, "");
    return b.s;
}

/* gunzips path into dir/name, returns the new path */
static char *gunzip_to(const char *path, const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *out = xmalloc(n);
    snprintf(out, n, "%s/%s", dir, name);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s'", path, out);
    if (system(cmd) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* the largest |a - b| and how many exceed rel |b| + abs */
typedef struct diff_tally {
    double max_abs;
    size_t n, bad;
} diff_tally;

static void tally(diff_tally *t, double a, double b, double rel, double abs_tol)
{
    double diff = fabs(a - b);
    if (diff > t->max_abs) t->max_abs = diff;
    t->bad += !(diff <= rel * fabs(b) + abs_tol);
    t->n++;
}

/* Runs and checks every configuration of golden (one JSON object a line);
 * returns how many were checked. */
static int check_golden(char *golden, int multinomial, const char *bin, const char *tmp, char *const data_path[2],
                        const lr_data data[2])
{
    int configs = 0;
    for (char *line = golden, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        cJSON *g = cJSON_Parse(line);
        if (!g) {
            printf("FAIL golden line is not JSON\n");
            check_failures++;
            break;
        }
        const char *set = cJSON_GetObjectItem(g, "data")->valuestring;
        int which = strcmp(set, "binary") == 0;
        const lr_data *d = &data[which];
        strbuf cmd = {0}, name = {0};
        sb_adds(&cmd, bin);
        sb_adds(&cmd, "/logreg -q -m ");
        sb_adds(&cmd, tmp);
        sb_adds(&cmd, "/model");
        sb_adds(&name, set);
        const cJSON *o;
        int in_name = 1; /* the seed is the same everywhere: left out of the names */
        cJSON_ArrayForEach(o, cJSON_GetObjectItem(g, "options")) {
            sb_adds(&cmd, " '");
            sb_adds(&cmd, o->valuestring);
            sb_adds(&cmd, "'");
            if (strcmp(o->valuestring, "--seed") == 0) in_name = 0;
            else if (in_name) {
                sb_addc(&name, ' ');
                sb_adds(&name, o->valuestring);
            } else in_name = 1;
        }
        sb_adds(&cmd, " ");
        sb_adds(&cmd, data_path[which]);
        sb_adds(&cmd, " 2> ");
        sb_adds(&cmd, tmp);
        sb_adds(&cmd, "/stderr");
        char label[400];
        snprintf(label, sizeof label, "%s: logreg runs", sb_str(&name));
        int rc = system(sb_str(&cmd));
        CHECK(label, rc == 0);
        if (rc != 0) {
            cJSON_Delete(g);
            continue;
        }
        /* scikit-learn's ConvergenceWarning <-> our warning (-q keeps warnings) */
        char err_path[128];
        snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
        char *err = slurp_file(err_path);
        int warned = err && strstr(err, "warning: reaching max number of iterations") != NULL;
        int sk_warned = cJSON_IsTrue(cJSON_GetObjectItem(g, "convergence_warning"));
        snprintf(label, sizeof label, "%s: %s, as scikit-learn", sb_str(&name),
                 sk_warned ? "a convergence warning" : "no message");
        CHECK(label, sk_warned ? warned : (err && !*err));
        free(err);

        char model_dir[128];
        snprintf(model_dir, sizeof model_dir, "%s/model", tmp);
        logreg_model *m = logreg_load(model_dir);
        int tight = cJSON_IsTrue(cJSON_GetObjectItem(g, "tight"));

        const cJSON *it = cJSON_GetObjectItem(g, "n_iter");
        if (!multinomial || sk_warned) {
            int same_iter = cJSON_GetArraySize(it) == (multinomial ? 1 : (int)m->nvec);
            for (int v = 0; same_iter && v < (int)m->nvec; v++)
                same_iter = cJSON_GetArrayItem(it, multinomial ? 0 : v)->valueint == m->n_iter[v];
            snprintf(label, sizeof label, "%s: iterations as scikit-learn's", sb_str(&name));
            CHECK(label, same_iter);
        }
        if (multinomial && sk_warned) { /* stopped on the way: the iterates differ */
            configs++;
            goto next_config;
        }

        const cJSON *pred = cJSON_GetObjectItem(g, "pred"), *dec = cJSON_GetObjectItem(g, "decision");
        int every = cJSON_GetObjectItem(g, "decision_every")->valueint;
        size_t agree = 0;
        diff_tally dt = {0}, pt = {0};
        double dec_rel = 1e-3, dec_abs = multinomial ? 1e-5 : 1e-12;
        double prob_tol = !multinomial ? 1e-9 : tight ? 1e-5 : 0.02;
        double out[16];
        const cJSON *p = pred->child, *drow = dec->child, *prow = cJSON_GetObjectItem(g, "proba");
        int has_proba = prow != NULL;
        prow = has_proba ? prow->child : NULL;
        for (size_t i = 0; i < d->n && p; i++, p = p->next) {
            size_t a = d->rowptr[i];
            sparse_vec x = {d->rowptr[i + 1] - a, 0, d->idx + a, d->val + a, d->dim};
            agree += logreg_predict(m, &x) == (size_t)p->valueint;
            if (i % (size_t)every) continue;
            logreg_decision(m, &x, out);
            const cJSON *v = drow->child;
            for (size_t c = 0; c < m->nclasses && v; c++, v = v->next)
                tally(&dt, out[c], v->valuedouble, dec_rel, dec_abs);
            drow = drow->next;
            if (!prow) continue;
            logreg_proba(m, &x, out);
            v = prow->child;
            for (size_t c = 0; c < m->nclasses && v; c++, v = v->next) tally(&pt, out[c], v->valuedouble, 0, prob_tol);
            prow = prow->next;
        }
        snprintf(label, sizeof label, "%s: predictions agree on %zu/%zu rows (>= 99.5%%)", sb_str(&name), agree, d->n);
        CHECK(label, (double)agree >= 0.995 * (double)d->n && cJSON_GetArraySize(pred) == (int)d->n);
        size_t every_rows = (d->n + (size_t)every - 1) / (size_t)every;
        if (!multinomial || tight) {
            snprintf(label, sizeof label, "%s: %zu decision values within %g relative + %g (largest |diff| %.3g)",
                     sb_str(&name), dt.n, dec_rel, dec_abs, dt.max_abs);
            CHECK(label, dt.bad == 0 && dt.n == every_rows * m->nclasses);
        }
        if (has_proba) {
            snprintf(label, sizeof label, "%s: %zu probabilities as predict_proba's to %g (largest |diff| %.3g)",
                     sb_str(&name), pt.n, prob_tol, pt.max_abs);
            CHECK(label, pt.bad == 0 && pt.n == every_rows * m->nclasses);
        }
        if (!multinomial) {
            size_t nonzero = 0;
            for (size_t k = 0; k < m->nvec * (size_t)m->dim; k++) nonzero += m->coef[k] != 0;
            snprintf(label, sizeof label, "%s: %zu nonzero weights as liblinear's", sb_str(&name), nonzero);
            CHECK(label, (int)nonzero == cJSON_GetObjectItem(g, "nonzero_coef")->valueint);
        }
        configs++;
    next_config:
        logreg_free(m);
        sb_free(&cmd);
        sb_free(&name);
        cJSON_Delete(g);
    }
    return configs;
}

/* The CV table of `logreg --grid` (NDJSON) against grid_list.json;
 * exact: fold scores and means equal to the bit, else means within 0.01. */
static void check_grid_list(const char *bin, const char *tmp, const char *data_path, const char *folds_path,
                            const cJSON *golden, int exact)
{
    const char *mode = exact ? "exact" : "fast";
    char cmd[2048], label[512], path[256];
    snprintf(cmd, sizeof cmd,
             "%s/logreg -q %s -m '%s/grid-%s' --grid '%s' --folds '%s' --seed %d --cv-out '%s/grid-%s.jsonl' '%s' "
             "2> '%s/stderr'",
             bin, exact ? "--exact" : "", tmp, mode, cJSON_GetObjectItem(golden, "grid")->valuestring, folds_path,
             cJSON_GetObjectItem(golden, "seed")->valueint, tmp, mode, data_path, tmp);
    snprintf(label, sizeof label, "grid list (%s): logreg runs", mode);
    int rc = system(cmd);
    CHECK(label, rc == 0);
    if (rc != 0) return;
    snprintf(path, sizeof path, "%s/grid-%s.jsonl", tmp, mode);
    char *table = slurp_file(path);
    const cJSON *want = cJSON_GetObjectItem(golden, "candidates")->child;
    int rows = 0, same_params = 1, same_rank = 1, same_folds = 1, means_close = 1;
    double worst = 0;
    for (char *line = table, *next; line && *line && want; line = next, want = want->next, rows++) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        cJSON *got = cJSON_Parse(line);
        if (!got) break;
        same_params &= cJSON_Compare(cJSON_GetObjectItem(got, "params"), cJSON_GetObjectItem(want, "params"), 1);
        same_rank &= cJSON_GetObjectItem(got, "rank")->valueint == cJSON_GetObjectItem(want, "rank")->valueint;
        double m = cJSON_GetObjectItem(got, "mean_score")->valuedouble,
               sk = cJSON_GetObjectItem(want, "mean_score")->valuedouble;
        if (fabs(m - sk) > worst) worst = fabs(m - sk);
        means_close &= exact ? m == sk : fabs(m - sk) <= 0.01;
        const cJSON *a = cJSON_GetObjectItem(got, "fold_scores")->child,
                    *b = cJSON_GetObjectItem(want, "fold_scores")->child;
        for (; a && b; a = a->next, b = b->next) same_folds &= a->valuedouble == b->valuedouble;
        same_folds &= !a && !b;
        cJSON_Delete(got);
    }
    int ncand = cJSON_GetArraySize(cJSON_GetObjectItem(golden, "candidates"));
    snprintf(label, sizeof label, "grid list (%s): %d candidates in GridSearchCV's order, the same params", mode,
             rows);
    CHECK(label, rows == ncand && !want && same_params);
    if (exact) {
        snprintf(label, sizeof label, "grid list (exact): fold scores, means and ranks equal GridSearchCV's");
        CHECK(label, same_folds && means_close && same_rank);
    } else {
        snprintf(label, sizeof label, "grid list (fast): every mean within 0.01 of GridSearchCV's (largest %.3g)",
                 worst);
        CHECK(label, means_close);
    }
    snprintf(path, sizeof path, "%s/grid-%s/logreg.json", tmp, mode);
    char *model = slurp_file(path);
    cJSON *mj = model ? cJSON_Parse(model) : NULL, *cv = mj ? cJSON_GetObjectItem(mj, "cv") : NULL;
    int best = cv ? cJSON_GetObjectItem(cv, "best_index")->valueint : -1;
    const cJSON *best_params = cJSON_GetObjectItem(golden, "best_params"), *item;
    int refit_as_best = mj != NULL; /* the model's options have the best candidate's values */
    cJSON_ArrayForEach(item, best_params) {
        refit_as_best &= cJSON_Compare(item, cJSON_GetObjectItem(cJSON_GetObjectItem(mj, "options"), item->string), 1);
    }
    snprintf(label, sizeof label, "grid list (%s): GridSearchCV's best candidate (%d) chosen and refitted", mode,
             cJSON_GetObjectItem(golden, "best_index")->valueint);
    CHECK(label, cv && best == cJSON_GetObjectItem(golden, "best_index")->valueint &&
                     cJSON_Compare(cJSON_GetObjectItem(cv, "best_params"), best_params, 1) && refit_as_best);
    cJSON_Delete(mj);
    free(model);
    free(table);
}

int main(int argc, char **argv)
{
    (void)argc;
    prog_init("test_logreg_golden");
    char *bin = bin_dir(argv[0]);
    char tmp[] = "/tmp/logreg-golden.XXXXXX";
    if (!mkdtemp(tmp)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    char *data_path[2] = {gunzip_to(GOLDEN "tweets.jsonl.gz", tmp, "tweets.jsonl"),
                          gunzip_to(GOLDEN "binary.jsonl.gz", tmp, "binary.jsonl")};
    char *golden = slurp_gz(GOLDEN "liblinear.jsonl.gz"), *multi = slurp_gz(GOLDEN "multinomial.jsonl.gz");
    CHECK("golden files readable", data_path[0] && data_path[1] && golden && multi);
    if (!data_path[0] || !data_path[1] || !golden || !multi) return check_exit();
    lr_data data[2];
    lr_data_read(&data[0], data_path[0], "x", "label", "id");
    lr_data_read(&data[1], data_path[1], "x", "label", "id");

    CHECK("28 golden configurations (liblinear)", check_golden(golden, 0, bin, tmp, data_path, data) == 28);
    CHECK("13 golden configurations (multinomial)", check_golden(multi, 1, bin, tmp, data_path, data) == 13);

    char *folds_path = gunzip_to(GOLDEN "folds.jsonl.gz", tmp, "folds.jsonl"), *list = slurp_file(GOLDEN "grid_list.json");
    cJSON *list_json = list ? cJSON_Parse(list) : NULL;
    CHECK("grid_list.json and folds readable", folds_path && list_json);
    if (folds_path && list_json) {
        check_grid_list(bin, tmp, data_path[0], folds_path, list_json, 1);
        check_grid_list(bin, tmp, data_path[0], folds_path, list_json, 0);
    }
    cJSON_Delete(list_json);
    free(list);
    free(folds_path);

    char cleanup[256];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", tmp);
    if (system(cleanup) != 0) printf("FAIL cannot remove %s\n", tmp);
    lr_data_free(&data[0]);
    lr_data_free(&data[1]);
    free(data_path[0]);
    free(data_path[1]);
    free(golden);
    free(multi);
    free(bin);
    return check_exit();
}
