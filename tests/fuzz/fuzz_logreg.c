/* libFuzzer target: the logistic-regression model reader (logreg_load,
 * lib/linear/logreg.c). The input is MODEL_DIR/logreg.json. A model that
 * loads must save (logreg_save) and load back to the same model (classes,
 * byte-sorted distinct labels, dimension, coefficient and intercept values,
 * options), saved again to the same bytes; and predict a vector: a class
 * in range, probabilities in [0, 1] summing to 1. */
#include "core/common.h"
#include "fuzz_common.h"
#include "linear/logreg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char dirs[3][160];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_logreg");
    char cmd[600];
    for (int i = 0; i < 3; i++) snprintf(dirs[i], sizeof dirs[i], "%s", fz_path(i, i ? "saved" : "model"));
    snprintf(dirs[2], sizeof dirs[2], "%s", fz_path(2, "saved2"));
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dirs[0]);
    if (system(cmd) != 0) abort();
    return 0;
}

static void same(const logreg_model *a, const logreg_model *b)
{
    FZ_CHECK(a->nclasses == b->nclasses && a->dim == b->dim && a->nvec == b->nvec, "the same shape");
    for (size_t k = 0; k < a->nclasses; k++) FZ_CHECK(!strcmp(a->labels[k], b->labels[k]), "the same labels");
    /* equal values, not bits: a -0 weight is saved as an absent (0) one */
    for (size_t i = 0; i < a->nvec * (size_t)a->dim; i++) FZ_CHECK(a->coef[i] == b->coef[i], "the same coefficients");
    for (size_t i = 0; i < a->nvec; i++) FZ_CHECK(a->intercept[i] == b->intercept[i], "the same intercepts");
    FZ_CHECK(a->params.C == b->params.C && a->params.penalty == b->params.penalty &&
                 a->params.multinomial == b->params.multinomial && a->params.fit_intercept == b->params.fit_intercept,
             "the same options");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/logreg.json", dirs[0]);
    fz_write(path, data, size);
    if (FZ_GUARD()) {
        logreg_model *m = logreg_load(dirs[0]);
        FZ_CHECK(m->nclasses >= 2 && m->dim >= 0, "two classes or more");
        FZ_CHECK(m->nvec == (m->nclasses == 2 ? 1 : m->nclasses), "one vector for two classes, else one per class");
        for (size_t k = 1; k < m->nclasses; k++)
            FZ_CHECK(strcmp(m->labels[k - 1], m->labels[k]) < 0, "labels byte-sorted and distinct");
        logreg_save(m, dirs[1]);
        logreg_model *m2 = logreg_load(dirs[1]);
        same(m, m2);
        logreg_save(m2, dirs[2]);
        size_t n1, n2;
        snprintf(path, sizeof path, "%s/logreg.json", dirs[1]);
        char *w1 = fz_slurp(path, &n1);
        snprintf(path, sizeof path, "%s/logreg.json", dirs[2]);
        char *w2 = fz_slurp(path, &n2);
        FZ_CHECK(n1 == n2 && !memcmp(w1, w2, n1), "saved, loaded and saved again: the same bytes");
        free(w1), free(w2);
        if (m->dim > 0) {
            sparse_vec x = {0};
            sparse_push(&x, 0, 0.5);
            if (m->dim > 2) sparse_push(&x, (uint32_t)(m->dim - 1), 1.0);
            x.dim = m->dim;
            FZ_CHECK(logreg_predict(m, &x) < m->nclasses, "predicted class in range");
            double *p = malloc(m->nclasses * sizeof *p), sum = 0;
            if (logreg_proba(m, &x, p) == 0) {
                for (size_t k = 0; k < m->nclasses; k++) {
                    FZ_CHECK(p[k] >= 0 && p[k] <= 1, "probabilities in [0, 1]");
                    sum += p[k];
                }
                FZ_CHECK(fabs(sum - 1) < 1e-6, "probabilities sum to 1");
            }
            free(p);
            sparse_free(&x);
        }
        logreg_free(m), logreg_free(m2);
        fz_end();
    }
    return 0;
}
