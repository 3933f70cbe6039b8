/* tokdata: a dataset of token records (what wptok writes: input_ids,
 * optional token_type_ids and attention_mask, a string label) held in memory
 * for training and evaluation, and the batches cut from it.
 *
 * Sequences are stored unpadded, end to end; a batch is padded only to its
 * own longest sequence (dynamic padding). Labels are mapped to class ids in
 * byte order of the label strings (the mapping a model stores as id2label);
 * a validation set takes the training set's mapping, and a label the
 * training set lacks is an error naming its file and line. An epoch's order
 * is a seeded shuffle, optionally grouped by length as transformers'
 * group_by_length does (see tokdata_epoch_order). */
#ifndef PIPECLF_TOKDATA_H
#define PIPECLF_TOKDATA_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "core/prng.h"

typedef struct tok_example {
    size_t off;       /* first token in the dataset's arrays */
    int len;          /* tokens */
    int label;        /* class id; -1 until the labels are mapped */
    char *label_name; /* NULL when labels are not read */
    long line;        /* the record's line in its file */
} tok_example;

typedef struct tok_dataset {
    char *name;       /* the input's name, for messages */
    tok_example *ex;
    size_t n, cap;
    int *ids, *types, *mask; /* all sequences, end to end */
    size_t ntok, captok;
    int max_len;      /* the longest sequence */
} tok_dataset;

/* Reads token records from path ("-" or NULL: stdin), checking them against
 * the model config: input_ids present and non-empty, token types and mask of
 * the same length, ids inside the vocabulary, types inside type_vocab_size,
 * mask values 0/1, no sequence longer than max_position_embeddings, and a
 * string label in label_field (label_field NULL: labels are not read and
 * stay -1, for records to predict). Dies with FILE:LINE on a bad record and
 * without a line on empty input. Trailing padding (attention_mask 0) is
 * dropped: it changes no output, and batches are padded to their own
 * longest sequence anyway. */
void tokdata_read(tok_dataset *d, const char *path, const char *label_field, const bert_config *cfg);
void tokdata_free(tok_dataset *d);

/* Class ids in byte order of d's labels; returns the sorted names (pointers
 * into d's examples, valid while d lives) and sets *n. */
char **tokdata_map_labels(tok_dataset *d, int *n);
/* Maps d's labels with the given names (byte-sorted, as map_labels
 * returned them); a label outside them is an error at its file and line. */
void tokdata_apply_labels(tok_dataset *d, char *const *names, int n);
/* Examples per class id: counts[0..n). */
void tokdata_class_counts(const tok_dataset *d, size_t *counts, int n);

/* A 64-bit FNV-1a fingerprint of the tokens and class ids, in order (a
 * checkpoint refuses to resume on other data). */
uint64_t tokdata_hash(const tok_dataset *d, uint64_t h);

/* One epoch's order of the n examples into order[]: the identity when
 * shuffle is 0; otherwise a Fisher-Yates shuffle drawn from r. With bucket,
 * the shuffled order is cut into chunks of `group` batches of `batch`
 * examples (group as transformers' LengthGroupedSampler picks it:
 * min(n / (4 batch), 50), at least 1), each chunk is sorted by decreasing
 * length (ties keep the shuffled order) and cut into batches, and the
 * batches of a chunk are shuffled among themselves, so that a batch holds
 * sequences of similar length and little padding while the order of
 * batches stays random. */
void tokdata_epoch_order(const tok_dataset *d, size_t *order, prng *r, int shuffle, int bucket, size_t batch);

/* Buffers for batches, grown as needed. */
typedef struct tok_batch {
    int *ids, *types, *mask, *labels;
    size_t cap_tok, cap_b;
    bert_batch b;     /* points into the buffers */
} tok_batch;

/* The examples idx[0..B) as one batch padded to their longest sequence
 * (pad_id, token type 0, mask 0); labels included when with_labels. */
const bert_batch *tokdata_batch(tok_batch *tb, const tok_dataset *d, const size_t *idx, int B, int pad_id,
                                int with_labels);
void tok_batch_free(tok_batch *tb);

#endif
