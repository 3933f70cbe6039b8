/* libFuzzer target: the CSV reader (lib/text/csvread, lib/text/columns) and
 * the cleaning steps (lib/text/textclean), driven as csvclean drives them.
 * Input: two option bytes, then the CSV. Byte 0: --replace-invalid, --html,
 * --urls, --mentions, --hashtags, --controls, --squeeze, --lower. Byte 1:
 * bits 0-1 which header column is --text (0: the column named "text",
 * absent or not: column_require's error), bits 2-3 --text-b (0: none),
 * bits 4-5 --label (0: none), bit 6 --alpha-only, bit 7 stopwords and
 * stemming (english). --max-repeat 2 with --squeeze. csv_max_row_bytes is
 * lowered to 2048 so that the size limit is reached.
 * Invariants: every field valid UTF-8 without NUL bytes, len = strlen;
 * rows' lines increasing; the row's fields counted as csvclean expects
 * (a short row is an error there, here just skipped); the cleaned text and
 * tokens valid UTF-8; the token output single-space separated. */
#include "core/common.h"
#include "fuzz_common.h"
#include "text/columns.h"
#include "text/csvread.h"
#include "text/textclean.h"

#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>

static stopword_set *stop;
static struct sb_stemmer *stem;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_csv");
    stop = stopwords_load("data/stopwords/english.txt"); /* run from the repository root */
    stem = sb_stemmer_new("english", "UTF_8");
    csv_max_row_bytes = 2048;
    return 0;
}

static void check_text(const strbuf *s, int tokens)
{
    FZ_CHECK(fz_utf8_valid(sb_str(s), s->len), "cleaned text is valid UTF-8");
    FZ_CHECK(strlen(sb_str(s)) == s->len, "cleaned text holds no NUL");
    if (tokens && s->len) {
        FZ_CHECK(s->s[0] != ' ' && s->s[s->len - 1] != ' ', "tokens not padded");
        FZ_CHECK(!strstr(s->s, "  "), "tokens joined by single spaces");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    unsigned f0 = data[0], f1 = data[1];
    const char *path = fz_path(0, "in.csv");
    fz_write(path, data + 2, size - 2);
    textclean_opts o = {
        .html = f0 >> 1 & 1, .urls = f0 >> 2 & 1, .mentions = f0 >> 3 & 1, .hashtags = f0 >> 4 & 1,
        .controls = f0 >> 5 & 1, .squeeze = f0 >> 6 & 1, .lower = f0 >> 7 & 1,
        .alpha_only = f1 >> 6 & 1, .stopwords = f1 >> 7 ? stop : NULL, .stemmer = f1 >> 7 ? stem : NULL,
    };
    o.max_repeat = o.squeeze ? 2 : 0;
    /* Read under the guard, clean after it: textclean keeps scratch buffers
     * from call to call, which a die's unwinding must not free. */
    static strbuf texts;  /* the text (and text_b) fields, NUL-separated */
    static size_t *ends, nends, cap;
    texts = (strbuf){0}; /* allocated under the guard only: a die frees them */
    ends = NULL, nends = cap = 0;
    if (FZ_GUARD()) {
        static csv_reader *r;
        static csv_row header, row;
        r = csv_open(path, f0 & 1 ? CSV_REPLACE_INVALID : 0);
        if (csv_next(r, &header)) {
            long text = (f1 & 3) == 0 || (f1 & 3) > header.n
                            ? (long)column_require(&header, csv_name(r), "text")
                            : column_find(&header, csv_name(r), header.field[(f1 & 3) - 1].s);
            long text_b = (f1 >> 2 & 3) && (f1 >> 2 & 3) <= header.n
                              ? column_find(&header, csv_name(r), header.field[(f1 >> 2 & 3) - 1].s)
                              : -1;
            long label = (f1 >> 4 & 3) ? (long)column_require(&header, csv_name(r), "label") : -1;
            FZ_CHECK(text >= 0 && (size_t)text < header.n, "text column in the header");
            FZ_CHECK(text_b < (long)header.n && label < (long)header.n, "columns in the header");
            long last = header.line;
            while (csv_next(r, &row)) {
                FZ_CHECK(row.line >= last, "row lines never decrease"); /* rows split by a bare CR share a line */
                last = row.line;
                for (size_t i = 0; i < row.n; i++) {
                    const strbuf *fl = &row.field[i];
                    FZ_CHECK(strlen(sb_str(fl)) == fl->len, "a field holds no NUL");
                    FZ_CHECK(fz_utf8_valid(sb_str(fl), fl->len), "a field is valid UTF-8");
                }
                if (row.n != header.n) continue; /* csvclean: "row has N fields, the header has M" */
                for (int k = 0; k < 2; k++) {
                    long col = k ? text_b : text;
                    if (col < 0) continue;
                    sb_addn(&texts, sb_str(&row.field[col]), row.field[col].len);
                    sb_addc(&texts, 0);
                    if (nends == cap) ends = realloc(ends, (cap = cap ? 2 * cap : 64) * sizeof *ends);
                    ends[nends++] = texts.len - 1;
                }
            }
        }
        csv_close(r);
        fz_end();
    } else {
        return 0; /* died: the unwinding freed texts and ends */
    }
    strbuf a = {0}, ta = {0};
    for (size_t i = 0, start = 0; i < nends; start = ends[i++] + 1) {
        sb_clear(&a), sb_clear(&ta);
        textclean_normalize(&o, texts.s + start, ends[i] - start, &a);
        check_text(&a, 0);
        if (textclean_has_token_steps(&o)) textclean_tokens(&o, sb_str(&a), a.len, &ta), check_text(&ta, 1);
    }
    sb_free(&a), sb_free(&ta), sb_free(&texts);
    free(ends);
    return 0;
}
