#include "bertconfig.h"
#include "core/common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void set_defaults(bert_config *c)
{
    /* transformers.BertConfig's defaults */
    c->vocab_size = 30522;
    c->hidden_size = 768;
    c->num_layers = 12;
    c->num_heads = 12;
    c->intermediate_size = 3072;
    c->max_position = 512;
    c->type_vocab_size = 2;
    c->pad_token_id = 0;
    c->act = BERT_ACT_GELU;
    c->layer_norm_eps = 1e-12;
    c->initializer_range = 0.02;
    c->hidden_dropout = 0.1;
    c->attn_dropout = 0.1;
    c->classifier_dropout = -1;
}

/* An integer field in [min, max]; absent keeps *out. */
static int get_int(const cJSON *j, const char *key, int min, int max, int *out, const char *name, char *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min || v->valuedouble > max)
        return model_fail(err, "%s: \"%s\" must be an integer in [%d, %d]", name, key, min, max);
    *out = (int)v->valuedouble;
    return 0;
}

static int get_num(const cJSON *j, const char *key, double min, double max, double *out, const char *name, char *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max))
        return model_fail(err, "%s: \"%s\" must be a number in [%g, %g]", name, key, min, max);
    *out = v->valuedouble;
    return 0;
}

static int parse_labels(bert_config *c, const cJSON *j, const char *name, char *err)
{
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(j, "id2label");
    if (!id2label || cJSON_IsNull(id2label)) {
        int n = 0;
        if (get_int(j, "num_labels", 1, 1 << 20, &n, name, err) < 0) return -1;
        c->num_labels = n; /* labels unknown: callers name them */
        return 0;
    }
    if (!cJSON_IsObject(id2label)) return model_fail(err, "%s: \"id2label\" must be an object", name);
    int n = cJSON_GetArraySize(id2label);
    if (n < 1) return model_fail(err, "%s: \"id2label\" is empty", name);
    c->labels = xcalloc((size_t)n, sizeof *c->labels);
    c->num_labels = n;
    const cJSON *e;
    cJSON_ArrayForEach(e, id2label) {
        char *end;
        errno = 0;
        long id = strtol(e->string, &end, 10);
        if (!*e->string || *end || errno || id < 0 || id >= n)
            return model_fail(err, "%s: id2label key \"%s\" is not an id in [0, %d)", name, e->string, n);
        if (!cJSON_IsString(e)) return model_fail(err, "%s: id2label[\"%s\"] is not a string", name, e->string);
        if (c->labels[id]) return model_fail(err, "%s: id2label has id %ld twice", name, id);
        c->labels[id] = xstrdup(e->valuestring);
    }
    return 0;
}

int bert_config_parse(bert_config *c, const char *text, const char *name, char *err)
{
    memset(c, 0, sizeof *c);
    set_defaults(c);
    c->json = cJSON_Parse(text);
    if (!cJSON_IsObject(c->json)) {
        bert_config_free(c);
        return model_fail(err, "%s: not a JSON object", name);
    }
    const cJSON *j = c->json;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    if (mt && !(cJSON_IsString(mt) && strcmp(mt->valuestring, "bert") == 0)) {
        model_fail(err, "%s: model_type %s%s%s is not supported (only \"bert\")", name, cJSON_IsString(mt) ? "\"" : "",
             cJSON_IsString(mt) ? mt->valuestring : "(not a string)", cJSON_IsString(mt) ? "\"" : "");
        bert_config_free(c);
        return -1;
    }
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(j, "position_embedding_type");
    if (pos && !cJSON_IsNull(pos) && !(cJSON_IsString(pos) && strcmp(pos->valuestring, "absolute") == 0)) {
        model_fail(err, "%s: position_embedding_type \"%s\" is not supported (only \"absolute\")", name,
             cJSON_IsString(pos) ? pos->valuestring : "(not a string)");
        bert_config_free(c);
        return -1;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "hidden_act");
    if (act) {
        const char *a = cJSON_IsString(act) ? act->valuestring : "(not a string)";
        if (strcmp(a, "gelu") == 0) c->act = BERT_ACT_GELU;
        else if (strcmp(a, "gelu_new") == 0 || strcmp(a, "gelu_pytorch_tanh") == 0) c->act = BERT_ACT_GELU_TANH;
        else if (strcmp(a, "relu") == 0) c->act = BERT_ACT_RELU;
        else {
            model_fail(err, "%s: hidden_act \"%s\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)", name, a);
            bert_config_free(c);
            return -1;
        }
    }
    const int big = 1 << 24;
    if (get_int(j, "vocab_size", 1, big, &c->vocab_size, name, err) < 0 ||
        get_int(j, "hidden_size", 1, 1 << 16, &c->hidden_size, name, err) < 0 ||
        get_int(j, "num_hidden_layers", 1, 1024, &c->num_layers, name, err) < 0 ||
        get_int(j, "num_attention_heads", 1, 1 << 12, &c->num_heads, name, err) < 0 ||
        get_int(j, "intermediate_size", 1, 1 << 18, &c->intermediate_size, name, err) < 0 ||
        get_int(j, "max_position_embeddings", 1, 1 << 20, &c->max_position, name, err) < 0 ||
        get_int(j, "type_vocab_size", 1, 1 << 16, &c->type_vocab_size, name, err) < 0 ||
        get_int(j, "pad_token_id", 0, big, &c->pad_token_id, name, err) < 0 ||
        get_num(j, "layer_norm_eps", 0, 1, &c->layer_norm_eps, name, err) < 0 ||
        get_num(j, "initializer_range", 0, 10, &c->initializer_range, name, err) < 0 ||
        get_num(j, "hidden_dropout_prob", 0, 0.999, &c->hidden_dropout, name, err) < 0 ||
        get_num(j, "attention_probs_dropout_prob", 0, 0.999, &c->attn_dropout, name, err) < 0 ||
        get_num(j, "classifier_dropout", 0, 0.999, &c->classifier_dropout, name, err) < 0 ||
        parse_labels(c, j, name, err) < 0) {
        bert_config_free(c);
        return -1;
    }
    if (c->hidden_size % c->num_heads) {
        model_fail(err, "%s: hidden_size %d is not a multiple of num_attention_heads %d", name, c->hidden_size, c->num_heads);
        bert_config_free(c);
        return -1;
    }
    if (c->pad_token_id >= c->vocab_size) {
        model_fail(err, "%s: pad_token_id %d is not below vocab_size %d", name, c->pad_token_id, c->vocab_size);
        bert_config_free(c);
        return -1;
    }
    return 0;
}

int bert_config_load(bert_config *c, const char *path, char *err)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return model_fail(err, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *text = xmalloc(cap);
    size_t got;
    while ((got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) text = xrealloc(text, cap *= 2);
        if (len > (64u << 20)) break;
    }
    int bad = ferror(f);
    fclose(f);
    text[len] = 0;
    int rc = bad ? model_fail(err, "cannot read %s", path) : bert_config_parse(c, text, path, err);
    free(text);
    return rc;
}

void bert_config_init(bert_config *c, int vocab, int hidden, int layers, int heads, int intermediate,
                      int max_position)
{
    memset(c, 0, sizeof *c);
    set_defaults(c);
    c->vocab_size = vocab;
    c->hidden_size = hidden;
    c->num_layers = layers;
    c->num_heads = heads;
    c->intermediate_size = intermediate;
    c->max_position = max_position;
    cJSON *j = c->json = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "attention_probs_dropout_prob", c->attn_dropout);
    cJSON_AddStringToObject(j, "hidden_act", "gelu");
    cJSON_AddNumberToObject(j, "hidden_dropout_prob", c->hidden_dropout);
    cJSON_AddNumberToObject(j, "hidden_size", hidden);
    cJSON_AddNumberToObject(j, "initializer_range", c->initializer_range);
    cJSON_AddNumberToObject(j, "intermediate_size", intermediate);
    cJSON_AddNumberToObject(j, "layer_norm_eps", c->layer_norm_eps);
    cJSON_AddNumberToObject(j, "max_position_embeddings", max_position);
    cJSON_AddStringToObject(j, "model_type", "bert");
    cJSON_AddNumberToObject(j, "num_attention_heads", heads);
    cJSON_AddNumberToObject(j, "num_hidden_layers", layers);
    cJSON_AddNumberToObject(j, "pad_token_id", c->pad_token_id);
    cJSON_AddStringToObject(j, "position_embedding_type", "absolute");
    cJSON_AddNumberToObject(j, "type_vocab_size", c->type_vocab_size);
    cJSON_AddNumberToObject(j, "vocab_size", vocab);
}

static void replace(cJSON *obj, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else cJSON_AddItemToObject(obj, key, v);
}

void bert_config_set_labels(bert_config *c, const char *const *labels, int n)
{
    for (int i = 0; i < c->num_labels && c->labels; i++) free(c->labels[i]);
    free(c->labels);
    c->labels = xcalloc((size_t)n, sizeof *c->labels);
    c->num_labels = n;
    cJSON *id2label = cJSON_CreateObject(), *label2id = cJSON_CreateObject();
    for (int i = 0; i < n; i++) {
        char key[24];
        snprintf(key, sizeof key, "%d", i);
        c->labels[i] = xstrdup(labels[i]);
        cJSON_AddStringToObject(id2label, key, labels[i]);
        cJSON_AddNumberToObject(label2id, labels[i], i);
    }
    if (!c->json) c->json = cJSON_CreateObject();
    replace(c->json, "id2label", id2label);
    replace(c->json, "label2id", label2id);
    replace(c->json, "num_labels", cJSON_CreateNumber(n));
}

char *bert_config_to_json(const bert_config *c)
{
    cJSON *j = c->json ? cJSON_Duplicate(c->json, 1) : cJSON_CreateObject();
    cJSON *arch = cJSON_CreateArray();
    cJSON_AddItemToArray(arch, cJSON_CreateString("BertForSequenceClassification"));
    replace(j, "architectures", arch);
    if (!cJSON_GetObjectItemCaseSensitive(j, "model_type")) replace(j, "model_type", cJSON_CreateString("bert"));
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) die("out of memory");
    size_t n = strlen(s);
    char *out = xmalloc(n + 2);
    memcpy(out, s, n);
    out[n] = '\n';
    out[n + 1] = 0;
    cJSON_free(s);
    return out;
}

double bert_config_classifier_dropout(const bert_config *c)
{
    return c->classifier_dropout >= 0 ? c->classifier_dropout : c->hidden_dropout;
}

void bert_config_free(bert_config *c)
{
    if (c->labels)
        for (int i = 0; i < c->num_labels; i++) free(c->labels[i]);
    free(c->labels);
    cJSON_Delete(c->json);
    memset(c, 0, sizeof *c);
}
