/* bert_predict: class probabilities from a fine-tuned BERT model directory
 * (config.json with id2label, vocab.txt, model.safetensors or
 * pytorch_model.bin), for whole batches of records: a record's token ids are
 * its own input_ids when it has them (wptok's output), else its text (and
 * text_b) tokenized with the directory's vocabulary, truncated to max_len.
 * Each batch is padded to its longest sequence and run through lib/bert. */
#ifndef PIPECLF_BERT_PREDICT_H
#define PIPECLF_BERT_PREDICT_H

#include <stddef.h>

#include <cJSON.h>

#include "bert.h"
#include "text/wordpiece.h"

typedef struct bert_predictor {
    bert_model model;
    wordpiece *wp;     /* NULL until a raw-text record needs it */
    const char *dir;
    int max_len;       /* truncation of raw text, in tokens with [CLS]/[SEP] */
    /* the batch being built: tokens row by row, then padded */
    int *ids, *types, *mask;
    size_t cap;
    wp_encoding enc;
} bert_predictor;

/* Whether dir looks like a BERT model directory (has config.json). */
int bert_predict_dir(const char *dir);
/* Loads the model; max_len 0 = the model's max_position_embeddings. An
 * int8 directory (predict --save-quantized) loads with its int8 weights
 * attached (lowp_matmul.h). Dies naming the directory when it is not a
 * usable classifier (no id2label, missing or mismatched tensors, corrupt
 * int8 weights or scales). */
void bert_predict_load(bert_predictor *p, const char *dir, int max_len);
void bert_predict_free(bert_predictor *p);

/* Probabilities of n records into probs[n * num_labels] (softmax of the
 * logits in double) and the argmax of each into pred[n]. Dies "prog:
 * FILE:LINE: ..." for a record with neither input_ids nor text, malformed
 * ids, or one the model cannot take (too long, unknown token id). */
void bert_predict_batch(bert_predictor *p, cJSON *const *recs, const long *lines, size_t n, const char *file,
                        const char *text_field, const char *text_b_field, double *probs, size_t *pred);

#endif
