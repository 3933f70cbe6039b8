/* libFuzzer target: the vocab.txt loader of lib/text/wordpiece (wp_load_with
 * on a file). Input: an options byte (bit 0 allow_duplicates, bit 1 lower,
 * bit 2 strip_accents, bit 3 take lower/strip as given, else as configured),
 * then vocab.txt. A vocabulary that loads must map every id to a token and
 * back (with duplicates allowed, an id a later duplicate replaced may have
 * no token, and a token maps to the line that won), hold
 * [CLS], [SEP] and [UNK], and encode text (made of its own tokens and a
 * fixed one) to ids in range, [CLS] first and [SEP] last. */
#include "core/common.h"
#include "fuzz_common.h"
#include "core/utf8.h"
#include "text/bert_normalize.h"
#include "text/wordpiece.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_vocab");
    return 0;
}

/* Line `id` of the vocabulary (split at '\n') holds only white space, as
 * the loader's trimming sees it (bert_is_space). */
static int line_is_blank(const uint8_t *v, size_t n, size_t id)
{
    size_t pos = 0;
    for (size_t k = 0; k < id && pos <= n; k++) {
        const uint8_t *nl = memchr(v + pos, '\n', n - pos);
        pos = nl ? (size_t)(nl - v) + 1 : n + 1;
    }
    if (pos > n) return 0;
    const uint8_t *nl = memchr(v + pos, '\n', n - pos);
    size_t end = nl ? (size_t)(nl - v) : n;
    while (pos < end) {
        uint32_t cp;
        int len = utf8_decode(v + pos, end - pos, &cp);
        if (len <= 0 || !bert_is_space(cp)) return 0;
        pos += (size_t)len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned f = data[0];
    const char *path = fz_path(0, "vocab.txt");
    fz_write(path, data + 1, size - 1);
    wp_load_opts o = {f & 8 ? (int)(f >> 1 & 1) : -1, f & 8 ? (int)(f >> 2 & 1) : -1, (int)(f & 1)};
    if (FZ_GUARD()) {
        wordpiece *wp = wp_load_with(path, &o);
        const wp_info *in = wp_get_info(wp);
        FZ_CHECK(in->vocab_size > 0, "a vocabulary is not empty");
        strbuf text = {0};
        for (size_t id = 0; id < in->vocab_size; id++) {
            size_t len, len2;
            const char *t = wp_id_token(wp, (int32_t)id, &len);
            /* with duplicates, as in HF, an earlier line a later one replaced has no token;
             * nor has a line that is empty (or white space), which HF keeps as "" */
            if (!t && (o.allow_duplicates || line_is_blank(data + 1, size - 1, id))) continue;
            FZ_CHECK(t != NULL, "every id has a token");
            int32_t back = wp_token_id(wp, t, len);
            if (o.allow_duplicates) {
                FZ_CHECK(back >= (int32_t)id, "a token's id is its line, or a later duplicate's");
                const char *t2 = wp_id_token(wp, back, &len2);
                FZ_CHECK(t2 && len2 == len && !memcmp(t, t2, len), "the later duplicate is the same token");
            } else {
                FZ_CHECK(back == (int32_t)id, "a token's id is its line");
            }
            if (id < 64) sb_addn(&text, t, len), sb_addc(&text, id % 3 ? ' ' : '-');
        }
        int32_t sp[] = {in->cls_id, in->sep_id, in->unk_id};
        for (int k = 0; k < 3; k++) FZ_CHECK(sp[k] >= 0 && (size_t)sp[k] < in->vocab_size, "special ids in the vocabulary");
        sb_adds(&text, " Unaffable caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87!");
        wp_encoding e = {0};
        FZ_CHECK(wp_encode(wp, text.s, text.len, "b", 1, NULL, &e) == 0, "encodes");
        FZ_CHECK(e.len >= 3 && e.ids[0] == in->cls_id && e.ids[e.len - 1] == in->sep_id, "[CLS] ... [SEP]");
        for (size_t i = 0; i < e.len; i++) FZ_CHECK(e.ids[i] >= 0 && (size_t)e.ids[i] < in->vocab_size, "ids in range");
        wp_encoding_free(&e);
        sb_free(&text);
        wp_free(wp);
        fz_end();
    }
    return 0;
}
