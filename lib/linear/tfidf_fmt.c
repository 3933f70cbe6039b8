/* tfidf_fmt: vector records as JSON text, fast: the numbers by
 * lib/core/numfmt's fmt_double, the indices by hand, in one buffer. */
#include "tfidf.h"

#include "core/numfmt.h"

#include <stdint.h>
#include <string.h>

static char *write_u32(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

void tfidf_append_vector_json(strbuf *b, const sparse_vec *v)
{
    sb_reserve(b, 48 + v->n * (NUMFMT_MAX + 12));
    char *p = b->s + b->len;
    memcpy(p, "{\"dim\":", 7);
    p += 7;
    if (v->dim >= 0 && v->dim <= UINT32_MAX) {
        p = write_u32(p, (uint32_t)v->dim);
    } else {
        p += snprintf(p, 24, "%ld", v->dim);
    }
    memcpy(p, ",\"idx\":[", 8);
    p += 8;
    for (size_t k = 0; k < v->n; k++) {
        if (k) *p++ = ',';
        p = write_u32(p, v->idx[k]);
    }
    memcpy(p, "],\"val\":[", 9);
    p += 9;
    for (size_t k = 0; k < v->n; k++) {
        if (k) *p++ = ',';
        p += fmt_double(p, v->val[k]);
    }
    memcpy(p, "]}", 3);
    b->len = (size_t)(p + 2 - b->s);
}
