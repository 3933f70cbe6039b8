#include "safetensors.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "core/outfile.h"
#include "core/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader copies it as is"
#endif

/* A header larger than this is not a model file (the reference library
 * refuses 100 MB too). */
#define ST_MAX_HEADER (100u << 20)

int model_fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, MODEL_ERR_MAX, fmt, ap);
    va_end(ap);
    /* one line: a name quoted from a damaged file may hold control characters */
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

size_t st_dtype_size(const char *d)
{
    static const struct { const char *name; size_t size; } types[] = {
        {"F64", 8}, {"I64", 8}, {"U64", 8}, {"F32", 4}, {"I32", 4}, {"U32", 4},
        {"F16", 2}, {"BF16", 2}, {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1},
        {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(d, types[i].name) == 0) return types[i].size;
    return 0;
}

static void clear(st_file *f)
{
    for (size_t i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    cJSON_Delete(f->metadata);
    free(f->path);
    f->tensors = NULL;
    f->metadata = NULL;
    f->path = NULL;
    f->n = 0;
}

/* Reads one header entry into t; returns -1 with a message otherwise. */
static int parse_entry(const cJSON *e, st_tensor *t, const unsigned char *data, size_t datalen,
                       const char *name, char *err)
{
    if (!cJSON_IsObject(e)) return model_fail(err, "%s: tensor \"%s\": entry is not an object", name, e->string);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return model_fail(err, "%s: tensor \"%s\": needs dtype, shape and data_offsets", name, e->string);
    size_t esize = st_dtype_size(dtype->valuestring);
    if (!esize) return model_fail(err, "%s: tensor \"%s\": unknown dtype \"%.16s\"", name, e->string, dtype->valuestring);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype->valuestring);
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS) return model_fail(err, "%s: tensor \"%s\": %d dimensions (at most %d)", name, e->string, nd, ST_MAX_DIMS);
    t->ndim = nd;
    t->numel = 1;
    int k = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) {
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble != floor(d->valuedouble) || d->valuedouble > 1e15)
            return model_fail(err, "%s: tensor \"%s\": bad shape", name, e->string);
        t->shape[k++] = (int64_t)d->valuedouble;
        if (t->shape[k - 1] && t->numel > SIZE_MAX / 16 / (size_t)t->shape[k - 1])
            return model_fail(err, "%s: tensor \"%s\": shape too large", name, e->string);
        t->numel *= (size_t)t->shape[k - 1];
    }
    if (cJSON_GetArraySize(offs) != 2) return model_fail(err, "%s: tensor \"%s\": data_offsets needs 2 numbers", name, e->string);
    const cJSON *b = cJSON_GetArrayItem(offs, 0), *en = cJSON_GetArrayItem(offs, 1);
    if (!cJSON_IsNumber(b) || !cJSON_IsNumber(en) || b->valuedouble < 0 || en->valuedouble < b->valuedouble ||
        b->valuedouble != floor(b->valuedouble) || en->valuedouble != floor(en->valuedouble))
        return model_fail(err, "%s: tensor \"%s\": bad data_offsets", name, e->string);
    if (en->valuedouble > (double)datalen)
        return model_fail(err, "%s: tensor \"%s\": data_offsets past the end of the file (truncated?)", name, e->string);
    size_t begin = (size_t)b->valuedouble, end = (size_t)en->valuedouble;
    t->nbytes = end - begin;
    if (t->nbytes != t->numel * esize)
        return model_fail(err, "%s: tensor \"%s\": %zu bytes for %zu %s elements", name, e->string, t->nbytes, t->numel, t->dtype);
    t->data = data + begin;
    t->name = xstrdup(e->string);
    return 0;
}

int st_open_buffer(st_file *f, const unsigned char *buf, size_t size, const char *name, char *err)
{
    memset(f, 0, sizeof *f);
    f->path = xstrdup(name);
    if (size < 8) {
        clear(f);
        return model_fail(err, "%s: not a safetensors file (shorter than its 8-byte header length)", name);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > ST_MAX_HEADER || hlen > size - 8) {
        clear(f);
        return model_fail(err, "%s: not a safetensors file (header length %llu, file size %zu)", name,
                    (unsigned long long)hlen, size);
    }
    cJSON *h = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(h)) {
        cJSON_Delete(h);
        clear(f);
        return model_fail(err, "%s: not a safetensors file (header is not a JSON object)", name);
    }
    size_t count = (size_t)cJSON_GetArraySize(h);
    f->tensors = xcalloc(count ? count : 1, sizeof *f->tensors);
    const unsigned char *data = buf + 8 + hlen;
    size_t datalen = size - 8 - (size_t)hlen;
    cJSON *e;
    cJSON_ArrayForEach(e, h) {
        if (strcmp(e->string, "__metadata__") == 0) {
            f->metadata = cJSON_Duplicate(e, 1);
            continue;
        }
        if (parse_entry(e, &f->tensors[f->n], data, datalen, name, err) < 0) {
            cJSON_Delete(h);
            clear(f);
            return -1;
        }
        f->n++;
    }
    cJSON_Delete(h);
    return 0;
}

int st_open(st_file *f, const char *path, char *err)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return model_fail(err, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return model_fail(err, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return model_fail(err, "cannot map %s: %s", path, strerror(errno));
        }
    }
    close(fd);
    static const unsigned char empty[1];
    if (st_open_buffer(f, map ? map : empty, size, path, err) < 0) {
        if (map) munmap(map, size);
        return -1;
    }
    f->map = map;
    f->size = size;
    return 0;
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000u | mant << 13;            /* inf, nan */
    else if (exp) bits = sign | (exp + 112) << 23 | mant << 13;         /* normal */
    else if (!mant) bits = sign;                                        /* zero */
    else {                                                              /* subnormal */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

int st_to_f32(const st_tensor *t, float *dst, char *err)
{
    const unsigned char *p = t->data;
    if (strcmp(t->dtype, "F32") == 0) {
        memcpy(dst, p, t->numel * 4);
    } else if (strcmp(t->dtype, "F64") == 0) {
        for (size_t i = 0; i < t->numel; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
    } else if (strcmp(t->dtype, "F16") == 0) {
        for (size_t i = 0; i < t->numel; i++) dst[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    } else if (strcmp(t->dtype, "BF16") == 0) {
        for (size_t i = 0; i < t->numel; i++) {
            uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &bits, 4);
        }
    } else {
        return model_fail(err, "tensor \"%s\" has dtype %s, not a floating-point type", t->name, t->dtype);
    }
    return 0;
}

void st_close(st_file *f)
{
    if (f->map) munmap(f->map, f->size);
    clear(f);
    memset(f, 0, sizeof *f);
}

void st_write_f32(const char *path, const st_out *t, size_t n, const char *const *meta, size_t nmeta)
{
    st_write(path, t, n, NULL, meta, nmeta);
}

void st_write(const char *path, const st_out *t, size_t n, const int8_t *const *i8, const char *const *meta,
              size_t nmeta)
{
    strbuf h = {0};
    sb_addc(&h, '{');
    if (nmeta) {
        sb_adds(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i) sb_addc(&h, ',');
            json_quote(&h, meta[2 * i], strlen(meta[2 * i]));
            sb_addc(&h, ':');
            json_quote(&h, meta[2 * i + 1], strlen(meta[2 * i + 1]));
        }
        sb_addc(&h, '}');
    }
    size_t offset = 0;
    char num[64];
    for (size_t i = 0; i < n; i++) {
        if (i || nmeta) sb_addc(&h, ',');
        json_quote(&h, t[i].name, strlen(t[i].name));
        sb_adds(&h, i8 && i8[i] ? ":{\"dtype\":\"I8\",\"shape\":[" : ":{\"dtype\":\"F32\",\"shape\":[");
        size_t numel = 1, esize = i8 && i8[i] ? 1 : 4;
        for (int d = 0; d < t[i].ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
            sb_adds(&h, num);
            numel *= (size_t)t[i].shape[d];
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", offset, offset + esize * numel);
        sb_adds(&h, num);
        offset += esize * numel;
    }
    sb_addc(&h, '}');
    while ((h.len + 8) % 8) sb_addc(&h, ' '); /* data starts 8-byte aligned */

    outfile o;
    out_open(&o, path);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    fwrite(len, 1, 8, o.f);
    fwrite(h.s, 1, h.len, o.f);
    for (size_t i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        if (numel && i8 && i8[i]) fwrite(i8[i], 1, numel, o.f);
        else if (numel) fwrite(t[i].data, 4, numel, o.f); /* little-endian host, as the format */
    }
    out_commit(&o);
    sb_free(&h);
}
