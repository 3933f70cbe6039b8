/* The host-side logic of the CUDA backend, which every build has and no GPU
 * is needed for (a unit test of `make check`, built as
 * $(BUILD)/unit/test_bert_device by mk/cuda.mk):
 *
 *  - the option names of --device and --precision, and each precision's
 *    epsilon;
 *  - Philox4x32-10 (lib/bert/cuda/philox.h) against Random123's known-answer
 *    vectors, and the dropout draw built on it (the kept fraction);
 *  - the fp16 loss scaler's rule (torch.cuda.amp.GradScaler's: an overflow
 *    skips the step and halves the scale, `interval` clean steps double it);
 *  - the device switch on a machine without a usable GPU: cuda is refused
 *    with a reason, auto and cpu give the CPU, and a model on the CPU goes
 *    through bert_dev_* to lib/bert unchanged: the same bits as calling
 *    lib/bert directly, for a forward, backward, clipping and AdamW step. */
#include "../unit/check.h"
#include "bert/bert.h"
#include "bert/bert_cuda.h"
#include "core/common.h"
#include "bert/cuda/philox.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "tests/golden/bert/"

static void test_names(void)
{
    bert_device d;
    bert_precision p;
    CHECK("device names parse", bert_device_parse("cpu", &d) == 0 && d == BERT_DEVICE_CPU &&
                                    bert_device_parse("cuda", &d) == 0 && d == BERT_DEVICE_CUDA &&
                                    bert_device_parse("auto", &d) == 0 && d == BERT_DEVICE_AUTO);
    CHECK("an unknown device is refused", bert_device_parse("gpu", &d) < 0 && bert_device_parse("", &d) < 0);
    CHECK_STR("device name", bert_device_name(BERT_DEVICE_AUTO), "auto");
    CHECK("precision names parse, with torch's long names",
          bert_precision_parse("bf16", &p) == 0 && p == BERT_BF16 && bert_precision_parse("bfloat16", &p) == 0 &&
              p == BERT_BF16 && bert_precision_parse("float16", &p) == 0 && p == BERT_FP16 &&
              bert_precision_parse("tf32", &p) == 0 && p == BERT_TF32 && bert_precision_parse("fp32", &p) == 0 &&
              p == BERT_FP32);
    CHECK("an unknown precision is refused", bert_precision_parse("fp8", &p) < 0 && bert_precision_parse("FP16", &p) < 0);
    CHECK_STR("precision name", bert_precision_name(BERT_FP16), "fp16");
    CHECK("eps: 2^-24 fp32, 2^-11 tf32 and fp16, 2^-8 bf16",
          bert_precision_eps(BERT_FP32) == ldexp(1, -24) && bert_precision_eps(BERT_TF32) == ldexp(1, -11) &&
              bert_precision_eps(BERT_FP16) == ldexp(1, -11) && bert_precision_eps(BERT_BF16) == ldexp(1, -8));
}

/* Random123's tests/kat_vectors for philox4x32_10 */
static void test_philox(void)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu,
         0xa20bc7c6u, 0x6d5451fdu},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
         0x5001e420u, 0x24126ea1u},
    };
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        philox4 r = philox4x32_10(kat[i][0], kat[i][1], kat[i][2], kat[i][3], kat[i][4], kat[i][5]);
        for (int k = 0; k < 4; k++) ok &= r.v[k] == kat[i][6 + k];
    }
    CHECK("philox4x32_10: Random123's three known-answer vectors", ok);

    /* element i's draw is word i % 4 of the block for counter i / 4 */
    const uint64_t key = 0x0123456789abcdefull;
    philox4 blk = philox4x32_10(5, 0, 7, 0, (uint32_t)key, (uint32_t)(key >> 32));
    ok = 1;
    for (int k = 0; k < 4; k++) ok &= dropout_draw(key, 7, 20 + (uint64_t)k) == blk.v[k];
    philox4 high = philox4x32_10(1, 1, 7, 0, (uint32_t)key, (uint32_t)(key >> 32));
    ok &= dropout_draw(key, 7, (1ull << 34) + 4 + 2) == high.v[2];
    CHECK("dropout_draw: four elements a Philox block, the counter's high word above 2^34", ok);

    const int n = 200000;
    long kept = 0, kept_other_site = 0, same = 0;
    const uint32_t cut = dropout_cut(0.1);
    for (int i = 0; i < n; i++) {
        uint32_t a = dropout_draw(key, 3, (uint64_t)i), b = dropout_draw(key, 4, (uint64_t)i);
        kept += a >= cut;
        kept_other_site += b >= cut;
        same += (a >= cut) == (b >= cut);
    }
    char name[200];
    snprintf(name, sizeof name, "dropout p=0.1 keeps 90%% (%.4f and %.4f at two sites)", (double)kept / n,
             (double)kept_other_site / n);
    CHECK(name, fabs((double)kept / n - 0.9) < 0.005 && fabs((double)kept_other_site / n - 0.9) < 0.005);
    /* independent sites agree on 0.9^2 + 0.1^2 = 82% of the elements */
    snprintf(name, sizeof name, "dropout: two sites' masks are independent (agree on %.4f, expected 0.82)",
             (double)same / n);
    CHECK(name, fabs((double)same / n - 0.82) < 0.005);
    CHECK("dropout_cut: p 0 keeps everything, p 0.5 cuts at 2^31", dropout_cut(0) == 0 && dropout_cut(0.5) == 0x80000000u);
}

static void test_loss_scaler(void)
{
    bert_loss_scaler s;
    bert_loss_scaler_init(&s, 65536, 3);
    int took = bert_loss_scaler_update(&s, 1);
    CHECK("loss scaler: an overflow skips the step and halves the scale", !took && s.scale == 32768 && s.skipped == 1);
    int steps = 0;
    for (int i = 0; i < 2; i++) steps += bert_loss_scaler_update(&s, 0);
    CHECK("loss scaler: clean steps are taken; the scale holds before `interval` of them",
          steps == 2 && s.scale == 32768 && s.good_steps == 2);
    bert_loss_scaler_update(&s, 0);
    CHECK("loss scaler: `interval` clean steps in a row double it and restart the count",
          s.scale == 65536 && s.good_steps == 0);
    bert_loss_scaler_update(&s, 0);
    bert_loss_scaler_update(&s, 0);
    bert_loss_scaler_update(&s, 1);
    bert_loss_scaler_update(&s, 0);
    bert_loss_scaler_update(&s, 0);
    CHECK("loss scaler: an overflow restarts the count of clean steps", s.scale == 32768 && s.good_steps == 2 &&
                                                                            s.skipped == 2);
    bert_cuda_options o;
    bert_cuda_options_default(&o);
    CHECK("cuda options: fp32, not deterministic, device 0, torch's scaler (65536, every 2000)",
          o.precision == BERT_FP32 && !o.deterministic && o.device == 0 && o.init_loss_scale == 65536 &&
              o.loss_scale_interval == 2000);
}

static void load_tiny(bert_model *m)
{
    if (bert_load(m, GOLDEN "tiny_model", 0, 1) < 0) {
        printf("FAIL load %s: %s\n", GOLDEN "tiny_model", m->err);
        exit(1);
    }
}

/* Without a usable GPU (CI, this build without CUDA, CUDA_VISIBLE_DEVICES
 * empty) cuda is refused and auto is the CPU. On a machine with one the
 * test is about the CPU path only and says so. */
static void test_switch(void)
{
    char why[256] = "";
    const int n = bert_cuda_devices(why, sizeof why);
    bert_model a, b;
    load_tiny(&a);
    load_tiny(&b);
    char err[256] = "";
    if (n <= 0) {
        char name[400];
        snprintf(name, sizeof name, "no GPU here: bert_cuda_devices says why (%s)", why);
        CHECK(name, why[0] != 0 && strstr(why, "CUDA") != NULL);
        CHECK("no GPU here: --device cuda is refused with the reason",
              bert_dev_attach(&a, BERT_DEVICE_CUDA, NULL, err, sizeof err) == -1 && strcmp(err, why) == 0);
#ifndef PIPECLF_HAVE_CUDA
        CHECK("built without CUDA: the reason says so", n == -1 && strstr(why, "not built in") != NULL);
#endif
    } else {
        printf("SKIP the no-GPU checks: %d CUDA device(s) here\n", n);
    }
    CHECK("--device cpu attaches nothing", bert_dev_attach(&a, BERT_DEVICE_CPU, NULL, err, sizeof err) ==
                                                  BERT_DEVICE_CPU &&
                                              bert_dev_cuda(&a) == NULL);
    if (n <= 0)
        CHECK("no GPU here: --device auto is the CPU", bert_dev_attach(&a, BERT_DEVICE_AUTO, NULL, err, sizeof err) ==
                                                               BERT_DEVICE_CPU &&
                                                           bert_dev_cuda(&a) == NULL);
    CHECK("a model on the CPU: a non-finite norm is an error, not a skipped step", !bert_dev_skips_nonfinite(&a));

    /* the same step through bert_dev_* (model a) and lib/bert (model b) */
    int ids[2 * 6] = {2, 17, 40, 3, 0, 0, 2, 99, 100, 101, 7, 3}, mask[2 * 6] = {1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1};
    int labels[2] = {2, 0};
    bert_batch bt = {2, 6, ids, NULL, mask, labels};
    a.cfg.hidden_dropout = b.cfg.hidden_dropout = 0.1; /* the dropout generator is used too */
    bert_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    int rc_a = 0, rc_b = 0, took = 1;
    float norm_a = 0, norm_b = 0;
    for (int step = 0; step < 2; step++) {
        bert_dev_zero_grad(&a);
        bert_zero_grad(&b);
        rc_a |= bert_dev_forward(&a, &bt, 1);
        rc_b |= bert_forward(&b, &bt, 1);
        bert_dev_backward(&a, 0);
        bert_backward(&b, 0);
        norm_a = bert_dev_clip_grad_norm(&a, 0.5f);
        norm_b = bert_clip_grad_norm(&b, 0.5f);
        took &= bert_dev_adamw_step(&a, &opt);
        bert_adamw_step(&b, &opt);
    }
    bert_dev_pull(&a, BERT_SYNC_PARAMS | BERT_SYNC_OPTIMIZER | BERT_SYNC_GRADS); /* no-ops on the CPU */
    bert_dev_push(&a, BERT_SYNC_PARAMS);
    const size_t nb = a.num_params * sizeof(float);
    CHECK("bert_dev_* on the CPU = lib/bert: the same loss, norm, gradients, weights, moments, bit for bit",
          rc_a == 0 && rc_b == 0 && took && a.loss == b.loss && norm_a == norm_b && a.step == 2 &&
              memcmp(a.grads, b.grads, nb) == 0 && memcmp(a.params, b.params, nb) == 0 &&
              memcmp(a.adam_v, b.adam_v, nb) == 0 && memcmp(a.acts.logits, b.acts.logits, 2 * 3 * sizeof(float)) == 0);
    int bad_ids[2] = {2, 600};
    bert_batch bad = {1, 2, bad_ids, NULL, NULL, NULL};
    CHECK("bert_dev_forward on the CPU: lib/bert's error for a token outside the vocabulary",
          bert_dev_forward(&a, &bad, 0) == -1 && strstr(a.err, "outside the vocabulary") != NULL);
    bert_dev_detach(&a); /* a no-op */
    bert_free(&a);
    bert_free(&b);
}

int main(void)
{
    test_names();
    test_philox();
    test_loss_scaler();
    test_switch();
    return check_exit();
}
