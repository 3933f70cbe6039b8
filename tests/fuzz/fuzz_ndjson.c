/* libFuzzer target: the NDJSON record reader (lib/core/ndjson), the sparse
 * vector field (lib/linear/sparse) and token records (lib/bert/tokdata).
 * Input: a mode byte, then the NDJSON. Mode bits 0-1: 0 records and their
 * "x" vectors, 1 the same with nul_escape_ok (wptok's reader), 2 token
 * records with a "label", 3 token records without labels (predict).
 * Invariants: every record a JSON object that ndjson_write writes on one
 * line, parsed and written again to the same bytes; record lines increasing; a vector's idx
 * strictly increasing inside its dim, values finite, and written
 * (sparse_append_json) and read back to the same bits; token records inside
 * the config's vocabulary, type vocabulary and length, mask 0/1, labels
 * mapped to ids in range and counted. */
#include "bert/tokdata.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "fuzz_common.h"
#include "linear/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bert_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_ndjson");
    bert_config_init(&cfg, 30, 4, 1, 1, 4, 16);
    return 0;
}

static void check_vec(const sparse_vec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        FZ_CHECK(i == 0 || v->idx[i] > v->idx[i - 1], "idx strictly increasing");
        FZ_CHECK(v->dim == 0 || (long)v->idx[i] < v->dim, "idx inside dim");
        FZ_CHECK(isfinite(v->val[i]), "values finite");
    }
}

static void records(const char *path, int nul_ok)
{
    static ndjson_reader r;
    ndjson_open(&r, path);
    r.nul_escape_ok = nul_ok;
    sparse_vec v = {0}, w = {0};
    strbuf b = {0};
    long last = 0;
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        FZ_CHECK(cJSON_IsObject(rec), "a record is an object");
        FZ_CHECK(r.line > last, "record lines increase");
        last = r.line;
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        ndjson_write(m, rec);
        fclose(m);
        FZ_CHECK(len > 0 && buf[len - 1] == '\n' && !memchr(buf, '\n', len - 1), "written on one line");
        /* written again after a parse: the same bytes (cJSON_Compare is no
         * judge: it finds a duplicate key's first value only) */
        cJSON *again = cJSON_Parse(buf);
        FZ_CHECK(cJSON_IsObject(again), "the written record parses");
        char *buf2 = NULL;
        size_t len2 = 0;
        m = open_memstream(&buf2, &len2);
        ndjson_write(m, again);
        fclose(m);
        FZ_CHECK(len == len2 && !memcmp(buf, buf2, len), "written, parsed and written again: the same bytes");
        cJSON_Delete(again);
        free(buf), free(buf2);
        if (cJSON_GetObjectItemCaseSensitive(rec, "x")) {
            sparse_from_record(rec, "x", &v, r.name, r.line);
            check_vec(&v);
            sb_clear(&b);
            sb_adds(&b, "{\"x\":");
            sparse_append_json(&b, &v);
            sb_addc(&b, '}');
            cJSON *o = cJSON_Parse(b.s);
            FZ_CHECK(o != NULL, "written vector parses");
            sparse_from_record(o, "x", &w, "written", 1);
            FZ_CHECK(w.n == v.n && w.dim == v.dim, "vector read back: length and dim");
            FZ_CHECK(!v.n || (!memcmp(w.idx, v.idx, v.n * sizeof *v.idx) && !memcmp(w.val, v.val, v.n * sizeof *v.val)),
                     "vector read back: the same bits");
            cJSON_Delete(o);
        }
        cJSON_Delete(rec);
    }
    ndjson_close(&r);
    sparse_free(&v), sparse_free(&w), sb_free(&b);
}

static void tokens(const char *path, int labels)
{
    static tok_dataset d;
    memset(&d, 0, sizeof d);
    tokdata_read(&d, path, labels ? "label" : NULL, &cfg);
    FZ_CHECK(d.n > 0, "a dataset is not empty");
    size_t total = 0;
    for (size_t i = 0; i < d.n; i++) {
        const tok_example *e = &d.ex[i];
        FZ_CHECK(e->len > 0 && e->len <= cfg.max_position && e->len <= d.max_len, "length in range");
        FZ_CHECK(e->off == total, "sequences end to end");
        total += (size_t)e->len;
        for (int t = 0; t < e->len; t++) {
            FZ_CHECK(d.ids[e->off + t] >= 0 && d.ids[e->off + t] < cfg.vocab_size, "id in the vocabulary");
            FZ_CHECK(d.types[e->off + t] >= 0 && d.types[e->off + t] < cfg.type_vocab_size, "type id in range");
            FZ_CHECK(d.mask[e->off + t] == 0 || d.mask[e->off + t] == 1, "mask 0/1");
        }
        FZ_CHECK(labels == (e->label_name != NULL), "labels read when asked");
    }
    FZ_CHECK(total == d.ntok, "token count");
    if (labels) {
        int n;
        char **names = tokdata_map_labels(&d, &n);
        FZ_CHECK(n >= 1 && (size_t)n <= d.n, "classes counted");
        for (int k = 1; k < n; k++) FZ_CHECK(strcmp(names[k - 1], names[k]) < 0, "classes byte-sorted, distinct");
        size_t *counts = calloc((size_t)n, sizeof *counts), sum = 0;
        tokdata_class_counts(&d, counts, n);
        for (int k = 0; k < n; k++) FZ_CHECK(counts[k] > 0, "every class has examples"), sum += counts[k];
        FZ_CHECK(sum == d.n, "class counts sum to the examples");
        for (size_t i = 0; i < d.n; i++)
            FZ_CHECK(d.ex[i].label >= 0 && d.ex[i].label < n && !strcmp(names[d.ex[i].label], d.ex[i].label_name),
                     "label ids name the labels");
        free(counts);
        free(names);
    }
    tokdata_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *path = fz_path(0, "in.jsonl");
    fz_write(path, data + 1, size - 1);
    if (FZ_GUARD()) {
        switch (data[0] & 3) {
        case 0: records(path, 0); break;
        case 1: records(path, 1); break;
        case 2: tokens(path, 1); break;
        case 3: tokens(path, 0); break;
        }
        fz_end();
    }
    return 0;
}
