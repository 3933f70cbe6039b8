/* wptok: NDJSON records -> the same records with BERT's input_ids,
 * token_type_ids and attention_mask added (WordPiece from any vocab.txt,
 * HF tokenizers' ids exactly; lib/text/wordpiece). This file holds the options,
 * the record stream and the worker threads: records are read in batches by
 * the main thread, encoded and formatted by N threads, written in input
 * order. */
#include "core/common.h"
#include "core/ndjson.h"
#include "core/outfile.h"
#include "core/strbuf.h"
#include "text/wordpiece.h"

#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: wptok -m MODEL [OPTIONS] [FILE]\n"
    "Tokenize NDJSON records (FILE or standard input) for BERT: add input_ids,\n"
    "token_type_ids and attention_mask to each record, with the ids HuggingFace\n"
    "tokenizers gives (BertWordPieceTokenizer, BertTokenizerFast).\n"
    "\n"
    "Model:\n"
    "  -m, --model PATH     a model directory (its vocab.txt, and its\n"
    "                       tokenizer_config.json when present) or a vocab.txt\n"
    "  --lower, --no-lower  lowercase the text, or not (default: do_lower_case of\n"
    "                       tokenizer_config.json; without one, lowercase)\n"
    "  --strip-accents, --no-strip-accents\n"
    "                       remove accents (NFD, then nonspacing marks), or not\n"
    "                       (default: strip_accents of tokenizer_config.json;\n"
    "                       unset, the same as lowercasing)\n"
    "  --allow-duplicate-tokens  a token on two lines of vocab.txt gets the later\n"
    "                       line's id, as in HF (default: an error)\n"
    "\n"
    "Input:\n"
    "  --text-field NAME    the text field (default: text)\n"
    "  --text-b-field NAME  the second text of a pair (default: text_b); a record\n"
    "                       that has it is encoded as [CLS] A [SEP] B [SEP]\n"
    "\n"
    "Length:\n"
    "  --max-len N          at most N tokens, special tokens included (3 or more)\n"
    "  --truncation STRATEGY  with --max-len: longest_first (default: take tokens\n"
    "                       from the longer text first), only_first, only_second,\n"
    "                       or none\n"
    "  --padding STRATEGY   none (default), max_length (pad to --max-len), or\n"
    "                       longest (pad to the longest record of each batch)\n"
    "  --batch-size N       records per batch for --padding longest (default: 0,\n"
    "                       the whole input)\n"
    "  --no-special-tokens  no [CLS] and [SEP] (HF add_special_tokens=False)\n"
    "\n"
    "Output:\n"
    "  --tokens             also add \"tokens\", the token strings\n"
    "  --drop-text          leave the text fields out of the output records\n"
    "  -t, --threads N      encode with N threads (default: 1); output order is\n"
    "                       input order\n"
    "  -o, --output FILE    write here (atomically) instead of standard output\n"
    "  --progress           a progress bar on standard error (the records read)\n"
    "                       even when it is not a terminal\n"
    "  -q, --quiet          no summary or progress bar on standard error\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "Other fields of a record are kept; earlier input_ids, token_type_ids,\n"
    "attention_mask and tokens fields are replaced. Special tokens written in\n"
    "the text ([CLS], [SEP], [UNK], [PAD], [MASK]) are taken as those tokens, as\n"
    "in HF. Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  wptok -m models/bert-base-uncased --max-len 128 train.jsonl > train.tok.jsonl\n"
    "  csvclean --text Title --text-b Abstract --label 'Track Theme' acl.csv \\\n"
    "    | wptok -m models/scibert_scivocab_uncased --max-len 512 --drop-text\n";

enum {
    OPT_LOWER = 256, OPT_NO_LOWER, OPT_STRIP, OPT_NO_STRIP, OPT_ALLOW_DUP, OPT_TEXT_FIELD, OPT_TEXT_B_FIELD,
    OPT_MAX_LEN, OPT_TRUNCATION, OPT_PADDING, OPT_BATCH, OPT_NO_SPECIAL, OPT_TOKENS, OPT_DROP_TEXT,
    OPT_PROGRESS
};

/* records per batch when the batch size is only a unit of work */
#define WORK_BATCH 512

typedef struct config {
    const char *model, *input, *output, *text_field, *text_b_field;
    wp_load_opts load;
    wp_opts enc;
    int truncation_given;
    long batch_size;
    int threads, tokens, drop_text, quiet, progress;
} config;

/* One record of a batch. */
typedef struct item {
    cJSON *rec;
    long line;
    const char *text, *text_b; /* in rec, or in own[] */
    size_t n, nb;
    char *own[2];               /* texts re-read when the JSON held \u0000 */
    int err;
    /* the encoding, kept until the batch is padded */
    int32_t *ids;
    uint8_t *type_ids, *mask;
    size_t len, cap, n_a, n_b;
    int truncated;
    strbuf out; /* the output line */
} item;

typedef struct batch {
    item *items;
    size_t n, cap;
} batch;

typedef struct worker {
    const config *cfg;
    const wordpiece *wp;
    batch *b;
    size_t first, step; /* the items of this worker: first, first + step, ... */
    wp_encoding enc;
    pthread_t thread;
} worker;

static const char *const truncation_names[] = {"none", "longest_first", "only_first", "only_second"};
static const char *const padding_names[] = {"none", "longest", "max_length"};

static int pick(const char *opt, const char *arg, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(arg, names[i]) == 0) return i;
    strbuf list = {0};
    for (int i = 0; i < n; i++) {
        if (i) sb_adds(&list, ", ");
        sb_adds(&list, names[i]);
    }
    die_usage("%s: '%s' is not one of %s", opt, arg, list.s);
}

static void parse_args(config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"lower", no_argument, 0, OPT_LOWER},
        {"no-lower", no_argument, 0, OPT_NO_LOWER},
        {"strip-accents", no_argument, 0, OPT_STRIP},
        {"no-strip-accents", no_argument, 0, OPT_NO_STRIP},
        {"allow-duplicate-tokens", no_argument, 0, OPT_ALLOW_DUP},
        {"text-field", required_argument, 0, OPT_TEXT_FIELD},
        {"text-b-field", required_argument, 0, OPT_TEXT_B_FIELD},
        {"max-len", required_argument, 0, OPT_MAX_LEN},
        {"truncation", required_argument, 0, OPT_TRUNCATION},
        {"padding", required_argument, 0, OPT_PADDING},
        {"batch-size", required_argument, 0, OPT_BATCH},
        {"no-special-tokens", no_argument, 0, OPT_NO_SPECIAL},
        {"tokens", no_argument, 0, OPT_TOKENS},
        {"drop-text", no_argument, 0, OPT_DROP_TEXT},
        {"threads", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},
        {"progress", no_argument, 0, OPT_PROGRESS},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    c->load = (wp_load_opts)WP_LOAD_DEFAULTS;
    c->text_field = "text";
    c->text_b_field = "text_b";
    c->threads = 1;
    c->batch_size = -1;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":m:t:o:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': c->model = optarg; break;
        case OPT_LOWER: c->load.lower = 1; break;
        case OPT_NO_LOWER: c->load.lower = 0; break;
        case OPT_STRIP: c->load.strip_accents = 1; break;
        case OPT_NO_STRIP: c->load.strip_accents = 0; break;
        case OPT_ALLOW_DUP: c->load.allow_duplicates = 1; break;
        case OPT_TEXT_FIELD: c->text_field = optarg; break;
        case OPT_TEXT_B_FIELD: c->text_b_field = optarg; break;
        case OPT_MAX_LEN: c->enc.max_len = (size_t)parse_long_opt("--max-len", optarg, 1, 1L << 24); break;
        case OPT_TRUNCATION:
            c->enc.truncation = (wp_truncation)pick("--truncation", optarg, truncation_names, 4);
            c->truncation_given = 1;
            break;
        case OPT_PADDING: c->enc.padding = (wp_padding)pick("--padding", optarg, padding_names, 3); break;
        case OPT_BATCH: c->batch_size = parse_long_opt("--batch-size", optarg, 0, 1L << 30); break;
        case OPT_NO_SPECIAL: c->enc.no_special = 1; break;
        case OPT_TOKENS: c->tokens = 1; break;
        case OPT_DROP_TEXT: c->drop_text = 1; break;
        case 't': c->threads = (int)parse_long_opt("--threads", optarg, 1, 256); break;
        case 'o': c->output = optarg; break;
        case 'q': c->quiet = 1; break;
        case OPT_PROGRESS: c->progress = 1; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind > 1) die_usage("one input file at most, got %d", argc - optind);
    c->input = optind < argc ? argv[optind] : NULL;
    if (!c->model) die_usage("no model: give -m MODEL_DIR or -m vocab.txt");
    if (strcmp(c->text_field, c->text_b_field) == 0)
        die_usage("--text-field and --text-b-field name the same field '%s'", c->text_field);
    if (c->enc.max_len) {
        if (!c->truncation_given) c->enc.truncation = WP_TRUNC_LONGEST_FIRST;
        /* HF's arithmetic wraps around below 3 special tokens, cutting
         * nothing from a pair: refuse rather than surprise */
        if (!c->enc.no_special && c->enc.max_len < 3)
            die_usage("--max-len: at least 3 ([CLS] A [SEP] B [SEP] take 3 places)");
        if (c->enc.truncation == WP_TRUNC_NONE && c->enc.padding != WP_PAD_MAX_LENGTH)
            die_usage("--max-len does nothing with --truncation none and no --padding max_length");
    } else {
        if (c->truncation_given && c->enc.truncation != WP_TRUNC_NONE)
            die_usage("--truncation %s needs --max-len N", truncation_names[c->enc.truncation]);
        if (c->enc.padding == WP_PAD_MAX_LENGTH) die_usage("--padding max_length needs --max-len N");
    }
    if (c->batch_size >= 0 && c->enc.padding != WP_PAD_LONGEST)
        die_usage("--batch-size goes with --padding longest");
    if (c->batch_size < 0) c->batch_size = 0;
}

/* ---- reading ---- */

/* cJSON ends a string at an escaped NUL (\u0000), losing what follows. The
 * tokenizer removes U+0000 anyway, and also U+0001, so a line that has the
 * escape is parsed again with \u0001 in its place to get the full texts. */
static void reread_texts(const config *c, const ndjson_reader *r, item *it)
{
    char *copy = xstrdup(r->buf);
    size_t n = strlen(copy);
    for (char *p = copy; (p = (char *)json_nul_escape(p, n - (size_t)(p - copy)));) {
        p[5] = '1';
        p += 6;
    }
    cJSON *rec = cJSON_Parse(copy);
    free(copy);
    const char *t = rec_string(rec, c->text_field), *tb = rec_string(rec, c->text_b_field);
    if (t) it->text = it->own[0] = xstrdup(t), it->n = strlen(t);
    if (tb && it->text_b) it->text_b = it->own[1] = xstrdup(tb), it->nb = strlen(tb);
    cJSON_Delete(rec);
}

/* The start of the output line: the record without its closing brace. */
static void record_prefix(const config *c, const ndjson_reader *r, item *it)
{
    static const char *const ours[] = {"input_ids", "token_type_ids", "attention_mask", "tokens"};
    cJSON *rec = it->rec;
    int rewrite = c->drop_text;
    for (int k = 0; k < 4; k++) rewrite |= cJSON_GetObjectItemCaseSensitive(rec, ours[k]) != NULL;
    sb_clear(&it->out);
    if (!rewrite) {
        /* the line as read: fields keep their bytes, and it is faster */
        const char *close = strrchr(r->buf, '}');
        sb_addn(&it->out, r->buf, (size_t)(close - r->buf));
        if (rec->child) sb_addc(&it->out, ',');
        return;
    }
    cJSON *copy = cJSON_Duplicate(rec, 1);
    for (int k = 0; k < 4; k++) cJSON_DeleteItemFromObjectCaseSensitive(copy, ours[k]);
    if (c->drop_text) {
        cJSON_DeleteItemFromObjectCaseSensitive(copy, c->text_field);
        cJSON_DeleteItemFromObjectCaseSensitive(copy, c->text_b_field);
    }
    char *s = cJSON_PrintUnformatted(copy);
    if (!s) die("out of memory printing a record");
    size_t n = strlen(s);
    sb_addn(&it->out, s, n - 1);
    if (copy->child) sb_addc(&it->out, ',');
    free(s);
    cJSON_Delete(copy);
}

static void read_item(const config *c, ndjson_reader *r, cJSON *rec, item *it)
{
    it->rec = rec;
    it->line = r->line;
    it->err = 0;
    it->text = rec_require_string(r, rec, c->text_field);
    it->n = strlen(it->text);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(rec, c->text_b_field);
    it->text_b = NULL;
    it->nb = 0;
    if (b && !cJSON_IsNull(b)) {
        if (!cJSON_IsString(b)) die_at(r->name, r->line, "\"%s\" is not a string", c->text_b_field);
        it->text_b = b->valuestring;
        it->nb = strlen(b->valuestring);
    }
    if (json_has_nul_escape(r->buf, strlen(r->buf))) reread_texts(c, r, it);
    record_prefix(c, r, it);
}

static void release_item(item *it)
{
    cJSON_Delete(it->rec);
    it->rec = NULL;
    free(it->own[0]);
    free(it->own[1]);
    it->own[0] = it->own[1] = NULL;
}

/* Reads up to max records (0: all) into b; returns how many. */
static size_t read_batch(const config *c, ndjson_reader *r, batch *b, size_t max)
{
    b->n = 0;
    cJSON *rec;
    while ((max == 0 || b->n < max) && (rec = ndjson_next(r))) {
        if (b->n == b->cap) {
            size_t old = b->cap;
            b->cap = b->cap ? b->cap * 2 : 256;
            b->items = xrealloc(b->items, b->cap * sizeof *b->items);
            memset(b->items + old, 0, (b->cap - old) * sizeof *b->items);
        }
        read_item(c, r, rec, &b->items[b->n++]);
    }
    return b->n;
}

/* ---- encoding and formatting (in the workers) ---- */

/* v in decimal at p; returns the end */
static char *put_uint(char *p, uint32_t v)
{
    char buf[10];
    int n = 0;
    do buf[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0) *p++ = buf[--n];
    return p;
}

static void encode_item(worker *w, item *it)
{
    const config *c = w->cfg;
    it->err = wp_encode(w->wp, it->text, it->n, it->text_b, it->text_b ? it->nb : 0, &c->enc, &w->enc);
    if (it->err) return;
    if (w->enc.len > it->cap || !it->ids) {
        it->cap = w->enc.len ? w->enc.len : 1;
        it->ids = xrealloc(it->ids, it->cap * sizeof *it->ids);
        it->type_ids = xrealloc(it->type_ids, it->cap);
        it->mask = xrealloc(it->mask, it->cap);
    }
    it->len = w->enc.len;
    memcpy(it->ids, w->enc.ids, it->len * sizeof *it->ids);
    memcpy(it->type_ids, w->enc.type_ids, it->len);
    memcpy(it->mask, w->enc.attention_mask, it->len);
    it->n_a = w->enc.n_a;
    it->n_b = w->enc.n_b;
    it->truncated = w->enc.truncated;
}

static void pad_item(const wordpiece *wp, item *it, size_t len)
{
    if (it->len >= len) return;
    if (len > it->cap) {
        it->cap = len;
        it->ids = xrealloc(it->ids, it->cap * sizeof *it->ids);
        it->type_ids = xrealloc(it->type_ids, it->cap);
        it->mask = xrealloc(it->mask, it->cap);
    }
    for (size_t i = it->len; i < len; i++) {
        it->ids[i] = wp_get_info(wp)->pad_id;
        it->type_ids[i] = 0;
        it->mask[i] = 0;
    }
    it->len = len;
}

/* Writes the ids and the 0/1 digits straight into reserved room: this loop
 * is most of the output. */
static void format_item(const worker *w, item *it)
{
    static const char ids_key[] = "\"input_ids\":[", types_key[] = "],\"token_type_ids\":[",
                      mask_key[] = "],\"attention_mask\":[";
    strbuf *s = &it->out;
    sb_reserve(s, it->len * 16 + sizeof ids_key + sizeof types_key + sizeof mask_key + 8);
    char *p = s->s + s->len;
    memcpy(p, ids_key, sizeof ids_key - 1), p += sizeof ids_key - 1;
    for (size_t i = 0; i < it->len; i++) {
        if (i) *p++ = ',';
        p = put_uint(p, (uint32_t)it->ids[i]);
    }
    memcpy(p, types_key, sizeof types_key - 1), p += sizeof types_key - 1;
    for (size_t i = 0; i < it->len; i++) {
        if (i) *p++ = ',';
        *p++ = (char)('0' + it->type_ids[i]);
    }
    memcpy(p, mask_key, sizeof mask_key - 1), p += sizeof mask_key - 1;
    for (size_t i = 0; i < it->len; i++) {
        if (i) *p++ = ',';
        *p++ = (char)('0' + it->mask[i]);
    }
    *p++ = ']';
    *p = '\0';
    s->len = (size_t)(p - s->s);
    if (w->cfg->tokens) {
        sb_adds(s, ",\"tokens\":[");
        for (size_t i = 0; i < it->len; i++) {
            size_t n;
            const char *t = wp_id_token(w->wp, it->ids[i], &n);
            if (i) sb_addc(s, ',');
            json_quote(s, t ? t : "", t ? n : 0);
        }
        sb_addc(s, ']');
    }
    sb_adds(s, "}\n");
}

static void *encode_worker(void *arg)
{
    worker *w = arg;
    for (size_t i = w->first; i < w->b->n; i += w->step) encode_item(w, &w->b->items[i]);
    return NULL;
}

static void *format_worker(void *arg)
{
    worker *w = arg;
    for (size_t i = w->first; i < w->b->n; i += w->step)
        if (!w->b->items[i].err) format_item(w, &w->b->items[i]);
    return NULL;
}

/* Runs fn on every worker, threads for all but the first. */
static void run_workers(worker *ws, int n, void *(*fn)(void *))
{
    for (int i = 1; i < n; i++)
        if (pthread_create(&ws[i].thread, NULL, fn, &ws[i]) != 0) die("cannot start a thread");
    fn(&ws[0]);
    for (int i = 1; i < n; i++) pthread_join(ws[i].thread, NULL);
}

typedef struct totals {
    size_t records, pairs, tokens, truncated;
} totals;

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    config c;
    parse_args(&c, argc, argv);
    wordpiece *wp = wp_load_with(c.model, &c.load);
    if (c.enc.padding != WP_PAD_NONE && wp_get_info(wp)->pad_id < 0)
        die_at(wp_vocab_path(wp), 0, "padding needs a [PAD] token, and the vocabulary has none");

    worker *ws = xcalloc((size_t)c.threads, sizeof *ws);
    batch b = {0};
    for (int i = 0; i < c.threads; i++) {
        ws[i].cfg = &c;
        ws[i].wp = wp;
        ws[i].b = &b;
        ws[i].first = (size_t)i;
        ws[i].step = (size_t)c.threads;
    }
    ndjson_reader r;
    ndjson_open(&r, c.input);
    r.nul_escape_ok = 1; /* reread_texts keeps what follows the NUL */
    progress bar;
    ndjson_progress(&r, &bar, progress_mode(c.quiet, c.progress));
    outfile out;
    out_open(&out, c.output);
    size_t per_batch = c.enc.padding == WP_PAD_LONGEST ? (size_t)c.batch_size : WORK_BATCH;
    totals t = {0};
    while (read_batch(&c, &r, &b, per_batch) > 0) {
        run_workers(ws, c.threads, encode_worker);
        size_t longest = 0;
        for (size_t i = 0; i < b.n; i++) {
            item *it = &b.items[i];
            if (it->err) {
                /* the records before it are written; the error names its line */
                for (size_t k = 0; k < i; k++) {
                    format_item(&ws[0], &b.items[k]);
                    fwrite(b.items[k].out.s, 1, b.items[k].out.len, out.f);
                }
                die_at(r.name, it->line, "%s", wp_strerror(it->err));
            }
            if (it->len > longest) longest = it->len;
        }
        if (c.enc.padding == WP_PAD_LONGEST)
            for (size_t i = 0; i < b.n; i++) pad_item(wp, &b.items[i], longest);
        run_workers(ws, c.threads, format_worker);
        for (size_t i = 0; i < b.n; i++) {
            item *it = &b.items[i];
            fwrite(it->out.s, 1, it->out.len, out.f);
            t.records++;
            t.pairs += it->text_b != NULL;
            t.tokens += it->len;
            t.truncated += it->truncated;
            release_item(it);
        }
    }
    ndjson_progress_end(&r);
    ndjson_close(&r);
    out_commit(&out);
    if (!c.quiet)
        fprintf(stderr, "%s: %zu records (%zu pairs), %zu tokens, %zu truncated\n", prog_name, t.records,
                t.pairs, t.tokens, t.truncated);

    for (size_t i = 0; i < b.cap; i++) {
        item *it = &b.items[i];
        free(it->ids);
        free(it->type_ids);
        free(it->mask);
        sb_free(&it->out);
    }
    free(b.items);
    for (int i = 0; i < c.threads; i++) wp_encoding_free(&ws[i].enc);
    free(ws);
    wp_free(wp);
    return 0;
}
