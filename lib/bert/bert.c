#include "bert.h"
#include "core/common.h"
#include "core/outfile.h"
#include "lowp_matmul.h"
#include "pytorch_bin.h"
#include "quant.h"
#include "safetensors.h"
#include "core/threadpool.h"
#include "core/vmath.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(bert_model *m, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int fail(bert_model *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------------------
 * Parameter layout: one buffer, HF names for every slice. */

static void add_tensor(bert_model *m, const char *name, size_t offset, int rows, int cols)
{
    bert_tensor *t = &m->tensors[m->num_tensors++];
    t->name = xstrdup(name);
    t->offset = offset;
    t->ndim = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->numel = (size_t)rows * (size_t)(cols ? cols : 1);
    /* transformers' Trainer: no weight decay on biases and LayerNorm weights */
    t->no_decay = strstr(name, "LayerNorm") != NULL || strcmp(name + strlen(name) - 4, "bias") == 0;
}

/* Points w into base (params or grads; NULL: sizes only); with record, also
 * fills m->tensors. Returns the number of floats. */
static size_t layout(bert_model *m, float *base, bert_weights *w, int record)
{
    const bert_config *c = &m->cfg;
    const int H = c->hidden_size, FF = c->intermediate_size, C = m->num_labels;
    size_t off = 0;
    char name[160];
#define SLICE(ptr, nm, r, cols)                                                        \
    do {                                                                               \
        (ptr) = base ? base + off : NULL;                                              \
        if (record) add_tensor(m, nm, off, r, cols);                                   \
        off += (size_t)(r) * (size_t)((cols) ? (cols) : 1);                            \
    } while (0)
    SLICE(w->word_emb, "bert.embeddings.word_embeddings.weight", c->vocab_size, H);
    SLICE(w->pos_emb, "bert.embeddings.position_embeddings.weight", c->max_position, H);
    SLICE(w->type_emb, "bert.embeddings.token_type_embeddings.weight", c->type_vocab_size, H);
    SLICE(w->emb_ln_w, "bert.embeddings.LayerNorm.weight", H, 0);
    SLICE(w->emb_ln_b, "bert.embeddings.LayerNorm.bias", H, 0);
    for (int l = 0; l < c->num_layers; l++) {
        bert_layer_weights *lw = &w->layers[l];
        float *stacked; /* key and value: further rows of qkv_w, qkv_b */
#define LAYER(ptr, suffix, r, cols)                                                    \
        do {                                                                           \
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s", l, suffix);        \
            SLICE(ptr, name, r, cols);                                                 \
        } while (0)
        /* query, key, value stacked: [3H, H] weights, then [3H] biases */
        LAYER(lw->qkv_w, "attention.self.query.weight", H, H);
        LAYER(stacked, "attention.self.key.weight", H, H);
        LAYER(stacked, "attention.self.value.weight", H, H);
        LAYER(lw->qkv_b, "attention.self.query.bias", H, 0);
        LAYER(stacked, "attention.self.key.bias", H, 0);
        LAYER(stacked, "attention.self.value.bias", H, 0);
        (void)stacked;
        LAYER(lw->attn_out_w, "attention.output.dense.weight", H, H);
        LAYER(lw->attn_out_b, "attention.output.dense.bias", H, 0);
        LAYER(lw->ln1_w, "attention.output.LayerNorm.weight", H, 0);
        LAYER(lw->ln1_b, "attention.output.LayerNorm.bias", H, 0);
        LAYER(lw->fc_w, "intermediate.dense.weight", FF, H);
        LAYER(lw->fc_b, "intermediate.dense.bias", FF, 0);
        LAYER(lw->proj_w, "output.dense.weight", H, FF);
        LAYER(lw->proj_b, "output.dense.bias", H, 0);
        LAYER(lw->ln2_w, "output.LayerNorm.weight", H, 0);
        LAYER(lw->ln2_b, "output.LayerNorm.bias", H, 0);
#undef LAYER
    }
    SLICE(w->pool_w, "bert.pooler.dense.weight", H, H);
    SLICE(w->pool_b, "bert.pooler.dense.bias", H, 0);
    SLICE(w->cls_w, "classifier.weight", C, H);
    SLICE(w->cls_b, "classifier.bias", C, 0);
#undef SLICE
    return off;
}

int bert_find_tensor(const bert_model *m, const char *name)
{
    for (int i = 0; i < m->num_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return i;
    return -1;
}

/* A standard normal draw (Box-Muller) for the initialisation. */
static double normal01(prng *r)
{
    double u1 = prng_uniform(r), u2 = prng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* HF's BertPreTrainedModel._init_weights for one tensor. */
static void init_tensor(bert_model *m, const bert_tensor *t, prng *r)
{
    float *p = m->params + t->offset;
    if (strstr(t->name, "LayerNorm")) {
        float v = strstr(t->name, ".weight") ? 1.0f : 0.0f;
        for (size_t i = 0; i < t->numel; i++) p[i] = v;
    } else if (t->ndim == 1) {
        memset(p, 0, t->numel * sizeof *p);
    } else {
        for (size_t i = 0; i < t->numel; i++) p[i] = (float)(m->cfg.initializer_range * normal01(r));
        if (p == m->w.word_emb) memset(p + (size_t)m->cfg.pad_token_id * (size_t)t->shape[1], 0, (size_t)t->shape[1] * sizeof *p);
    }
}

/* Takes cfg over and allocates the buffers; parameters left uninitialised. */
static int model_alloc(bert_model *m, bert_config *cfg, int num_labels)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    if (num_labels < 2) return fail(m, "a classifier needs at least 2 labels (got %d)", num_labels);
    m->num_labels = num_labels;
    const int L = m->cfg.num_layers;
    m->tensors = xcalloc((size_t)(9 + 16 * L), sizeof *m->tensors); /* see layout() */
    m->w.layers = xcalloc((size_t)L, sizeof *m->w.layers);
    m->g.layers = xcalloc((size_t)L, sizeof *m->g.layers);
    bert_weights sizes = {.layers = xcalloc((size_t)L, sizeof(bert_layer_weights))};
    m->num_params = layout(m, NULL, &sizes, 0);
    free(sizes.layers);
    m->params = xmalloc(m->num_params * sizeof *m->params);
    m->grads = xcalloc(m->num_params, sizeof *m->grads);
    layout(m, m->params, &m->w, 1);
    layout(m, m->grads, &m->g, 0);
    return 0;
}

/* Initialises tensor i; each tensor draws from its own stream of seed, so
 * a tensor's initial values do not depend on which others are initialised. */
static void init_tensor_seeded(bert_model *m, int i, uint64_t seed)
{
    prng r;
    prng_seed(&r, seed, 0x6265727400000000ull + (uint64_t)i /* "bert" */);
    init_tensor(m, &m->tensors[i], &r);
}

int bert_init(bert_model *m, bert_config *cfg, int num_labels, uint64_t seed)
{
    if (model_alloc(m, cfg, num_labels) < 0) return -1;
    for (int i = 0; i < m->num_tensors; i++) init_tensor_seeded(m, i, seed);
    bert_seed_dropout(m, seed);
    return 0;
}

/* ------------------------------------------------------------------------
 * Model files. */

/* The tensor of f that holds our tensor `name`: the same name, without the
 * "bert." prefix (a bare BertModel), or with old gamma/beta LayerNorm names. */
static const st_tensor *find_source(const st_file *f, const char *name)
{
    const char *cands[2] = {name, strncmp(name, "bert.", 5) == 0 ? name + 5 : NULL};
    for (int k = 0; k < 2; k++) {
        if (!cands[k]) continue;
        const st_tensor *t = st_find(f, cands[k]);
        if (t) return t;
        const char *ln = strstr(cands[k], "LayerNorm.");
        if (ln) {
            char old[200];
            const char *tail = strcmp(ln + 10, "weight") == 0 ? "gamma" : "beta";
            snprintf(old, sizeof old, "%.*sLayerNorm.%s", (int)(ln - cands[k]), cands[k], tail);
            if ((t = st_find(f, old))) return t;
        }
    }
    return NULL;
}

/* Tensors a pretrained encoder checkpoint may lack: HF initialises them. */
static int may_be_fresh(const char *name)
{
    return strncmp(name, "classifier.", 11) == 0 || strncmp(name, "bert.pooler.", 12) == 0;
}

/* Copies f's tensors into the model. strict: every tensor but the pooler
 * and classifier must be there (those are initialised and listed in
 * m->fresh); otherwise absent ones keep their values. int8: an int8
 * directory's weights file, whose int8 tensors quant_read reads. Returns the
 * number of tensors copied, or -1. */
static int load_tensors(bert_model *m, const st_file *f, int strict, int int8)
{
    int loaded = 0;
    for (int i = 0; i < m->num_tensors; i++) {
        const bert_tensor *t = &m->tensors[i];
        if (int8 && quant_is_int8_name(t->name)) continue;
        const st_tensor *s = find_source(f, t->name);
        if (!s) {
            if (!strict) continue;
            if (may_be_fresh(t->name)) {
                m->fresh = xrealloc(m->fresh, (size_t)(m->num_fresh + 1) * sizeof *m->fresh);
                m->fresh[m->num_fresh++] = xstrdup(t->name);
                continue;
            }
            return fail(m, "%s: missing tensor %s", f->path, t->name);
        }
        int same = s->ndim == t->ndim && s->shape[0] == t->shape[0] && (t->ndim == 1 || s->shape[1] == t->shape[1]);
        if (!same) {
            char got[96] = "", want[48];
            for (int d = 0; d < s->ndim && strlen(got) < 60; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)s->shape[d]);
            if (t->ndim == 1) snprintf(want, sizeof want, "%d", t->shape[0]);
            else snprintf(want, sizeof want, "%d, %d", t->shape[0], t->shape[1]);
            return fail(m, "%s: tensor %s has shape [%s], the config needs [%s]%s", f->path, s->name, got, want,
                        strcmp(t->name, "classifier.weight") == 0 ? " (a different number of labels)" : "");
        }
        char err[MODEL_ERR_MAX];
        if (st_to_f32(s, m->params + t->offset, err) < 0) return fail(m, "%s: %s", f->path, err);
        loaded++;
    }
    return loaded;
}

int bert_load_safetensors(bert_model *m, const char *path)
{
    st_file f;
    char err[MODEL_ERR_MAX];
    if (st_open(&f, path, err) < 0) return fail(m, "%s", err);
    int rc = load_tensors(m, &f, 0, 0);
    st_close(&f);
    m->params_gen++;
    return rc;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int bert_load(bert_model *m, const char *dir, int num_labels, uint64_t seed)
{
    return bert_load_flags(m, dir, num_labels, seed, 0);
}

int bert_load_flags(bert_model *m, const char *dir, int num_labels, uint64_t seed, int flags)
{
    memset(m, 0, sizeof *m);
    size_t n = strlen(dir) + 32;
    char *path = xmalloc(n);
    bert_config cfg;
    snprintf(path, n, "%s/config.json", dir);
    if (bert_config_load(&cfg, path, m->err) < 0) {
        free(path);
        return -1;
    }
    const int int8 = quant_config_check(cfg.json, path, m->err);
    if (int8 != 0 && (int8 < 0 || !(flags & BERT_LOAD_INT8))) {
        if (int8 > 0)
            fail(m, "%s: an int8 model (predict --save-quantized), for prediction only: fine-tune the fp32 model "
                    "it was made from", dir);
        bert_config_free(&cfg);
        free(path);
        return -1;
    }
    if (num_labels == 0) num_labels = cfg.num_labels;
    if (num_labels < 2) {
        bert_config_free(&cfg);
        free(path);
        return fail(m, "%s/config.json: no id2label with 2 or more labels, and no label count given", dir);
    }
    if (model_alloc(m, &cfg, num_labels) < 0) {
        bert_config_free(&cfg);
        free(path);
        return -1;
    }
    /* the weights: model.safetensors, else pytorch_model.bin (same st_file view) */
    int (*open_weights)(st_file *, const char *, char *) = NULL;
    snprintf(path, n, "%s/model.safetensors", dir);
    if (file_exists(path)) open_weights = st_open;
    else {
        snprintf(path, n, "%s/pytorch_model.bin", dir);
        if (file_exists(path)) open_weights = pytorch_bin_open;
    }
    int rc;
    st_file f;
    char err[MODEL_ERR_MAX];
    bert_int8 *q = NULL;
    if (!open_weights) rc = fail(m, "%s: no model.safetensors or pytorch_model.bin", dir);
    else if ((rc = open_weights(&f, path, err)) < 0) fail(m, "%s", err);
    else {
        rc = load_tensors(m, &f, 1, int8);
        if (rc >= 0 && int8 && !(q = quant_read(m, &f, m->err))) rc = -1;
        st_close(&f);
    }
    free(path);
    if (rc >= 0 && q && bert_lowp_attach(m, BERT_LOWP_INT8, q) < 0) rc = -1;
    if (rc >= 0) {
        for (int i = 0; i < m->num_fresh; i++) init_tensor_seeded(m, bert_find_tensor(m, m->fresh[i]), seed);
        bert_seed_dropout(m, seed);
        return 0;
    }
    char keep[MODEL_ERR_MAX];
    memcpy(keep, m->err, sizeof keep);
    bert_free(m);
    memcpy(m->err, keep, sizeof keep);
    return -1;
}

void bert_save(const bert_model *m, const char *dir)
{
    bert_save_config(m, dir, NULL, NULL);
    size_t n = strlen(dir) + 32;
    char *path = xmalloc(n);
    st_out *t = xcalloc((size_t)m->num_tensors, sizeof *t);
    for (int i = 0; i < m->num_tensors; i++) {
        t[i].name = m->tensors[i].name;
        t[i].data = m->params + m->tensors[i].offset;
        t[i].ndim = m->tensors[i].ndim;
        t[i].shape[0] = m->tensors[i].shape[0];
        t[i].shape[1] = m->tensors[i].shape[1];
    }
    const char *meta[] = {"format", "pt"};
    snprintf(path, n, "%s/model.safetensors", dir);
    st_write_f32(path, t, (size_t)m->num_tensors, meta, 1);
    free(t);
    free(path);
}

void bert_copy_tokenizer(const char *from_dir, const char *dir)
{
    static const char *const files[] = {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                        "tokenizer.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *from = path_join(from_dir, files[i]), *to = path_join(dir, files[i]);
        struct stat sb;
        if (stat(from, &sb) == 0) out_copy_file(from, to);
        free(from);
        free(to);
    }
}

void bert_save_config(const bert_model *m, const char *dir, const char *key, const cJSON *value)
{
    out_mkdirs(dir);
    size_t n = strlen(dir) + 32;
    char *path = xmalloc(n);

    bert_config cfg = m->cfg; /* shallow: only the JSON is updated, on a copy */
    cfg.json = cJSON_Duplicate(m->cfg.json, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(cfg.json, "quantization");
    if (key) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg.json, key);
        cJSON_AddItemToObject(cfg.json, key, cJSON_Duplicate(value, 1));
    }
    cfg.labels = NULL;
    cfg.num_labels = 0;
    char **names = xcalloc((size_t)m->num_labels, sizeof *names);
    char buf[24];
    for (int i = 0; i < m->num_labels; i++) {
        /* labels the config does not name get HF's default names */
        if (m->cfg.labels && i < m->cfg.num_labels && m->cfg.num_labels == m->num_labels) names[i] = xstrdup(m->cfg.labels[i]);
        else {
            snprintf(buf, sizeof buf, "LABEL_%d", i);
            names[i] = xstrdup(buf);
        }
    }
    bert_config_set_labels(&cfg, (const char *const *)names, m->num_labels);
    char *json = bert_config_to_json(&cfg);
    snprintf(path, n, "%s/config.json", dir);
    outfile o;
    out_open(&o, path);
    fputs(json, o.f);
    out_commit(&o);
    free(json);
    for (int i = 0; i < m->num_labels; i++) free(names[i]);
    free(names);
    bert_config_free(&cfg);
    free(path);
}

void bert_set_class_weights(bert_model *m, const float *w)
{
    free(m->class_weights);
    m->class_weights = NULL;
    if (!w) return;
    m->class_weights = xmalloc((size_t)m->num_labels * sizeof *w);
    memcpy(m->class_weights, w, (size_t)m->num_labels * sizeof *w);
}

void bert_seed_dropout(bert_model *m, uint64_t seed)
{
    prng_seed(&m->dropout_rng, seed, 0x64726f70 /* "drop" */);
}

/* ------------------------------------------------------------------------
 * Threads (see bert.h): a call runs on m->pool, as many threads as OpenBLAS
 * was told to use, and OpenBLAS runs single-threaded meanwhile so that the
 * two do not compete for the cores. */

static int par_begin(bert_model *m)
{
    int n = openblas_get_num_threads();
    if (n < 1) n = 1;
    if (!m->pool || threadpool_size(m->pool) != n) {
        threadpool_free(m->pool);
        m->pool = threadpool_new(n);
    }
    m->blas_threads = n;
    if (n > 1) openblas_set_num_threads(1);
    return n;
}

static void par_end(bert_model *m)
{
    if (m->blas_threads > 1) openblas_set_num_threads(m->blas_threads);
}

/* Row ranges start at multiples of 16, the GEMM kernels' row block. */
#define ROW_ALIGN 16

/* ------------------------------------------------------------------------
 * Activation buffers. */

static void free_acts(bert_model *m)
{
    bert_acts *a = &m->acts;
    for (int l = 0; a->layers && l < m->cfg.num_layers; l++) {
        bert_layer_acts *la = &a->layers[l];
        if (m->acts_shared && l > 0) { /* layer 0's buffers, but for the second output */
            if (l == 1) free(la->out);
            continue;
        }
        free(la->qkv); free(la->probs); free(la->probs_keep); free(la->ctx); free(la->attn_keep);
        free(la->ln1_in); free(la->ln1_mean); free(la->ln1_rstd); free(la->ln1_out);
        free(la->fc_pre); free(la->fc_act); free(la->fc_dact); free(la->proj_keep);
        free(la->ln2_in); free(la->ln2_mean); free(la->ln2_rstd); free(la->out);
    }
    free(a->layers);
    free(a->ids); free(a->types); free(a->labels); free(a->row_src); free(a->seq_row); free(a->seq_len);
    free(a->mask_add); free(a->emb_in); free(a->emb_mean); free(a->emb_rstd); free(a->emb_ln);
    free(a->emb_keep); free(a->emb_out); free(a->pooled); free(a->pooled_keep); free(a->cls_in);
    free(a->logits); free(a->probs); free(a->losses);
    bert_scratch *s = &m->scr;
    free(s->a); free(s->b); free(s->c); free(s->d); free(s->e); free(s->f); free(s->fc); free(s->qkv);
    free(s->tt); free(s->tt2); free(s->keep_tt);
    free(s->pooled); free(s->cls); free(s->cls_tok); free(s->dlogits);
    memset(a, 0, sizeof *a);
    memset(s, 0, sizeof *s);
    m->max_b = m->max_t = m->acts_masks = m->acts_train = m->acts_shared = 0;
}

#define FALLOC(n) ((float *)xcalloc((size_t)(n), sizeof(float)))

/* Sizes the activations for a B x T batch; dropout masks and the saved
 * activation derivatives only when a training forward needs them (the
 * config's probabilities may be changed between calls). */
static void ensure_acts(bert_model *m, int B, int T, int training)
{
    const bert_config *c = &m->cfg;
    int want_masks = training && (c->hidden_dropout > 0 || c->attn_dropout > 0 || bert_config_classifier_dropout(c) > 0);
    const int shared = m->no_grad != 0;
    if (B <= m->max_b && T <= m->max_t && (m->acts_masks || !want_masks) && (m->acts_train || !training) &&
        m->acts_shared == shared)
        return;
    int nb = B > m->max_b ? B : m->max_b, nt = T > m->max_t ? T : m->max_t;
    free_acts(m);
    m->max_b = nb;
    m->max_t = nt;
    m->acts_masks = want_masks;
    m->acts_train = training;
    m->acts_shared = shared;
    const size_t BT = (size_t)nb * (size_t)nt, H = (size_t)c->hidden_size, FF = (size_t)c->intermediate_size;
    const size_t att = (size_t)nb * (size_t)c->num_heads * (size_t)nt * (size_t)nt, C = (size_t)m->num_labels;
    bert_acts *a = &m->acts;
    /* dropout masks only where the config has dropout */
    int hd = want_masks, ad = want_masks, cd = want_masks;
    a->ids = xcalloc(BT, sizeof(int));
    a->types = xcalloc(BT, sizeof(int));
    a->labels = xcalloc((size_t)nb, sizeof(int));
    a->row_src = xcalloc(BT, sizeof(int));
    a->seq_row = xcalloc((size_t)nb, sizeof(int));
    a->seq_len = xcalloc((size_t)nb, sizeof(int));
    a->mask_add = FALLOC(BT);
    a->emb_in = FALLOC(BT * H);
    a->emb_mean = FALLOC(BT);
    a->emb_rstd = FALLOC(BT);
    a->emb_ln = FALLOC(BT * H);
    a->emb_keep = hd ? xcalloc(BT * H, 1) : NULL;
    a->emb_out = FALLOC(BT * H);
    a->layers = xcalloc((size_t)c->num_layers, sizeof *a->layers);
    for (int l = 0; l < c->num_layers; l++) {
        bert_layer_acts *la = &a->layers[l];
        if (shared && l > 0) { /* layer 0's buffers; the output alternates between two, input and output */
            *la = a->layers[0];
            la->out = l % 2 ? (l == 1 ? FALLOC(BT * H) : a->layers[1].out) : a->layers[0].out;
            continue;
        }
        la->qkv = FALLOC(BT * 3 * H);
        la->probs = FALLOC(att);
        la->probs_keep = ad ? xcalloc(att, 1) : NULL;
        la->ctx = FALLOC(BT * H);
        la->attn_keep = hd ? xcalloc(BT * H, 1) : NULL;
        la->ln1_in = FALLOC(BT * H);
        la->ln1_mean = FALLOC(BT);
        la->ln1_rstd = FALLOC(BT);
        la->ln1_out = FALLOC(BT * H);
        la->fc_pre = FALLOC(BT * FF);
        la->fc_act = FALLOC(BT * FF);
        la->fc_dact = training ? FALLOC(BT * FF) : NULL;
        la->proj_keep = hd ? xcalloc(BT * H, 1) : NULL;
        la->ln2_in = FALLOC(BT * H);
        la->ln2_mean = FALLOC(BT);
        la->ln2_rstd = FALLOC(BT);
        la->out = FALLOC(BT * H);
    }
    a->pooled = FALLOC((size_t)nb * H);
    a->pooled_keep = cd ? xcalloc((size_t)nb * H, 1) : NULL;
    a->cls_in = FALLOC((size_t)nb * H);
    a->logits = FALLOC((size_t)nb * C);
    a->probs = FALLOC((size_t)nb * C);
    a->losses = FALLOC(nb);
    bert_scratch *s = &m->scr;
    s->a = FALLOC(BT * H);
    s->b = FALLOC(BT * H);
    s->c = FALLOC(BT * H);
    s->d = FALLOC(BT * H);
    s->e = FALLOC(BT * H);
    s->f = FALLOC(BT * H);
    s->fc = FALLOC(BT * FF);
    s->qkv = FALLOC(BT * 3 * H);
    s->pooled = FALLOC((size_t)nb * H);
    s->cls = FALLOC((size_t)nb * H);
    s->cls_tok = FALLOC((size_t)nb * H);
    s->dlogits = FALLOC((size_t)nb * C);
}

/* Attention scratch, [T, T] of each kind per thread. */
static void ensure_thread_scratch(bert_model *m, int threads)
{
    bert_scratch *s = &m->scr;
    if (s->threads >= threads) return;
    free(s->tt);
    free(s->tt2);
    free(s->keep_tt);
    const size_t tt = (size_t)m->max_t * (size_t)m->max_t * (size_t)threads;
    s->tt = FALLOC(tt);
    s->tt2 = FALLOC(tt);
    s->keep_tt = xcalloc(tt, 1);
    s->threads = threads;
}

/* ------------------------------------------------------------------------
 * Layer kernels: each forward saves what its backward needs; each backward
 * adds its parameter gradients into the grads buffer. Most work on a range
 * of rows (tokens) or of columns, so that threads can share a layer. */

/* rows [r0, r1) of out[N, nout] = in[N, nin] W^T + b, W [nout, nin] (torch.nn.Linear) */
static void linear_rows(float *out, const float *in, const float *w, const float *b, long r0, long r1, int nin,
                        int nout)
{
    if (r1 <= r0) return;
    for (long i = r0; i < r1; i++) memcpy(out + (size_t)i * nout, b, (size_t)nout * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), nout, nin, 1.0f, in + (size_t)r0 * nin, nin,
                w, nin, 1.0f, out + (size_t)r0 * nout, nout);
}

/* rows [r0, r1) of din[N, nin] (+= when accumulate, else =) dout[N, nout] W */
static void linear_din_rows(float *din, const float *dout, const float *w, long r0, long r1, int nin, int nout,
                            int accumulate)
{
    if (r1 <= r0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0), nin, nout, 1.0f, dout + (size_t)r0 * nout,
                nout, w, nin, accumulate ? 1.0f : 0.0f, din + (size_t)r0 * nin, nin);
}

/* rows [o0, o1) of dW[nout, nin] += dout[N, nout]^T in[N, nin] */
static void linear_dw_rows(float *dw, const float *dout, const float *in, int N, int nin, int nout, long o0, long o1)
{
    if (o1 <= o0) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(o1 - o0), nin, N, 1.0f, dout + o0, nout, in, nin, 1.0f,
                dw + (size_t)o0 * nin, nin);
}

/* columns [c0, c1) of db += the sum of dout[N, n]'s rows, in row order */
static void colsum_add(float *db, const float *dout, int N, int n, long c0, long c1)
{
    if (c1 <= c0) return;
    for (int i = 0; i < N; i++) vm_add(db + c0, db + c0, dout + (size_t)i * n + c0, (size_t)(c1 - c0));
}

static void linear_forward(float *out, const float *in, const float *w, const float *b, int N, int nin, int nout)
{
    linear_rows(out, in, w, b, 0, N, nin, nout);
}

/* din (+= when accumulate, else =) dout W; dW += dout^T in; db += sum dout */
static void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                            int N, int nin, int nout, int accumulate)
{
    if (din) linear_din_rows(din, dout, w, 0, N, nin, nout, accumulate);
    linear_dw_rows(dw, dout, in, N, nin, nout, 0, nout);
    colsum_add(db, dout, N, nout, 0, nout);
}

/* torch.nn.LayerNorm over rows of C; mean and 1/std kept for backward. The
 * moments are taken in double; the output as torch writes it,
 * (x * rstd - mean * rstd) * w + b. */
static void layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b,
                              int N, int C, double eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = in + (size_t)i * C;
        double mu = vm_sum_d(x, (size_t)C) / C;
        double r = 1.0 / sqrt(vm_sqdev_d(x, mu, (size_t)C) / C + eps);
        mean[i] = (float)mu;
        rstd[i] = (float)r;
        vm_norm_affine(out + (size_t)i * C, x, (float)r, (float)(-r * mu), w, b, (size_t)C);
    }
}

/* rows [r0, r1) of din = d(LayerNorm)/d(in) applied to dout (overwritten):
 * with xhat = (x - mean) * rstd and dn = dout * w,
 * din = (dn - mean(dn) - xhat * mean(dn * xhat)) * rstd */
static void layernorm_backward_rows(float *din, const float *dout, const float *in, const float *mean,
                                    const float *rstd, const float *w, long r0, long r1, int C)
{
    for (long i = r0; i < r1; i++) {
        const float *x = in + (size_t)i * C, *dy = dout + (size_t)i * C;
        double sum_dn, sum_dn_xhat;
        vm_norm_grad_sums(dy, w, x, mean[i], rstd[i], (size_t)C, &sum_dn, &sum_dn_xhat);
        vm_norm_grad(din + (size_t)i * C, dy, w, x, mean[i], rstd[i], (float)(sum_dn / C), (float)(sum_dn_xhat / C),
                     (size_t)C);
    }
}

/* columns [c0, c1) of the LayerNorm's dw += sum of dout * xhat, db += sum of
 * dout, over the N rows in row order */
static void layernorm_backward_params(float *dw, float *db, const float *dout, const float *in, const float *mean,
                                      const float *rstd, int N, int C, long c0, long c1)
{
    if (c1 <= c0) return;
    for (int i = 0; i < N; i++) {
        const size_t o = (size_t)i * C + (size_t)c0;
        vm_norm_param_grads(dw + c0, db + c0, dout + o, in + o, mean[i], rstd[i], (size_t)(c1 - c0));
    }
}

/* Inverted dropout (torch.nn.Dropout): keep with probability 1-p, scaled by
 * 1/(1-p). The mask is drawn first, in one stream (dropout_mask), so that
 * threads can then apply it to their parts. */
static int dropping(int training, double p, const uint8_t *keep)
{
    return training && p > 0 && keep;
}

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* keep[i] iff a 32-bit draw is at or above p * 2^32: the low, then the high
 * half of each prng_next. Millions of draws a step: the xoshiro256** step of
 * lib/core/prng.c is repeated here so that its state stays in registers
 * (tests/unit/test_bert_threads.c checks the masks against prng_next). */
static void dropout_mask(uint8_t *keep, size_t n, double p, prng *r)
{
    const uint64_t cut = (uint64_t)(p * 4294967296.0);
    uint64_t s0 = r->s[0], s1 = r->s[1], s2 = r->s[2], s3 = r->s[3];
    for (size_t i = 0; i < n; i += 2) {
        const uint64_t bits = rotl64(s1 * 5, 7) * 9, t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl64(s3, 45);
        keep[i] = (bits & 0xffffffffu) >= cut;
        if (i + 1 < n) keep[i + 1] = (bits >> 32) >= cut;
    }
    r->s[0] = s0, r->s[1] = s1, r->s[2] = s2, r->s[3] = s3;
}

/* out = in where kept, scaled; 0 elsewhere (out may be in) */
static void dropout_apply(float *out, const uint8_t *keep, const float *in, size_t n, double p)
{
    vm_mask_scale(out, keep, in, (float)(1.0 / (1.0 - p)), n);
}

/* rows [r0, r1) of out = in, dropped out with the masks of their tokens
 * (masks are per token of the batch, [B*T, H]); without active, a copy
 * (out may be in) */
static void dropout_rows(float *out, const float *in, const uint8_t *keep, const bert_acts *a, long r0, long r1,
                         int H, double p, int active)
{
    if (!active) {
        if (out != in && r1 > r0) memcpy(out + (size_t)r0 * H, in + (size_t)r0 * H, (size_t)(r1 - r0) * H * sizeof *out);
        return;
    }
    for (long r = r0; r < r1; r++)
        dropout_apply(out + (size_t)r * H, keep + (size_t)a->row_src[r] * H, in + (size_t)r * H, (size_t)H, p);
}

/* Without training or p == 0 the identity (out may be in). */
static void dropout_forward(float *out, uint8_t *keep, const float *in, size_t n, double p, int training, prng *r)
{
    if (!dropping(training, p, keep)) {
        if (out != in) memcpy(out, in, n * sizeof *out);
        return;
    }
    dropout_mask(keep, n, p, r);
    dropout_apply(out, keep, in, n, p);
}

static void dropout_backward(float *din, const float *dout, const uint8_t *keep, size_t n, double p, int training)
{
    if (!dropping(training, p, keep)) {
        if (din != dout) memcpy(din, dout, n * sizeof *din);
        return;
    }
    dropout_apply(din, keep, dout, n, p);
}

#define GELU_TANH_K 0.7978845608028654f /* sqrt(2/pi) */

/* out = act(in); with dact, also dact = act'(in), the factor backward
 * needs, so that it does not evaluate erf (or tanh) again. GELU comes from
 * vmath: within 4e-7 of x * Phi(x), as torch 1.13's CPU GELU is. */
static void activation_forward(float *out, float *dact, const float *in, size_t n, bert_act act)
{
    switch (act) {
    case BERT_ACT_GELU:
        vm_gelu(out, dact, in, n);
        break;
    case BERT_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float x = in[i];
            float t = tanhf(GELU_TANH_K * (x + 0.044715f * x * x * x));
            out[i] = 0.5f * x * (1.0f + t);
            if (dact)
                dact[i] = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_TANH_K * (1.0f + 3 * 0.044715f * x * x);
        }
        break;
    case BERT_ACT_RELU:
        for (size_t i = 0; i < n; i++) {
            out[i] = in[i] > 0 ? in[i] : 0.0f;
            if (dact) dact[i] = in[i] > 0 ? 1.0f : 0.0f;
        }
        break;
    }
}

/* d *= act'(x), for a backward after a forward that kept no derivative (the
 * same expressions as activation_forward's) */
static void activation_backward(float *d, const float *x_, size_t n, bert_act act)
{
    switch (act) {
    case BERT_ACT_GELU:
        for (size_t i = 0; i < n; i += 256) {
            float out[256], dact[256];
            size_t k = n - i < 256 ? n - i : 256;
            vm_gelu(out, dact, x_ + i, k);
            vm_mul(d + i, dact, k);
        }
        break;
    case BERT_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float x = x_[i];
            float t = tanhf(GELU_TANH_K * (x + 0.044715f * x * x * x));
            d[i] *= 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_TANH_K * (1.0f + 3 * 0.044715f * x * x);
        }
        break;
    case BERT_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            if (!(x_[i] > 0)) d[i] = 0.0f;
        break;
    }
}

/* The attention dropout mask of sequence b, head h over its rows' tokens
 * (L x L of the [T, T] mask drawn for all positions) */
static const uint8_t *attention_keep(const bert_model *m, const bert_layer_acts *la, int b, int h, int T,
                                     uint8_t *keep_tt)
{
    const bert_acts *a = &m->acts;
    const int L = a->seq_len[b], *src = a->row_src + a->seq_row[b];
    const uint8_t *keep = la->probs_keep + ((size_t)b * m->cfg.num_heads + h) * T * T;
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) keep_tt[(size_t)i * L + j] = keep[(size_t)(src[i] - b * T) * T + (src[j] - b * T)];
    return keep_tt;
}

/* Multi-head self-attention core of sequence b and head h, over its L rows:
 *   P = softmax(Q K^T / sqrt(d) + mask_add), ctx_h = dropout(P) V
 * as BertSelfAttention computes it: HF adds (1 - mask) * finfo(float32).min
 * to the scaled scores, so padding keys get -FLT_MAX (probability exactly
 * 0: the keys skipped here, or a padding [CLS]) and a row with no token at
 * all comes out uniform, here as there. tt, keep_tt: [T, T] scratch; the
 * dropout mask, if any, is already drawn. */
static void attention_forward(bert_model *m, bert_layer_acts *la, int b, int h, int T, int training, float *tt,
                              uint8_t *keep_tt)
{
    const int H = m->cfg.hidden_size, nh = m->cfg.num_heads, d = H / nh;
    const int L = m->acts.seq_len[b], r0 = m->acts.seq_row[b];
    const float sqrt_d = sqrtf((float)d);
    const double p = m->cfg.attn_dropout;
    const float *madd = m->acts.mask_add + r0;
    const float *q = la->qkv + (size_t)r0 * 3 * H + (size_t)h * d, *k = q + H, *v = q + 2 * H;
    float *P = la->probs + ((size_t)b * nh + h) * T * T;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, d, 1.0f, q, 3 * H, k, 3 * H, 0.0f, P, L);
    for (int i = 0; i < L; i++) vm_softmax(P + (size_t)i * L, madd, sqrt_d, (size_t)L);
    const float *Pd = P;
    if (dropping(training, p, la->probs_keep)) {
        dropout_apply(tt, attention_keep(m, la, b, h, T, keep_tt), P, (size_t)L * L, p);
        Pd = tt;
    }
    float *ctx = la->ctx + (size_t)r0 * H + (size_t)h * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, d, L, 1.0f, Pd, L, v, 3 * H, 0.0f, ctx, H);
}

/* Sequence b, head h: from dctx [rows, H] to its columns of dqkv [rows, 3H]
 * (overwritten). dP, Pd_buf, keep_tt: [T, T] scratch. */
static void attention_backward(bert_model *m, const bert_layer_acts *la, float *dqkv, const float *dctx, int b, int h,
                               int T, float *dP, float *Pd_buf, uint8_t *keep_tt)
{
    const int H = m->cfg.hidden_size, nh = m->cfg.num_heads, d = H / nh;
    const int L = m->acts.seq_len[b], r0 = m->acts.seq_row[b];
    const float sqrt_d = sqrtf((float)d);
    const double p = m->cfg.attn_dropout;
    const int dropout = dropping(m->training, p, la->probs_keep);
    const size_t off = (size_t)r0 * 3 * H + (size_t)h * d;
    const float *q = la->qkv + off, *k = q + H, *v = q + 2 * H;
    float *dq = dqkv + off, *dk = dq + H, *dv = dq + 2 * H;
    const float *P = la->probs + ((size_t)b * nh + h) * T * T;
    const uint8_t *keep = dropout ? attention_keep(m, la, b, h, T, keep_tt) : NULL;
    const float *dc = dctx + (size_t)r0 * H + (size_t)h * d;
    const float *Pd = P;
    if (dropout) {
        dropout_apply(Pd_buf, keep, P, (size_t)L * L, p);
        Pd = Pd_buf;
    }
    /* dV = dropout(P)^T dctx; d(dropout(P)) = dctx V^T */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, d, L, 1.0f, Pd, L, dc, H, 0.0f, dv, 3 * H);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, d, 1.0f, dc, H, v, 3 * H, 0.0f, dP, L);
    if (dropout) dropout_apply(dP, keep, dP, (size_t)L * L, p);
    /* softmax backward, then the 1/sqrt(d) scaling */
    for (int i = 0; i < L; i++) {
        const float *pr = P + (size_t)i * L;
        float *g = dP + (size_t)i * L;
        const float dot = vm_dot(g, pr, (size_t)L);
        for (int j = 0; j < L; j++) g[j] = pr[j] * (g[j] - dot) / sqrt_d;
    }
    /* dQ = dS K, dK = dS^T Q */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, d, L, 1.0f, dP, L, k, 3 * H, 0.0f, dq, 3 * H);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, d, L, 1.0f, dP, L, q, 3 * H, 0.0f, dk, 3 * H);
}

/* ------------------------------------------------------------------------
 * The model. */

static int check_batch(bert_model *m, const bert_batch *bt)
{
    const bert_config *c = &m->cfg;
    if (bt->B < 1 || bt->T < 1) return fail(m, "empty batch (%d x %d)", bt->B, bt->T);
    if (bt->T > c->max_position)
        return fail(m, "sequence length %d is longer than max_position_embeddings %d", bt->T, c->max_position);
    for (int b = 0; b < bt->B; b++) {
        for (int t = 0; t < bt->T; t++) {
            size_t i = (size_t)b * bt->T + t;
            if (bt->input_ids[i] < 0 || bt->input_ids[i] >= c->vocab_size)
                return fail(m, "sequence %d, position %d: token id %d is outside the vocabulary (size %d)", b, t,
                            bt->input_ids[i], c->vocab_size);
            if (bt->token_type_ids && (bt->token_type_ids[i] < 0 || bt->token_type_ids[i] >= c->type_vocab_size))
                return fail(m, "sequence %d, position %d: token type %d is outside [0, %d)", b, t,
                            bt->token_type_ids[i], c->type_vocab_size);
            if (bt->attention_mask && bt->attention_mask[i] != 0 && bt->attention_mask[i] != 1)
                return fail(m, "sequence %d, position %d: attention mask %d is not 0 or 1", b, t, bt->attention_mask[i]);
        }
        if (bt->labels && (bt->labels[b] < 0 || bt->labels[b] >= m->num_labels))
            return fail(m, "sequence %d: label id %d is outside [0, %d)", b, bt->labels[b], m->num_labels);
    }
    return 0;
}

/* What the tasks of one forward or backward stage share. A row task t
 * handles rows [r0, r1) = part t of the batch's rows; an attention task one
 * (sequence, head) pair. */
typedef struct job {
    bert_model *m;
    const bert_batch *bt; /* the embeddings' batch */
    int l, B, T, rows, parts, training;
    const float *x;       /* the layer's input */
    float *dx;            /* backward: d(loss)/d(layer output) in, d(loss)/d(x) out */
} job;

static void job_rows(const job *j, int t, long *r0, long *r1)
{
    threadpool_part(j->rows, j->parts, t, ROW_ALIGN, r0, r1);
}

static float *thread_tt(bert_model *m, float *base, int thread)
{
    return base + (size_t)thread * (size_t)m->max_t * (size_t)m->max_t;
}

static uint8_t *thread_keep(bert_model *m, int thread)
{
    return m->scr.keep_tt + (size_t)thread * (size_t)m->max_t * (size_t)m->max_t;
}

/* embeddings: (word + token type) + position, in HF's order of addition,
 * LayerNorm, dropout (mask drawn) */
static void embed_task(void *arg, int t, int thread)
{
    (void)thread;
    const job *j = arg;
    bert_model *m = j->m;
    const bert_batch *bt = j->bt;
    const bert_config *c = &m->cfg;
    const int H = c->hidden_size, T = j->T;
    bert_acts *a = &m->acts;
    long r0, r1;
    job_rows(j, t, &r0, &r1);
    for (long r = r0; r < r1; r++) {
        const int i = a->row_src[r];
        const float *we = m->w.word_emb + (size_t)bt->input_ids[i] * H;
        const float *te = m->w.type_emb + (size_t)(bt->token_type_ids ? bt->token_type_ids[i] : 0) * H;
        const float *pe = m->w.pos_emb + (size_t)(i % T) * H;
        float *out = a->emb_in + (size_t)r * H;
        for (int k = 0; k < H; k++) out[k] = (we[k] + te[k]) + pe[k];
    }
    const size_t o = (size_t)r0 * H;
    layernorm_forward(a->emb_ln + o, a->emb_mean + r0, a->emb_rstd + r0, a->emb_in + o, m->w.emb_ln_w, m->w.emb_ln_b,
                      (int)(r1 - r0), H, c->layer_norm_eps);
    dropout_rows(a->emb_out, a->emb_ln, a->emb_keep, a, r0, r1, H, c->hidden_dropout,
                 dropping(j->training, c->hidden_dropout, a->emb_keep));
}

/* Rows [r0, r1) of one of the encoder's Linear layers (enum bert_dense):
 * linear_rows in fp32, or lowp_matmul's int8 or bf16 when the model has
 * one attached (predict --precision, bert-train --precision bf16). */
static void dense_rows(const job *j, int dense, int thread, float *out, const float *in, const float *w,
                       const float *b, long r0, long r1, int nin, int nout)
{
    if (j->m->lowp) bert_lowp_rows(j->m, j->l, dense, thread, out, in, b, r0, r1);
    else linear_rows(out, in, w, b, r0, r1, nin, nout);
}

/* The backward products of those layers, the same way: din (+= when
 * accumulate, else =) dout W for rows [r0, r1); dW += dout^T in for rows
 * [o0, o1) of dW. */
static void dense_din_rows(const job *j, int dense, int thread, float *din, const float *dout, const float *w,
                           long r0, long r1, int nin, int nout, int accumulate)
{
    if (j->m->lowp) bert_lowp_din_rows(j->m, j->l, dense, thread, din, dout, r0, r1, accumulate);
    else linear_din_rows(din, dout, w, r0, r1, nin, nout, accumulate);
}

static void dense_dw_rows(const job *j, int dense, int thread, float *dw, const float *dout, const float *in,
                          int N, int nin, int nout, long o0, long o1)
{
    if (j->m->lowp) bert_lowp_dw_rows(j->m, j->l, dense, thread, dw, dout, in, N, o0, o1);
    else linear_dw_rows(dw, dout, in, N, nin, nout, o0, o1);
}

static void qkv_task(void *arg, int t, int thread)
{
    const job *j = arg;
    const int H = j->m->cfg.hidden_size;
    long r0, r1;
    job_rows(j, t, &r0, &r1);
    const bert_layer_weights *w = &j->m->w.layers[j->l];
    dense_rows(j, BERT_DENSE_QKV, thread, j->m->acts.layers[j->l].qkv, j->x, w->qkv_w, w->qkv_b, r0, r1, H, 3 * H);
}

/* The dropout masks of a training forward come from one stream, in the
 * order one thread would use them: the embeddings'; for each layer, the
 * attention probabilities' by (sequence, head), the attention output's, the
 * layer output's; the pooler's. So that threads need not wait for them, a
 * layer's attention stage has one more task, which draws the rest of the
 * layer's masks and the next layer's attention masks. */
static void draw_attention_masks(bert_model *m, int l, int B, int T)
{
    const bert_config *c = &m->cfg;
    bert_layer_acts *a = &m->acts.layers[l];
    if (!dropping(m->training, c->attn_dropout, a->probs_keep)) return;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < c->num_heads; h++)
            dropout_mask(a->probs_keep + ((size_t)b * c->num_heads + h) * T * T, (size_t)T * T, c->attn_dropout,
                         &m->dropout_rng);
}

static void draw_dense_masks(bert_model *m, int l, int B, int T)
{
    const bert_config *c = &m->cfg;
    bert_layer_acts *a = &m->acts.layers[l];
    const size_t n = (size_t)B * T * c->hidden_size;
    if (!dropping(m->training, c->hidden_dropout, a->attn_keep)) return;
    dropout_mask(a->attn_keep, n, c->hidden_dropout, &m->dropout_rng);
    dropout_mask(a->proj_keep, n, c->hidden_dropout, &m->dropout_rng);
}

/* task 0: the masks (see above); then one per (sequence, head) */
static void attention_task(void *arg, int t, int thread)
{
    const job *j = arg;
    bert_model *m = j->m;
    const int nh = m->cfg.num_heads;
    if (t == 0) {
        draw_dense_masks(m, j->l, j->B, j->T);
        if (j->l + 1 < m->cfg.num_layers) draw_attention_masks(m, j->l + 1, j->B, j->T);
        return;
    }
    t--;
    attention_forward(m, &m->acts.layers[j->l], t / nh, t % nh, j->T, j->training, thread_tt(m, m->scr.tt, thread),
                      thread_keep(m, thread));
}

/* the rest of a layer, token by token: attention output dense, dropout,
 * residual, LayerNorm; intermediate dense, activation; output dense,
 * dropout, residual, LayerNorm */
static void layer_rows(const job *j, int thread, long r0, long r1)
{
    bert_model *m = j->m;
    const bert_config *c = &m->cfg;
    const int H = c->hidden_size, FF = c->intermediate_size;
    const bert_layer_weights *w = &m->w.layers[j->l];
    bert_layer_acts *a = &m->acts.layers[j->l];
    const double p = c->hidden_dropout;
    const int rows = (int)(r1 - r0);
    const size_t o = (size_t)r0 * H, n = (size_t)rows * H, of = (size_t)r0 * FF;
    float *tmp = m->scr.a; /* dense outputs before dropout + residual */

    dense_rows(j, BERT_DENSE_ATTN_OUT, thread, tmp, a->ctx, w->attn_out_w, w->attn_out_b, r0, r1, H, H);
    dropout_rows(tmp, tmp, a->attn_keep, &m->acts, r0, r1, H, p, dropping(j->training, p, a->attn_keep));
    vm_add(a->ln1_in + o, tmp + o, j->x + o, n);
    layernorm_forward(a->ln1_out + o, a->ln1_mean + r0, a->ln1_rstd + r0, a->ln1_in + o, w->ln1_w, w->ln1_b, rows, H,
                      c->layer_norm_eps);

    dense_rows(j, BERT_DENSE_FC, thread, a->fc_pre, a->ln1_out, w->fc_w, w->fc_b, r0, r1, H, FF);
    activation_forward(a->fc_act + of, j->training && a->fc_dact ? a->fc_dact + of : NULL, a->fc_pre + of,
                       (size_t)rows * FF, c->act);
    dense_rows(j, BERT_DENSE_PROJ, thread, tmp, a->fc_act, w->proj_w, w->proj_b, r0, r1, FF, H);
    dropout_rows(tmp, tmp, a->proj_keep, &m->acts, r0, r1, H, p, dropping(j->training, p, a->proj_keep));
    vm_add(a->ln2_in + o, tmp + o, a->ln1_out + o, n);
    layernorm_forward(a->out + o, a->ln2_mean + r0, a->ln2_rstd + r0, a->ln2_in + o, w->ln2_w, w->ln2_b, rows, H,
                      c->layer_norm_eps);
}

/* A thread's rows. In int8 or bf16 through oneDNN they go through the
 * layer a block of rows at a time (lowp_matmul's block), so that the
 * intermediate dense's output meets its activation and the output dense in
 * cache; through OpenBLAS (fp32) all at once, since it packs the weights
 * anew at every call. */
static void layer_rows_task(void *arg, int t, int thread)
{
    const job *j = arg;
    long r0, r1;
    job_rows(j, t, &r0, &r1);
    const long block = j->m->lowp && bert_lowp_block(j->m) ? bert_lowp_block(j->m) : r1 - r0;
    for (long b0 = r0; b0 < r1; b0 += block) layer_rows(j, thread, b0, r1 - b0 < block ? r1 : b0 + block);
}

static void layer_forward(bert_model *m, job *j)
{
    threadpool_run(m->pool, j->parts, qkv_task, j);
    threadpool_run(m->pool, 1 + j->B * m->cfg.num_heads, attention_task, j);
    threadpool_run(m->pool, j->parts, layer_rows_task, j);
}

int bert_forward(bert_model *m, const bert_batch *bt, int training)
{
    if (check_batch(m, bt) < 0) return -1;
    const bert_config *c = &m->cfg;
    const int B = bt->B, T = bt->T, H = c->hidden_size, C = m->num_labels, BT = B * T;
    const int threads = par_begin(m);
    ensure_acts(m, B, T, training);
    ensure_thread_scratch(m, threads);
    m->B = B;
    m->T = T;
    m->training = training;
    bert_acts *a = &m->acts;

    for (int i = 0; i < BT; i++) {
        a->ids[i] = bt->input_ids[i];
        a->types[i] = bt->token_type_ids ? bt->token_type_ids[i] : 0;
    }
    /* the rows to compute (see bert_acts) */
    const int *mask = bt->attention_mask;
    a->rows = 0;
    for (int b = 0; b < B; b++) {
        int tokens = 0;
        for (int t = 0; mask && t < T; t++) tokens += mask[b * T + t];
        a->seq_row[b] = a->rows;
        for (int t = 0; t < T; t++) {
            const int i = b * T + t;
            if (mask && tokens && t > 0 && !mask[i]) continue;
            a->row_src[a->rows] = i;
            a->mask_add[a->rows++] = (!mask || mask[i]) ? 0.0f : -FLT_MAX;
        }
        a->seq_len[b] = a->rows - a->seq_row[b];
    }
    job j = {.m = m, .bt = bt, .B = B, .T = T, .rows = a->rows, .parts = threads, .training = training};
    if (m->lowp) {
        bert_lowp_sync(m);
        bert_lowp_prepare(m, a->rows, threads, ROW_ALIGN);
    }
    if (dropping(training, c->hidden_dropout, a->emb_keep))
        dropout_mask(a->emb_keep, (size_t)BT * H, c->hidden_dropout, &m->dropout_rng);
    if (c->num_layers) draw_attention_masks(m, 0, B, T); /* the later ones: attention_task */
    threadpool_run(m->pool, threads, embed_task, &j);

    const float *x = a->emb_out;
    for (int l = 0; l < c->num_layers; l++) {
        j.l = l;
        j.x = x;
        layer_forward(m, &j);
        x = a->layers[l].out;
    }

    /* pooler on each sequence's first token ([CLS]), its first row */
    float *cls = m->scr.cls_tok;
    for (int b = 0; b < B; b++) memcpy(cls + (size_t)b * H, x + (size_t)a->seq_row[b] * H, (size_t)H * sizeof(float));
    linear_forward(a->pooled, cls, m->w.pool_w, m->w.pool_b, B, H, H);
    for (size_t i = 0; i < (size_t)B * H; i++) a->pooled[i] = tanhf(a->pooled[i]);
    dropout_forward(a->cls_in, a->pooled_keep, a->pooled, (size_t)B * H, bert_config_classifier_dropout(c), training,
                    &m->dropout_rng);
    linear_forward(a->logits, a->cls_in, m->w.cls_w, m->w.cls_b, B, H, C);
    par_end(m);

    /* softmax and cross-entropy (log-sum-exp in double) */
    double total = 0, wsum = 0;
    for (int b = 0; b < B; b++) {
        const float *z = a->logits + (size_t)b * C;
        float *pr = a->probs + (size_t)b * C;
        float mx = z[0];
        for (int k = 1; k < C; k++)
            if (z[k] > mx) mx = z[k];
        double sum = 0;
        for (int k = 0; k < C; k++) sum += exp((double)z[k] - mx);
        for (int k = 0; k < C; k++) pr[k] = (float)(exp((double)z[k] - mx) / sum);
        if (bt->labels) {
            int y = a->labels[b] = bt->labels[b];
            double nll = log(sum) - ((double)z[y] - mx);
            double wy = m->class_weights ? m->class_weights[y] : 1.0;
            a->losses[b] = (float)nll;
            total += wy * nll;
            wsum += wy;
        }
    }
    m->have_labels = bt->labels != NULL;
    m->weight_sum = wsum;
    m->loss = bt->labels ? (float)(total / wsum) : 0.0f;
    return 0;
}

/* Backward of a layer. Its scratch (bert_scratch, [rows, H] unless noted):
 *   a  d(ln2_in), then d(ln1_out) (the residual's and the dense's parts)
 *   b  d(output dense out), after dropout
 *   fc d(intermediate dense out) [rows, I], after the activation
 *   f  d(ln1_in), the residual part of d(x)
 *   e  d(attention output dense out), after dropout
 *   c  d(ctx)
 *   qkv d(qkv) [rows, 3H]
 * Token-wise work goes row range by row range down to d(ctx); then the
 * weight gradients (row ranges of each dW) beside the attention; then d(x)
 * and the QKV weights. */
static void layer_backward_rows_task(void *arg, int t, int thread)
{
    const job *j = arg;
    bert_model *m = j->m;
    const bert_config *c = &m->cfg;
    const int H = c->hidden_size, FF = c->intermediate_size;
    const bert_layer_weights *w = &m->w.layers[j->l];
    const bert_layer_acts *a = &m->acts.layers[j->l];
    const bert_scratch *s = &m->scr;
    const double p = c->hidden_dropout;
    long r0, r1;
    job_rows(j, t, &r0, &r1);
    const size_t of = (size_t)r0 * FF, nf = (size_t)(r1 - r0) * FF;
    if (m->lowp) { /* bf16: the inputs of the weight gradients, rounded once */
        bert_lowp_keep_input(m, BERT_DENSE_QKV, j->x, r0, r1);
        bert_lowp_keep_input(m, BERT_DENSE_ATTN_OUT, a->ctx, r0, r1);
        bert_lowp_keep_input(m, BERT_DENSE_FC, a->ln1_out, r0, r1);
        bert_lowp_keep_input(m, BERT_DENSE_PROJ, a->fc_act, r0, r1);
    }

    /* output LayerNorm, dropout, output dense, activation */
    layernorm_backward_rows(s->a, j->dx, a->ln2_in, a->ln2_mean, a->ln2_rstd, w->ln2_w, r0, r1, H);
    dropout_rows(s->b, s->a, a->proj_keep, &m->acts, r0, r1, H, p, dropping(m->training, p, a->proj_keep));
    dense_din_rows(j, BERT_DENSE_PROJ, thread, s->fc, s->b, w->proj_w, r0, r1, FF, H, 0);
    if (m->training && a->fc_dact)
        vm_mul(s->fc + of, a->fc_dact + of, nf);
    else
        activation_backward(s->fc + of, a->fc_pre + of, nf, c->act);
    /* intermediate dense; its input also fed the residual (s->a) */
    dense_din_rows(j, BERT_DENSE_FC, thread, s->a, s->fc, w->fc_w, r0, r1, H, FF, 1);
    /* attention output LayerNorm, dropout, dense */
    layernorm_backward_rows(s->f, s->a, a->ln1_in, a->ln1_mean, a->ln1_rstd, w->ln1_w, r0, r1, H);
    dropout_rows(s->e, s->f, a->attn_keep, &m->acts, r0, r1, H, p, dropping(m->training, p, a->attn_keep));
    dense_din_rows(j, BERT_DENSE_ATTN_OUT, thread, s->c, s->e, w->attn_out_w, r0, r1, H, H, 0);
}

/* tasks [0, parts): part t of every weight gradient but the QKV's; then
 * one task per (sequence, head) of the attention */
static void layer_backward_mid_task(void *arg, int t, int thread)
{
    const job *j = arg;
    bert_model *m = j->m;
    const bert_config *c = &m->cfg;
    const int H = c->hidden_size, FF = c->intermediate_size, BT = j->rows;
    const bert_layer_acts *a = &m->acts.layers[j->l];
    const bert_scratch *s = &m->scr;
    if (t >= j->parts) {
        t -= j->parts;
        attention_backward(m, a, s->qkv, s->c, t / c->num_heads, t % c->num_heads, j->T,
                           thread_tt(m, s->tt, thread), thread_tt(m, s->tt2, thread), thread_keep(m, thread));
        return;
    }
    bert_layer_weights *g = &m->g.layers[j->l];
    long c0, c1, f0, f1;
    threadpool_part(H, j->parts, t, ROW_ALIGN, &c0, &c1);
    threadpool_part(FF, j->parts, t, ROW_ALIGN, &f0, &f1);
    layernorm_backward_params(g->ln2_w, g->ln2_b, j->dx, a->ln2_in, a->ln2_mean, a->ln2_rstd, BT, H, c0, c1);
    dense_dw_rows(j, BERT_DENSE_PROJ, thread, g->proj_w, s->b, a->fc_act, BT, FF, H, c0, c1);
    colsum_add(g->proj_b, s->b, BT, H, c0, c1);
    dense_dw_rows(j, BERT_DENSE_FC, thread, g->fc_w, s->fc, a->ln1_out, BT, H, FF, f0, f1);
    colsum_add(g->fc_b, s->fc, BT, FF, f0, f1);
    layernorm_backward_params(g->ln1_w, g->ln1_b, s->a, a->ln1_in, a->ln1_mean, a->ln1_rstd, BT, H, c0, c1);
    dense_dw_rows(j, BERT_DENSE_ATTN_OUT, thread, g->attn_out_w, s->e, a->ctx, BT, H, H, c0, c1);
    colsum_add(g->attn_out_b, s->e, BT, H, c0, c1);
}

/* d(x) = the residual part + d(qkv) W_qkv, and the QKV weights' gradient */
static void layer_backward_qkv_task(void *arg, int t, int thread)
{
    const job *j = arg;
    bert_model *m = j->m;
    const int H = m->cfg.hidden_size, BT = j->rows;
    const bert_scratch *s = &m->scr;
    bert_layer_weights *g = &m->g.layers[j->l];
    long r0, r1, q0, q1;
    job_rows(j, t, &r0, &r1);
    memcpy(j->dx + (size_t)r0 * H, s->f + (size_t)r0 * H, (size_t)(r1 - r0) * H * sizeof(float));
    dense_din_rows(j, BERT_DENSE_QKV, thread, j->dx, s->qkv, m->w.layers[j->l].qkv_w, r0, r1, H, 3 * H, 1);
    threadpool_part(3L * H, j->parts, t, ROW_ALIGN, &q0, &q1);
    dense_dw_rows(j, BERT_DENSE_QKV, thread, g->qkv_w, s->qkv, j->x, BT, H, 3 * H, q0, q1);
    colsum_add(g->qkv_b, s->qkv, BT, 3 * H, q0, q1);
}

static void layer_backward(bert_model *m, job *j)
{
    threadpool_run(m->pool, j->parts, layer_backward_rows_task, j);
    threadpool_run(m->pool, j->parts + j->B * m->cfg.num_heads, layer_backward_mid_task, j);
    threadpool_run(m->pool, j->parts, layer_backward_qkv_task, j);
}

/* embeddings' dropout and LayerNorm, row range t (into scratch a) */
static void embed_backward_rows_task(void *arg, int t, int thread)
{
    (void)thread;
    const job *j = arg;
    bert_model *m = j->m;
    const int H = m->cfg.hidden_size;
    const bert_acts *a = &m->acts;
    long r0, r1;
    job_rows(j, t, &r0, &r1);
    dropout_rows(j->dx, j->dx, a->emb_keep, a, r0, r1, H, m->cfg.hidden_dropout,
                 dropping(m->training, m->cfg.hidden_dropout, a->emb_keep));
    layernorm_backward_rows(m->scr.a, j->dx, a->emb_in, a->emb_mean, a->emb_rstd, m->w.emb_ln_w, r0, r1, H);
}

/* column range t of the LayerNorm's gradient and of the three tables',
 * tokens added in order */
static void embed_backward_cols_task(void *arg, int t, int thread)
{
    (void)thread;
    const job *j = arg;
    bert_model *m = j->m;
    const bert_config *c = &m->cfg;
    const int H = c->hidden_size, T = j->T, rows = j->rows;
    const bert_acts *a = &m->acts;
    long c0, c1;
    threadpool_part(H, j->parts, t, ROW_ALIGN, &c0, &c1);
    layernorm_backward_params(m->g.emb_ln_w, m->g.emb_ln_b, j->dx, a->emb_in, a->emb_mean, a->emb_rstd, rows, H, c0,
                              c1);
    for (int r = 0; r < rows; r++) {
        const int i = a->row_src[r];
        const float *d = m->scr.a + (size_t)r * H;
        /* nn.Embedding(padding_idx=pad_token_id): the padding row gets no gradient */
        if (a->ids[i] != c->pad_token_id) {
            float *gw = m->g.word_emb + (size_t)a->ids[i] * H;
            for (long k = c0; k < c1; k++) gw[k] += d[k];
        }
        float *gt = m->g.type_emb + (size_t)a->types[i] * H, *gp = m->g.pos_emb + (size_t)(i % T) * H;
        for (long k = c0; k < c1; k++) {
            gt[k] += d[k];
            gp[k] += d[k];
        }
    }
}

void bert_backward(bert_model *m, double denominator)
{
    if (!m->have_labels) die("bert_backward: the last forward had no labels");
    if (m->acts_shared) die("bert_backward: the model is for prediction only (no_grad): its forward kept no activations");
    const bert_config *c = &m->cfg;
    const int B = m->B, T = m->T, H = c->hidden_size, C = m->num_labels;
    bert_acts *a = &m->acts;
    bert_scratch *s = &m->scr;
    if (denominator <= 0) denominator = m->weight_sum;
    const int threads = par_begin(m);
    ensure_thread_scratch(m, threads);
    if (m->lowp) bert_lowp_prepare_backward(m, threads, a->rows); /* bf16 (int8 dies here) */

    /* fused softmax + cross-entropy gradient: w_y (p - onehot(y)) / denominator */
    for (int b = 0; b < B; b++) {
        int y = a->labels[b];
        float scale = (float)((m->class_weights ? m->class_weights[y] : 1.0) / denominator);
        for (int k = 0; k < C; k++)
            s->dlogits[(size_t)b * C + k] = (a->probs[(size_t)b * C + k] - (k == y ? 1.0f : 0.0f)) * scale;
    }
    linear_backward(s->pooled, m->g.cls_w, m->g.cls_b, s->dlogits, a->cls_in, m->w.cls_w, B, H, C, 0);
    dropout_backward(s->pooled, s->pooled, a->pooled_keep, (size_t)B * H, bert_config_classifier_dropout(c),
                     m->training);
    for (size_t i = 0; i < (size_t)B * H; i++) s->pooled[i] *= 1.0f - a->pooled[i] * a->pooled[i];

    /* pooler: only the [CLS] rows of the last layer's output get a gradient
     * (scr.cls_tok still holds them, from the forward) */
    float *dx = s->d;
    memset(dx, 0, (size_t)a->rows * H * sizeof *dx);
    linear_backward(s->cls, m->g.pool_w, m->g.pool_b, s->pooled, s->cls_tok, m->w.pool_w, B, H, H, 0);
    for (int b = 0; b < B; b++)
        memcpy(dx + (size_t)a->seq_row[b] * H, s->cls + (size_t)b * H, (size_t)H * sizeof *dx);

    job j = {.m = m, .B = B, .T = T, .rows = a->rows, .parts = threads, .training = m->training, .dx = dx};
    for (int l = c->num_layers - 1; l >= 0; l--) {
        j.l = l;
        j.x = l ? a->layers[l - 1].out : a->emb_out;
        layer_backward(m, &j);
    }

    /* embeddings: dropout, LayerNorm, then scatter into the three tables */
    threadpool_run(m->pool, threads, embed_backward_rows_task, &j);
    threadpool_run(m->pool, threads, embed_backward_cols_task, &j);
    par_end(m);
}

/* ------------------------------------------------------------------------
 * Whole-buffer steps, by element ranges. */

typedef struct params_job {
    bert_model *m;
    int parts;
    float coef;              /* clip: the scale */
    double *block_ss;        /* clip: each block's sum of squares */
    vm_adamw_consts adam;    /* AdamW */
    float weight_decay;
} params_job;

/* Element ranges start at multiples of 64 (a cache line of 16 floats, 4 times). */
#define ELEM_ALIGN 64

static void zero_task(void *arg, int t, int thread)
{
    (void)thread;
    const params_job *j = arg;
    long lo, hi;
    threadpool_part((long)j->m->num_params, j->parts, t, ELEM_ALIGN, &lo, &hi);
    if (hi > lo) memset(j->m->grads + lo, 0, (size_t)(hi - lo) * sizeof(float));
}

void bert_zero_grad(bert_model *m)
{
    params_job j = {.m = m, .parts = par_begin(m)};
    threadpool_run(m->pool, j.parts, zero_task, &j);
    par_end(m);
}

/* The global norm is summed in fixed blocks, each in double over 4
 * interleaved partial sums, the blocks then added in order: the same bits
 * for any thread count. */
#define NORM_BLOCK 65536

static void norm_task(void *arg, int t, int thread)
{
    (void)thread;
    const params_job *j = arg;
    const size_t lo = (size_t)t * NORM_BLOCK, n = j->m->num_params;
    const size_t hi = lo + NORM_BLOCK < n ? lo + NORM_BLOCK : n;
    const float *g = j->m->grads;
    double s[4] = {0, 0, 0, 0};
    size_t i = lo;
    for (; i + 4 <= hi; i += 4)
        for (int k = 0; k < 4; k++) s[k] += (double)g[i + k] * g[i + k];
    for (; i < hi; i++) s[0] += (double)g[i] * g[i];
    j->block_ss[t] = (s[0] + s[1]) + (s[2] + s[3]);
}

static void scale_task(void *arg, int t, int thread)
{
    (void)thread;
    const params_job *j = arg;
    long lo, hi;
    threadpool_part((long)j->m->num_params, j->parts, t, ELEM_ALIGN, &lo, &hi);
    float *g = j->m->grads;
    for (long i = lo; i < hi; i++) g[i] *= j->coef;
}

float bert_clip_grad_norm(bert_model *m, float max_norm)
{
    params_job j = {.m = m, .parts = par_begin(m)};
    const int blocks = (int)((m->num_params + NORM_BLOCK - 1) / NORM_BLOCK);
    j.block_ss = xcalloc((size_t)blocks, sizeof *j.block_ss);
    threadpool_run(m->pool, blocks, norm_task, &j);
    double ss = 0;
    for (int b = 0; b < blocks; b++) ss += j.block_ss[b];
    free(j.block_ss);
    float norm = (float)sqrt(ss);
    j.coef = max_norm / (norm + 1e-6f);
    if (j.coef < 1.0f) threadpool_run(m->pool, j.parts, scale_task, &j);
    par_end(m);
    return norm;
}

static void adamw_task(void *arg, int t, int thread)
{
    (void)thread;
    const params_job *j = arg;
    bert_model *m = j->m;
    long lo, hi;
    threadpool_part((long)m->num_params, j->parts, t, ELEM_ALIGN, &lo, &hi);
    for (int k = 0; k < m->num_tensors; k++) {
        const bert_tensor *bt = &m->tensors[k];
        size_t a = bt->offset > (size_t)lo ? bt->offset : (size_t)lo;
        size_t b = bt->offset + bt->numel < (size_t)hi ? bt->offset + bt->numel : (size_t)hi;
        if (a < b)
            vm_adamw(m->params + a, m->grads + a, m->adam_m + a, m->adam_v + a, b - a, &j->adam,
                     !bt->no_decay && j->weight_decay != 0);
    }
}

void bert_adamw_step(bert_model *m, const bert_adamw *o)
{
    if (!m->adam_m) {
        m->adam_m = xcalloc(m->num_params, sizeof(float));
        m->adam_v = xcalloc(m->num_params, sizeof(float));
    }
    m->step++;
    m->params_gen++;
    /* torch.optim.AdamW (single-tensor path): scalars in double, element
     * arithmetic in float, in torch's order of operations (vm_adamw) */
    const double bc1 = 1.0 - pow(o->beta1, (double)m->step), bc2 = 1.0 - pow(o->beta2, (double)m->step);
    params_job j = {.m = m, .weight_decay = o->weight_decay};
    j.adam = (vm_adamw_consts){
        .b1 = o->beta1,
        .b2 = o->beta2,
        .one_b1 = (float)(1.0 - o->beta1),
        .one_b2 = (float)(1.0 - o->beta2),
        .step = (float)(o->lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = o->eps,
        .decay = (float)(1.0 - (double)o->lr * o->weight_decay),
    };
    j.parts = par_begin(m);
    threadpool_run(m->pool, j.parts, adamw_task, &j);
    par_end(m);
}

void bert_free(bert_model *m)
{
    bert_lowp_detach(m);
    free_acts(m);
    threadpool_free(m->pool);
    for (int i = 0; i < m->num_tensors; i++) free(m->tensors[i].name);
    for (int i = 0; i < m->num_fresh; i++) free(m->fresh[i]);
    free(m->fresh);
    free(m->tensors);
    free(m->w.layers);
    free(m->g.layers);
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->class_weights);
    bert_config_free(&m->cfg);
    memset(m, 0, sizeof *m);
}
