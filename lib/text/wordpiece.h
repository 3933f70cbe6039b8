/* wordpiece: BERT tokenization from any vocab.txt, token for token what
 * HuggingFace tokenizers' BertWordPieceTokenizer (and transformers'
 * BertTokenizerFast) produce:
 *   1. the vocabulary's special tokens ([CLS], [SEP], [UNK], [PAD], [MASK])
 *      written in the raw text are taken as those tokens;
 *   2. the BERT normalizer on the text between them: control characters
 *      removed, whitespace -> ' ', spaces put around CJK ideographs, then for
 *      uncased vocabularies NFD with nonspacing marks removed (accents) and
 *      lowercasing;
 *   3. the BERT pre-tokenizer: split on whitespace, every punctuation
 *      character a word of its own;
 *   4. WordPiece: greedy longest match from the left, pieces after the first
 *      looked up as "##piece", a word with no match (or over 100 characters)
 *      one [UNK];
 *   5. [CLS] A [SEP] (B [SEP]), truncation to a maximum length with HF's
 *      strategies, padding, token type ids and attention mask.
 * Unicode properties come from lib/text/unicode_tables.h (generated; see
 * tools/gen_unicode_tables.py for the Unicode versions HF uses).
 *
 * A loaded wordpiece is read-only: threads may share it, each with its own
 * wp_encoding (which holds all the scratch memory, reused call after call). */
#ifndef PIPECLF_WORDPIECE_H
#define PIPECLF_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

typedef struct wordpiece wordpiece;

/* What a vocabulary and its configuration say. Special ids are -1 when the
 * vocabulary lacks the token ([PAD] and [MASK] are optional). */
typedef struct wp_info {
    size_t vocab_size;       /* lines of vocab.txt */
    int32_t cls_id, sep_id, unk_id, pad_id, mask_id;
    int lower;               /* lowercase */
    int strip_accents;       /* NFD, nonspacing marks removed */
    int chinese_chars;       /* spaces around CJK ideographs */
    size_t max_word_chars;   /* longer words become [UNK] (HF: 100) */
} wp_info;

/* Loading options; -1 in lower or strip_accents means "as configured":
 * do_lower_case / strip_accents of the model directory's
 * tokenizer_config.json, else lower = 1 and strip_accents = lower (HF's
 * defaults). */
typedef struct wp_load_opts {
    int lower;
    int strip_accents;
    /* HF lets a later duplicate line win; here a duplicate token is an error
     * (a damaged vocab.txt) unless this is set, and then the later line wins
     * as in HF. */
    int allow_duplicates;
} wp_load_opts;

#define WP_LOAD_DEFAULTS {-1, -1, 0}

/* Loads a model directory (its vocab.txt and, when present, its
 * tokenizer_config.json) or a vocab.txt file. Dies with "prog: FILE:LINE:
 * message" on a missing or unreadable file, an empty vocabulary, invalid
 * UTF-8, a duplicate token, a vocabulary without [CLS], [SEP] or [UNK],
 * or a malformed tokenizer_config.json. opts may be NULL. */
wordpiece *wp_load(const char *model_dir_or_vocab);
wordpiece *wp_load_with(const char *model_dir_or_vocab, const wp_load_opts *opts);
void wp_free(wordpiece *wp);

const wp_info *wp_get_info(const wordpiece *wp);
/* The path of the vocab.txt read, for messages. */
const char *wp_vocab_path(const wordpiece *wp);
/* The id of a token, or -1. */
int32_t wp_token_id(const wordpiece *wp, const char *token, size_t n);
/* The token of an id (not NUL-terminated; *n its length), or NULL. */
const char *wp_id_token(const wordpiece *wp, int32_t id, size_t *n);

typedef enum wp_truncation {
    WP_TRUNC_NONE,
    WP_TRUNC_LONGEST_FIRST, /* shorten the longer sequence first, as HF */
    WP_TRUNC_ONLY_FIRST,
    WP_TRUNC_ONLY_SECOND,
} wp_truncation;

typedef enum wp_padding {
    WP_PAD_NONE,
    WP_PAD_LONGEST,    /* the caller pads a batch with wp_pad() */
    WP_PAD_MAX_LENGTH, /* to max_len */
} wp_padding;

typedef struct wp_opts {
    size_t max_len;       /* with truncation or WP_PAD_MAX_LENGTH; 0 = none */
    wp_truncation truncation;
    wp_padding padding;
    int no_special;       /* 1: no [CLS]/[SEP] added (HF add_special_tokens=False) */
} wp_opts;

/* One encoded input. The three arrays have len entries. */
typedef struct wp_encoding {
    int32_t *ids;
    uint8_t *type_ids;
    uint8_t *attention_mask;
    size_t len;
    size_t n_a, n_b;          /* tokens of text and text_b, after truncation */
    int truncated;            /* whether truncation removed tokens */
    size_t cap;
    struct wp_scratch *scratch; /* private, reused */
} wp_encoding;

/* Errors of wp_encode, as HF raises them. */
#define WP_ERR_NO_SECOND 1 /* only_second truncation needed, no text_b */
#define WP_ERR_TOO_SHORT 2 /* the sequence to truncate is too short */

/* Encodes text[0..n) and, when text_b is not NULL, the pair (text,
 * text_b[0..nb)) into out, replacing its contents. The text should be
 * UTF-8; an invalid byte is read as U+FFFD, which cleaning removes.
 * Returns 0, or WP_ERR_* (out then holds no tokens). opts NULL = defaults
 * (no truncation, no padding). */
int wp_encode(const wordpiece *wp, const char *text, size_t n, const char *text_b, size_t nb,
              const wp_opts *opts, wp_encoding *out);
/* Pads e with [PAD] (type id 0, mask 0) up to len tokens. The vocabulary
 * must have [PAD]. */
void wp_pad(const wordpiece *wp, wp_encoding *e, size_t len);
void wp_encoding_free(wp_encoding *e);
const char *wp_strerror(int err);

/* The stages on their own, as HF's normalizer.normalize_str and
 * pre_tokenizer.pre_tokenize_str do them (for tests and debugging). */
#define WP_NORM_CLEAN 1
#define WP_NORM_CHINESE 2
#define WP_NORM_STRIP_ACCENTS 4
#define WP_NORM_LOWER 8
/* Appends the normalized text to out. */
void wp_normalize(const char *s, size_t n, unsigned flags, strbuf *out);
/* Appends each word of the (not normalized) text to out, each followed by
 * '\n' (never part of a word: it is whitespace). */
void wp_pretokenize(const char *s, size_t n, strbuf *out);

#endif
