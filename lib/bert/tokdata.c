#include "tokdata.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "core/strmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* rec[key] as ints into out[0..maxlen); returns the array's length (which
 * may exceed maxlen: the caller reports that), -1 when absent. */
static int int_array(const ndjson_reader *r, const cJSON *rec, const char *key, int *out, int maxlen)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!a) return -1;
    if (!cJSON_IsArray(a)) die_at(r->name, r->line, "\"%s\" is not an array", key);
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9)
            die_at(r->name, r->line, "\"%s\" holds a value that is not an integer", key);
        if (n < maxlen) out[n] = (int)v->valuedouble;
        n++;
    }
    return n;
}

void tokdata_read(tok_dataset *d, const char *path, const char *label_field, const bert_config *cfg)
{
    memset(d, 0, sizeof *d);
    d->name = xstrdup(input_name(path));
    ndjson_reader r;
    ndjson_open(&r, path);
    const int P = cfg->max_position;
    int *buf = xmalloc((size_t)P * 3 * sizeof *buf);
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        int *ids = buf, *types = buf + P, *mask = buf + 2 * P;
        int n = int_array(&r, rec, "input_ids", ids, P);
        if (n < 0) die_at(r.name, r.line, "no \"input_ids\" array (token records come from wptok)");
        if (n == 0) die_at(r.name, r.line, "\"input_ids\" is empty");
        if (n > P)
            die_at(r.name, r.line, "%d tokens, more than the model's max_position_embeddings %d (wptok --max-len)",
                   n, P);
        int nt = int_array(&r, rec, "token_type_ids", types, P);
        int nm = int_array(&r, rec, "attention_mask", mask, P);
        if ((nt >= 0 && nt != n) || (nm >= 0 && nm != n))
            die_at(r.name, r.line, "token_type_ids / attention_mask differ in length from input_ids");
        for (int i = 0; i < n; i++) {
            if (nt < 0) types[i] = 0;
            if (nm < 0) mask[i] = 1;
            if (ids[i] < 0 || ids[i] >= cfg->vocab_size)
                die_at(r.name, r.line, "token id %d is outside the model's vocabulary (size %d)", ids[i],
                       cfg->vocab_size);
            if (types[i] < 0 || types[i] >= cfg->type_vocab_size)
                die_at(r.name, r.line, "token type %d is outside [0, %d)", types[i], cfg->type_vocab_size);
            if (mask[i] != 0 && mask[i] != 1) die_at(r.name, r.line, "attention_mask value %d is not 0 or 1", mask[i]);
        }
        /* padding a record brings along (wptok --padding) is dropped: a
         * batch is padded again to its own longest sequence */
        while (n > 1 && mask[n - 1] == 0) n--;
        const char *label = label_field ? rec_require_string(&r, rec, label_field) : NULL;
        if (d->n == d->cap) d->ex = xrealloc(d->ex, (d->cap = d->cap * 2 + 256) * sizeof *d->ex);
        if (d->ntok + (size_t)n > d->captok) {
            while (d->ntok + (size_t)n > d->captok) d->captok = d->captok * 2 + 4096;
            d->ids = xrealloc(d->ids, d->captok * sizeof(int));
            d->types = xrealloc(d->types, d->captok * sizeof(int));
            d->mask = xrealloc(d->mask, d->captok * sizeof(int));
        }
        memcpy(d->ids + d->ntok, ids, (size_t)n * sizeof(int));
        memcpy(d->types + d->ntok, types, (size_t)n * sizeof(int));
        memcpy(d->mask + d->ntok, mask, (size_t)n * sizeof(int));
        d->ex[d->n++] = (tok_example){d->ntok, n, -1, label ? xstrdup(label) : NULL, r.line};
        d->ntok += (size_t)n;
        if (n > d->max_len) d->max_len = n;
        cJSON_Delete(rec);
    }
    free(buf);
    ndjson_close(&r);
    if (d->n == 0) die("%s: no records", d->name);
}

void tokdata_free(tok_dataset *d)
{
    for (size_t i = 0; i < d->n; i++) free(d->ex[i].label_name);
    free(d->ex);
    free(d->ids);
    free(d->types);
    free(d->mask);
    free(d->name);
    memset(d, 0, sizeof *d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **tokdata_map_labels(tok_dataset *d, int *nlabels)
{
    if (d->n && !d->ex[0].label_name) die("%s: the records were read without labels", d->name);
    strmap seen = {0};
    char **names = NULL;
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        int is_new;
        strmap_put(&seen, d->ex[i].label_name, strlen(d->ex[i].label_name), 0, &is_new);
        if (is_new) {
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = d->ex[i].label_name;
        }
    }
    qsort(names, n, sizeof *names, cmp_str);
    strmap_free(&seen);
    *nlabels = (int)n;
    tokdata_apply_labels(d, names, (int)n);
    return names;
}

void tokdata_apply_labels(tok_dataset *d, char *const *names, int n)
{
    if (d->n && !d->ex[0].label_name) die("%s: the records were read without labels", d->name);
    strmap ids = {0};
    int is_new;
    for (int k = 0; k < n; k++) strmap_put(&ids, names[k], strlen(names[k]), (size_t)k, &is_new);
    for (size_t i = 0; i < d->n; i++) {
        const strmap_entry *e = strmap_find(&ids, d->ex[i].label_name, strlen(d->ex[i].label_name));
        if (!e) {
            strbuf known = {0};
            for (int k = 0; k < n && known.len < 200; k++) {
                if (k) sb_adds(&known, ", ");
                sb_adds(&known, names[k]);
            }
            die_at(d->name, d->ex[i].line, "label \"%s\" is not one of the training labels (%s%s)",
                   d->ex[i].label_name, sb_str(&known), known.len >= 200 ? ", ..." : "");
        }
        d->ex[i].label = (int)e->value;
    }
    strmap_free(&ids);
}

void tokdata_class_counts(const tok_dataset *d, size_t *counts, int n)
{
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (size_t i = 0; i < d->n; i++)
        if (d->ex[i].label >= 0 && d->ex[i].label < n) counts[d->ex[i].label]++;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

uint64_t tokdata_hash(const tok_dataset *d, uint64_t h)
{
    if (!h) h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < d->n; i++) {
        const tok_example *e = &d->ex[i];
        int head[2] = {e->len, e->label};
        h = fnv(h, head, sizeof head);
        h = fnv(h, d->ids + e->off, (size_t)e->len * sizeof(int));
        h = fnv(h, d->types + e->off, (size_t)e->len * sizeof(int));
        h = fnv(h, d->mask + e->off, (size_t)e->len * sizeof(int));
    }
    return h;
}

/* Stable sort of v[0..n) by decreasing length: insertion sort for short
 * runs would do, but chunks may hold thousands; merge sort keeps ties in
 * order as Python's sorted does. */
static void sort_by_length(const tok_dataset *d, size_t *v, size_t *tmp, size_t n)
{
    if (n < 2) return;
    size_t h = n / 2;
    sort_by_length(d, v, tmp, h);
    sort_by_length(d, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = d->ex[v[j]].len > d->ex[v[i]].len ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

void tokdata_epoch_order(const tok_dataset *d, size_t *order, prng *r, int shuffle, int bucket, size_t batch)
{
    const size_t n = d->n;
    for (size_t i = 0; i < n; i++) order[i] = i;
    if (!shuffle) return;
    prng_shuffle(r, order, n);
    if (!bucket || batch < 1) return;
    size_t group = n / (batch * 4);
    if (group > 50) group = 50;
    if (group == 0) group = 1;
    const size_t chunk = group * batch;
    size_t *tmp = xmalloc(chunk * sizeof *tmp), *perm = xmalloc(group * sizeof *perm);
    for (size_t start = 0; start < n; start += chunk) {
        size_t len = n - start < chunk ? n - start : chunk;
        size_t *v = order + start;
        sort_by_length(d, v, tmp, len);
        /* shuffle whole batches within the chunk; a short last batch stays last */
        size_t nb = len / batch;
        if (nb < 2) continue;
        for (size_t b = 0; b < nb; b++) perm[b] = b;
        prng_shuffle(r, perm, nb);
        memcpy(tmp, v, nb * batch * sizeof *tmp);
        for (size_t b = 0; b < nb; b++) memcpy(v + b * batch, tmp + perm[b] * batch, batch * sizeof *v);
    }
    free(tmp);
    free(perm);
}

const bert_batch *tokdata_batch(tok_batch *tb, const tok_dataset *d, const size_t *idx, int B, int pad_id,
                                int with_labels)
{
    int T = 0;
    for (int b = 0; b < B; b++)
        if (d->ex[idx[b]].len > T) T = d->ex[idx[b]].len;
    const size_t need = (size_t)B * (size_t)T;
    if (need > tb->cap_tok) {
        tb->cap_tok = need;
        tb->ids = xrealloc(tb->ids, need * sizeof(int));
        tb->types = xrealloc(tb->types, need * sizeof(int));
        tb->mask = xrealloc(tb->mask, need * sizeof(int));
    }
    if ((size_t)B > tb->cap_b) {
        tb->cap_b = (size_t)B;
        tb->labels = xrealloc(tb->labels, (size_t)B * sizeof(int));
    }
    for (int b = 0; b < B; b++) {
        const tok_example *e = &d->ex[idx[b]];
        const size_t o = (size_t)b * (size_t)T;
        memcpy(tb->ids + o, d->ids + e->off, (size_t)e->len * sizeof(int));
        memcpy(tb->types + o, d->types + e->off, (size_t)e->len * sizeof(int));
        memcpy(tb->mask + o, d->mask + e->off, (size_t)e->len * sizeof(int));
        for (int t = e->len; t < T; t++) {
            tb->ids[o + t] = pad_id;
            tb->types[o + t] = 0;
            tb->mask[o + t] = 0;
        }
        tb->labels[b] = e->label;
    }
    tb->b = (bert_batch){B, T, tb->ids, tb->types, tb->mask, with_labels ? tb->labels : NULL};
    return &tb->b;
}

void tok_batch_free(tok_batch *tb)
{
    free(tb->ids);
    free(tb->types);
    free(tb->mask);
    free(tb->labels);
    memset(tb, 0, sizeof *tb);
}
