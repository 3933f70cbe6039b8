/* Mutation fuzzing of the model-file readers (lib/bert/pytorch_bin, lib/bert/safetensors,
 * lib/bert/bertconfig): each fixture of tests/golden/bert has random bytes flipped
 * or replaced, and is sometimes truncated, N times (default 1500); every
 * reader must accept or refuse it with a message, never crash. Run under
 * ASan + UBSan by `make fuzz-bert SANITIZE=1`. Usage: bert_files [N] [SEED] */
#include "bert/bertconfig.h"
#include "core/common.h"
#include "bert/pytorch_bin.h"
#include "bert/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = xmalloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) die("cannot read %s", path);
    fclose(f);
    return b;
}

static void convert_all(const st_file *s)
{
    char err[MODEL_ERR_MAX];
    for (size_t t = 0; t < s->n; t++) {
        float *x = xmalloc(s->tensors[t].numel * sizeof(float) + 1);
        st_to_f32(&s->tensors[t], x, err);
        free(x);
    }
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    long iters = argc > 1 ? parse_long_opt("N", argv[1], 1, 100000000) : 1500;
    srand((unsigned)(argc > 2 ? parse_long_opt("SEED", argv[2], 0, 1L << 30) : 1));
    const char *files[] = {"tests/golden/bert/micro_zip/pytorch_model.bin",
                           "tests/golden/bert/micro_legacy/pytorch_model.bin",
                           "tests/golden/bert/micro_safetensors/model.safetensors",
                           "tests/golden/bert/tiny_model/config.json"};
    char tmp[] = "/tmp/pipeclf-fuzz-XXXXXX", err[MODEL_ERR_MAX];
    int fd = mkstemp(tmp);
    if (fd < 0) die("mkstemp failed");
    close(fd);
    long accepted = 0, refused = 0;
    for (int k = 0; k < 4; k++) {
        size_t n;
        unsigned char *orig = slurp(files[k], &n), *b = xmalloc(n + 1);
        for (long it = 0; it < iters; it++) {
            memcpy(b, orig, n);
            for (int j = 1 + rand() % 8; j > 0; j--) {
                size_t at = (size_t)rand() % n;
                b[at] = it % 3 == 0 ? (unsigned char)rand() : (unsigned char)(b[at] ^ (1u << (rand() % 8)));
            }
            size_t len = it % 5 == 0 ? (size_t)rand() % n : n;
            st_file s;
            int rc;
            if (k < 2) {
                FILE *f = fopen(tmp, "wb");
                fwrite(b, 1, len, f);
                fclose(f);
                rc = pytorch_bin_open(&s, tmp, err);
                if (rc == 0) convert_all(&s), st_close(&s);
            } else if (k == 2) {
                rc = st_open_buffer(&s, b, len, "fuzz", err);
                if (rc == 0) convert_all(&s), st_close(&s);
            } else {
                b[len] = 0;
                bert_config c;
                rc = bert_config_parse(&c, (const char *)b, "fuzz", err);
                if (rc == 0) free(bert_config_to_json(&c)), bert_config_free(&c);
            }
            if (rc == 0) accepted++;
            else refused++;
        }
        free(b);
        free(orig);
    }
    unlink(tmp);
    printf("fuzz-bert: %ld mutated files: %ld accepted, %ld refused with a message, no crash\n",
           accepted + refused, accepted, refused);
    return 0;
}
