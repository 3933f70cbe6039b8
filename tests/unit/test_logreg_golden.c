/* Golden test of logreg against scikit-learn's liblinear
 * (tests/golden/logreg/liblinear.jsonl.gz, made by tests/ref/logreg_ref.py:
 * LogisticRegression(solver='liblinear') for the two-class set, liblinear's
 * one-vs-rest through sklearn.svm._base._fit_liblinear for the three-class
 * tweets), over C, both penalties, class weights, tol, max_iter and the
 * intercept options. For every configuration the real program is run with the
 * golden's options, the model it wrote is loaded with logreg_load, and its
 * decision values and predictions are compared with scikit-learn's:
 * predictions must agree on at least 99.5% of rows and decision values to
 * 1e-3 relative (the bar). The iteration counts and the number of
 * nonzero weights must be equal, the program must warn about stopping at
 * max_iter exactly when scikit-learn does, and where the golden has
 * predict_proba the probabilities must agree to 1e-9. The largest
 * differences seen are printed. */
#include "check.h"
#include "common.h"
#include "logreg.h"

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
    char *golden = slurp_gz(GOLDEN "liblinear.jsonl.gz");
    CHECK("golden files readable", data_path[0] && data_path[1] && golden);
    if (!data_path[0] || !data_path[1] || !golden) return check_exit();
    lr_data data[2];
    lr_data_read(&data[0], data_path[0], "x", "label", "id");
    lr_data_read(&data[1], data_path[1], "x", "label", "id");

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
        char label[300];
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

        const cJSON *it = cJSON_GetObjectItem(g, "n_iter");
        int same_iter = cJSON_GetArraySize(it) == (int)m->nvec;
        for (int v = 0; same_iter && v < (int)m->nvec; v++) same_iter = cJSON_GetArrayItem(it, v)->valueint == m->n_iter[v];
        snprintf(label, sizeof label, "%s: iterations as liblinear's", sb_str(&name));
        CHECK(label, same_iter);

        const cJSON *pred = cJSON_GetObjectItem(g, "pred"), *dec = cJSON_GetObjectItem(g, "decision");
        int every = cJSON_GetObjectItem(g, "decision_every")->valueint;
        size_t agree = 0, ndec = 0, bad_dec = 0;
        double max_abs = 0;
        double out[16];
        const cJSON *p = pred->child, *drow = dec->child;
        for (size_t i = 0; i < d->n && p; i++, p = p->next) {
            size_t a = d->rowptr[i];
            sparse_vec x = {d->rowptr[i + 1] - a, 0, d->idx + a, d->val + a, d->dim};
            agree += logreg_predict(m, &x) == (size_t)p->valueint;
            if (i % (size_t)every) continue;
            logreg_decision(m, &x, out);
            const cJSON *v = drow->child;
            for (size_t c = 0; c < m->nclasses && v; c++, v = v->next) {
                double diff = fabs(out[c] - v->valuedouble);
                if (diff > max_abs) max_abs = diff;
                bad_dec += diff > 1e-3 * fabs(v->valuedouble) + 1e-12;
                ndec++;
            }
            drow = drow->next;
        }
        snprintf(label, sizeof label, "%s: predictions agree on %zu/%zu rows (>= 99.5%%)", sb_str(&name), agree, d->n);
        CHECK(label, (double)agree >= 0.995 * (double)d->n && cJSON_GetArraySize(pred) == (int)d->n);
        snprintf(label, sizeof label, "%s: %zu decision values within 1e-3 relative (largest |diff| %.3g)",
                 sb_str(&name), ndec, max_abs);
        CHECK(label, bad_dec == 0 && ndec == d->n / (size_t)every * m->nclasses + (d->n % (size_t)every ? m->nclasses : 0));

        const cJSON *proba = cJSON_GetObjectItem(g, "proba");
        if (proba) {
            /* logreg_proba against predict_proba */
            size_t nprob = 0, bad_prob = 0;
            double max_prob = 0;
            const cJSON *prow = proba->child;
            for (size_t i = 0; i < d->n && prow; i += (size_t)every, prow = prow->next) {
                size_t a = d->rowptr[i];
                sparse_vec x = {d->rowptr[i + 1] - a, 0, d->idx + a, d->val + a, d->dim};
                logreg_proba(m, &x, out);
                const cJSON *v = prow->child;
                for (size_t c = 0; c < m->nclasses && v; c++, v = v->next, nprob++) {
                    double diff = fabs(out[c] - v->valuedouble);
                    if (diff > max_prob) max_prob = diff;
                    bad_prob += diff > 1e-9;
                }
            }
            snprintf(label, sizeof label, "%s: %zu probabilities as predict_proba's (largest |diff| %.3g)",
                     sb_str(&name), nprob, max_prob);
            CHECK(label, bad_prob == 0 && nprob == (size_t)cJSON_GetArraySize(proba) * m->nclasses);
        }

        size_t nonzero = 0;
        for (size_t k = 0; k < m->nvec * (size_t)m->dim; k++) nonzero += m->coef[k] != 0;
        snprintf(label, sizeof label, "%s: %zu nonzero weights as liblinear's", sb_str(&name), nonzero);
        CHECK(label, (int)nonzero == cJSON_GetObjectItem(g, "nonzero_coef")->valueint);
        configs++;
        logreg_free(m);
        sb_free(&cmd);
        sb_free(&name);
        cJSON_Delete(g);
    }
    CHECK("28 golden configurations", configs == 28);

    char cleanup[256];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", tmp);
    if (system(cleanup) != 0) printf("FAIL cannot remove %s\n", tmp);
    lr_data_free(&data[0]);
    lr_data_free(&data[1]);
    free(data_path[0]);
    free(data_path[1]);
    free(golden);
    free(bin);
    return check_exit();
}
