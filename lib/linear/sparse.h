/* sparse: the sparse-vector field of a record, {"dim":D,"idx":[...],"val":[...]},
 * idx strictly increasing in [0, D), every val finite. Written by tfidf, read
 * by logreg and predict. "dim" may be left out (the SPEC's vector is the
 * parallel idx/val arrays): predict then takes the model's, logreg the one
 * other records give or else the largest index + 1. */
#ifndef PIPECLF_SPARSE_H
#define PIPECLF_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "core/strbuf.h"

typedef struct sparse_vec {
    size_t n, cap;
    uint32_t *idx;
    double *val;
    long dim;  /* 0: the record gave none (its length is the model's, or the data's) */
} sparse_vec;

/* Reads rec[field] into v (reusing its arrays). Dies "prog: FILE:LINE: ..."
 * when the field is missing or malformed: not an object, idx/val not arrays
 * of numbers, lengths differ, an index not an integer, out of [0, dim) (of
 * [0, 2^32 - 1) without a dim) or not increasing, a value NaN or infinite. */
void sparse_from_record(const cJSON *rec, const char *field, sparse_vec *v, const char *file, long line);
/* Appends v as the JSON object above. */
void sparse_append_json(strbuf *b, const sparse_vec *v);
void sparse_push(sparse_vec *v, uint32_t idx, double val);
void sparse_clear(sparse_vec *v);
void sparse_free(sparse_vec *v);

#endif
