/* tfidf: TF-IDF vectors with the semantics of scikit-learn's TfidfVectorizer
 * (word n-grams from a token pattern, or char / char_wb n-grams; min_df,
 * max_df, max_features pruning; idf, sublinear tf, l1/l2 norm). tfidf fit
 * learns a model with a tfidf_fitter; tfidf apply and predict vectorise text
 * with a loaded model. The model is MODEL_DIR/tfidf.json (format below, in
 * tfidf_write_model).
 *
 * Where this differs from scikit-learn: the token pattern is run by PCRE2
 * (UTF + UCP), whose \w is Unicode letters, numbers and '_' like Python's
 * re; lowercasing is tc_lower (lib/text/textclean.h); ties in corpus frequency
 * at the max_features cut go to the alphabetically first terms (scikit-learn
 * leaves them to numpy's unstable argsort). The modules: tfidf.c (fit,
 * model, vectors), tfidf_analyze.c (text -> terms), tfidf_records.c (reading
 * records fast), tfidf_json.c (the strict scanner behind the fast reads),
 * tfidf_stream.c (the record loops of fit and apply, on threads),
 * tfidf_fmt.c (fast exact number text for the vectors). */
#ifndef PIPECLF_TFIDF_H
#define PIPECLF_TFIDF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/ndjson.h"
#include "sparse.h"
#include "core/strbuf.h"

#define TFIDF_MODEL_FILE "tfidf.json"
#define TFIDF_FORMAT "pipeclf-tfidf"
#define TFIDF_FORMAT_VERSION 1
#define TFIDF_DEFAULT_PATTERN "(?u)\\b\\w\\w+\\b"

enum tfidf_analyzer_kind { TFIDF_WORD, TFIDF_CHAR, TFIDF_CHAR_WB };
enum tfidf_norm { TFIDF_NORM_NONE, TFIDF_NORM_L1, TFIDF_NORM_L2 };

/* min_df / max_df: a document count (an integer, as given to scikit-learn
 * as int) or a fraction of the documents in [0, 1] (given as float). */
typedef struct tfidf_df_limit {
    int is_fraction;
    double value;
} tfidf_df_limit;

/* The options of TfidfVectorizer; tfidf_opts_init sets scikit-learn's
 * defaults. Strings are borrowed: the fitter and models copy them. */
typedef struct tfidf_opts {
    enum tfidf_analyzer_kind analyzer;
    int ngram_min, ngram_max;
    int lowercase;
    const char *token_pattern;      /* Python syntax; NULL = the default */
    const char *const *stop_words;  /* word analyzer only; NULL = none */
    size_t n_stop_words;
    tfidf_df_limit min_df, max_df;
    long max_features; /* 0 = no limit */
    enum tfidf_norm norm;
    int use_idf, smooth_idf, sublinear_tf;
} tfidf_opts;

void tfidf_opts_init(tfidf_opts *o);

/* Parses a --min-df / --max-df value as scikit-learn tells int from float:
 * only digits = a count, any other number (0.95, 1.0, 1e-3) = a fraction,
 * which must lie in [0, 1]. Returns 0, or -1 when s is neither. */
int tfidf_parse_df(const char *s, tfidf_df_limit *out);

const char *tfidf_analyzer_name(enum tfidf_analyzer_kind k);
const char *tfidf_norm_name(enum tfidf_norm n);

/* ---- analysis: text -> terms ------------------------------------------ */

/* The compiled analysis steps of some options: lowercase, tokenize (the
 * token pattern, or a hand-written scanner for the default pattern that
 * gives the same tokens), stop words, n-grams. Immutable once built, so
 * threads may share one, each with its own tfidf_scratch. */
typedef struct tfidf_analyzer tfidf_analyzer;

/* NULL with *err set (a malloc'ed message) when the token pattern does not
 * compile or has more than one capturing group. */
tfidf_analyzer *tfidf_analyzer_new(const tfidf_opts *o, char **err);
void tfidf_analyzer_free(tfidf_analyzer *a);
/* Whether the default-pattern scanner is in use (for tests). */
int tfidf_analyzer_fast(const tfidf_analyzer *a);

/* Per-thread working memory of tfidf_analyze and tfidf_vectorize. */
typedef struct tfidf_scratch {
    strbuf lower, text;        /* preprocessed text; tokens / padded words */
    uint32_t *tok_start, *tok_end;
    size_t ntok, tok_cap;
    uint32_t *cp_off;          /* code point offsets (char analyzers) */
    size_t cp_cap;
    /* the terms of the last tfidf_analyze: text.s[term_off[i]..+term_len[i]) */
    uint32_t *term_off, *term_len;
    size_t nterms, term_cap;
    void *match_data;          /* PCRE2 match data */
    /* tfidf_vectorize: the terms' hashes, then (column << 32 | count) */
    uint64_t *hashes, *keys;
    size_t keys_cap;
} tfidf_scratch;

void tfidf_scratch_init(tfidf_scratch *s);
void tfidf_scratch_free(tfidf_scratch *s);

/* The terms (n-grams) of text[0..n), valid UTF-8, in s->term_off/term_len
 * over s->text; repeated terms appear repeatedly. Returns s->nterms. */
size_t tfidf_analyze(const tfidf_analyzer *a, tfidf_scratch *s, const char *text, size_t n);

/* ---- models -------------------------------------------------------------- */

typedef struct tfidf_model tfidf_model;

/* Reads MODEL_DIR/tfidf.json. Dies "tfidf: DIR/tfidf.json[:LINE]: ..." when it
 * is missing, not valid JSON (corrupt, truncated), of another format or
 * version, or inconsistent. */
tfidf_model *tfidf_load(const char *model_dir);
void tfidf_free(tfidf_model *m);

size_t tfidf_dim(const tfidf_model *m);
/* The feature name of a column (terms are in byte order = column order). */
const char *tfidf_term(const tfidf_model *m, size_t col, size_t *len);
/* idf of a column (1 when the model has no idf) */
double tfidf_idf(const tfidf_model *m, size_t col);
const tfidf_opts *tfidf_model_opts(const tfidf_model *m);
const tfidf_analyzer *tfidf_model_analyzer(const tfidf_model *m);

/* The TF-IDF vector of text[0..n) (valid UTF-8), idx increasing; out->dim is
 * the model's dimension. Thread-safe for a shared model, given each thread
 * its own scratch. */
void tfidf_vectorize(const tfidf_model *m, tfidf_scratch *s, const char *text, size_t n, sparse_vec *out);

/* Writes the model as text JSON:
 *   {"format": "pipeclf-tfidf", "version": 1,
 *    "analyzer", "ngram_range": [MIN, MAX], "lowercase", "token_pattern",
 *    "stop_words": null or [...], "min_df", "max_df" (a fraction always
 *    with a '.' or exponent, a count without), "max_features" (null = none),
 *    "norm": "l2"|"l1"|null, "use_idf", "smooth_idf", "sublinear_tf",
 *    "n_documents", "n_features",
 *    "vocabulary": [terms in column order, one a line],
 *    "idf": [one per column, round-trip exact; null without use_idf]} */
void tfidf_write_model(const tfidf_model *m, FILE *f);

/* ---- fitting ------------------------------------------------------------- */

/* Learns vocabulary and idf from documents given one at a time, keeping each
 * document as (term id, count) pairs so that fit can then emit the vectors
 * without analysing the text again. */
typedef struct tfidf_fitter tfidf_fitter;

/* NULL with *err set as tfidf_analyzer_new. */
tfidf_fitter *tfidf_fitter_new(const tfidf_opts *o, char **err);
void tfidf_fitter_add(tfidf_fitter *f, const char *text, size_t n);
size_t tfidf_fitter_docs(const tfidf_fitter *f);

/* What pruning did, for the summary. */
typedef struct tfidf_fit_stats {
    size_t documents, terms_seen, pruned_df, pruned_max_features, features;
    size_t tied_at_cut; /* terms with the corpus frequency of the cut, when it cut through them */
} tfidf_fit_stats;

/* Prunes (max_df/min_df, then max_features by corpus frequency), sorts the
 * features, computes idf and returns the model. Dies with a message like
 * scikit-learn's when no documents were added, every document was empty,
 * max_df stands for fewer documents than min_df, or nothing survives. */
tfidf_model *tfidf_fitter_finish(tfidf_fitter *f, tfidf_fit_stats *stats);
/* The vector of added document `doc` under the model finish returned. */
void tfidf_fitter_vector(const tfidf_fitter *f, const tfidf_model *m, size_t doc, sparse_vec *out);
void tfidf_fitter_free(tfidf_fitter *f);

/* ---- records --------------------------------------------------------------- */

/* Reads the records of tfidf's input: each one's text, and its JSON text up
 * to where "x" goes. Lines that a strict scan takes are not parsed into cJSON
 * trees (the fast path); the others go through lib/core/ndjson's reader, which
 * gives the same records and the same errors ("prog: FILE:LINE: ..."). */

/* What reading one line takes; threads parse lines each with its own. */
typedef struct tfidf_line_parser {
    const char *field;  /* the text field */
    size_t field_len;
    int drop_text;
    strbuf text;        /* a text that had escapes, decoded */
    size_t *spans, nspans, spans_cap; /* the members of the current line */
} tfidf_line_parser;

void tfidf_line_parser_init(tfidf_line_parser *p, const char *field, int drop_text);
void tfidf_line_parser_free(tfidf_line_parser *p);
/* The fast path over one line: *text, *len the text field (valid while the
 * line and p are), and appended to prefix the record's JSON without its
 * closing brace, minus any "x" member (and the text with drop_text), plus a
 * comma when members are left. Never dies: 0 (prefix untouched) when the line
 * needs the full reader, because it is bad or only cJSON takes it. */
int tfidf_parse_line(tfidf_line_parser *p, const char *line, size_t n, const char **text, size_t *len, strbuf *prefix);

typedef struct tfidf_reader {
    ndjson_reader in;   /* the lines; its name and line number for messages */
    tfidf_line_parser p;
    size_t slow;        /* records read through ndjson (for tests) */
} tfidf_reader;

void tfidf_reader_open(tfidf_reader *r, const char *path, const char *field, int drop_text);
/* The next record, as tfidf_parse_line gives it. 0 at the end of the input.
 * Dies "record has no \"text\"" or "\"text\" is not a string" at the
 * record's line, and as ndjson_next does on a bad line. */
int tfidf_reader_next(tfidf_reader *r, const char **text, size_t *len, strbuf *prefix);
/* The two halves of tfidf_reader_next, for readers that parse lines
 * elsewhere (tfidf_stream.c): the next non-blank line (in r->in.buf, valid
 * until the next call; r->in.line its number), 0 at the end; and the record
 * of a line numbered line_no, dying as tfidf_reader_next does. */
int tfidf_reader_line(tfidf_reader *r, const char **line, size_t *len);
void tfidf_reader_record(tfidf_reader *r, const char *line, size_t n, long line_no, const char **text, size_t *len,
                         strbuf *prefix);
void tfidf_reader_close(tfidf_reader *r);

/* ---- the record loops (tfidf_stream.c) ------------------------------------ */

/* apply: every record of r written to out with "x" from m, in input order,
 * the work shared by `threads` threads (the same bytes for any number).
 * Stops early if out fails (a closed pipe with SIGPIPE ignored). Dies at a
 * bad record as tfidf_reader_next does, after writing the records before it. */
void tfidf_apply_stream(const tfidf_model *m, tfidf_reader *r, FILE *out, int threads);
/* fit: the n held records (held[ends[d-1]..ends[d]) is record d's JSON up to
 * "x", as tfidf_reader_next appends it) written with their vectors. */
void tfidf_fit_write(const tfidf_fitter *f, const tfidf_model *m, const char *held, const size_t *ends, size_t n,
                     FILE *out, int threads);

/* ---- strict JSON scanning (tfidf_json.c), shared by the fast readers ----- */

typedef struct tfidf_scan {
    const char *p, *end;
} tfidf_scan;

/* Each returns 1 and moves s->p past what it took, or 0 (s->p undefined):
 * stricter than cJSON (no \u0000, no lone surrogates, RFC numbers and
 * blanks only), so a caller that gets 0 hands the text to cJSON. */
int tfidf_scan_value(tfidf_scan *s, int depth);
int tfidf_scan_string(tfidf_scan *s, int *escapes);
int tfidf_scan_number(tfidf_scan *s);
static inline void tfidf_skip_blanks(tfidf_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}
/* Appends the string at p (its opening quote, scanned already) decoded. */
void tfidf_decode_string(const char *p, const char *end, strbuf *out);

/* ---- output -------------------------------------------------------------- */

/* Appends v as sparse_append_json does (same bytes), in one buffer: the
 * fast path of record output. */
void tfidf_append_vector_json(strbuf *b, const sparse_vec *v);

#endif
