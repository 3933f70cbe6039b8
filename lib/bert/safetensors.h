/* safetensors: HuggingFace's tensor file format, read and written. A file is
 * an 8-byte little-endian header length N, N bytes of JSON naming each
 * tensor's dtype, shape and byte range ("data_offsets", relative to the end
 * of the header), then the raw little-endian data. BERT model directories
 * keep their weights in one (model.safetensors).
 *
 * Reading maps the file read-only and checks every entry (known dtype, shape,
 * offsets inside the file and matching the shape) before anything is used;
 * st_to_f32 converts F32, F16, BF16 and F64 tensors to float. Writing is F32
 * (and I8, for predict's int8 model directories: lib/bert/quant.h), goes
 * through lib/core/outfile.h (atomic: temp file + rename) and aligns the data
 * to 8 bytes as the reference writer does. */
#ifndef PIPECLF_SAFETENSORS_H
#define PIPECLF_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/* Size of the error buffers the model-file modules fill (safetensors,
 * bertconfig, bert, pytorch_bin). */
#define MODEL_ERR_MAX 384

/* Writes the message into err (MODEL_ERR_MAX bytes) and returns -1: the
 * model-file modules' way of failing. */
int model_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    char dtype[8];              /* "F32", "F16", "BF16", "I64", ... */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    const unsigned char *data;  /* inside the mapped file; not aligned */
} st_tensor;

typedef struct st_file {
    char *path;
    unsigned char *map;
    size_t size;
    st_tensor *tensors;         /* in file (header) order */
    size_t n;
    cJSON *metadata;            /* the "__metadata__" object, or NULL */
} st_file;

/* Opens and validates path. Returns 0, or -1 with a message in err
 * (MODEL_ERR_MAX bytes) naming the file and what is wrong. */
int st_open(st_file *f, const char *path, char *err);
/* Parses an in-memory image (the same checks; f->map points into buf, which
 * must outlive f and is not freed by st_close). Used by tests. */
int st_open_buffer(st_file *f, const unsigned char *buf, size_t size, const char *name, char *err);
const st_tensor *st_find(const st_file *f, const char *name);
/* Bytes per element of a dtype name, 0 for an unknown one. */
size_t st_dtype_size(const char *dtype);
/* Converts t to t->numel floats at dst. -1 (message in err) for a dtype
 * that is not a floating-point one. */
int st_to_f32(const st_tensor *t, float *dst, char *err);
void st_close(st_file *f);

/* One tensor to write: data holds numel(shape) floats. */
typedef struct st_out {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
} st_out;

/* Writes the tensors (in the given order) and, when nmeta > 0, a
 * "__metadata__" object of string pairs meta[2i] -> meta[2i+1], atomically
 * to path. Dies on a system error (disk full, permission). */
void st_write_f32(const char *path, const st_out *t, size_t n, const char *const *meta, size_t nmeta);
/* The same, where i8[i] (i8 NULL: none) non-NULL makes tensor i an I8 one
 * of those numel(shape) bytes (its data unused). */
void st_write(const char *path, const st_out *t, size_t n, const int8_t *const *i8, const char *const *meta,
              size_t nmeta);

#endif
