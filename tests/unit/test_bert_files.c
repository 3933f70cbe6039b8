/* Model files: lib/bert/safetensors (round trip, dtype conversion, malformed
 * files), lib/bert/bertconfig (HF defaults, refused configurations, label
 * mapping), lib/bert/pytorch_bin (both torch.save formats, refused pickles), and
 * lib/bert's directory loading and saving: a saved fine-tuned directory
 * loads back with bit-identical logits, and the errors a user can meet
 * (missing tensor, shape mismatch, sequence too long, ...) say what is wrong.
 * The micro_* fixtures are one model saved by tests/ref/bert_ref.py micro in
 * the three formats; the tiny model is the parity test's (test_bert.c). */
#include "bert/bert.h"
#include "bert/bertconfig.h"
#include "check.h"
#include "core/common.h"
#include "bert/pytorch_bin.h"
#include "bert/safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GOLDEN "tests/golden/bert/"

static char tmpdir[256];

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", dir);
}

static int contains(const char *s, const char *sub)
{
    return s && strstr(s, sub) != NULL;
}

#define CHECK_ERR(name, rc, err, sub)                                                    \
    do {                                                                                 \
        int ok_ = (rc) < 0 && contains(err, sub);                                        \
        if (!ok_) printf("  got rc %d, message: %s\n", (int)(rc), err);                  \
        CHECK(name, ok_);                                                                \
    } while (0)

/* ------------------------------------------------------------------------ */

static void test_safetensors_roundtrip(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/t.safetensors", tmpdir);
    float a[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 65504}, b[3] = {0.25f, 0.5f, 0.75f};
    st_out t[2] = {{"layer.weight", a, 2, {2, 3}}, {"bias", b, 1, {3}}};
    const char *meta[] = {"format", "pt"};
    st_write_f32(path, t, 2, meta, 1);
    st_file f;
    char err[MODEL_ERR_MAX] = "";
    int rc = st_open(&f, path, err);
    CHECK("safetensors: written file opens", rc == 0);
    if (rc < 0) return;
    CHECK("safetensors: 2 tensors in order", f.n == 2 && strcmp(f.tensors[0].name, "layer.weight") == 0);
    const st_tensor *w = st_find(&f, "layer.weight");
    CHECK("safetensors: shape [2, 3] F32", w && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3 &&
                                               strcmp(w->dtype, "F32") == 0);
    float back[6];
    CHECK("safetensors: values round-trip bit-exact", w && st_to_f32(w, back, err) == 0 && memcmp(back, a, sizeof a) == 0);
    const cJSON *fmt = f.metadata ? cJSON_GetObjectItemCaseSensitive(f.metadata, "format") : NULL;
    CHECK("safetensors: metadata format=pt", cJSON_IsString(fmt) && strcmp(fmt->valuestring, "pt") == 0);
    /* the data must start 8-byte aligned, as the reference writer does */
    size_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f.map[i];
    CHECK("safetensors: header padded to a multiple of 8", (8 + hlen) % 8 == 0);
    CHECK("safetensors: st_find of an absent name is NULL", st_find(&f, "nope") == NULL);
    st_close(&f);
}

/* An in-memory file: header text + data bytes. */
static unsigned char *make_file(const char *header, const void *data, size_t ndata, size_t *size)
{
    size_t h = strlen(header);
    unsigned char *buf = xmalloc(8 + h + ndata + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    if (ndata) memcpy(buf + 8 + h, data, ndata);
    *size = 8 + h + ndata;
    return buf;
}

static void test_safetensors_dtypes_and_errors(void)
{
    /* F16: 1, -2, 0.5, smallest subnormal (2^-24); BF16: 1, -3.5 */
    const unsigned char data[] = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0x01, 0x00, 0x80, 0x3f, 0x60, 0xc0,
                                  1, 0, 0, 0, 0, 0, 0, 0};
    size_t size;
    unsigned char *buf = make_file("{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                                   "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                                   "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[12,20]}}",
                                   data, sizeof data, &size);
    st_file f;
    char err[MODEL_ERR_MAX] = "";
    int rc = st_open_buffer(&f, buf, size, "mem", err);
    CHECK("safetensors: F16/BF16/I64 header parses", rc == 0 && f.n == 3);
    if (rc == 0) {
        float h[4], b[2], i[1];
        CHECK("safetensors: F16 converts (1, -2, 0.5, 2^-24)",
              st_to_f32(st_find(&f, "h"), h, err) == 0 && h[0] == 1 && h[1] == -2 && h[2] == 0.5f &&
                  h[3] == ldexpf(1, -24));
        CHECK("safetensors: BF16 converts (1, -3.5)", st_to_f32(st_find(&f, "b"), b, err) == 0 && b[0] == 1 && b[1] == -3.5f);
        rc = st_to_f32(st_find(&f, "i"), i, err);
        CHECK_ERR("safetensors: an I64 tensor is not read as float", rc, err, "not a floating-point type");
        st_close(&f);
    }
    free(buf);

    static const struct { const char *header; size_t ndata; const char *want, *name; } bad[] = {
        {"[1,2]", 0, "not a JSON object", "a header that is not an object"},
        {"{\"x\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype", "an unknown dtype"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "4 bytes for 2 F32", "size not matching the shape"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past the end", "offsets past the end"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "bad shape", "a negative dimension"},
        {"{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "needs dtype, shape", "a missing shape"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        unsigned char zeros[8] = {0};
        buf = make_file(bad[k].header, zeros, bad[k].ndata, &size);
        rc = st_open_buffer(&f, buf, size, "mem", err);
        char name[160];
        snprintf(name, sizeof name, "safetensors: refuses %s", bad[k].name);
        CHECK_ERR(name, rc, err, bad[k].want);
        if (rc == 0) st_close(&f);
        free(buf);
    }
    unsigned char shortbuf[12] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, 0};
    rc = st_open_buffer(&f, shortbuf, sizeof shortbuf, "mem", err);
    CHECK_ERR("safetensors: refuses a header length beyond the file", rc, err, "header length 200");
    rc = st_open_buffer(&f, shortbuf, 5, "mem", err);
    CHECK_ERR("safetensors: refuses a 5-byte file", rc, err, "not a safetensors file");
    rc = st_open(&f, "/nonexistent/model.safetensors", err);
    CHECK_ERR("safetensors: names a file that cannot be opened", rc, err, "cannot open /nonexistent/model.safetensors");
}

/* ------------------------------------------------------------------------ */

static void test_config(void)
{
    const char *shared = getenv("SHARED");
    char path[600], err[MODEL_ERR_MAX] = "";
    bert_config c;
    if (shared) {
        snprintf(path, sizeof path, "%s/models/scibert_scivocab_uncased/config.json", shared);
        int rc = bert_config_load(&c, path, err);
        CHECK("config: SciBERT's config.json (no model_type, no layer_norm_eps) loads", rc == 0);
        if (rc == 0) {
            CHECK("config: SciBERT sizes and BertConfig defaults",
                  c.vocab_size == 31090 && c.hidden_size == 768 && c.num_layers == 12 && c.num_heads == 12 &&
                      c.intermediate_size == 3072 && c.layer_norm_eps == 1e-12 && c.pad_token_id == 0 &&
                      c.act == BERT_ACT_GELU && c.num_labels == 0 && c.max_position == 512);
            bert_config_free(&c);
        }
        snprintf(path, sizeof path, "%s/models/bert-base-uncased/config.json", shared);
        rc = bert_config_load(&c, path, err);
        CHECK("config: bert-base-uncased's config.json loads", rc == 0 && c.vocab_size == 30522 && c.type_vocab_size == 2);
        if (rc == 0) bert_config_free(&c);
    }
    static const struct { const char *json, *want, *name; } bad[] = {
        {"{\"hidden_act\": \"silu\"}", "hidden_act \"silu\" is not supported", "an unsupported activation"},
        {"{\"position_embedding_type\": \"relative_key\"}", "position_embedding_type \"relative_key\"",
         "relative position embeddings"},
        {"{\"model_type\": \"roberta\"}", "model_type \"roberta\" is not supported", "another model type"},
        {"{\"hidden_size\": 10, \"num_attention_heads\": 3}", "not a multiple of num_attention_heads", "indivisible heads"},
        {"{\"hidden_size\": 0}", "\"hidden_size\" must be an integer", "a zero hidden size"},
        {"{\"num_hidden_layers\": 2.5}", "\"num_hidden_layers\" must be an integer", "a fractional layer count"},
        {"{\"layer_norm_eps\": \"small\"}", "\"layer_norm_eps\" must be a number", "a string eps"},
        {"{\"id2label\": {\"0\": \"a\", \"2\": \"b\"}}", "id2label key \"2\"", "an id2label with a gap"},
        {"{\"id2label\": {\"0\": 5}}", "is not a string", "a label that is not a string"},
        {"[]", "not a JSON object", "a config that is not an object"},
        {"{\"vocab_size\": 10, \"pad_token_id\": 10}", "pad_token_id 10 is not below vocab_size", "pad id outside the vocabulary"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = bert_config_parse(&c, bad[k].json, "config.json", err);
        char name[160];
        snprintf(name, sizeof name, "config: refuses %s", bad[k].name);
        CHECK_ERR(name, rc, err, bad[k].want);
        if (rc == 0) bert_config_free(&c);
    }
    int rc = bert_config_parse(&c, "{\"hidden_act\": \"gelu_new\", \"hidden_size\": 8, \"num_attention_heads\": 2,"
                                   " \"classifier_dropout\": null, \"custom_field\": [1, 2],"
                                   " \"id2label\": {\"1\": \"pos\", \"0\": \"neg\"}}", "c", err);
    CHECK("config: gelu_new, labels by id", rc == 0 && c.act == BERT_ACT_GELU_TANH && c.num_labels == 2 &&
                                                 strcmp(c.labels[0], "neg") == 0 && strcmp(c.labels[1], "pos") == 0);
    CHECK("config: classifier_dropout null falls back to hidden_dropout_prob",
          rc == 0 && bert_config_classifier_dropout(&c) == 0.1);
    if (rc == 0) {
        const char *labels[] = {"negative", "neutral", "positive"};
        bert_config_set_labels(&c, labels, 3);
        char *json = bert_config_to_json(&c);
        bert_config c2;
        rc = bert_config_parse(&c2, json, "saved", err);
        CHECK("config: saved JSON reads back with the new labels",
              rc == 0 && c2.num_labels == 3 && strcmp(c2.labels[2], "positive") == 0 && c2.act == BERT_ACT_GELU_TANH);
        cJSON *j = cJSON_Parse(json);
        const cJSON *l2i = cJSON_GetObjectItemCaseSensitive(j, "label2id");
        const cJSON *neutral = l2i ? cJSON_GetObjectItemCaseSensitive(l2i, "neutral") : NULL;
        const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "architectures"), 0);
        CHECK("config: label2id, num_labels, architectures written",
              cJSON_IsNumber(neutral) && neutral->valueint == 1 &&
                  cJSON_GetObjectItemCaseSensitive(j, "num_labels")->valueint == 3 && cJSON_IsString(arch) &&
                  strcmp(arch->valuestring, "BertForSequenceClassification") == 0);
        CHECK("config: fields unknown to us are kept", cJSON_GetObjectItemCaseSensitive(j, "custom_field") != NULL);
        cJSON_Delete(j);
        free(json);
        if (rc == 0) bert_config_free(&c2);
        bert_config_free(&c);
    }
}

/* ------------------------------------------------------------------------ */

static void test_pytorch_bin(void)
{
    bert_model a, b, c;
    int ra = bert_load(&a, GOLDEN "micro_safetensors", 0, 1);
    int rb = bert_load(&b, GOLDEN "micro_zip", 0, 2);
    if (rb < 0) printf("  %s\n", b.err);
    int rc = bert_load(&c, GOLDEN "micro_legacy", 0, 3);
    if (rc < 0) printf("  %s\n", c.err);
    CHECK("pytorch_bin: micro model loads from model.safetensors", ra == 0 && a.num_fresh == 0);
    CHECK("pytorch_bin: ... from a zip pytorch_model.bin (torch >= 1.6)", rb == 0 && b.num_fresh == 0);
    CHECK("pytorch_bin: ... from a legacy pytorch_model.bin (gamma/beta names, no bert. prefix)",
          rc == 0 && c.num_fresh == 0);
    if (ra == 0 && rb == 0)
        CHECK("pytorch_bin: zip format gives the same parameters, bit for bit",
              a.num_params == b.num_params && memcmp(a.params, b.params, a.num_params * sizeof(float)) == 0);
    if (ra == 0 && rc == 0)
        CHECK("pytorch_bin: legacy format gives the same parameters, bit for bit",
              a.num_params == c.num_params && memcmp(a.params, c.params, a.num_params * sizeof(float)) == 0);
    if (ra == 0) bert_free(&a);
    if (rb == 0) bert_free(&b);
    if (rc == 0) bert_free(&c);

    /* a truncated archive and a pickle that asks for a foreign global */
    char path[400], err[MODEL_ERR_MAX] = "";
    FILE *in = fopen(GOLDEN "micro_zip/pytorch_model.bin", "rb");
    unsigned char *buf = xmalloc(1 << 16);
    size_t n = in ? fread(buf, 1, 1 << 16, in) : 0;
    if (in) fclose(in);
    snprintf(path, sizeof path, "%s/truncated.bin", tmpdir);
    FILE *out = fopen(path, "wb");
    fwrite(buf, 1, n / 2, out);
    fclose(out);
    st_file f;
    int r = pytorch_bin_open(&f, path, err);
    CHECK_ERR("pytorch_bin: refuses a truncated archive", r, err, "zip");
    free(buf);
    static const unsigned char evil[] = "\x80\x02" "cposix\nsystem\n" "X\x02\x00\x00\x00ls" "\x85R.";
    snprintf(path, sizeof path, "%s/evil.bin", tmpdir);
    out = fopen(path, "wb");
    fwrite(evil, 1, sizeof evil - 1, out);
    fclose(out);
    r = pytorch_bin_open(&f, path, err);
    CHECK_ERR("pytorch_bin: refuses a pickle calling posix.system", r, err, "refusing the pickle's global posix.system");
    snprintf(path, sizeof path, "%s/text.bin", tmpdir);
    out = fopen(path, "wb");
    fputs("hello world\n", out);
    fclose(out);
    r = pytorch_bin_open(&f, path, err);
    CHECK_ERR("pytorch_bin: refuses a file that is neither zip nor pickle", r, err, "not a PyTorch checkpoint");
}

/* ------------------------------------------------------------------------ */

static const int ids[2 * 6] = {2, 17, 33, 5, 9, 3, 2, 40, 41, 0, 0, 0};
static const int types[2 * 6] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0};
static const int mask[2 * 6] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
static const int labels[2] = {2, 0};

static void write_batch_file(const char *dir, const bert_model *m)
{
    /* for tests/ref/bert_ref.py check-saved: transformers loads dir and compares */
    char path[600];
    snprintf(path, sizeof path, "%s/batch.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    int head[3] = {2, 6, m->num_labels};
    fwrite(head, 4, 3, f);
    fwrite(ids, 4, 12, f);
    fwrite(types, 4, 12, f);
    fwrite(mask, 4, 12, f);
    fwrite(m->acts.logits, 4, (size_t)(2 * m->num_labels), f);
    fclose(f);
}

static void test_save_load(void)
{
    bert_model m;
    if (bert_load(&m, GOLDEN "tiny_model", 0, 1) < 0) {
        CHECK("save: tiny model loads", 0);
        return;
    }
    bert_batch b = {2, 6, ids, types, mask, labels};
    bert_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    for (int step = 0; step < 2; step++) { /* weights now differ from the file */
        bert_zero_grad(&m);
        bert_forward(&m, &b, 1);
        bert_backward(&m, 0);
        bert_adamw_step(&m, &opt);
    }
    bert_forward(&m, &b, 0);
    float before[6];
    memcpy(before, m.acts.logits, sizeof before);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/finetuned", tmpdir);
    bert_save(&m, dir);
    bert_model r;
    int rc = bert_load(&r, dir, 0, 99);
    if (rc < 0) printf("  %s\n", r.err);
    CHECK("save: the saved directory loads", rc == 0);
    if (rc < 0) {
        bert_free(&m);
        return;
    }
    CHECK("save: labels survive (id2label)", r.num_labels == 3 && strcmp(r.cfg.labels[0], "negative") == 0 &&
                                                 strcmp(r.cfg.labels[2], "positive") == 0);
    CHECK("save: nothing missing on reload", r.num_fresh == 0);
    bert_forward(&r, &b, 0);
    CHECK("save: reloaded model gives bit-identical logits", memcmp(before, r.acts.logits, sizeof before) == 0);
    CHECK("save: parameters bit-identical", memcmp(m.params, r.params, m.num_params * sizeof(float)) == 0);
    char path[500];
    snprintf(path, sizeof path, "ls -a '%s' | grep -q tmp", dir);
    CHECK("save: no temporary files left", system(path) != 0);
    bert_free(&r);

    const char *export = getenv("PIPECLF_BERT_EXPORT");
    if (export && *export) { /* make check-bert-hf: the same directory for transformers */
        bert_save(&m, export);
        write_batch_file(export, &m);
        printf("exported a fine-tuned model to %s\n", export);
    }
    bert_free(&m);
}

static void test_load_errors(void)
{
    bert_model m;
    int rc = bert_load(&m, GOLDEN "tiny_model", 4, 1);
    CHECK_ERR("load: a different label count is a shape mismatch", rc, m.err,
              "tensor classifier.weight has shape [3, 64], the config needs [4, 64] (a different number of labels)");
    rc = bert_load(&m, "/nonexistent-model-dir", 0, 1);
    CHECK_ERR("load: a missing directory names config.json", rc, m.err, "/nonexistent-model-dir/config.json");

    /* a checkpoint missing one encoder tensor */
    if (bert_load(&m, GOLDEN "tiny_model", 0, 1) < 0) return;
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/broken", tmpdir);
    bert_save(&m, dir);
    st_out *t = xcalloc((size_t)m.num_tensors, sizeof *t);
    size_t n = 0;
    for (int i = 0; i < m.num_tensors; i++) {
        if (strcmp(m.tensors[i].name, "bert.encoder.layer.1.output.dense.weight") == 0) continue;
        t[n].name = m.tensors[i].name;
        t[n].data = m.params + m.tensors[i].offset;
        t[n].ndim = m.tensors[i].ndim;
        t[n].shape[0] = m.tensors[i].shape[0];
        t[n].shape[1] = m.tensors[i].shape[1];
        n++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_write_f32(path, t, n, NULL, 0);
    free(t);
    bert_model b;
    rc = bert_load(&b, dir, 0, 1);
    CHECK_ERR("load: a missing tensor is named", rc, b.err, "missing tensor bert.encoder.layer.1.output.dense.weight");
    unlink(path);
    rc = bert_load(&b, dir, 0, 1);
    CHECK_ERR("load: no weights file", rc, b.err, "no model.safetensors or pytorch_model.bin");

    /* batches the model cannot take */
    int long_ids[65] = {0}, bad_ids[3] = {2, 512, 3}, lab[1] = {3}, bad_mask[3] = {1, 2, 1}, bad_types[3] = {0, 2, 0};
    bert_batch bt = {1, 65, long_ids, NULL, NULL, NULL};
    rc = bert_forward(&m, &bt, 0);
    CHECK_ERR("forward: a sequence longer than max_position_embeddings", rc, m.err,
              "sequence length 65 is longer than max_position_embeddings 64");
    bt = (bert_batch){1, 3, bad_ids, NULL, NULL, NULL};
    rc = bert_forward(&m, &bt, 0);
    CHECK_ERR("forward: a token id outside the vocabulary", rc, m.err, "token id 512 is outside the vocabulary (size 512)");
    bt = (bert_batch){1, 3, ids, bad_types, NULL, NULL};
    rc = bert_forward(&m, &bt, 0);
    CHECK_ERR("forward: a token type outside type_vocab_size", rc, m.err, "token type 2 is outside [0, 2)");
    bt = (bert_batch){1, 3, ids, NULL, bad_mask, NULL};
    rc = bert_forward(&m, &bt, 0);
    CHECK_ERR("forward: an attention mask that is not 0/1", rc, m.err, "attention mask 2 is not 0 or 1");
    bt = (bert_batch){1, 3, ids, NULL, NULL, lab};
    rc = bert_forward(&m, &bt, 0);
    CHECK_ERR("forward: a label id out of range", rc, m.err, "label id 3 is outside [0, 3)");
    bert_free(&m);

    bert_config c;
    char err[MODEL_ERR_MAX];
    bert_config_parse(&c, "{\"hidden_size\": 8, \"num_attention_heads\": 2}", "c", err);
    rc = bert_init(&m, &c, 1, 1);
    CHECK_ERR("init: a classifier needs 2 labels", rc, m.err, "at least 2 labels");
    bert_free(&m);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/pipeclf-bert-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    test_safetensors_roundtrip();
    test_safetensors_dtypes_and_errors();
    test_config();
    test_pytorch_bin();
    test_save_load();
    test_load_errors();
    rm_rf(tmpdir);
    return check_exit();
}
