#include "bert.h"
#include "common.h"
#include "outfile.h"
#include "pytorch_bin.h"
#include "safetensors.h"

#include <cblas.h>
#include <errno.h>
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
 * m->fresh); otherwise absent ones keep their values. Returns the number of
 * tensors copied, or -1. */
static int load_tensors(bert_model *m, const st_file *f, int strict)
{
    int loaded = 0;
    for (int i = 0; i < m->num_tensors; i++) {
        const bert_tensor *t = &m->tensors[i];
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
    int rc = load_tensors(m, &f, 0);
    st_close(&f);
    return rc;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int bert_load(bert_model *m, const char *dir, int num_labels, uint64_t seed)
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
    int rc;
    snprintf(path, n, "%s/model.safetensors", dir);
    if (file_exists(path)) {
        st_file f;
        char err[MODEL_ERR_MAX];
        rc = st_open(&f, path, err);
        if (rc < 0) fail(m, "%s", err);
        else {
            rc = load_tensors(m, &f, 1);
            st_close(&f);
        }
    } else {
        snprintf(path, n, "%s/pytorch_model.bin", dir);
        if (file_exists(path)) {
            st_file f;
            char err[MODEL_ERR_MAX];
            rc = pytorch_bin_open(&f, path, err);
            if (rc < 0) fail(m, "%s", err);
            else {
                rc = load_tensors(m, &f, 1);
                st_close(&f);
            }
        } else {
            rc = fail(m, "%s: no model.safetensors or pytorch_model.bin", dir);
        }
    }
    free(path);
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
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) die("cannot create %s: %s", dir, strerror(errno));
    size_t n = strlen(dir) + 32;
    char *path = xmalloc(n);

    bert_config cfg = m->cfg; /* shallow: only the JSON is updated, on a copy */
    cfg.json = cJSON_Duplicate(m->cfg.json, 1);
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
 * Activation buffers. */

static void free_acts(bert_model *m)
{
    bert_acts *a = &m->acts;
    for (int l = 0; a->layers && l < m->cfg.num_layers; l++) {
        bert_layer_acts *la = &a->layers[l];
        free(la->qkv); free(la->probs); free(la->probs_keep); free(la->ctx); free(la->attn_keep);
        free(la->ln1_in); free(la->ln1_mean); free(la->ln1_rstd); free(la->ln1_out);
        free(la->fc_pre); free(la->fc_act); free(la->proj_keep);
        free(la->ln2_in); free(la->ln2_mean); free(la->ln2_rstd); free(la->out);
    }
    free(a->layers);
    free(a->ids); free(a->types); free(a->labels);
    free(a->mask_add); free(a->emb_in); free(a->emb_mean); free(a->emb_rstd); free(a->emb_ln);
    free(a->emb_keep); free(a->emb_out); free(a->pooled); free(a->pooled_keep); free(a->cls_in);
    free(a->logits); free(a->probs); free(a->losses);
    bert_scratch *s = &m->scr;
    free(s->a); free(s->b); free(s->c); free(s->d); free(s->fc); free(s->qkv); free(s->tt); free(s->tt2);
    free(s->pooled); free(s->cls); free(s->dlogits);
    memset(a, 0, sizeof *a);
    memset(s, 0, sizeof *s);
    m->max_b = m->max_t = m->acts_masks = 0;
}

#define FALLOC(n) ((float *)xcalloc((size_t)(n), sizeof(float)))

/* Sizes the activations for a B x T batch; dropout masks only when a
 * training forward needs them (the config's probabilities may be changed
 * between calls). */
static void ensure_acts(bert_model *m, int B, int T, int training)
{
    const bert_config *c = &m->cfg;
    int want_masks = training && (c->hidden_dropout > 0 || c->attn_dropout > 0 || bert_config_classifier_dropout(c) > 0);
    if (B <= m->max_b && T <= m->max_t && (m->acts_masks || !want_masks)) return;
    int nb = B > m->max_b ? B : m->max_b, nt = T > m->max_t ? T : m->max_t;
    free_acts(m);
    m->max_b = nb;
    m->max_t = nt;
    m->acts_masks = want_masks;
    const size_t BT = (size_t)nb * (size_t)nt, H = (size_t)c->hidden_size, FF = (size_t)c->intermediate_size;
    const size_t att = (size_t)nb * (size_t)c->num_heads * (size_t)nt * (size_t)nt, C = (size_t)m->num_labels;
    bert_acts *a = &m->acts;
    /* dropout masks only where the config has dropout */
    int hd = want_masks, ad = want_masks, cd = want_masks;
    a->ids = xcalloc(BT, sizeof(int));
    a->types = xcalloc(BT, sizeof(int));
    a->labels = xcalloc((size_t)nb, sizeof(int));
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
    s->fc = FALLOC(BT * FF);
    s->qkv = FALLOC(BT * 3 * H);
    s->tt = FALLOC((size_t)nt * nt);
    s->tt2 = FALLOC((size_t)nt * nt);
    s->pooled = FALLOC((size_t)nb * H);
    s->cls = FALLOC((size_t)nb * H);
    s->dlogits = FALLOC((size_t)nb * C);
}

/* ------------------------------------------------------------------------
 * Layer kernels: each forward saves what its backward needs; each backward
 * adds its parameter gradients into the grads buffer. */

/* out[N, nout] = in[N, nin] W^T + b, W [nout, nin] (torch.nn.Linear) */
static void linear_forward(float *out, const float *in, const float *w, const float *b, int N, int nin, int nout)
{
    for (int i = 0; i < N; i++) memcpy(out + (size_t)i * nout, b, (size_t)nout * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, nout, nin, 1.0f, in, nin, w, nin, 1.0f, out, nout);
}

/* din (+= when accumulate, else =) dout W; dW += dout^T in; db += sum dout */
static void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                            int N, int nin, int nout, int accumulate)
{
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, nin, nout, 1.0f, dout, nout, w, nin,
                    accumulate ? 1.0f : 0.0f, din, nin);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nout, nin, N, 1.0f, dout, nout, in, nin, 1.0f, dw, nin);
    for (int i = 0; i < N; i++) {
        const float *row = dout + (size_t)i * nout;
        for (int j = 0; j < nout; j++) db[j] += row[j];
    }
}

/* torch.nn.LayerNorm over rows of C; mean and 1/std kept for backward. The
 * moments are taken in double; the output as torch writes it,
 * (x * rstd - mean * rstd) * w + b. */
static void layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b,
                              int N, int C, double eps)
{
    for (int i = 0; i < N; i++) {
        const float *x = in + (size_t)i * C;
        double s = 0, ss = 0;
        for (int j = 0; j < C; j++) s += x[j];
        double mu = s / C;
        for (int j = 0; j < C; j++) ss += (x[j] - mu) * (x[j] - mu);
        double r = 1.0 / sqrt(ss / C + eps);
        mean[i] = (float)mu;
        rstd[i] = (float)r;
        float scale = (float)r, shift = (float)(-r * mu);
        float *y = out + (size_t)i * C;
        for (int j = 0; j < C; j++) y[j] = (x[j] * scale + shift) * w[j] + b[j];
    }
}

/* din = d(LayerNorm)/d(in) applied to dout (overwrites din); dw, db += */
static void layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                               const float *mean, const float *rstd, const float *w, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const float *x = in + (size_t)i * C, *dy = dout + (size_t)i * C;
        float *dx = din + (size_t)i * C;
        const float mu = mean[i], r = rstd[i];
        double sum_dn = 0, sum_dn_xhat = 0;
        for (int j = 0; j < C; j++) {
            float xhat = (x[j] - mu) * r, dn = dy[j] * w[j];
            sum_dn += dn;
            sum_dn_xhat += (double)dn * xhat;
            dw[j] += dy[j] * xhat;
            db[j] += dy[j];
        }
        const float m1 = (float)(sum_dn / C), m2 = (float)(sum_dn_xhat / C);
        for (int j = 0; j < C; j++) {
            float xhat = (x[j] - mu) * r;
            dx[j] = (dy[j] * w[j] - m1 - xhat * m2) * r;
        }
    }
}

/* Inverted dropout (torch.nn.Dropout): keep with probability 1-p, scaled by
 * 1/(1-p). Without training or p == 0 it is the identity (out may be in). */
static void dropout_forward(float *out, uint8_t *keep, const float *in, size_t n, double p, int training, prng *r)
{
    if (!training || p <= 0 || !keep) {
        if (out != in) memcpy(out, in, n * sizeof *out);
        return;
    }
    const float scale = (float)(1.0 / (1.0 - p));
    /* keep iff a 32-bit draw is at or above p * 2^32 */
    const uint64_t cut = (uint64_t)(p * 4294967296.0);
    size_t i = 0;
    while (i < n) {
        uint64_t bits = prng_next(r);
        for (int k = 0; k < 2 && i < n; k++, i++) {
            keep[i] = (bits & 0xffffffffu) >= cut;
            bits >>= 32;
            out[i] = keep[i] ? in[i] * scale : 0.0f;
        }
    }
}

static void dropout_backward(float *din, const float *dout, const uint8_t *keep, size_t n, double p, int training)
{
    if (!training || p <= 0 || !keep) {
        if (din != dout) memcpy(din, dout, n * sizeof *din);
        return;
    }
    const float scale = (float)(1.0 / (1.0 - p));
    for (size_t i = 0; i < n; i++) din[i] = keep[i] ? dout[i] * scale : 0.0f;
}

#define GELU_TANH_K 0.7978845608028654f /* sqrt(2/pi) */

static void activation_forward(float *out, const float *in, size_t n, bert_act act)
{
    switch (act) {
    case BERT_ACT_GELU:
        for (size_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * (float)M_SQRT1_2));
        break;
    case BERT_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float x = in[i];
            out[i] = 0.5f * x * (1.0f + tanhf(GELU_TANH_K * (x + 0.044715f * x * x * x)));
        }
        break;
    case BERT_ACT_RELU:
        for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0.0f;
        break;
    }
}

/* d in place: d *= act'(x) */
static void activation_backward(float *d, const float *x_, size_t n, bert_act act)
{
    switch (act) {
    case BERT_ACT_GELU:
        for (size_t i = 0; i < n; i++) {
            float x = x_[i];
            float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
            float pdf = expf(-0.5f * x * x) * (float)(M_2_SQRTPI * M_SQRT1_2 * 0.5);
            d[i] *= cdf + x * pdf;
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

/* Multi-head self-attention core, per sequence b and head h:
 *   P = softmax(Q K^T / sqrt(d) + mask_add), ctx_h = dropout(P) V
 * as BertSelfAttention computes it: HF adds (1 - mask) * finfo(float32).min
 * to the scaled scores, so padding keys get -FLT_MAX (probability exactly
 * 0) and a row with no token at all comes out uniform, here as there. */
static void attention_forward(bert_model *m, bert_layer_acts *la, int B, int T, int training)
{
    const int H = m->cfg.hidden_size, nh = m->cfg.num_heads, d = H / nh;
    const float sqrt_d = sqrtf((float)d);
    const double p = m->cfg.attn_dropout;
    float *tt = m->scr.tt;
    for (int b = 0; b < B; b++) {
        const float *madd = m->acts.mask_add + (size_t)b * T;
        for (int h = 0; h < nh; h++) {
            const float *q = la->qkv + (size_t)b * T * 3 * H + (size_t)h * d, *k = q + H, *v = q + 2 * H;
            float *P = la->probs + ((size_t)b * nh + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d, 1.0f, q, 3 * H, k, 3 * H, 0.0f, P, T);
            for (int i = 0; i < T; i++) {
                float *row = P + (size_t)i * T, mx = -INFINITY;
                for (int j = 0; j < T; j++) {
                    row[j] = row[j] / sqrt_d + madd[j];
                    if (row[j] > mx) mx = row[j];
                }
                float sum = 0;
                for (int j = 0; j < T; j++) {
                    row[j] = expf(row[j] - mx);
                    sum += row[j];
                }
                for (int j = 0; j < T; j++) row[j] /= sum;
            }
            const float *Pd = P;
            if (training && p > 0) {
                uint8_t *keep = la->probs_keep + ((size_t)b * nh + h) * T * T;
                dropout_forward(tt, keep, P, (size_t)T * T, p, 1, &m->dropout_rng);
                Pd = tt;
            }
            float *ctx = la->ctx + (size_t)b * T * H + (size_t)h * d;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d, T, 1.0f, Pd, T, v, 3 * H, 0.0f, ctx, H);
        }
    }
}

/* From dctx [BT, H] to dqkv [BT, 3H] (overwritten). */
static void attention_backward(bert_model *m, const bert_layer_acts *la, float *dqkv, const float *dctx, int B, int T)
{
    const int H = m->cfg.hidden_size, nh = m->cfg.num_heads, d = H / nh;
    const float sqrt_d = sqrtf((float)d);
    const double p = m->cfg.attn_dropout;
    const int dropout = m->training && p > 0;
    float *dP = m->scr.tt, *Pd_buf = m->scr.tt2;
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < nh; h++) {
            const size_t off = (size_t)b * T * 3 * H + (size_t)h * d;
            const float *q = la->qkv + off, *k = q + H, *v = q + 2 * H;
            float *dq = dqkv + off, *dk = dq + H, *dv = dq + 2 * H;
            const float *P = la->probs + ((size_t)b * nh + h) * T * T;
            const uint8_t *keep = dropout ? la->probs_keep + ((size_t)b * nh + h) * T * T : NULL;
            const float *dc = dctx + (size_t)b * T * H + (size_t)h * d;
            const float *Pd = P;
            if (dropout) {
                const float scale = (float)(1.0 / (1.0 - p));
                for (size_t i = 0; i < (size_t)T * T; i++) Pd_buf[i] = keep[i] ? P[i] * scale : 0.0f;
                Pd = Pd_buf;
            }
            /* dV = dropout(P)^T dctx; d(dropout(P)) = dctx V^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, d, T, 1.0f, Pd, T, dc, H, 0.0f, dv, 3 * H);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d, 1.0f, dc, H, v, 3 * H, 0.0f, dP, T);
            if (dropout) dropout_backward(dP, dP, keep, (size_t)T * T, p, 1);
            /* softmax backward, then the 1/sqrt(d) scaling */
            for (int i = 0; i < T; i++) {
                const float *pr = P + (size_t)i * T;
                float *g = dP + (size_t)i * T;
                float dot = 0;
                for (int j = 0; j < T; j++) dot += g[j] * pr[j];
                for (int j = 0; j < T; j++) g[j] = pr[j] * (g[j] - dot) / sqrt_d;
            }
            /* dQ = dS K, dK = dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d, T, 1.0f, dP, T, k, 3 * H, 0.0f, dq, 3 * H);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, d, T, 1.0f, dP, T, q, 3 * H, 0.0f, dk, 3 * H);
        }
    }
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

static void layer_forward(bert_model *m, int l, const float *x, int B, int T, int training)
{
    const bert_config *c = &m->cfg;
    const int H = c->hidden_size, FF = c->intermediate_size, BT = B * T;
    const bert_layer_weights *w = &m->w.layers[l];
    bert_layer_acts *a = &m->acts.layers[l];
    const double p = c->hidden_dropout;
    float *tmp = m->scr.a; /* dense outputs before dropout + residual */

    linear_forward(a->qkv, x, w->qkv_w, w->qkv_b, BT, H, 3 * H);
    attention_forward(m, a, B, T, training);
    linear_forward(tmp, a->ctx, w->attn_out_w, w->attn_out_b, BT, H, H);
    dropout_forward(tmp, a->attn_keep, tmp, (size_t)BT * H, p, training, &m->dropout_rng);
    for (size_t i = 0; i < (size_t)BT * H; i++) a->ln1_in[i] = tmp[i] + x[i];
    layernorm_forward(a->ln1_out, a->ln1_mean, a->ln1_rstd, a->ln1_in, w->ln1_w, w->ln1_b, BT, H, c->layer_norm_eps);

    linear_forward(a->fc_pre, a->ln1_out, w->fc_w, w->fc_b, BT, H, FF);
    activation_forward(a->fc_act, a->fc_pre, (size_t)BT * FF, c->act);
    linear_forward(tmp, a->fc_act, w->proj_w, w->proj_b, BT, FF, H);
    dropout_forward(tmp, a->proj_keep, tmp, (size_t)BT * H, p, training, &m->dropout_rng);
    for (size_t i = 0; i < (size_t)BT * H; i++) a->ln2_in[i] = tmp[i] + a->ln1_out[i];
    layernorm_forward(a->out, a->ln2_mean, a->ln2_rstd, a->ln2_in, w->ln2_w, w->ln2_b, BT, H, c->layer_norm_eps);
}

int bert_forward(bert_model *m, const bert_batch *bt, int training)
{
    if (check_batch(m, bt) < 0) return -1;
    const bert_config *c = &m->cfg;
    const int B = bt->B, T = bt->T, H = c->hidden_size, C = m->num_labels, BT = B * T;
    ensure_acts(m, B, T, training);
    m->B = B;
    m->T = T;
    m->training = training;
    bert_acts *a = &m->acts;

    /* embeddings: (word + token type) + position, in HF's order of addition */
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            const float *we = m->w.word_emb + (size_t)bt->input_ids[i] * H;
            const float *te = m->w.type_emb + (size_t)(bt->token_type_ids ? bt->token_type_ids[i] : 0) * H;
            const float *pe = m->w.pos_emb + (size_t)t * H;
            float *out = a->emb_in + i * H;
            for (int j = 0; j < H; j++) out[j] = (we[j] + te[j]) + pe[j];
            a->ids[i] = bt->input_ids[i];
            a->types[i] = bt->token_type_ids ? bt->token_type_ids[i] : 0;
            a->mask_add[i] = (!bt->attention_mask || bt->attention_mask[i]) ? 0.0f : -FLT_MAX;
        }
    }
    layernorm_forward(a->emb_ln, a->emb_mean, a->emb_rstd, a->emb_in, m->w.emb_ln_w, m->w.emb_ln_b, BT, H,
                      c->layer_norm_eps);
    dropout_forward(a->emb_out, a->emb_keep, a->emb_ln, (size_t)BT * H, c->hidden_dropout, training, &m->dropout_rng);

    const float *x = a->emb_out;
    for (int l = 0; l < c->num_layers; l++) {
        layer_forward(m, l, x, B, T, training);
        x = a->layers[l].out;
    }

    /* pooler on each sequence's first token ([CLS]): rows T*H apart */
    for (int b = 0; b < B; b++) memcpy(a->pooled + (size_t)b * H, m->w.pool_b, (size_t)H * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, H, 1.0f, x, T * H, m->w.pool_w, H, 1.0f, a->pooled, H);
    for (size_t i = 0; i < (size_t)B * H; i++) a->pooled[i] = tanhf(a->pooled[i]);
    dropout_forward(a->cls_in, a->pooled_keep, a->pooled, (size_t)B * H, bert_config_classifier_dropout(c), training,
                    &m->dropout_rng);
    linear_forward(a->logits, a->cls_in, m->w.cls_w, m->w.cls_b, B, H, C);

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

static void layer_backward(bert_model *m, int l, const float *x, float *dx, int B, int T)
{
    /* dx holds d(loss)/d(layer output) on entry, d(loss)/d(x) on return */
    const bert_config *c = &m->cfg;
    const int H = c->hidden_size, FF = c->intermediate_size, BT = B * T;
    const size_t n = (size_t)BT * H;
    const bert_layer_weights *w = &m->w.layers[l];
    bert_layer_weights *g = &m->g.layers[l];
    const bert_layer_acts *a = &m->acts.layers[l];
    const double p = c->hidden_dropout;
    float *d_ln2_in = m->scr.a, *d_drop = m->scr.b, *d_ctx = m->scr.c, *d_fc = m->scr.fc, *d_qkv = m->scr.qkv;

    /* output LayerNorm, residual, dropout, output dense */
    layernorm_backward(d_ln2_in, g->ln2_w, g->ln2_b, dx, a->ln2_in, a->ln2_mean, a->ln2_rstd, w->ln2_w, BT, H);
    dropout_backward(d_drop, d_ln2_in, a->proj_keep, n, p, m->training);
    linear_backward(d_fc, g->proj_w, g->proj_b, d_drop, a->fc_act, w->proj_w, BT, FF, H, 0);
    activation_backward(d_fc, a->fc_pre, (size_t)BT * FF, c->act);
    /* intermediate dense; its input also feeds the residual (d_ln2_in) */
    float *d_ln1_out = d_ln2_in;
    linear_backward(d_ln1_out, g->fc_w, g->fc_b, d_fc, a->ln1_out, w->fc_w, BT, H, FF, 1);

    /* attention output LayerNorm, residual, dropout, dense */
    float *d_ln1_in = dx;
    layernorm_backward(d_ln1_in, g->ln1_w, g->ln1_b, d_ln1_out, a->ln1_in, a->ln1_mean, a->ln1_rstd, w->ln1_w, BT, H);
    dropout_backward(d_drop, d_ln1_in, a->attn_keep, n, p, m->training);
    linear_backward(d_ctx, g->attn_out_w, g->attn_out_b, d_drop, a->ctx, w->attn_out_w, BT, H, H, 0);
    attention_backward(m, a, d_qkv, d_ctx, B, T);
    /* the QKV projection; x also feeds the residual (d_ln1_in, already in dx) */
    linear_backward(dx, g->qkv_w, g->qkv_b, d_qkv, x, w->qkv_w, BT, H, 3 * H, 1);
}

void bert_backward(bert_model *m, double denominator)
{
    if (!m->have_labels) die("bert_backward: the last forward had no labels");
    const bert_config *c = &m->cfg;
    const int B = m->B, T = m->T, H = c->hidden_size, C = m->num_labels, BT = B * T;
    bert_acts *a = &m->acts;
    bert_scratch *s = &m->scr;
    if (denominator <= 0) denominator = m->weight_sum;

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

    /* pooler: only the [CLS] rows of the last layer's output get a gradient */
    const float *last = c->num_layers ? a->layers[c->num_layers - 1].out : a->emb_out;
    float *dx = s->d;
    memset(dx, 0, (size_t)BT * H * sizeof *dx);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, B, 1.0f, s->pooled, H, last, T * H, 1.0f, m->g.pool_w, H);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) m->g.pool_b[j] += s->pooled[(size_t)b * H + j];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, H, 1.0f, s->pooled, H, m->w.pool_w, H, 0.0f, dx, T * H);

    for (int l = c->num_layers - 1; l >= 0; l--)
        layer_backward(m, l, l ? a->layers[l - 1].out : a->emb_out, dx, B, T);

    /* embeddings: dropout, LayerNorm, then scatter into the three tables */
    dropout_backward(dx, dx, a->emb_keep, (size_t)BT * H, c->hidden_dropout, m->training);
    float *demb = s->a;
    layernorm_backward(demb, m->g.emb_ln_w, m->g.emb_ln_b, dx, a->emb_in, a->emb_mean, a->emb_rstd, m->w.emb_ln_w, BT, H);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            const float *d = demb + i * H;
            /* nn.Embedding(padding_idx=pad_token_id): the padding row gets no gradient */
            if (a->ids[i] != c->pad_token_id) {
                float *gw = m->g.word_emb + (size_t)a->ids[i] * H;
                for (int j = 0; j < H; j++) gw[j] += d[j];
            }
            float *gt = m->g.type_emb + (size_t)a->types[i] * H, *gp = m->g.pos_emb + (size_t)t * H;
            for (int j = 0; j < H; j++) {
                gt[j] += d[j];
                gp[j] += d[j];
            }
        }
    }
}

float bert_clip_grad_norm(bert_model *m, float max_norm)
{
    double ss = 0;
    for (size_t i = 0; i < m->num_params; i++) ss += (double)m->grads[i] * m->grads[i];
    float norm = (float)sqrt(ss);
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f)
        for (size_t i = 0; i < m->num_params; i++) m->grads[i] *= coef;
    return norm;
}

void bert_adamw_step(bert_model *m, const bert_adamw *o)
{
    if (!m->adam_m) {
        m->adam_m = xcalloc(m->num_params, sizeof(float));
        m->adam_v = xcalloc(m->num_params, sizeof(float));
    }
    m->step++;
    /* torch.optim.AdamW (single-tensor path): scalars in double, element
     * arithmetic in float, in torch's order of operations */
    const double bc1 = 1.0 - pow(o->beta1, (double)m->step), bc2 = 1.0 - pow(o->beta2, (double)m->step);
    const float step_size = (float)(o->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float b1 = o->beta1, b2 = o->beta2, one_b1 = (float)(1.0 - o->beta1), one_b2 = (float)(1.0 - o->beta2);
    const float decay = (float)(1.0 - (double)o->lr * o->weight_decay);
    for (int t = 0; t < m->num_tensors; t++) {
        const bert_tensor *bt = &m->tensors[t];
        float *p = m->params + bt->offset, *g = m->grads + bt->offset;
        float *mm = m->adam_m + bt->offset, *vv = m->adam_v + bt->offset;
        const int decays = !bt->no_decay && o->weight_decay != 0;
        for (size_t i = 0; i < bt->numel; i++) {
            if (decays) p[i] *= decay;
            mm[i] = mm[i] * b1 + g[i] * one_b1;
            vv[i] = vv[i] * b2 + g[i] * g[i] * one_b2;
            float denom = sqrtf(vv[i]) / bc2_sqrt + o->eps;
            p[i] += -step_size * (mm[i] / denom);
        }
    }
}

void bert_zero_grad(bert_model *m)
{
    memset(m->grads, 0, m->num_params * sizeof *m->grads);
}

void bert_free(bert_model *m)
{
    free_acts(m);
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
