#include "bert_predict.h"
#include "bert_cuda.h"
#include "core/common.h"
#include "core/strbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int bert_predict_dir(const char *dir)
{
    strbuf p = {0};
    sb_adds(&p, dir);
    sb_adds(&p, "/config.json");
    struct stat st;
    int ok = stat(p.s, &st) == 0 && S_ISREG(st.st_mode);
    sb_free(&p);
    return ok;
}

void bert_predict_load(bert_predictor *p, const char *dir, int max_len)
{
    memset(p, 0, sizeof *p);
    p->dir = dir;
    if (bert_load_flags(&p->model, dir, 0, 0, BERT_LOAD_INT8) != 0) die("%s: %s", dir, p->model.err);
    if (p->model.num_fresh > 0)
        die("%s: not a fine-tuned classifier: it has no %s (train it with bert-train first)", dir,
            p->model.fresh[0]);
    if (!p->model.cfg.labels)
        die("%s: config.json has no id2label: the class names are unknown", dir);
    p->max_len = max_len > 0 ? max_len : p->model.cfg.max_position;
    p->model.no_grad = 1;
}

void bert_predict_free(bert_predictor *p)
{
    bert_dev_detach(&p->model); /* its GPU twin, when predict put it on one */
    bert_free(&p->model);
    if (p->wp) wp_free(p->wp);
    free(p->ids);
    free(p->types);
    free(p->mask);
    wp_encoding_free(&p->enc);
}

/* Reads the int array rec[key] into out[0..len); returns len, or -1 when
 * the record has no such field. */
static long int_array(const cJSON *rec, const char *key, int *out, size_t cap, const char *file, long line)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!a) return -1;
    if (!cJSON_IsArray(a)) die_at(file, line, "\"%s\" is not an array", key);
    size_t n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2147483647.0)
            die_at(file, line, "\"%s\"[%zu] is not an integer", key, n);
        if (out) {
            if (n >= cap) die_at(file, line, "\"%s\" is longer than the other id arrays", key);
            out[n] = (int)v->valuedouble;
        }
        n++;
    }
    return (long)n;
}

/* The tokens of one record into p->enc: its own input_ids (+ types, mask),
 * or its text tokenized. */
static void record_tokens(bert_predictor *p, const cJSON *rec, const char *file, long line, const char *text_field,
                          const char *text_b_field)
{
    wp_encoding *e = &p->enc;
    long n = int_array(rec, "input_ids", NULL, 0, file, line);
    if (n >= 0) {
        if (n == 0) die_at(file, line, "\"input_ids\" is empty");
        if ((size_t)n > e->cap) {
            e->cap = (size_t)n;
            e->ids = xrealloc(e->ids, e->cap * sizeof *e->ids);
            e->type_ids = xrealloc(e->type_ids, e->cap);
            e->attention_mask = xrealloc(e->attention_mask, e->cap);
        }
        int *tmp = xmalloc((size_t)n * sizeof *tmp);
        int_array(rec, "input_ids", tmp, (size_t)n, file, line);
        for (long i = 0; i < n; i++) e->ids[i] = tmp[i];
        long nt = int_array(rec, "token_type_ids", tmp, (size_t)n, file, line);
        if (nt >= 0 && nt != n) die_at(file, line, "\"token_type_ids\" has %ld entries, \"input_ids\" %ld", nt, n);
        for (long i = 0; i < n; i++) e->type_ids[i] = (uint8_t)(nt >= 0 ? tmp[i] : 0);
        long nm = int_array(rec, "attention_mask", tmp, (size_t)n, file, line);
        if (nm >= 0 && nm != n) die_at(file, line, "\"attention_mask\" has %ld entries, \"input_ids\" %ld", nm, n);
        for (long i = 0; i < n; i++) e->attention_mask[i] = (uint8_t)(nm >= 0 ? tmp[i] != 0 : 1);
        free(tmp);
        e->len = (size_t)n;
        return;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, text_field);
    if (!t) die_at(file, line, "record has neither \"input_ids\" nor \"%s\"", text_field);
    if (!cJSON_IsString(t)) die_at(file, line, "\"%s\" is not a string", text_field);
    const cJSON *tb = text_b_field ? cJSON_GetObjectItemCaseSensitive(rec, text_b_field) : NULL;
    if (tb && !cJSON_IsString(tb)) die_at(file, line, "\"%s\" is not a string", text_b_field);
    if (!p->wp) p->wp = wp_load(p->dir);
    wp_opts o = {.max_len = (size_t)p->max_len, .truncation = WP_TRUNC_LONGEST_FIRST};
    int rc = wp_encode(p->wp, t->valuestring, strlen(t->valuestring), tb ? tb->valuestring : NULL,
                       tb ? strlen(tb->valuestring) : 0, &o, e);
    if (rc) die_at(file, line, "cannot tokenize: %s", wp_strerror(rc));
}

/* Appends the current encoding to the batch's token buffers. */
static void append_tokens(bert_predictor *p, size_t *used)
{
    const wp_encoding *e = &p->enc;
    if (*used + e->len > p->cap) {
        while (*used + e->len > p->cap) p->cap = p->cap ? p->cap * 2 : 4096;
        p->ids = xrealloc(p->ids, p->cap * sizeof *p->ids);
        p->types = xrealloc(p->types, p->cap * sizeof *p->types);
        p->mask = xrealloc(p->mask, p->cap * sizeof *p->mask);
    }
    for (size_t t = 0; t < e->len; t++) {
        p->ids[*used + t] = e->ids[t];
        p->types[*used + t] = e->type_ids[t];
        p->mask[*used + t] = e->attention_mask[t];
    }
    *used += e->len;
}

void bert_predict_batch(bert_predictor *p, cJSON *const *recs, const long *lines, size_t n, const char *file,
                        const char *text_field, const char *text_b_field, double *probs, size_t *pred)
{
    const bert_config *cfg = &p->model.cfg;
    size_t C = (size_t)p->model.num_labels, T = 1, used = 0;
    size_t *start = xmalloc((n + 1) * sizeof *start);
    for (size_t r = 0; r < n; r++) {
        record_tokens(p, recs[r], file, lines[r], text_field, text_b_field);
        if (p->enc.len > (size_t)cfg->max_position)
            die_at(file, lines[r], "%zu tokens, more than the model's %d positions (truncate: wptok --max-len)",
                   p->enc.len, cfg->max_position);
        for (size_t t = 0; t < p->enc.len; t++) {
            if (p->enc.ids[t] < 0 || p->enc.ids[t] >= cfg->vocab_size)
                die_at(file, lines[r], "token id %d is outside the model's vocabulary of %d", (int)p->enc.ids[t],
                       cfg->vocab_size);
            if (p->enc.type_ids[t] >= cfg->type_vocab_size)
                die_at(file, lines[r], "token type %d is outside the model's %d types", p->enc.type_ids[t],
                       cfg->type_vocab_size);
        }
        if (p->enc.len > T) T = p->enc.len;
        start[r] = used;
        append_tokens(p, &used);
    }
    start[n] = used;
    /* lay the sequences out padded to the longest, last row first so the
     * rows never overwrite tokens not yet moved (row r moves right by r*T-start) */
    if (n * T > p->cap) {
        p->cap = n * T;
        p->ids = xrealloc(p->ids, p->cap * sizeof *p->ids);
        p->types = xrealloc(p->types, p->cap * sizeof *p->types);
        p->mask = xrealloc(p->mask, p->cap * sizeof *p->mask);
    }
    int pad = cfg->pad_token_id;
    for (size_t r = n; r-- > 0;) {
        size_t len = start[r + 1] - start[r];
        memmove(p->ids + r * T, p->ids + start[r], len * sizeof *p->ids);
        memmove(p->types + r * T, p->types + start[r], len * sizeof *p->types);
        memmove(p->mask + r * T, p->mask + start[r], len * sizeof *p->mask);
        for (size_t t = len; t < T; t++) {
            p->ids[r * T + t] = pad;
            p->types[r * T + t] = 0;
            p->mask[r * T + t] = 0;
        }
    }
    free(start);
    bert_batch b = {.B = (int)n, .T = (int)T, .input_ids = p->ids, .token_type_ids = p->types,
                    .attention_mask = p->mask};
    if (bert_dev_forward(&p->model, &b, 0) != 0) die_at(file, lines[0], "in the batch starting here: %s", p->model.err);
    for (size_t r = 0; r < n; r++) {
        const float *z = p->model.acts.logits + r * C;
        size_t best = 0;
        for (size_t k = 1; k < C; k++)
            if (z[k] > z[best]) best = k;
        /* softmax in double, so the probabilities sum to 1 to ~1e-16 */
        double sum = 0;
        for (size_t k = 0; k < C; k++) sum += (probs[r * C + k] = exp((double)z[k] - (double)z[best]));
        for (size_t k = 0; k < C; k++) probs[r * C + k] /= sum;
        pred[r] = best;
    }
}
