#include "sparse.h"
#include "core/common.h"
#include "core/numfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sparse_push(sparse_vec *v, uint32_t idx, double val)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->idx = xrealloc(v->idx, v->cap * sizeof *v->idx);
        v->val = xrealloc(v->val, v->cap * sizeof *v->val);
    }
    v->idx[v->n] = idx;
    v->val[v->n++] = val;
}

void sparse_clear(sparse_vec *v) { v->n = 0; }

void sparse_free(sparse_vec *v)
{
    free(v->idx);
    free(v->val);
    memset(v, 0, sizeof *v);
}

void sparse_from_record(const cJSON *rec, const char *field, sparse_vec *v, const char *file, long line)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(rec, field);
    if (!x) die_at(file, line, "record has no \"%s\" (a sparse vector from tfidf)", field);
    if (!cJSON_IsObject(x)) die_at(file, line, "\"%s\" is not an object {\"dim\",\"idx\",\"val\"}", field);
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(x, "dim");
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(x, "idx");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(x, "val");
    if (!idx || !val) die_at(file, line, "\"%s\" has no \"%s\"", field, idx ? "val" : "idx");
    if (dim && (!cJSON_IsNumber(dim) || dim->valuedouble < 1 || dim->valuedouble > 4294967295.0 ||
                dim->valuedouble != floor(dim->valuedouble)))
        die_at(file, line, "\"%s.dim\" is not a positive integer", field);
    if (!cJSON_IsArray(idx) || !cJSON_IsArray(val))
        die_at(file, line, "\"%s.idx\" and \"%s.val\" must be arrays", field, field);
    int n = cJSON_GetArraySize(idx);
    if (n != cJSON_GetArraySize(val))
        die_at(file, line, "\"%s.idx\" has %d entries but \"%s.val\" has %d", field, n, field, cJSON_GetArraySize(val));
    sparse_clear(v);
    v->dim = dim ? (long)dim->valuedouble : 0;
    double limit = dim ? (double)v->dim : 4294967295.0;
    double prev = -1;
    const cJSON *i = idx->child, *w = val->child;
    for (int k = 0; k < n; k++, i = i->next, w = w->next) {
        if (!cJSON_IsNumber(i) || i->valuedouble != floor(i->valuedouble))
            die_at(file, line, "\"%s.idx\"[%d] is not an integer", field, k);
        double d = i->valuedouble;
        if (d < 0 || d >= limit)
            die_at(file, line, "\"%s.idx\"[%d] = %.0f is out of range [0, %.0f)", field, k, d, limit);
        if (d <= prev) die_at(file, line, "\"%s.idx\" is not strictly increasing at [%d]", field, k);
        if (!cJSON_IsNumber(w)) die_at(file, line, "\"%s.val\"[%d] is not a number", field, k);
        if (!isfinite(w->valuedouble)) die_at(file, line, "\"%s.val\"[%d] is not a finite number", field, k);
        sparse_push(v, (uint32_t)d, w->valuedouble);
        prev = d;
    }
}

void sparse_append_json(strbuf *b, const sparse_vec *v)
{
    char num[NUMFMT_MAX];
    int len = snprintf(num, sizeof num, "%ld", v->dim);
    sb_adds(b, "{\"dim\":");
    sb_addn(b, num, (size_t)len);
    sb_adds(b, ",\"idx\":[");
    for (size_t k = 0; k < v->n; k++) {
        len = snprintf(num, sizeof num, "%s%u", k ? "," : "", v->idx[k]);
        sb_addn(b, num, (size_t)len);
    }
    sb_adds(b, "],\"val\":[");
    for (size_t k = 0; k < v->n; k++) {
        if (k) sb_addc(b, ',');
        len = fmt_double(num, v->val[k]);
        sb_addn(b, num, (size_t)len);
    }
    sb_adds(b, "]}");
}
