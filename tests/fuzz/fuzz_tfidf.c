/* libFuzzer target: the TF-IDF model reader (tfidf_load: lib/linear/tfidf.c
 * on the strict scanner of lib/linear/tfidf_json.c and cJSON). The input is
 * MODEL_DIR/tfidf.json. A model that loads must write (tfidf_write_model)
 * and load back to the same model, written again to the same bytes: the
 * same options, terms (in strictly increasing byte order) and idf bits; and
 * it must vectorise a text with indices inside its dimension, values finite. */
#include "core/common.h"
#include "fuzz_common.h"
#include "linear/tfidf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_tfidf");
    return 0;
}

static char *written(const tfidf_model *m, size_t *n)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, n);
    tfidf_write_model(m, f);
    fclose(f);
    return buf;
}

static const char text[] = "The quick brown fox, the lazy dog; caf\xc3\xa9 na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87 ab ab ab";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fz_path(0, "model"), *dir2 = fz_path(1, "again");
    static int made;
    if (!made) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s'", dir, dir2);
        if (system(cmd) != 0) abort();
        made = 1;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/tfidf.json", dir);
    fz_write(path, data, size);
    if (FZ_GUARD()) {
        tfidf_model *m = tfidf_load(dir);
        size_t n1, n2;
        char *w1 = written(m, &n1);
        snprintf(path, sizeof path, "%s/tfidf.json", dir2);
        fz_write(path, w1, n1);
        tfidf_model *m2 = tfidf_load(dir2);
        char *w2 = written(m2, &n2);
        FZ_CHECK(n1 == n2 && !memcmp(w1, w2, n1), "written, loaded and written again: the same bytes");
        size_t dim = tfidf_dim(m);
        FZ_CHECK(dim == tfidf_dim(m2), "the same dimension");
        const char *prev = NULL;
        size_t prev_len = 0;
        for (size_t c = 0; c < dim; c++) {
            size_t l1, l2;
            const char *t1 = tfidf_term(m, c, &l1), *t2 = tfidf_term(m2, c, &l2);
            FZ_CHECK(l1 == l2 && !memcmp(t1, t2, l1), "the same terms");
            if (prev) {
                int cmp = memcmp(prev, t1, l1 < prev_len ? l1 : prev_len);
                FZ_CHECK(cmp < 0 || (cmp == 0 && prev_len < l1), "terms in strictly increasing byte order");
            }
            prev = t1, prev_len = l1;
            double i1 = tfidf_idf(m, c), i2 = tfidf_idf(m2, c);
            FZ_CHECK(!memcmp(&i1, &i2, sizeof i1), "the same idf bits");
        }
        tfidf_scratch s;
        tfidf_scratch_init(&s);
        sparse_vec v = {0};
        tfidf_vectorize(m, &s, text, sizeof text - 1, &v);
        FZ_CHECK(v.dim == (long)dim, "vector dim is the model's");
        for (size_t i = 0; i < v.n; i++) {
            FZ_CHECK(v.idx[i] < dim && (i == 0 || v.idx[i] > v.idx[i - 1]), "vector indices increase inside dim");
            FZ_CHECK(isfinite(v.val[i]), "vector values finite");
        }
        sparse_free(&v);
        tfidf_scratch_free(&s);
        free(w1), free(w2);
        tfidf_free(m), tfidf_free(m2);
        fz_end();
    }
    return 0;
}
