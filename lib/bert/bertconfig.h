/* bertconfig: a HuggingFace BERT config.json, read and written. Reading takes
 * the architecture numbers the C model needs, with BertConfig's defaults for
 * absent fields (SciBERT's config has no model_type or layer_norm_eps), and
 * refuses what lib/bert does not implement (an activation other than
 * gelu/gelu_new/relu, relative position embeddings, a non-BERT model_type)
 * with a message naming the field. The whole JSON is kept, so a fine-tuned
 * model saved from a pretrained one carries every field it had, plus the
 * label mapping (id2label, label2id, num_labels). */
#ifndef PIPECLF_BERTCONFIG_H
#define PIPECLF_BERTCONFIG_H

#include <cJSON.h>

#include "safetensors.h" /* MODEL_ERR_MAX */

typedef enum bert_act {
    BERT_ACT_GELU,      /* "gelu": x * Phi(x), with erf */
    BERT_ACT_GELU_TANH, /* "gelu_new", "gelu_pytorch_tanh": the tanh approximation */
    BERT_ACT_RELU,      /* "relu" */
} bert_act;

typedef struct bert_config {
    int vocab_size, hidden_size, num_layers, num_heads, intermediate_size;
    int max_position, type_vocab_size, pad_token_id;
    bert_act act;
    double layer_norm_eps, initializer_range;
    double hidden_dropout, attn_dropout;
    double classifier_dropout; /* < 0: absent (null), hidden_dropout applies */
    int num_labels;            /* from id2label; 0 when the file has none */
    char **labels;             /* id2label[0..num_labels), or NULL */
    cJSON *json;               /* the whole file, as read (updated by set_labels) */
} bert_config;

/* Parses config text; name is used in messages. Returns 0, or -1 with a
 * message in err (MODEL_ERR_MAX bytes). */
int bert_config_parse(bert_config *c, const char *text, const char *name, char *err);
int bert_config_load(bert_config *c, const char *path, char *err);
/* A config for the given sizes with BertConfig's other defaults (tests,
 * models built from scratch). */
void bert_config_init(bert_config *c, int vocab, int hidden, int layers, int heads, int intermediate,
                      int max_position);
/* Sets the label mapping (copies the strings) in the struct and the JSON. */
void bert_config_set_labels(bert_config *c, const char *const *labels, int n);
/* The config as pretty JSON text (malloc'd), id2label/label2id/num_labels
 * and "architectures": ["BertForSequenceClassification"] included. */
char *bert_config_to_json(const bert_config *c);
/* Classifier dropout in effect: classifier_dropout, or hidden_dropout when
 * it is null (HF's rule). */
double bert_config_classifier_dropout(const bert_config *c);
void bert_config_free(bert_config *c);

#endif
