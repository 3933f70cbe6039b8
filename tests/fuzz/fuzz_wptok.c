/* libFuzzer target for lib/text/wordpiece (make fuzz-wptok; not part of make
 * check). Each input is: a byte of options (pair or not, truncation
 * strategy, padding, special tokens), a byte of maximum length, a byte
 * placing the split between text and text_b, then the text bytes, any
 * bytes at all (invalid UTF-8, NUL, special tokens, marks). The encoder
 * must not crash, leak or read out of bounds, and its result must hold
 * together: ids in the vocabulary, type ids and mask 0/1, the length
 * within max_len when truncating, [CLS]/[SEP] in place, the same result
 * twice. The normalizer and pre-tokenizer run on the same bytes.
 * The model: $WPTOK_FUZZ_MODEL (default ../shared/models/bert-base-uncased). */
#include "core/common.h"
#include "text/wordpiece.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static wordpiece *wp;
static wp_encoding enc, again;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    prog_init("fuzz_wptok");
    const char *m = getenv("WPTOK_FUZZ_MODEL");
    wp = wp_load(m ? m : "../shared/models/bert-base-uncased");
    return 0;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_wptok: broken invariant: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    unsigned flags = data[0];
    wp_opts o = {0};
    o.max_len = data[1];
    o.truncation = (wp_truncation)(flags >> 1 & 3);
    o.padding = (wp_padding)((flags >> 3 & 3) % 3);
    o.no_special = flags >> 5 & 1;
    if (o.padding == WP_PAD_LONGEST) o.padding = WP_PAD_NONE;
    const char *text = (const char *)data + 3;
    size_t n = size - 3, na = n, nb = 0;
    const char *b = NULL;
    if (flags & 1) {
        na = n * data[2] / 255;
        b = text + na;
        nb = n - na;
    }
    const wp_info *in = wp_get_info(wp);
    int err = wp_encode(wp, text, na, b, nb, &o, &enc);
    if (!err) {
        for (size_t i = 0; i < enc.len; i++) {
            size_t len;
            check(enc.ids[i] >= 0 && (size_t)enc.ids[i] < in->vocab_size, "id in the vocabulary");
            check(wp_id_token(wp, enc.ids[i], &len) != NULL, "id has a token");
            check(enc.type_ids[i] <= 1 && enc.attention_mask[i] <= 1, "type ids and mask 0/1");
        }
        size_t special = o.no_special ? 0 : b ? 3 : 2;
        check(enc.len >= special + enc.n_a + enc.n_b, "length holds the parts");
        if (o.truncation != WP_TRUNC_NONE && o.max_len >= special && o.max_len > 0)
            check(enc.len <= (o.max_len > special ? o.max_len : special), "truncated to max_len");
        if (!o.no_special) check(enc.ids[0] == in->cls_id, "[CLS] first");
        if (o.padding == WP_PAD_MAX_LENGTH) check(enc.len >= o.max_len, "padded to max_len");
        int err2 = wp_encode(wp, text, na, b, nb, &o, &again);
        check(!err2 && again.len == enc.len && memcmp(again.ids, enc.ids, enc.len * sizeof *enc.ids) == 0,
              "deterministic");
    } else {
        check(err == WP_ERR_NO_SECOND || err == WP_ERR_TOO_SHORT, "known error");
        check(o.truncation == WP_TRUNC_ONLY_FIRST || o.truncation == WP_TRUNC_ONLY_SECOND,
              "errors only from only_first/only_second");
    }
    strbuf s = {0};
    wp_normalize(text, n, flags & 15, &s);
    wp_pretokenize(text, n, &s);
    sb_free(&s);
    return 0;
}
