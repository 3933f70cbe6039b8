#include "quant.h"
#include "core/common.h"
#include "core/outfile.h"
#include "core/vmath_clones.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the HF names of a dense's weights, after "bert.encoder.layer.N."; the
 * QKV matrix is three of them, H rows each */
static const char *const dense_names[BERT_DENSES][3] = {
    {"attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight"},
    {"attention.output.dense.weight", NULL, NULL},
    {"intermediate.dense.weight", NULL, NULL},
    {"output.dense.weight", NULL, NULL},
};

float *bert_dense_weight(const bert_model *m, int layer, int dense, int *rows, int *cols)
{
    const int H = m->cfg.hidden_size, FF = m->cfg.intermediate_size;
    const bert_layer_weights *w = &m->w.layers[layer];
    switch (dense) {
    case BERT_DENSE_QKV: *rows = 3 * H, *cols = H; return w->qkv_w;
    case BERT_DENSE_ATTN_OUT: *rows = H, *cols = H; return w->attn_out_w;
    case BERT_DENSE_FC: *rows = FF, *cols = H; return w->fc_w;
    default: *rows = H, *cols = FF; return w->proj_w;
    }
}

/* ------------------------------------------------------------------------
 * Numbers. */

/* Adding and subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22
 * to an integer, to nearest with ties to even (the default rounding mode),
 * as nearbyintf does, but in a loop the compiler can vectorise. */
#define ROUND_MAGIC 12582912.0f

float quant_row_int8(const float *x, size_t n, int qmax, int8_t *q)
{
    float amax = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    if (!(amax > 0)) {
        memset(q, 0, n);
        return 0;
    }
    const float scale = amax / (float)qmax, lim = (float)qmax;
    for (size_t i = 0; i < n; i++) {
        float v = x[i] / scale;
        v = v >= -lim ? v : -lim; /* NaN fails the test: -qmax, never an undefined conversion */
        v = v <= lim ? v : lim;
        q[i] = (int8_t)(int)((v + ROUND_MAGIC) - ROUND_MAGIC);
    }
    return scale;
}

/* The hot loops of int8 and bf16 inference, 8 lanes at a time with GCC's
 * vector extensions, as lib/core/vmath does; CLONES adds an AVX2 version
 * with the same bits (no FMA: see lib/core/vmath_clones.h). Tails go
 * through a padded copy, so every element takes the same operations. */
#define W 8
typedef float vf __attribute__((vector_size(W * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(W * sizeof(int32_t))));
typedef uint32_t vu __attribute__((vector_size(W * sizeof(uint32_t))));
typedef uint16_t vh __attribute__((vector_size(W * sizeof(uint16_t))));
#pragma GCC diagnostic ignored "-Wpsabi" /* see lib/core/vmath.c */

static inline __attribute__((always_inline)) vf splat(float x)
{
    return (vf){0} + x;
}

/* where keep: a, else b (a macro: vectors are not passed by value, see
 * lib/core/vmath.c) */
#define PICK(keep, a, b) ((vf)(((keep) & (vi)(a)) | (~(keep) & (vi)(b))))

typedef uint8_t vb32 __attribute__((vector_size(4 * W)));

/* 8 values at x to bytes q + zp at u (n of them). Adding 2^23 + zp rounds
 * v + zp to an integer (ties to even, as v's own rounding would: zp is
 * even) that sits in the low bits of the float, 2^23 <= v + 2^23 + zp <
 * 2^24; a byte shuffle gathers them. (A vector conversion to bytes is
 * done lane by lane by GCC, which made this the hot spot of int8.) */
static inline __attribute__((always_inline)) void u8_lanes(const float *x, float inv, float qmax, int zp, uint8_t *u,
                                                           size_t n)
{
    vf v;
    memcpy(&v, x, sizeof v);
    const vf lim = splat(qmax);
    v = v * splat(inv);
    v = PICK(v >= -lim, v, -lim); /* NaN fails the test: -qmax, never an undefined conversion */
    v = PICK(v <= lim, v, lim);
    const vb32 bytes = (vb32)(v + splat(8388608.0f + (float)zp));
    const vb32 low = __builtin_shuffle(bytes, (vb32){0, 4, 8, 12, 16, 20, 24, 28});
    memcpy(u, &low, n);
}

/* The larger of m and |v| lane by lane (NaN never wins) */
#define ABS_MAX(m, v) PICK((vf)((vi)(v) & 0x7fffffff) > (m), (vf)((vi)(v) & 0x7fffffff), (m))

CLONES float quant_row_u8(const float *x, size_t n, int qmax, uint8_t *u)
{
    const size_t full = n / W * W;
    /* four running maxima, so that each compare does not wait for the last */
    vf m = {0}, m1 = {0}, m2 = {0}, m3 = {0}, v, v1, v2, v3;
    float tail[W] = {0};
    memcpy(tail, x + full, (n - full) * sizeof *tail);
    size_t i = 0;
    for (; i + 4 * W <= full; i += 4 * W) {
        memcpy(&v, x + i, sizeof v);
        memcpy(&v1, x + i + W, sizeof v1);
        memcpy(&v2, x + i + 2 * W, sizeof v2);
        memcpy(&v3, x + i + 3 * W, sizeof v3);
        m = ABS_MAX(m, v);
        m1 = ABS_MAX(m1, v1);
        m2 = ABS_MAX(m2, v2);
        m3 = ABS_MAX(m3, v3);
    }
    for (; i < full; i += W) {
        memcpy(&v, x + i, sizeof v);
        m = ABS_MAX(m, v);
    }
    memcpy(&v, tail, sizeof v);
    m = ABS_MAX(m, v);
    m = PICK(m1 > m, m1, m);
    m2 = PICK(m3 > m2, m3, m2);
    m = PICK(m2 > m, m2, m);
    float amax = 0;
    for (int k = 0; k < W; k++) amax = m[k] > amax ? m[k] : amax;
    const int zp = qmax + 1;
    if (!(amax > 0)) {
        memset(u, zp, n);
        return 0;
    }
    const float inv = (float)qmax / amax;
    for (i = 0; i < full; i += W) u8_lanes(x + i, inv, (float)qmax, zp, u + i, W);
    if (full < n) u8_lanes(tail, inv, (float)qmax, zp, u + full, n - full);
    return amax / (float)qmax;
}

/* 8 floats at x to bf16 bits at out (n of them) */
static inline __attribute__((always_inline)) void bf16_lanes(const float *x, uint16_t *out, size_t n)
{
    vu u;
    memcpy(&u, x, sizeof u);
    const vu rounded = (u + 0x7fffu + ((u >> 16) & 1)) >> 16, quiet_nan = (u >> 16) | 0x40;
    const vi nan = (vi)((u & 0x7fffffffu) > 0x7f800000u);
    const vh h = __builtin_convertvector((vu)(((vi)quiet_nan & nan) | ((vi)rounded & ~nan)), vh);
    memcpy(out, &h, n * sizeof *out);
}

CLONES void quant_bf16_row(const float *x, size_t n, uint16_t *out)
{
    const size_t full = n / W * W;
    for (size_t i = 0; i < full; i += W) bf16_lanes(x + i, out + i, W);
    if (full < n) {
        float tail[W] = {0};
        memcpy(tail, x + full, (n - full) * sizeof *tail);
        bf16_lanes(tail, out + full, n - full);
    }
}

uint16_t quant_bf16_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* a quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* ------------------------------------------------------------------------
 * A model's int8 weights. */

static bert_int8 *int8_alloc(const bert_model *m)
{
    bert_int8 *q = xcalloc(1, sizeof *q);
    q->layers = m->cfg.num_layers;
    q->q = xcalloc((size_t)q->layers * BERT_DENSES, sizeof *q->q);
    q->scale = xcalloc((size_t)q->layers * BERT_DENSES, sizeof *q->scale);
    for (int l = 0; l < q->layers; l++)
        for (int d = 0; d < BERT_DENSES; d++) {
            int rows, cols;
            bert_dense_weight(m, l, d, &rows, &cols);
            q->q[l * BERT_DENSES + d] = xmalloc((size_t)rows * (size_t)cols);
            q->scale[l * BERT_DENSES + d] = xmalloc((size_t)rows * sizeof(float));
        }
    return q;
}

void quant_free(bert_int8 *q)
{
    if (!q) return;
    for (int i = 0; i < q->layers * BERT_DENSES; i++) {
        free(q->q[i]);
        free(q->scale[i]);
    }
    free(q->q);
    free(q->scale);
    free(q);
}

bert_int8 *quant_from_model(const bert_model *m, char *err)
{
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int d = 0; d < BERT_DENSES; d++) {
            int rows, cols;
            const float *w = bert_dense_weight(m, l, d, &rows, &cols);
            for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++)
                if (!isfinite(w[i])) {
                    int part = d == BERT_DENSE_QKV ? (int)(i / cols) / m->cfg.hidden_size : 0;
                    model_fail(err, "bert.encoder.layer.%d.%s holds a value that is not finite: it cannot be quantized",
                               l, dense_names[d][part]);
                    return NULL;
                }
        }
    bert_int8 *q = int8_alloc(m);
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int d = 0; d < BERT_DENSES; d++) {
            int rows, cols;
            const float *w = bert_dense_weight(m, l, d, &rows, &cols);
            int8_t *qd = q->q[l * BERT_DENSES + d];
            float *sd = q->scale[l * BERT_DENSES + d];
            for (int r = 0; r < rows; r++) {
                float s = quant_row_int8(w + (size_t)r * cols, (size_t)cols, 127, qd + (size_t)r * cols);
                sd[r] = s > 0 ? s : 1.0f; /* a row of zeros: q is 0 whatever the scale */
            }
        }
    return q;
}

/* NAME ".weight" -> NAME ".weight_scale" */
static void scale_name(char *out, size_t n, const char *weight_name)
{
    snprintf(out, n, "%s_scale", weight_name);
}

/* Copies the I8 tensor `name` [rows, cols] and its scales into q, s. */
static int read_part(const st_file *f, const char *name, int rows, int cols, int8_t *q, float *s, char *err)
{
    const st_tensor *t = st_find(f, name);
    if (!t) return model_fail(err, "%s: missing tensor %s (an int8 directory needs it)", f->path, name);
    if (strcmp(t->dtype, "I8") != 0)
        return model_fail(err, "%s: tensor %s has dtype %s; config.json's \"quantization\" needs I8", f->path, name,
                          t->dtype);
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return model_fail(err, "%s: tensor %s is not [%d, %d], the config's shape", f->path, name, rows, cols);
    memcpy(q, t->data, (size_t)rows * (size_t)cols);
    char sname[256]; /* name (< 200) + "_scale" */
    scale_name(sname, sizeof sname, name);
    const st_tensor *ts = st_find(f, sname);
    if (!ts) return model_fail(err, "%s: missing tensor %s (the scales of %s)", f->path, sname, name);
    if (strcmp(ts->dtype, "F32") != 0 || ts->ndim != 1 || ts->shape[0] != rows)
        return model_fail(err, "%s: tensor %s must be F32 of shape [%d] (one scale per row of %s)", f->path, sname,
                          rows, name);
    memcpy(s, ts->data, (size_t)rows * sizeof *s);
    for (int r = 0; r < rows; r++)
        if (!(s[r] > 0) || !isfinite(s[r]))
            return model_fail(err, "%s: tensor %s: scale %d is %g; scales must be positive and finite", f->path,
                              sname, r, (double)s[r]);
    return 0;
}

bert_int8 *quant_read(bert_model *m, const st_file *f, char *err)
{
    bert_int8 *q = int8_alloc(m);
    const int H = m->cfg.hidden_size;
    char name[200];
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int d = 0; d < BERT_DENSES; d++) {
            int rows, cols;
            float *w = bert_dense_weight(m, l, d, &rows, &cols);
            int8_t *qd = q->q[l * BERT_DENSES + d];
            float *sd = q->scale[l * BERT_DENSES + d];
            const int parts = d == BERT_DENSE_QKV ? 3 : 1, part_rows = d == BERT_DENSE_QKV ? H : rows;
            for (int p = 0; p < parts; p++) {
                snprintf(name, sizeof name, "bert.encoder.layer.%d.%s", l, dense_names[d][p]);
                if (read_part(f, name, part_rows, cols, qd + (size_t)p * part_rows * cols, sd + (size_t)p * part_rows,
                              err) < 0) {
                    quant_free(q);
                    return NULL;
                }
            }
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                    w[(size_t)r * cols + c] = (float)qd[(size_t)r * cols + c] * sd[r];
        }
    return q;
}

/* ------------------------------------------------------------------------
 * The directory. */

int quant_config_check(const cJSON *config, const char *path, char *err)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(config, "quantization");
    if (!q) return 0;
    const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(q, "scheme");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(q, "format_version");
    if (!cJSON_IsString(scheme) || strcmp(scheme->valuestring, QUANT_SCHEME) != 0 || !cJSON_IsNumber(version) ||
        version->valuedouble != QUANT_FORMAT_VERSION)
        return model_fail(err, "%s: \"quantization\" is not {\"scheme\": \"%s\", \"format_version\": %d}, the one "
                               "int8 format pipeclf reads", path, QUANT_SCHEME, QUANT_FORMAT_VERSION);
    return 1;
}

int quant_is_int8_name(const char *name)
{
    const char *prefix = "bert.encoder.layer.";
    if (strncmp(name, prefix, strlen(prefix)) != 0) return 0;
    const char *p = name + strlen(prefix);
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    if (*p++ != '.') return 0;
    for (int d = 0; d < BERT_DENSES; d++)
        for (int k = 0; k < 3; k++)
            if (dense_names[d][k] && strcmp(p, dense_names[d][k]) == 0) return 1;
    return 0;
}

/* where an int8 tensor name's rows are: layer, dense, first row */
static void int8_place(const bert_model *m, const char *name, int *layer, int *dense, int *row0, int *rows)
{
    const char *p = name + strlen("bert.encoder.layer.");
    *layer = atoi(p);
    p = strchr(p, '.') + 1;
    for (int d = 0; d < BERT_DENSES; d++)
        for (int k = 0; k < 3; k++)
            if (dense_names[d][k] && strcmp(p, dense_names[d][k]) == 0) {
                int cols;
                bert_dense_weight(m, *layer, d, rows, &cols);
                *dense = d;
                if (d == BERT_DENSE_QKV) *rows = m->cfg.hidden_size;
                *row0 = k * *rows;
                return;
            }
}

static cJSON *marker(void)
{
    cJSON *q = cJSON_CreateObject();
    cJSON_AddStringToObject(q, "scheme", QUANT_SCHEME);
    cJSON_AddNumberToObject(q, "format_version", QUANT_FORMAT_VERSION);
    cJSON_AddStringToObject(q, "weights", "int8 symmetric per output channel: w = q * NAME_scale[row], "
                                          "NAME_scale = max|w_row| / 127");
    cJSON_AddStringToObject(q, "activations", "int8 symmetric per token, computed at run time");
    cJSON *mods = cJSON_AddArrayToObject(q, "modules");
    for (int d = 0; d < BERT_DENSES; d++)
        for (int k = 0; k < 3; k++)
            if (dense_names[d][k]) {
                char mod[64];
                snprintf(mod, sizeof mod, "%.*s", (int)(strlen(dense_names[d][k]) - strlen(".weight")),
                         dense_names[d][k]);
                cJSON_AddItemToArray(mods, cJSON_CreateString(mod));
            }
    cJSON_AddStringToObject(q, "producer", "pipeclf predict --save-quantized");
    return q;
}

void quant_save_dir(const bert_model *m, const bert_int8 *q, const char *src_dir, const char *dir)
{
    struct stat a, b;
    if (stat(src_dir, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        die("%s: is the model's own directory: write the int8 model to another one", dir);
    out_mkdirs(dir);
    char *path = path_join(dir, "model.safetensors");
    if (unlink(path) < 0 && errno != ENOENT) die("cannot remove %s: %s", path, strerror(errno));

    cJSON *mk = marker();
    bert_save_config(m, dir, "quantization", mk);
    cJSON_Delete(mk);
    bert_copy_tokenizer(src_dir, dir);

    /* every tensor in bert_save's order; an int8 one followed by its scales */
    st_out *t = xcalloc(2 * (size_t)m->num_tensors, sizeof *t);
    const int8_t **i8 = xcalloc(2 * (size_t)m->num_tensors, sizeof *i8);
    char **names = xcalloc((size_t)m->num_tensors, sizeof *names);
    size_t n = 0;
    for (int i = 0; i < m->num_tensors; i++) {
        const bert_tensor *bt = &m->tensors[i];
        t[n].name = bt->name;
        t[n].ndim = bt->ndim;
        t[n].shape[0] = bt->shape[0];
        t[n].shape[1] = bt->shape[1];
        if (!quant_is_int8_name(bt->name)) {
            t[n++].data = m->params + bt->offset;
            continue;
        }
        int layer = 0, dense = 0, row0 = 0, rows = 0;
        int8_place(m, bt->name, &layer, &dense, &row0, &rows);
        i8[n++] = q->q[layer * BERT_DENSES + dense] + (size_t)row0 * (size_t)bt->shape[1];
        names[i] = xmalloc(strlen(bt->name) + sizeof "_scale");
        scale_name(names[i], strlen(bt->name) + sizeof "_scale", bt->name);
        t[n].name = names[i];
        t[n].ndim = 1;
        t[n].shape[0] = rows;
        t[n++].data = q->scale[layer * BERT_DENSES + dense] + row0;
    }
    const char *meta[] = {"format", "pt", "quantization", QUANT_SCHEME};
    st_write(path, t, n, i8, meta, 2);
    free(i8);
    for (int i = 0; i < m->num_tensors; i++) free(names[i]);
    free(names);
    free(t);
    free(path);
}
