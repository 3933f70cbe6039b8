/* libFuzzer target: the two JSON configs of a model directory. Input: a mode
 * byte, then the file. Mode bit 0 clear: config.json (bert_config_parse,
 * lib/bert/bertconfig); a config that parses must write (bert_config_to_json)
 * and parse back to the same numbers and labels, written again to the same
 * text, with sizes positive and labels present when num_labels says so.
 * Mode bit 0 set: tokenizer_config.json (lib/text/wordpiece's read_config,
 * through wp_load of a directory with a fixed vocab.txt); the special
 * tokens it names must be the vocabulary's, the flags 0/1, and an encoding
 * of a fixed text ids in the vocabulary starting with [CLS]. */
#include "bert/bertconfig.h"
#include "core/common.h"
#include "fuzz_common.h"
#include "text/wordpiece.h"

#include <stdlib.h>
#include <string.h>

static char dir[160];
static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n<s>\n</s>\n<unk>\nthe\nquick\n##s\nfox\n,\n.\n"
                            "caf\xc3\xa9\ncafe\n\xe4\xb8\xad\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init("fuzz_config");
    snprintf(dir, sizeof dir, "%s", fz_path(0, "model"));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) abort();
    char path[256];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    fz_write(path, vocab, sizeof vocab - 1);
    return 0;
}

static void same(const bert_config *a, const bert_config *b)
{
    FZ_CHECK(a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size && a->num_layers == b->num_layers &&
                 a->num_heads == b->num_heads && a->intermediate_size == b->intermediate_size &&
                 a->max_position == b->max_position && a->type_vocab_size == b->type_vocab_size &&
                 a->pad_token_id == b->pad_token_id && a->act == b->act,
             "the same sizes");
    FZ_CHECK(a->layer_norm_eps == b->layer_norm_eps && a->hidden_dropout == b->hidden_dropout &&
                 a->attn_dropout == b->attn_dropout && a->classifier_dropout == b->classifier_dropout &&
                 a->initializer_range == b->initializer_range,
             "the same numbers");
    FZ_CHECK(a->num_labels == b->num_labels && !a->labels == !b->labels, "the same label count");
    for (int i = 0; a->labels && i < a->num_labels; i++)
        FZ_CHECK(!strcmp(a->labels[i], b->labels[i]), "the same labels");
}

static void config_json(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[MODEL_ERR_MAX];
    memcpy(text, data, size);
    text[size] = 0;
    bert_config c, c2;
    if (bert_config_parse(&c, text, "config.json", err) == 0) {
        FZ_CHECK(c.vocab_size > 0 && c.hidden_size > 0 && c.num_layers > 0 && c.num_heads > 0 &&
                     c.intermediate_size > 0 && c.max_position > 0 && c.type_vocab_size > 0,
                 "sizes positive");
        FZ_CHECK(c.hidden_size % c.num_heads == 0, "heads divide the hidden size");
        FZ_CHECK(c.num_labels >= 0, "label count not negative");
        for (int i = 0; c.labels && i < c.num_labels; i++) FZ_CHECK(c.labels[i] != NULL, "every label named");
        char *j1 = bert_config_to_json(&c);
        FZ_CHECK(bert_config_parse(&c2, j1, "written", err) == 0, "the written config parses");
        same(&c, &c2);
        char *j2 = bert_config_to_json(&c2);
        FZ_CHECK(!strcmp(j1, j2), "written, parsed and written again: the same text");
        free(j1), free(j2);
        bert_config_free(&c), bert_config_free(&c2);
    } else {
        FZ_CHECK(err[0] && !strchr(err, '\n'), "a one-line error message");
    }
    free(text);
}

static void tokenizer_config(const uint8_t *data, size_t size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    fz_write(path, data, size);
    if (FZ_GUARD()) {
        wordpiece *wp = wp_load(dir);
        const wp_info *in = wp_get_info(wp);
        FZ_CHECK(in->lower == 0 || in->lower == 1, "lower 0/1");
        FZ_CHECK(in->strip_accents == 0 || in->strip_accents == 1, "strip_accents 0/1");
        FZ_CHECK(in->chinese_chars == 0 || in->chinese_chars == 1, "chinese_chars 0/1");
        int32_t sp[] = {in->cls_id, in->sep_id, in->unk_id};
        for (int k = 0; k < 3; k++) FZ_CHECK(sp[k] >= 0 && (size_t)sp[k] < in->vocab_size, "special ids in the vocabulary");
        FZ_CHECK(in->pad_id < (int32_t)in->vocab_size && in->mask_id < (int32_t)in->vocab_size, "optional ids in range");
        wp_encoding e = {0};
        static const char text[] = "The quick foxes, caf\xc3\xa9 [SEP] <s> \xe4\xb8\xad!";
        FZ_CHECK(wp_encode(wp, text, sizeof text - 1, NULL, 0, NULL, &e) == 0, "encodes");
        FZ_CHECK(e.len >= 2 && e.ids[0] == in->cls_id && e.ids[e.len - 1] == in->sep_id, "[CLS] ... [SEP]");
        for (size_t i = 0; i < e.len; i++) FZ_CHECK(e.ids[i] >= 0 && (size_t)e.ids[i] < in->vocab_size, "ids in range");
        wp_encoding_free(&e);
        wp_free(wp);
        fz_end();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1) tokenizer_config(data + 1, size - 1);
    else config_json(data + 1, size - 1);
    return 0;
}
