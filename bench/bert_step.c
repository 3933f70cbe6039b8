/* Times lib/bert's training step (zero_grad + forward + backward + AdamW)
 * for bench/bert_step.py, which runs PyTorch on the same batch.
 * Usage: bert_step MODEL_DIR HEAD.safetensors BATCH.bin STEPS
 * BATCH.bin: int32 B, T, then input_ids, attention_mask [B*T], labels [B].
 * Prints one JSON object: the first step's loss, each timed step in ms
 * (after one warm-up step), and the OpenBLAS thread count. */
#include "bert.h"
#include "common.h"

#include <cblas.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    if (argc != 5) die_usage("usage: bert_step MODEL_DIR HEAD.safetensors BATCH.bin STEPS");
    long steps = parse_long_opt("STEPS", argv[4], 1, 1000);
    FILE *f = fopen(argv[3], "rb");
    if (!f) die("cannot open %s", argv[3]);
    int bt[2];
    if (fread(bt, 4, 2, f) != 2 || bt[0] < 1 || bt[1] < 1) die("%s: bad batch file", argv[3]);
    size_t n = (size_t)bt[0] * bt[1];
    int *ids = xmalloc(n * 4), *mask = xmalloc(n * 4), *labels = xmalloc((size_t)bt[0] * 4);
    if (fread(ids, 4, n, f) != n || fread(mask, 4, n, f) != n || fread(labels, 4, (size_t)bt[0], f) != (size_t)bt[0])
        die("%s: truncated batch file", argv[3]);
    fclose(f);
    bert_model m;
    if (bert_load(&m, argv[1], 3, 1) < 0) die("%s", m.err);
    if (bert_load_safetensors(&m, argv[2]) < 0) die("%s", m.err);
    bert_batch b = {bt[0], bt[1], ids, NULL, mask, labels};
    bert_adamw opt = {5e-5f, 0.9f, 0.999f, 1e-8f, 0.01f};
    printf("{\"threads\": %d, \"params\": %zu, \"step_ms\": [", openblas_get_num_threads(), m.num_params);
    float loss0 = 0;
    for (long s = 0; s <= steps; s++) {
        double t0 = now_ms();
        bert_zero_grad(&m);
        if (bert_forward(&m, &b, 1) < 0) die("%s", m.err);
        if (s == 0) loss0 = m.loss;
        bert_backward(&m, 0);
        bert_adamw_step(&m, &opt);
        double t1 = now_ms();
        if (s > 0) printf("%s%.3f", s > 1 ? ", " : "", t1 - t0); /* step 0 warms up */
    }
    printf("], \"loss0\": %.7f}\n", loss0);
    bert_free(&m);
    free(ids), free(mask), free(labels);
    return 0;
}
