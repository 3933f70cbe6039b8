/* fuzz_tensors: the checks fuzz_safetensors and fuzz_pytorch share on an
 * st_file that opened: every tensor inside the file image, its size its
 * shape's, found by its name; the floating-point ones converted to float
 * and written (st_write_f32) to a safetensors file that opens (st_open) to
 * the same names, shapes and float bits. */
#ifndef PIPECLF_FUZZ_TENSORS_H
#define PIPECLF_FUZZ_TENSORS_H

#include "bert/safetensors.h"
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

static void check_tensors(const st_file *s, const unsigned char *image, size_t size, const char *out_path)
{
    char err[MODEL_ERR_MAX];
    size_t total = 0, nout = 0;
    st_out *out = calloc(s->n + 1, sizeof *out);
    float **vals = calloc(s->n + 1, sizeof *vals);
    for (size_t i = 0; i < s->n; i++) {
        const st_tensor *t = &s->tensors[i];
        FZ_CHECK(t->name != NULL, "a tensor has a name");
        FZ_CHECK(st_find(s, t->name) != NULL && !strcmp(st_find(s, t->name)->name, t->name), "found by its name");
        FZ_CHECK(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS, "dimensions in range");
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FZ_CHECK(t->shape[d] >= 0, "sizes not negative");
            numel *= (size_t)t->shape[d];
        }
        FZ_CHECK(numel == t->numel, "numel is the shape's product");
        size_t es = st_dtype_size(t->dtype);
        FZ_CHECK(es > 0 && t->nbytes == t->numel * es, "bytes are numel times the element size");
        FZ_CHECK(t->nbytes == 0 || (t->data >= image && t->data <= image + size && t->nbytes <= (size_t)(image + size - t->data)),
                 "data inside the file");
        /* touch every byte: ASan sees a read outside the image */
        unsigned sum = 0;
        for (size_t b = 0; b < t->nbytes; b++) sum += t->data[b];
        (void)sum;
        total += t->numel;
        if (total > (1u << 22)) continue;
        float *x = malloc(t->numel * sizeof *x + 1);
        if (st_to_f32(t, x, err) == 0) {
            vals[nout] = x;
            out[nout] = (st_out){t->name, x, t->ndim, {0}};
            memcpy(out[nout].shape, t->shape, sizeof t->shape);
            nout++;
        } else {
            FZ_CHECK(err[0] != 0, "a refusal says why");
            free(x);
        }
    }
    /* names must be distinct for a safetensors file: keep the first of each */
    size_t k = 0;
    for (size_t i = 0; i < nout; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++) dup |= !strcmp(out[j].name, out[i].name);
        if (dup) {
            free(vals[i]);
            continue;
        }
        out[k] = out[i], vals[k] = vals[i], k++;
    }
    nout = k;
    if (nout > 0) {
        st_write_f32(out_path, out, nout, NULL, 0);
        st_file back;
        FZ_CHECK(st_open(&back, out_path, err) == 0, "the written safetensors opens");
        FZ_CHECK(back.n == nout, "the same tensor count");
        for (size_t i = 0; i < nout; i++) {
            const st_tensor *t = st_find(&back, out[i].name);
            FZ_CHECK(t && t->ndim == out[i].ndim && !memcmp(t->shape, out[i].shape, (size_t)t->ndim * sizeof *t->shape),
                     "the same names and shapes");
            FZ_CHECK(!strcmp(t->dtype, "F32") && (t->nbytes == 0 || !memcmp(t->data, out[i].data, t->nbytes)),
                     "the same float bits");
        }
        st_close(&back);
    }
    for (size_t i = 0; i < nout; i++) free(vals[i]);
    free(vals);
    free(out);
}

#endif
