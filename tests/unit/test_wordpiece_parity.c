/* Parity of lib/text/wordpiece with HF tokenizers on whole corpora: every tweet
 * (train + test), every ACL 2025 paper as a (title, abstract) pair and every
 * ICLR abstract with bert-base-uncased, and the papers with SciBERT's vocab.
 * The CSVs are read from $SHARED with lib/text/csvread, the reader csvclean uses
 * (with no cleaning step csvclean passes the text on unchanged; the golden
 * script checks that too). tests/golden/wptok/<corpus>.fnv holds HF's ids,
 * hashed per record, and samples.jsonl some records' ids in full; both made
 * by tests/ref/wptok_ref.py. A mismatch names the record. */
#include "check.h"
#include "text/columns.h"
#include "core/common.h"
#include "text/csvread.h"
#include "core/strbuf.h"
#include "text/wordpiece.h"

#include <cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct corpus {
    const char *name, *model;
    const char *files[2];
    const char *text_col, *text_b_col, *id_col; /* id_col NULL: the row number */
} corpus;

static const corpus corpora[] = {
    {"bert_tweets", "bert-base-uncased",
     {"tweet_sentiment_extraction/train.csv", "tweet_sentiment_extraction/test.csv"}, "text", NULL, "textID"},
    {"bert_acl", "bert-base-uncased", {"acl2025_tracks/acl25_theme_data.csv", NULL}, "Title", "Abstract",
     NULL},
    {"bert_iclr", "bert-base-uncased", {"iclr_openreview_2017_2018/iclr_2017_2018.csv", NULL}, "abstract",
     NULL, "id"},
    {"scibert_acl", "scibert_scivocab_uncased", {"acl2025_tracks/acl25_theme_data.csv", NULL}, "Title",
     "Abstract", NULL},
    {"scibert_iclr", "scibert_scivocab_uncased", {"iclr_openreview_2017_2018/iclr_2017_2018.csv", NULL},
     "abstract", NULL, "id"},
};
#define NCORPORA (sizeof corpora / sizeof corpora[0])

/* The encodings of one corpus, kept for the samples. */
typedef struct encoded {
    size_t n;
    char **ids;      /* record id */
    char **line;     /* "ids;type_ids" */
} encoded;

static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull;
    return h;
}

static void ids_line(const wp_encoding *e, strbuf *out)
{
    char num[16];
    sb_clear(out);
    for (size_t i = 0; i < e->len; i++) {
        snprintf(num, sizeof num, i ? ",%d" : "%d", e->ids[i]);
        sb_adds(out, num);
    }
    sb_addc(out, ';');
    for (size_t i = 0; i < e->len; i++) {
        if (i) sb_addc(out, ',');
        sb_addc(out, e->type_ids[i] ? '1' : '0');
    }
}

static void encode_corpus(const char *shared, const corpus *c, encoded *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/models/%s", shared, c->model);
    wordpiece *wp = wp_load(path);
    wp_encoding e = {0};
    strbuf line = {0};
    size_t cap = 0, row_number = 0;
    memset(out, 0, sizeof *out);
    for (int k = 0; k < 2 && c->files[k]; k++) {
        snprintf(path, sizeof path, "%s/datasets/%s", shared, c->files[k]);
        csv_reader *r = csv_open(path, 0);
        csv_row row;
        if (!csv_next(r, &row)) die("%s: empty", path);
        size_t ti = column_require(&row, path, c->text_col);
        size_t bi = c->text_b_col ? column_require(&row, path, c->text_b_col) : 0;
        size_t ii = c->id_col ? column_require(&row, path, c->id_col) : 0;
        while (csv_next(r, &row)) {
            row_number++;
            const strbuf *a = &row.field[ti], *b = c->text_b_col ? &row.field[bi] : NULL;
            wp_encode(wp, sb_str(a), a->len, b ? sb_str(b) : NULL, b ? b->len : 0, NULL, &e);
            ids_line(&e, &line);
            if (out->n == cap) {
                cap = cap ? cap * 2 : 4096;
                out->ids = xrealloc(out->ids, cap * sizeof *out->ids);
                out->line = xrealloc(out->line, cap * sizeof *out->line);
            }
            char num[32];
            snprintf(num, sizeof num, "%zu", row_number);
            out->ids[out->n] = xstrdup(c->id_col ? sb_str(&row.field[ii]) : num);
            out->line[out->n++] = xstrdup(sb_str(&line));
        }
        csv_close(r);
    }
    sb_free(&line);
    wp_encoding_free(&e);
    wp_free(wp);
}

static void check_hashes(const corpus *c, const encoded *enc)
{
    char path[256], name[200], *line = NULL;
    size_t cap = 0;
    snprintf(path, sizeof path, "tests/golden/wptok/%s.fnv", c->name);
    FILE *f = fopen(path, "r");
    snprintf(name, sizeof name, "%s: golden present", c->name);
    CHECK(name, f != NULL);
    if (!f) return;
    size_t i = 0, bad = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#') continue;
        uint64_t want = strtoull(line, NULL, 16);
        if (i < enc->n && fnv1a64(enc->line[i], strlen(enc->line[i])) != want && ++bad <= 5)
            printf("  %s: record %zu (id %s) differs from HF: %.200s\n", c->name, i + 1, enc->ids[i],
                   enc->line[i]);
        i++;
    }
    free(line);
    fclose(f);
    snprintf(name, sizeof name, "%s: all %zu records have HF's ids and type ids (%zu differ)", c->name,
             enc->n, bad);
    CHECK(name, i == enc->n && enc->n > 0 && bad == 0);
}

static void check_samples(const encoded *enc)
{
    FILE *f = fopen("tests/golden/wptok/samples.jsonl", "r");
    CHECK("samples golden present", f != NULL);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0, n = 0, bad = 0;
    strbuf want = {0};
    while (getline(&line, &cap, f) > 0) {
        cJSON *rec = cJSON_Parse(line);
        const char *cname = cJSON_GetObjectItem(rec, "corpus")->valuestring;
        size_t index = (size_t)cJSON_GetObjectItem(rec, "index")->valuedouble;
        /* the golden's ids in the same "ids;type_ids" form */
        sb_clear(&want);
        const char *keys[2] = {"input_ids", "token_type_ids"};
        for (int k = 0; k < 2; k++) {
            if (k) sb_addc(&want, ';');
            int first = 1;
            for (const cJSON *x = cJSON_GetObjectItem(rec, keys[k])->child; x; x = x->next) {
                char num[16];
                snprintf(num, sizeof num, first ? "%d" : ",%d", x->valueint);
                sb_adds(&want, num);
                first = 0;
            }
        }
        for (size_t c = 0; c < NCORPORA; c++) {
            if (strcmp(corpora[c].name, cname) != 0) continue;
            const char *id = cJSON_GetObjectItem(rec, "id")->valuestring;
            int ok = index < enc[c].n && strcmp(enc[c].ids[index], id) == 0 &&
                     strcmp(enc[c].line[index], sb_str(&want)) == 0;
            if (!ok && ++bad <= 3) printf("  sample %s #%zu (id %s) differs\n", cname, index, id);
            n++;
        }
        cJSON_Delete(rec);
    }
    free(line);
    sb_free(&want);
    fclose(f);
    char name[128];
    snprintf(name, sizeof name, "%zu sample records: ids in full equal HF's", n);
    CHECK(name, n > 20 && bad == 0);
}

int main(void)
{
    prog_init("test_wordpiece_parity");
    const char *shared = getenv("SHARED");
    if (!shared || !*shared) shared = "../shared";
    encoded enc[NCORPORA];
    for (size_t c = 0; c < NCORPORA; c++) {
        encode_corpus(shared, &corpora[c], &enc[c]);
        check_hashes(&corpora[c], &enc[c]);
    }
    check_samples(enc);
    for (size_t c = 0; c < NCORPORA; c++) {
        for (size_t i = 0; i < enc[c].n; i++) free(enc[c].ids[i]), free(enc[c].line[i]);
        free(enc[c].ids);
        free(enc[c].line);
    }
    return check_exit();
}
