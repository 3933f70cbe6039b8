/* bert_gpu: training throughput of the CUDA backend (lib/bert/bert_cuda.h) on a
 * BERT configuration with random weights and random tokens, for
 * bench/bert_gpu.py, which runs PyTorch on the same shapes in the same run.
 *
 *   bert_gpu [--precision P] [--batch B] [--seq T] [--steps N] [--warmup W]
 *            [--layers L] [--hidden H] [--heads NH] [--intermediate I]
 *            [--vocab V] [--labels C] [--deterministic] [--peak-tflops X]
 *
 * Defaults: bert-base (12 layers, hidden 768, 12 heads, 3072, vocab 30522),
 * bf16, batch 32, sequence 128, 10 warm-up steps then 50 timed ones. A step
 * is what bert-train's loop does: zero_grad, forward, backward, gradient
 * norm + clipping (the norm comes to the host), AdamW. Prints one JSON
 * line: samples/s, tokens/s, ms a step, the FLOPs of a step (6 N per token
 * for the N weights of the matrix products of the encoder, plus 12 L H T
 * per token for the attention products, plus the pooler: the PaLM
 * convention, as llm.c counts) and the MFU against --peak-tflops. */
#include "bert/bert.h"
#include "bert/bert_cuda.h"
#include "core/common.h"
#include "core/prng.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    long B = 32, T = 128, steps = 50, warmup = 10, L = 12, H = 768, NH = 12, I = 3072, V = 30522, C = 3;
    double peak = 0;
    bert_cuda_options o;
    bert_cuda_options_default(&o);
    o.precision = BERT_BF16;
    static const struct option opts[] = {
        {"precision", required_argument, 0, 'p'}, {"batch", required_argument, 0, 'b'},
        {"seq", required_argument, 0, 't'},       {"steps", required_argument, 0, 'n'},
        {"warmup", required_argument, 0, 'w'},    {"layers", required_argument, 0, 'L'},
        {"hidden", required_argument, 0, 'H'},    {"heads", required_argument, 0, 'A'},
        {"intermediate", required_argument, 0, 'I'}, {"vocab", required_argument, 0, 'V'},
        {"labels", required_argument, 0, 'C'},    {"deterministic", no_argument, 0, 'd'},
        {"peak-tflops", required_argument, 0, 'P'}, {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (bert_precision_parse(optarg, &o.precision) < 0) die_usage("--precision: '%s'?", optarg);
            break;
        case 'b': B = parse_long_opt("--batch", optarg, 1, 1 << 16); break;
        case 't': T = parse_long_opt("--seq", optarg, 1, 1 << 16); break;
        case 'n': steps = parse_long_opt("--steps", optarg, 1, 1 << 20); break;
        case 'w': warmup = parse_long_opt("--warmup", optarg, 0, 1 << 20); break;
        case 'L': L = parse_long_opt("--layers", optarg, 0, 1024); break;
        case 'H': H = parse_long_opt("--hidden", optarg, 1, 1 << 16); break;
        case 'A': NH = parse_long_opt("--heads", optarg, 1, 1024); break;
        case 'I': I = parse_long_opt("--intermediate", optarg, 1, 1 << 18); break;
        case 'V': V = parse_long_opt("--vocab", optarg, 2, 1 << 24); break;
        case 'C': C = parse_long_opt("--labels", optarg, 2, 1 << 16); break;
        case 'd': o.deterministic = 1; break;
        case 'P': peak = parse_double_opt("--peak-tflops", optarg); break;
        default: die_usage("unknown option");
        }
    }
    if (H % NH) die_usage("--hidden must be a multiple of --heads");

    bert_config cfg;
    bert_config_init(&cfg, (int)V, (int)H, (int)L, (int)NH, (int)I, T > 512 ? (int)T : 512);
    cfg.initializer_range = 0.02;
    bert_model m;
    if (bert_init(&m, &cfg, (int)C, 1) < 0) die("%s", m.err);
    char err[512];
    if (bert_dev_attach(&m, BERT_DEVICE_CUDA, &o, err, sizeof err) != BERT_DEVICE_CUDA) die("%s", err);

    const size_t BT = (size_t)B * T;
    int *ids = xmalloc(BT * sizeof *ids), *labels = xmalloc((size_t)B * sizeof *labels);
    prng r;
    prng_seed(&r, 7, 0);
    for (size_t i = 0; i < BT; i++) ids[i] = 1 + (int)prng_below(&r, (uint64_t)V - 1);
    for (long b = 0; b < B; b++) labels[b] = (int)prng_below(&r, (uint64_t)C);
    const bert_batch batch = {(int)B, (int)T, ids, NULL, NULL, labels};
    const bert_adamw opt = {1e-5f, 0.9f, 0.999f, 1e-8f, 0.01f};

    double t0 = 0, first_loss = 0, last_loss = 0;
    long skipped = 0;
    for (long s = 0; s < warmup + steps; s++) {
        if (s == warmup) t0 = now();
        bert_dev_zero_grad(&m);
        if (bert_dev_forward(&m, &batch, 1) < 0) die("%s", m.err);
        if (s == 0) first_loss = m.loss;
        last_loss = m.loss;
        bert_dev_backward(&m, 0);
        bert_dev_clip_grad_norm(&m, 1.0f);
        skipped += !bert_dev_adamw_step(&m, &opt);
    }
    bert_dev_pull(&m, 0); /* waits for the last step */
    const double secs = now() - t0, step_s = secs / (double)steps;
    const double matmul_weights = (double)L * (4.0 * H * H + 2.0 * H * I);
    const double flops = 6.0 * matmul_weights * (double)BT + 12.0 * L * H * (double)T * (double)BT + 6.0 * H * H * B;
    printf("{\"impl\":\"pipeclf\",\"device\":\"%s\",\"precision\":\"%s\",\"deterministic\":%s,\"batch\":%ld,\"seq\":%ld,"
           "\"layers\":%ld,\"hidden\":%ld,\"steps\":%ld,\"step_ms\":%.3f,\"samples_per_s\":%.1f,\"tokens_per_s\":%.0f,"
           "\"flops_per_step\":%.6g,\"tflops\":%.1f",
           bert_cuda_describe(bert_dev_cuda(&m)), bert_precision_name(o.precision), o.deterministic ? "true" : "false",
           B, T, L, H, steps, step_s * 1e3, (double)B / step_s, (double)BT / step_s, flops, flops / step_s / 1e12);
    if (peak > 0) printf(",\"mfu\":%.4f", flops / step_s / 1e12 / peak);
    printf(",\"first_loss\":%.5f,\"last_loss\":%.5f,\"skipped_steps\":%ld}\n", first_loss, last_loss, skipped);
    bert_dev_detach(&m);
    bert_free(&m);
    free(ids);
    free(labels);
    return 0;
}
