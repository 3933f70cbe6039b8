/* Unit tests for lib/text/wordpiece: the encoder against HF tokenizers' ids on
 * hostile strings (tests/golden/wptok/edge.jsonl) and on every truncation
 * and padding strategy (truncation.txt), both made by tests/ref/wptok_ref.py;
 * then the vocabulary loader and the API on files made here. Needs the
 * models in $SHARED (default ../shared). */
#include "check.h"
#include "core/common.h"
#include "text/wordpiece.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *shared_dir(void)
{
    const char *s = getenv("SHARED");
    return s && *s ? s : "../shared";
}

static wordpiece *load_model(const char *name, int lower)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/models/%s", shared_dir(), name);
    wp_load_opts o = WP_LOAD_DEFAULTS;
    o.lower = lower;
    return wp_load_with(path, &o);
}

/* The JSON array of ints a equals v[0..n) */
static int same_ints(const cJSON *a, const int32_t *v, size_t n)
{
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n) return 0;
    size_t i = 0;
    for (const cJSON *x = a->child; x; x = x->next, i++)
        if (!cJSON_IsNumber(x) || x->valuedouble != v[i]) return 0;
    return 1;
}

static int same_bytes(const cJSON *a, const uint8_t *v, size_t n)
{
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n) return 0;
    size_t i = 0;
    for (const cJSON *x = a->child; x; x = x->next, i++)
        if (!cJSON_IsNumber(x) || x->valuedouble != v[i]) return 0;
    return 1;
}

/* cJSON ends a string at U+0000 (written \u0000); the tokenizer removes it,
 * and U+0001 too, so the golden's texts are read with U+0001 in its place
 * (as wptok does). */
static void nul_to_soh(char *line)
{
    for (char *p = line; (p = strstr(p, "\\u0000"));) {
        size_t backslashes = 0;
        while (p - backslashes > line && p[-(long)backslashes - 1] == '\\') backslashes++;
        if (backslashes % 2 == 0) p[5] = '1';
        p += 6;
    }
}

/* Reads a JSON-lines file; calls fn on each record. Returns the count, or
 * -1 when the file cannot be read. */
static long each_record(const char *path, void (*fn)(const cJSON *rec, void *ctx), void *ctx)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    while (getline(&line, &cap, f) > 0) {
        nul_to_soh(line);
        cJSON *rec = cJSON_Parse(line);
        if (!rec) continue;
        fn(rec, ctx);
        cJSON_Delete(rec);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

/* ---- edge.jsonl ---- */

typedef struct edge_run {
    wordpiece *bert, *bert_cased, *scibert;
    wp_encoding enc;
    long compared[3], bad[3], tokens_bad;
} edge_run;

static void edge_record(const cJSON *rec, void *ctx)
{
    edge_run *e = ctx;
    const char *model = cJSON_GetObjectItem(rec, "model")->valuestring;
    int lower = cJSON_IsTrue(cJSON_GetObjectItem(rec, "lower"));
    int v = strcmp(model, "bert-base-uncased") != 0 ? 2 : lower ? 0 : 1;
    const wordpiece *wp = v == 0 ? e->bert : v == 1 ? e->bert_cased : e->scibert;
    const cJSON *t = cJSON_GetObjectItem(rec, "text"), *tb = cJSON_GetObjectItem(rec, "text_b");
    strbuf a = {0}, b = {0};
    sb_adds(&a, t->valuestring);
    if (tb) sb_adds(&b, tb->valuestring);
    int err = wp_encode(wp, a.s ? a.s : "", a.len, tb ? (b.s ? b.s : "") : NULL, b.len, NULL, &e->enc);
    e->compared[v]++;
    int ok = !err && same_ints(cJSON_GetObjectItem(rec, "input_ids"), e->enc.ids, e->enc.len) &&
             same_bytes(cJSON_GetObjectItem(rec, "token_type_ids"), e->enc.type_ids, e->enc.len);
    const cJSON *toks = cJSON_GetObjectItem(rec, "tokens");
    if (ok && toks) {
        size_t i = 0;
        for (const cJSON *x = toks->child; x; x = x->next, i++) {
            size_t n;
            const char *s = wp_id_token(wp, e->enc.ids[i], &n);
            if (!s || strlen(x->valuestring) != n || memcmp(s, x->valuestring, n) != 0) {
                e->tokens_bad++;
                break;
            }
        }
    }
    if (!ok && ++e->bad[v] <= 3) {
        char *s = cJSON_PrintUnformatted(rec);
        printf("  mismatch (%s, lower %d): %.300s\n  got:", model, lower, s);
        for (size_t i = 0; i < e->enc.len && i < 40; i++) printf(" %d", e->enc.ids[i]);
        printf("\n");
        free(s);
    }
    sb_free(&a);
    sb_free(&b);
}

static int has_nul_escape(const char *path, long *count)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    *count = 0;
    while (getline(&line, &cap, f) > 0) *count += strstr(line, "\\u0000") != NULL;
    free(line);
    fclose(f);
    return 1;
}

static void test_edge_golden(edge_run *e)
{
    long n = each_record("tests/golden/wptok/edge.jsonl", edge_record, e);
    CHECK("edge golden present", n > 0);
    char name[160];
    static const char *const what[3] = {"bert-base-uncased", "bert-base-uncased --no-lower",
                                        "scibert_scivocab_uncased"};
    for (int v = 0; v < 3; v++) {
        snprintf(name, sizeof name, "edge strings: ids and type ids equal HF's (%s, %ld strings)", what[v],
                 e->compared[v]);
        CHECK(name, e->compared[v] > 100 && e->bad[v] == 0);
    }
    CHECK("edge strings: token strings equal HF's", e->tokens_bad == 0);
    long nul = 0;
    has_nul_escape("tests/golden/wptok/edge.jsonl", &nul);
    CHECK("edge strings include U+0000", nul > 0);
}

/* ---- truncation.txt ---- */

typedef struct sample {
    char *text, *text_b;
} sample;

static void add_sample(const cJSON *rec, void *ctx)
{
    sample **v = ctx;
    size_t n = 0;
    while ((*v)[n].text) n++;
    *v = realloc(*v, (n + 2) * sizeof **v);
    const cJSON *tb = cJSON_GetObjectItem(rec, "text_b");
    (*v)[n].text = strdup(cJSON_GetObjectItem(rec, "text")->valuestring);
    (*v)[n].text_b = tb ? strdup(tb->valuestring) : NULL;
    (*v)[n + 1].text = NULL;
}

static int parse_setting(const char *s, wp_opts *o, int *batch)
{
    char strategy[32], padding[32], special[32] = "";
    unsigned long ml;
    if (sscanf(s, "%31[a-z_]:%lu:%31[a-z0-9_]:%31s", strategy, &ml, padding, special) < 3) return 0;
    memset(o, 0, sizeof *o);
    o->no_special = strcmp(special, "nospecial") == 0;
    o->max_len = ml;
    o->truncation = strcmp(strategy, "longest_first") == 0 ? WP_TRUNC_LONGEST_FIRST
                    : strcmp(strategy, "only_first") == 0  ? WP_TRUNC_ONLY_FIRST
                    : strcmp(strategy, "only_second") == 0 ? WP_TRUNC_ONLY_SECOND
                                                           : WP_TRUNC_NONE;
    *batch = 0;
    if (strcmp(padding, "max_length") == 0) o->padding = WP_PAD_MAX_LENGTH;
    else if (strncmp(padding, "longest", 7) == 0) o->padding = WP_PAD_LONGEST, *batch = atoi(padding + 7);
    return 1;
}

static void format_encoding(const wp_encoding *e, strbuf *out)
{
    char num[16];
    sb_clear(out);
    for (int part = 0; part < 3; part++) {
        if (part) sb_addc(out, ';');
        for (size_t i = 0; i < e->len; i++) {
            int v = part == 0 ? e->ids[i] : part == 1 ? e->type_ids[i] : e->attention_mask[i];
            snprintf(num, sizeof num, i ? ",%d" : "%d", v);
            sb_adds(out, num);
        }
    }
}

static void test_truncation_golden(const wordpiece *wp)
{
    sample *v = calloc(1, sizeof *v);
    long n = each_record("tests/golden/wptok/truncation_input.jsonl", add_sample, &v);
    FILE *f = fopen("tests/golden/wptok/truncation.txt", "r");
    CHECK("truncation golden present", n > 0 && f);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    long lines = 0, bad = 0, errors = 0;
    wp_encoding e = {0};
    wp_encoding *batch = NULL;
    size_t nbatch = 0;
    strbuf got = {0};
    int settings[4] = {0}; /* strategies seen */
    long nospecial = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = '\0';
        char setting[64];
        long idx;
        int off;
        if (sscanf(line, "%63s %ld %n", setting, &idx, &off) != 2 || idx < 0 || idx >= n) {
            bad++;
            continue;
        }
        const char *want = line + off;
        wp_opts o;
        int bsize;
        if (!parse_setting(setting, &o, &bsize)) {
            bad++;
            continue;
        }
        settings[o.truncation] = 1;
        nospecial += o.no_special;
        const sample *s = &v[idx];
        const char *result;
        char errbuf[32];
        if (bsize > 0) {
            /* HF pads each batch of bsize records to its longest */
            size_t first = (size_t)idx / (size_t)bsize * (size_t)bsize, count = (size_t)bsize;
            if (first + count > (size_t)n) count = (size_t)n - first;
            if (nbatch < count) {
                batch = realloc(batch, count * sizeof *batch);
                memset(batch + nbatch, 0, (count - nbatch) * sizeof *batch);
                nbatch = count;
            }
            size_t longest = 0;
            for (size_t k = 0; k < count; k++) {
                const sample *t = &v[first + k];
                wp_encode(wp, t->text, strlen(t->text), t->text_b, t->text_b ? strlen(t->text_b) : 0, &o,
                          &batch[k]);
                if (batch[k].len > longest) longest = batch[k].len;
            }
            wp_pad(wp, &batch[(size_t)idx - first], longest);
            format_encoding(&batch[(size_t)idx - first], &got);
            result = got.s;
        } else {
            size_t nb = s->text_b ? strlen(s->text_b) : 0;
            int err = wp_encode(wp, s->text, strlen(s->text), s->text_b, nb, &o, &e);
            if (err) {
                snprintf(errbuf, sizeof errbuf, "ERR %s",
                         err == WP_ERR_NO_SECOND ? "no_second" : "too_short");
                result = errbuf;
                errors++;
            } else {
                format_encoding(&e, &got);
                result = got.s;
            }
        }
        lines++;
        if (strcmp(result, want) != 0 && ++bad <= 3)
            printf("  %s record %ld:\n    want %.200s\n    got  %.200s\n", setting, idx, want, result);
    }
    char name[128];
    snprintf(name, sizeof name, "truncation and padding equal HF's (%ld encodings, %ld of them errors)",
             lines, errors);
    CHECK(name, lines > 1000 && bad == 0 && errors > 0);
    CHECK("truncation golden covers add_special_tokens=False", nospecial > 100);
    CHECK("truncation golden covers longest_first, only_first, only_second",
          settings[WP_TRUNC_LONGEST_FIRST] && settings[WP_TRUNC_ONLY_FIRST] &&
              settings[WP_TRUNC_ONLY_SECOND]);
    for (size_t k = 0; k < nbatch; k++) wp_encoding_free(&batch[k]);
    free(batch);
    wp_encoding_free(&e);
    sb_free(&got);
    free(line);
    fclose(f);
    for (long i = 0; i < n; i++) free(v[i].text), free(v[i].text_b);
    free(v);
}

/* ---- the loader, on vocabularies made here ---- */

static char *write_temp(const char *content, size_t n)
{
    char *path = strdup("/tmp/wptok-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, content, n) != (ssize_t)n) {
        perror("mkstemp");
        exit(1);
    }
    close(fd);
    return path;
}

static int32_t id_of(const wordpiece *wp, const char *tok) { return wp_token_id(wp, tok, strlen(tok)); }

static void encode_str(const wordpiece *wp, const char *s, wp_encoding *e)
{
    wp_encode(wp, s, strlen(s), NULL, 0, NULL, e);
}

static void test_loader(void)
{
    /* CRLF line ends and trailing blanks are trimmed (Rust's trim_end); an
     * empty line keeps its id; a duplicate, allowed, takes the later id */
    static const char vocab[] = "[PAD]\r\n[UNK]\n[CLS]  \n[SEP]\t\n\nhello\nwor\n##ld\n##s\nhello\n"
                                "\xc3\xa9t\xc3\xa9\n[MASK]\xe2\x80\x83\n";
    char *path = write_temp(vocab, sizeof vocab - 1);
    wp_load_opts o = WP_LOAD_DEFAULTS;
    o.allow_duplicates = 1;
    wordpiece *wp = wp_load_with(path, &o);
    const wp_info *in = wp_get_info(wp);
    CHECK("loader: vocab size counts every line", in->vocab_size == 12);
    CHECK("loader: special ids, CRLF and trailing whitespace trimmed",
          in->pad_id == 0 && in->unk_id == 1 && in->cls_id == 2 && in->sep_id == 3 && in->mask_id == 11);
    CHECK("loader: a vocab file (no config) lowercases and strips accents",
          in->lower == 1 && in->strip_accents == 1 && in->chinese_chars == 1);
    CHECK("loader: a later duplicate line wins (allowed)", id_of(wp, "hello") == 9);
    size_t n = 99;
    CHECK("loader: the earlier duplicate's id has no token", wp_id_token(wp, 5, &n) == NULL);
    const char *t = wp_id_token(wp, 7, &n);
    CHECK("loader: id -> token", t && n == 4 && memcmp(t, "##ld", 4) == 0);
    CHECK("loader: no token for ids out of range", !wp_id_token(wp, -1, &n) && !wp_id_token(wp, 12, &n));
    CHECK("loader: the empty line is no token", wp_id_token(wp, 4, &n) == NULL && id_of(wp, "") < 0);

    wp_encoding e = {0};
    /* hello (the later line) | wor ##ld ##s | "ete" (accents stripped from
     * the text, not from the vocabulary, as in HF) is unknown */
    encode_str(wp, "Hello worlds \xc3\x89T\xc3\x89", &e);
    int32_t want[] = {2, 9, 6, 7, 8, 1, 3};
    CHECK("encode: greedy longest match with ## pieces, unknown word -> [UNK]",
          e.len == 7 && memcmp(e.ids, want, sizeof want) == 0);
    encode_str(wp, "helloz", &e);
    CHECK("encode: a word with no match at some point is one [UNK]",
          e.len == 3 && e.ids[1] == in->unk_id);
    wp_encoding_free(&e);
    wp_free(wp);

    /* the same vocabulary without lowercasing or stripping */
    o.lower = 0;
    wp = wp_load_with(path, &o);
    CHECK("loader: --no-lower also keeps accents", wp_get_info(wp)->strip_accents == 0);
    encode_str(wp, "\xc3\xa9t\xc3\xa9 Hello", &e);
    CHECK("encode: cased: \"été\" found as is, \"Hello\" unknown",
          e.len == 4 && e.ids[1] == 10 && e.ids[2] == wp_get_info(wp)->unk_id);
    wp_encoding_free(&e);
    wp_free(wp);
    unlink(path);
    free(path);

    /* a model directory: tokenizer_config.json sets the case and the names
     * of the special tokens */
    char dir[] = "/tmp/wptok-dir-XXXXXX";
    if (!mkdtemp(dir)) return;
    char p1[256], p2[256];
    snprintf(p1, sizeof p1, "%s/vocab.txt", dir);
    snprintf(p2, sizeof p2, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(p1, "w");
    fputs("<pad>\n<unk>\n<s>\n</s>\nHi\n", f);
    fclose(f);
    f = fopen(p2, "w");
    fputs("{\"do_lower_case\": false, \"unk_token\": \"<unk>\", \"cls_token\": {\"content\": \"<s>\"},"
          " \"sep_token\": \"</s>\", \"pad_token\": \"<pad>\", \"strip_accents\": null}",
          f);
    fclose(f);
    wp = wp_load(dir);
    in = wp_get_info(wp);
    CHECK("loader: tokenizer_config.json: do_lower_case false, named special tokens",
          in->lower == 0 && in->strip_accents == 0 && in->cls_id == 2 && in->sep_id == 3 && in->unk_id == 1 &&
              in->pad_id == 0 && in->mask_id == -1);
    encode_str(wp, "Hi<s>hi", &e);
    CHECK("encode: special tokens named in the config are matched in the text",
          e.len == 5 && e.ids[0] == 2 && e.ids[1] == 4 && e.ids[2] == 2 && e.ids[3] == 1 && e.ids[4] == 3);
    wp_encoding_free(&e);
    wp_free(wp);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
}

static void test_big_inputs(const wordpiece *wp)
{
    const wp_info *in = wp_get_info(wp);
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    wp_encoding e = {0};
    wp_encode(wp, s, n, NULL, 0, NULL, &e);
    CHECK("1 MB word: [CLS] [UNK] [SEP]", e.len == 3 && e.ids[1] == in->unk_id);
    for (size_t i = 0; i + 3 <= n; i += 3) memcpy(s + i, "ab ", 3);
    wp_encode(wp, s, n, NULL, 0, NULL, &e);
    int32_t ab = id_of(wp, "ab");
    size_t words = n / 3 + (n % 3 != 0), ok = e.len == words + 2;
    for (size_t i = 1; ok && i + 1 < e.len; i++) ok = e.ids[i] == ab || (i == e.len - 2 && n % 3);
    CHECK("1 MB of short words: one token each", ok);
    wp_opts o = {.max_len = 512, .truncation = WP_TRUNC_LONGEST_FIRST};
    wp_encode(wp, s, n, s, n, &o, &e);
    CHECK("1 MB pair truncated to 512", e.len == 512 && e.n_a == 254 && e.n_b == 255 && e.truncated);
    /* a word of 100 characters is looked up, one of 101 is [UNK] at once */
    memset(s, 'a', 101);
    wp_encode(wp, s, 100, NULL, 0, NULL, &e);
    CHECK("100 characters: word pieces", e.len > 3 && e.ids[1] != in->unk_id);
    wp_encode(wp, s, 101, NULL, 0, NULL, &e);
    CHECK("101 characters: [UNK]", e.len == 3 && e.ids[1] == in->unk_id);
    /* invalid UTF-8 reads as U+FFFD, which cleaning removes */
    wp_encode(wp, "ab\xff\xfe" "cd \xc3", 7, NULL, 0, NULL, &e);
    wp_encoding e2 = {0};
    wp_encode(wp, "abcd", 4, NULL, 0, NULL, &e2);
    CHECK("invalid UTF-8 bytes are dropped", e.len == e2.len && memcmp(e.ids, e2.ids, e.len * 4) == 0);
    wp_encoding_free(&e2);
    wp_encoding_free(&e);
    free(s);
}

int main(void)
{
    prog_init("test_wordpiece");
    edge_run e = {0};
    e.bert = load_model("bert-base-uncased", -1);
    e.bert_cased = load_model("bert-base-uncased", 0);
    e.scibert = load_model("scibert_scivocab_uncased", -1);
    const wp_info *b = wp_get_info(e.bert), *s = wp_get_info(e.scibert);
    CHECK("bert-base-uncased: special ids from the vocab",
          b->cls_id == id_of(e.bert, "[CLS]") && b->sep_id == id_of(e.bert, "[SEP]") &&
              b->unk_id == id_of(e.bert, "[UNK]") && b->pad_id == id_of(e.bert, "[PAD]") && b->lower == 1);
    /* SOURCE.md of the SciBERT vocab: [UNK] 101, [CLS] 102, [SEP] 103, 31,090 lines */
    CHECK("scibert: its own special ids, not BERT's",
          s->cls_id == b->cls_id + 1 && s->sep_id == b->sep_id + 1 && s->unk_id == b->unk_id + 1 &&
              s->vocab_size == 31090);
    test_edge_golden(&e);
    test_truncation_golden(e.bert);
    test_big_inputs(e.bert);
    test_loader();
    wp_encoding_free(&e.enc);
    wp_free(e.bert);
    wp_free(e.bert_cased);
    wp_free(e.scibert);
    return check_exit();
}
