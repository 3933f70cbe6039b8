/* Times lib/bert for bench/bert_step.py, which runs PyTorch on the same
 * model, head and batch: a training step (zero_grad + forward + backward +
 * AdamW, dropout on) or, with --infer, an inference forward (eval mode).
 * Usage: bert_step [--threads N] [--infer] MODEL_DIR HEAD.safetensors BATCH.bin STEPS
 * BATCH.bin: int32 B, T, then input_ids, attention_mask [B*T], labels [B].
 * --threads N sets the threads the way bert-train and predict do
 * (openblas_set_num_threads, which lib/bert's own threads follow).
 * Prints one JSON object: the thread count in effect, each timed step in ms
 * (after one warm-up step), the CPU time of the timed steps, the first
 * training loss or, for inference, the logits (compared with PyTorch's by
 * the script). */
#include "bert/bert.h"
#include "core/common.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    const char *usage = "usage: bert_step [--threads N] [--infer] MODEL_DIR HEAD.safetensors BATCH.bin STEPS";
    long threads = 0;
    int infer = 0, ai = 1;
    for (; ai < argc && strncmp(argv[ai], "--", 2) == 0; ai++) {
        if (strcmp(argv[ai], "--infer") == 0) infer = 1;
        else if (strcmp(argv[ai], "--threads") == 0 && ai + 1 < argc) threads = parse_long_opt("--threads", argv[++ai], 1, 1024);
        else die_usage("%s", usage);
    }
    if (argc - ai != 4) die_usage("%s", usage);
    const char *model_dir = argv[ai], *head = argv[ai + 1], *batch_path = argv[ai + 2];
    long steps = parse_long_opt("STEPS", argv[ai + 3], 1, 1000);
    if (threads > 0) openblas_set_num_threads((int)threads);

    FILE *f = fopen(batch_path, "rb");
    if (!f) die("cannot open %s", batch_path);
    int bt[2];
    if (fread(bt, 4, 2, f) != 2 || bt[0] < 1 || bt[1] < 1) die("%s: bad batch file", batch_path);
    size_t n = (size_t)bt[0] * bt[1];
    int *ids = xmalloc(n * 4), *mask = xmalloc(n * 4), *labels = xmalloc((size_t)bt[0] * 4);
    if (fread(ids, 4, n, f) != n || fread(mask, 4, n, f) != n || fread(labels, 4, (size_t)bt[0], f) != (size_t)bt[0])
        die("%s: truncated batch file", batch_path);
    fclose(f);

    bert_model m;
    if (bert_load(&m, model_dir, 3, 1) < 0) die("%s", m.err);
    if (bert_load_safetensors(&m, head) < 0) die("%s", m.err);
    bert_batch b = {bt[0], bt[1], ids, NULL, mask, infer ? NULL : labels};
    bert_adamw opt = {5e-5f, 0.9f, 0.999f, 1e-8f, 0.01f};
    printf("{\"mode\": \"%s\", \"threads\": %d, \"params\": %zu, \"step_ms\": [", infer ? "infer" : "train",
           openblas_get_num_threads(), m.num_params);
    float loss0 = 0;
    double cpu_ms = 0; /* all threads' CPU time over the timed steps: shows the threads really ran */
    for (long s = 0; s <= steps; s++) {
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (infer) {
            if (bert_forward(&m, &b, 0) < 0) die("%s", m.err);
        } else {
            bert_zero_grad(&m);
            if (bert_forward(&m, &b, 1) < 0) die("%s", m.err);
            if (s == 0) loss0 = m.loss;
            bert_backward(&m, 0);
            bert_adamw_step(&m, &opt);
        }
        double t1 = now_ms(CLOCK_MONOTONIC);
        if (s > 0) { /* step 0 warms up */
            printf("%s%.3f", s > 1 ? ", " : "", t1 - t0);
            cpu_ms += now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    printf("], \"cpu_ms\": %.3f, \"loss0\": %.7f", cpu_ms, loss0);
    if (infer) {
        printf(", \"logits\": [");
        for (size_t i = 0; i < (size_t)bt[0] * (size_t)m.num_labels; i++) printf("%s%.7g", i ? ", " : "", m.acts.logits[i]);
        printf("]");
    }
    printf("}\n");
    bert_free(&m);
    free(ids), free(mask), free(labels);
    return 0;
}
