/* Regressions for what the libFuzzer targets of tests/fuzz found (FUZZING.md):
 * 1. a checkpoint whose epoch position lies past the epoch's examples is
 *    refused (fuzz_checkpoint: it was read, and a resume would start past
 *    the end of the order);
 * 2. a checkpoint whose log or options length runs past the end of the file
 *    is refused as truncated before anything is allocated (fuzz_checkpoint:
 *    a 400-byte file asked for 68 GB);
 * 4. a checkpoint that stores best weights apart for the current step is
 *    refused (fuzz_checkpoint: it read, and was written back without them,
 *    so the best weights changed in a write -> read round trip);
 * 3. the model-file modules' errors stay on one line when they quote a name
 *    or value holding control characters from the file (fuzz_config,
 *    fuzz_safetensors: a newline inside model_type or a tensor name). */
#include "bert/bert.h"
#include "bert/bertconfig.h"
#include "bert/checkpoint.h"
#include "bert/safetensors.h"
#include "check.h"
#include "core/common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the header's layout (lib/bert/checkpoint.c): the magic, then 64-bit integers */
enum { MAGIC_LEN = 8, H_STEP = 4, H_POS = 7, H_BEST_STEP = 10, H_LOG_LEN = 15 };

static char dir[] = "/tmp/pipeclf-fuzzreg.XXXXXX";

static void tiny(bert_model *m)
{
    bert_config c;
    bert_config_init(&c, 8, 4, 1, 1, 4, 4);
    if (bert_init(m, &c, 2, 7) < 0) {
        printf("FAIL bert_init: %s\n", m->err);
        exit(1);
    }
}

/* writes a checkpoint of 5 examples (at step 3, with best weights of step
 * 1 when best is set), sets header integer k to v, reads it back */
static int patched_best(bert_model *m, int best, int k, uint64_t v, char *err, size_t errlen)
{
    char path[96];
    snprintf(path, sizeof path, "%s/ckpt", dir);
    train_state s = {0};
    s.n = 5;
    s.order = xmalloc(5 * sizeof *s.order);
    for (size_t i = 0; i < 5; i++) s.order[i] = i;
    s.pos = 2;
    s.step = 3;
    s.best_step = best ? 1 : -1;
    if (best) s.best_params = xcalloc(m->num_params, sizeof(float));
    s.args_json = xstrdup("{}");
    sb_adds(&s.log, "{\"step\":1}\n");
    checkpoint_write(path, m, &s);
    train_state_free(&s);
    FILE *f = fopen(path, "r+b");
    fseek(f, MAGIC_LEN + 8L * k, SEEK_SET);
    fwrite(&v, sizeof v, 1, f);
    fclose(f);
    train_state t = {0};
    t.n = 5;
    int rc = checkpoint_read(path, m, &t, err, errlen);
    train_state_free(&t);
    unlink(path);
    return rc;
}

static int patched(bert_model *m, int k, uint64_t v, char *err, size_t errlen)
{
    return patched_best(m, 0, k, v, err, errlen);
}

int main(void)
{
    prog_init("test_fuzz_regressions");
    if (!mkdtemp(dir)) return 1;
    bert_model m;
    tiny(&m);
    char err[512];

    CHECK("checkpoint: position at the end of the epoch reads", patched(&m, H_POS, 5, err, sizeof err) == 0);
    CHECK("checkpoint: position past the epoch refused", patched(&m, H_POS, 6, err, sizeof err) < 0);
    CHECK("checkpoint: position past the epoch: message", strstr(err, "corrupt epoch position 6") != NULL);
    CHECK("checkpoint: log length past the file refused", patched(&m, H_LOG_LEN, 0x1000000000ull, err, sizeof err) < 0);
    CHECK("checkpoint: log length past the file: truncated", strstr(err, "truncated checkpoint") != NULL);
    CHECK("checkpoint: log length one past the file refused", patched(&m, H_LOG_LEN, 4096, err, sizeof err) < 0);
    CHECK("checkpoint: best weights of an earlier step read", patched_best(&m, 1, H_BEST_STEP, 1, err, sizeof err) == 0);
    CHECK("checkpoint: best weights stored for the current step refused",
          patched_best(&m, 1, H_BEST_STEP, 3, err, sizeof err) < 0);
    CHECK("checkpoint: best weights for the current step: message", strstr(err, "best weights stored") != NULL);
    bert_free(&m);

    char merr[MODEL_ERR_MAX];
    bert_config c;
    CHECK("config: model_type with a newline refused",
          bert_config_parse(&c, "{\"model_type\": \"bert\\n\\u001b[2J\"}", "config.json", merr) < 0);
    CHECK("config: the message is one line", !strchr(merr, '\n') && !strchr(merr, '\x1b'));
    CHECK("config: the message names the field", strstr(merr, "model_type") != NULL);

    static const char hdr[] = "{\"a\\nb\": 5}";
    unsigned char buf[64] = {0};
    uint64_t n = sizeof hdr - 1;
    memcpy(buf, &n, 8);
    memcpy(buf + 8, hdr, n);
    st_file s;
    CHECK("safetensors: bad entry named with a newline refused", st_open_buffer(&s, buf, 8 + n, "x.safetensors", merr) < 0);
    CHECK("safetensors: the message is one line", merr[0] && !strchr(merr, '\n'));

    rmdir(dir);
    return check_exit();
}
