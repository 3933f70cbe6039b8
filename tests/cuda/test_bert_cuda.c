/* GPU parity of the CUDA backend (lib/bert/cuda) with lib/bert, the CPU
 * specification, and with the golden states of transformers + PyTorch
 * (tests/golden/bert, read as tests/unit/test_bert.c reads them), after
 * llm.c's test_gpt2: the test drives the real library through its C API
 * (bert_dev_attach, bert_dev_*) and exits non-zero on any mismatch.
 *
 * Tolerances scale with the precision's epsilon e (lib/bert/bert_cuda.h:
 * 2^-24 fp32, 2^-11 tf32 and fp16, 2^-8 bf16), as tol + |ref| e:
 *  - logits: within max(1e-5, K_LOGIT e max|ref|); the loss likewise;
 *  - every gradient element: |ours - ref| <= (1e-5 + K_GRAD e) s + 1e-4 |ref|,
 *    s the tensor's largest |ref| (the attention key biases, whose exact
 *    gradient is zero, against the model's largest), and per tensor the
 *    normwise error ||ours - ref|| / ||ref|| <= 1e-5 + K_NORM e;
 *  - the losses of the golden's 10 AdamW steps: within 1e-4 + K_STEP e |ref|.
 * For fp32 these are test_bert.c's own tolerances; K_* are set from the
 * errors measured (the report prints each check's error in units of e).
 * Every check is made against the golden state and against lib/bert run
 * on the same batch.
 *
 * Also: deterministic mode gives bit-identical weights over two runs, with
 * dropout on; dropout is seeded, and its backward agrees with finite
 * differences; gradient accumulation equals the larger batch; clipping;
 * fp16 loss scaling skips an overflowing step and halves the scale, and
 * grows it after `interval` clean steps; batches of other sizes, an
 * all-padding sequence, a forward without labels; pull/push; the training
 * loop (lib/bert/trainloop) on the GPU against the CPU, and killed + resumed
 * from a checkpoint: bit-identical weights and log, in fp32 and in fp16
 * with a loss scale that moved before the kill; MiniLM (when fetched).
 *
 * Built twice: for the GPU (make cuda-tests; make check-cuda runs it), and
 * with PIPECLF_CUDA_EMU against the CPU emulation of tests/cuda/cuemu as
 * a unit test of `make check` ($(BUILD)/unit/test_cuda_emu_model), where a
 * shorter list runs (fewer AdamW steps, no MiniLM). */
#include "../unit/check.h"
#include "bert/bert.h"
#include "bert/bert_cuda.h"
#include "../unit/bert_state.h"
#include "../unit/train_fixture.h"
#include "bert/checkpoint.h"
#include "bert/tokdata.h"
#include "bert/trainloop.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef PIPECLF_CUDA_EMU
#define EMU 1
#else
#define EMU 0
#endif

#define LOGIT_TOL 1e-5
#define LOSS_TOL 1e-6
#define STEP_LOSS_TOL 1e-4
#define GRAD_TOL 1e-5
#define GRAD_EPS 1e-4
#define K_LOGIT 16.0
#define K_GRAD 32.0
#define K_NORM 20.0
#define K_STEP 64.0

static const bert_precision all_precisions[] = {BERT_FP32, BERT_TF32, BERT_BF16, BERT_FP16};

static void attach_with(bert_model *m, const bert_cuda_options *o)
{
    char err[512];
    if (bert_dev_attach(m, BERT_DEVICE_CUDA, o, err, sizeof err) != BERT_DEVICE_CUDA) {
        printf("FAIL attach the model to the GPU: %s\n", err);
        exit(1);
    }
}

static void attach(bert_model *m, bert_precision p, int deterministic)
{
    bert_cuda_options o;
    bert_cuda_options_default(&o);
    o.precision = p;
    o.deterministic = deterministic;
    attach_with(m, &o);
}

static const char *pname(bert_precision p, int det)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "%s%s", bert_precision_name(p), det ? " deterministic" : "");
    return buf;
}

/* ------------------------------------------------------------------------
 * Comparisons. */

/* One gradient tensor against a full reference; prints the errors in units
 * of e on failure. */
static int close_tensor(const char *what, const char *name, const float *ours, const float *ref, size_t n,
                        double model_scale, double e)
{
    double scale = 0, worst = 0, d2 = 0, r2 = 0;
    for (size_t k = 0; k < n; k++) scale = fmax(scale, fabs(ref[k]));
    const double ts = is_key_bias(name) ? (e > 1e-6 ? 1.0 : 0.01) * model_scale : scale;
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        const double d = fabs((double)ours[k] - ref[k]);
        worst = fmax(worst, d);
        d2 += d * d;
        r2 += (double)ref[k] * ref[k];
        if (!(d <= (GRAD_TOL + K_GRAD * e) * ts + GRAD_EPS * fabs(ref[k]))) bad++;
    }
    const double rel = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
    const int norm_ok = is_key_bias(name) || rel <= 1e-5 + K_NORM * e;
    if (bad || !norm_ok || !(scale > 0) || isnan(worst))
        printf("  %s: %s: %d of %zu elements off; max |diff| %.3g = %.2f e x max|ref| %.3g; normwise %.3g = %.2f e\n",
               what, name, bad, n, worst, worst / (e * fmax(ts, 1e-30)), ts, rel, rel / e);
    return !bad && norm_ok && !isnan(worst) && (scale > 0 || is_key_bias(name));
}

/* Every gradient against the golden state (full, or summarized as
 * test_bert.c compares it) and against the CPU model's; the logits and
 * the loss too. */
static void check_forward_backward(const char *what, const bert_model *m, const state *s, const bert_model *cpu,
                                   double e)
{
    double lmax = 0, worst_gold = 0, worst_cpu = 0;
    for (int i = 0; i < s->B * s->C; i++) {
        lmax = fmax(lmax, fabs(s->logits[i]));
        worst_gold = fmax(worst_gold, fabs((double)m->acts.logits[i] - s->logits[i]));
        worst_cpu = fmax(worst_cpu, fabs((double)m->acts.logits[i] - cpu->acts.logits[i]));
    }
    const double ltol = fmax(LOGIT_TOL, K_LOGIT * e * lmax);
    char name[400];
    snprintf(name, sizeof name, "%s: logits within %.2g of transformers (max diff %.3g = %.2f e max|z|) and of lib/bert (%.3g)",
             what, ltol, worst_gold, worst_gold / (e * lmax), worst_cpu);
    CHECK(name, worst_gold <= ltol && worst_cpu <= ltol);
    const double losstol = fmax(LOSS_TOL, K_LOGIT * e * fmax(1.0, fabs(s->loss)));
    snprintf(name, sizeof name, "%s: loss within %.2g (ours %.8f, transformers %.8f, lib/bert %.8f)", what, losstol,
             m->loss, s->loss, cpu->loss);
    CHECK(name, fabs((double)m->loss - s->loss) <= losstol && fabs((double)m->loss - cpu->loss) <= losstol);

    double model_scale = 0;
    for (size_t i = 0; i < cpu->num_params; i++) model_scale = fmax(model_scale, fabs(cpu->grads[i]));
    int bad_gold = 0, bad_cpu = 0, compared = 0;
    for (int i = 0; i < s->ntensors; i++) {
        const grad_ref *g = &s->grads[i];
        const int t = bert_find_tensor(m, g->name);
        if (t < 0 || m->tensors[t].numel != (size_t)g->numel) {
            bad_gold++;
            continue;
        }
        const float *ours = m->grads + m->tensors[t].offset;
        compared++;
        if (g->full) {
            bad_gold += !close_tensor(what, g->name, ours, g->full, (size_t)g->numel, model_scale, e);
        } else {
            /* summarized: the samples, and sum / L2 with the element tolerance */
            double scale = 0, l2 = 0, sum = 0;
            for (int k = 0; k < g->nsample; k++) scale = fmax(scale, fabs(g->sample_val[k]));
            const double ts = is_key_bias(g->name) ? (e > 1e-6 ? 1.0 : 0.01) * model_scale : scale;
            const double tol = (GRAD_TOL + K_GRAD * e) * ts;
            int bad = 0;
            for (int k = 0; k < g->nsample; k++)
                if (!(fabs((double)ours[g->sample_idx[k]] - g->sample_val[k]) <= tol + GRAD_EPS * fabs(g->sample_val[k])))
                    bad++;
            for (int k = 0; k < g->numel; k++) {
                sum += ours[k];
                l2 += (double)ours[k] * ours[k];
            }
            l2 = sqrt(l2);
            if (!(fabs(sum - g->sum) <= tol * g->numel + GRAD_EPS * g->abs_sum)) bad++;
            if (!(fabs(l2 - g->l2) <= tol + (GRAD_EPS + K_NORM * e) * g->l2)) bad++;
            if (bad) printf("  %s: %s: summary off (%d)\n", what, g->name, bad);
            bad_gold += bad != 0;
        }
        bad_cpu += !close_tensor(what, g->name, ours, cpu->grads + m->tensors[t].offset, (size_t)g->numel, model_scale, e);
    }
    snprintf(name, sizeof name, "%s: all %d gradient tensors within tolerance of transformers (%d off)", what, compared,
             bad_gold);
    CHECK(name, bad_gold == 0 && compared == m->num_tensors);
    snprintf(name, sizeof name, "%s: ... and of lib/bert (%d off)", what, bad_cpu);
    CHECK(name, bad_cpu == 0);
}

/* ------------------------------------------------------------------------ */

static void run_cpu(bert_model *cpu, const state *s, const float *class_weights, bert_act act)
{
    load_tiny(cpu, 1);
    cpu->cfg.act = act;
    bert_set_class_weights(cpu, class_weights);
    bert_batch b = state_batch(s);
    bert_zero_grad(cpu);
    bert_forward(cpu, &b, 1);
    bert_backward(cpu, 0);
}

/* The golden state's batch through the GPU model: forward, backward, the
 * gradients pulled; then (steps > 0) that many of its AdamW steps. */
static void test_state(const char *file, const char *label, bert_act act, bert_precision p, int det, int steps)
{
    state s;
    load_state(&s, file);
    bert_model cpu, m;
    run_cpu(&cpu, &s, s.class_weights, act);
    load_tiny(&m, 1);
    m.cfg.act = act;
    bert_set_class_weights(&m, s.class_weights);
    attach(&m, p, det);
    char what[160];
    snprintf(what, sizeof what, "%s %s", label, pname(p, det));
    const double e = bert_precision_eps(p);
    bert_batch b = state_batch(&s);
    bert_dev_zero_grad(&m);
    const int rc = bert_dev_forward(&m, &b, 1);
    bert_dev_backward(&m, 0);
    bert_dev_pull(&m, BERT_SYNC_GRADS);
    CHECK("forward accepts the golden batch", rc == 0);
    check_forward_backward(what, &m, &s, &cpu, e);
    int pad_zero = 1;
    for (int j = 0; j < m.cfg.hidden_size; j++) pad_zero &= m.g.word_emb[(size_t)m.cfg.pad_token_id * m.cfg.hidden_size + j] == 0;
    char name[300];
    snprintf(name, sizeof name, "%s: no gradient on the padding embedding row", what);
    CHECK(name, pad_zero);

    if (steps > s.nsteps) steps = s.nsteps;
    if (steps > 0) {
        bert_dev_detach(&m);
        bert_free(&m);
        load_tiny(&m, 1);
        attach(&m, p, det);
        bert_adamw opt = {s.lr, s.beta1, s.beta2, s.eps, s.weight_decay};
        double worst = 0, worst_e = 0;
        int ok = 1;
        for (int step = 0; step < steps; step++) {
            bert_dev_zero_grad(&m);
            ok &= bert_dev_forward(&m, &b, 1) == 0;
            const double d = fabs((double)m.loss - s.losses[step]);
            worst = fmax(worst, d);
            worst_e = fmax(worst_e, d / (e * fabs(s.losses[step])));
            if (!(d <= STEP_LOSS_TOL + K_STEP * e * fabs(s.losses[step]))) {
                printf("  step %d: loss %.7f, transformers %.7f\n", step, m.loss, s.losses[step]);
                ok = 0;
            }
            bert_dev_backward(&m, 0);
            ok &= bert_dev_adamw_step(&m, &opt);
        }
        snprintf(name, sizeof name, "%s: %d AdamW steps, losses as transformers' (max diff %.3g = %.2f e |loss|)", what,
                 steps, worst, worst_e);
        CHECK(name, ok);
    }
    bert_dev_detach(&m);
    bert_free(&m);
    bert_free(&cpu);
    free_state(&s);
}

/* ------------------------------------------------------------------------ */

/* n training steps with dropout; returns the final weights */
static float *train_steps(bert_precision p, int det, int n, float *losses)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    bert_model m;
    load_tiny(&m, 1);
    set_dropout(&m, 0.1);
    bert_seed_dropout(&m, 5);
    attach(&m, p, det);
    bert_batch b = state_batch(&s);
    bert_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    for (int i = 0; i < n; i++) {
        bert_dev_zero_grad(&m);
        bert_dev_forward(&m, &b, 1);
        losses[i] = m.loss;
        bert_dev_backward(&m, 0);
        bert_dev_clip_grad_norm(&m, 1.0f);
        bert_dev_adamw_step(&m, &opt);
    }
    bert_dev_pull(&m, BERT_SYNC_PARAMS);
    float *w = copy_floats(m.params, m.num_params);
    bert_dev_detach(&m);
    bert_free(&m);
    free_state(&s);
    return w;
}

static void test_deterministic(bert_precision p)
{
    const int n = EMU ? 2 : 5;
    float l1[8], l2[8];
    bert_model ref;
    load_tiny(&ref, 1);
    const size_t nb = ref.num_params * sizeof(float);
    bert_free(&ref);
    float *a = train_steps(p, 1, n, l1), *b = train_steps(p, 1, n, l2);
    char name[200];
    snprintf(name, sizeof name, "%s deterministic, dropout 0.1: two runs of %d steps, bit-identical losses and weights",
             bert_precision_name(p), n);
    CHECK(name, memcmp(a, b, nb) == 0 && memcmp(l1, l2, (size_t)n * sizeof(float)) == 0);
    free(a);
    free(b);
}

static void push_params(bert_model *m)
{
    bert_dev_push(m, BERT_SYNC_PARAMS);
}

/* Seeded dropout on the GPU: the model's generator keys the masks; the
 * backward through them agrees with finite differences of the loss under
 * the same masks (as test_bert.c checks the CPU's). */
static void test_dropout(void)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    bert_model m;
    load_tiny(&m, 1);
    attach(&m, BERT_FP32, 1);
    bert_batch b = state_batch(&s);
    set_dropout(&m, 0.5);
    bert_seed_dropout(&m, 7);
    bert_dev_forward(&m, &b, 1);
    const float l1 = m.loss;
    bert_seed_dropout(&m, 7);
    bert_dev_forward(&m, &b, 1);
    const float l2 = m.loss;
    bert_seed_dropout(&m, 8);
    bert_dev_forward(&m, &b, 1);
    const float l3 = m.loss;
    bert_dev_forward(&m, &b, 1);
    const float l4 = m.loss;
    bert_dev_forward(&m, &b, 0);
    CHECK("gpu dropout: the same seed gives the same loss, bit for bit", l1 == l2);
    CHECK("gpu dropout: another seed, or the next forward, other masks", l1 != l3 && l3 != l4);
    CHECK("gpu dropout: off without training (the reference loss)", fabs((double)m.loss - s.loss) <= LOSS_TOL);

    set_dropout(&m, 0.1);
    bert_seed_dropout(&m, 11);
    bert_dev_zero_grad(&m);
    bert_dev_forward(&m, &b, 1);
    bert_dev_backward(&m, 0);
    bert_dev_pull(&m, BERT_SYNC_GRADS | BERT_SYNC_PARAMS);
    CHECK("gpu dropout: backward through the masks agrees with finite differences (7 tensors)",
          dropout_fd_agrees(&m, &b, 11, bert_dev_forward, push_params));
    bert_dev_detach(&m);
    bert_free(&m);
    free_state(&s);
}

/* Two micro-batches, each divided by the whole batch's weight sum, add up
 * to the batch of 4 (class weights on); then the norm and clipping. */
static void test_accumulation_and_clip(void)
{
    state s;
    load_state(&s, GOLDEN "tiny_weighted.state");
    bert_model m, cpu;
    load_tiny(&m, 1);
    bert_set_class_weights(&m, s.class_weights);
    attach(&m, BERT_FP32, 1);
    bert_batch full = state_batch(&s);
    bert_dev_zero_grad(&m);
    bert_dev_forward(&m, &full, 1);
    bert_dev_backward(&m, 0);
    bert_dev_pull(&m, BERT_SYNC_GRADS);
    float *want = copy_floats(m.grads, m.num_params);
    const double wsum = m.weight_sum;
    bert_dev_zero_grad(&m);
    for (int half = 0; half < 2; half++) {
        bert_batch mb = state_micro_batch(&s, half);
        bert_dev_forward(&m, &mb, 1);
        bert_dev_backward(&m, wsum);
    }
    bert_dev_pull(&m, BERT_SYNC_GRADS);
    double scale;
    const double worst = max_diff(m.grads, want, m.num_params, &scale);
    char name[300];
    snprintf(name, sizeof name, "gpu: 2 accumulated micro-batches = the batch of 4 (max diff %.3g, max |g| %.3g)", worst,
             scale);
    CHECK(name, worst <= 1e-5 && scale > 0.01);

    run_cpu(&cpu, &s, s.class_weights, BERT_ACT_GELU);
    double ss = 0;
    for (size_t i = 0; i < cpu.num_params; i++) ss += (double)cpu.grads[i] * cpu.grads[i];
    const float cpu_norm = bert_clip_grad_norm(&cpu, (float)(sqrt(ss) / 2));
    const float norm = bert_dev_clip_grad_norm(&m, (float)(sqrt(ss) / 2));
    bert_dev_pull(&m, BERT_SYNC_GRADS);
    double ss2 = 0;
    for (size_t i = 0; i < m.num_params; i++) ss2 += (double)m.grads[i] * m.grads[i];
    snprintf(name, sizeof name, "gpu clip_grad_norm: the norm before clipping is lib/bert's (%.7g vs %.7g)", norm,
             cpu_norm);
    CHECK(name, fabs(norm - cpu_norm) <= 1e-5 * cpu_norm);
    CHECK("gpu clip_grad_norm: the clipped gradients' norm is max_norm", fabs(sqrt(ss2) - sqrt(ss) / 2) <= 1e-4 * sqrt(ss));

    /* one AdamW step after clipping: lib/bert's weights and moments */
    bert_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    bert_dev_adamw_step(&m, &opt);
    bert_adamw_step(&cpu, &opt);
    bert_dev_pull(&m, BERT_SYNC_PARAMS | BERT_SYNC_OPTIMIZER);
    double dp = 0, dm = 0, mscale = 0;
    for (int t = 0; t < m.num_tensors; t++) {
        /* the key biases' gradient is rounding noise, which AdamW turns into steps of about lr */
        if (is_key_bias(m.tensors[t].name)) continue;
        for (size_t i = m.tensors[t].offset; i < m.tensors[t].offset + m.tensors[t].numel; i++) {
            dp = fmax(dp, fabs((double)m.params[i] - cpu.params[i]));
            dm = fmax(dm, fabs((double)m.adam_m[i] - cpu.adam_m[i]));
            mscale = fmax(mscale, fabs(cpu.adam_m[i]));
        }
    }
    snprintf(name, sizeof name, "gpu adamw after clipping: lib/bert's weights (max diff %.3g) and moments (%.3g of %.3g), "
             "the key biases aside", dp, dm, mscale);
    /* AdamW's first step moves each weight by about lr sign(g): a gradient near
     * zero may come out a little differently; 1% of lr */
    CHECK(name, m.step == 1 && dp <= 1e-2 * opt.lr && dm <= 1e-5 * mscale);
    bert_dev_detach(&m);
    bert_free(&m);
    bert_free(&cpu);
    free(want);
    free_state(&s);
}

/* fp16: a loss scale so large the scaled gradients overflow skips the step
 * (the weights stay, the scale halves); with a modest scale, `interval`
 * clean steps double it. */
static void attach_fp16(bert_model *m, double scale, long interval)
{
    bert_cuda_options o;
    bert_cuda_options_default(&o);
    o.precision = BERT_FP16;
    o.deterministic = 1;
    o.init_loss_scale = scale;
    o.loss_scale_interval = interval;
    attach_with(m, &o);
}

static void test_loss_scaling(void)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    bert_model m, cpu;
    load_tiny(&m, 1);
    attach_fp16(&m, ldexp(1.0, 100), 2);
    CHECK("fp16: a non-finite gradient norm skips the step (not an error)", bert_dev_skips_nonfinite(&m));
    const bert_loss_scaler *sc = bert_cuda_scaler(bert_dev_cuda(&m));
    bert_batch b = state_batch(&s);
    bert_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    float *before = copy_floats(m.params, m.num_params);
    bert_dev_zero_grad(&m);
    bert_dev_forward(&m, &b, 1);
    bert_dev_backward(&m, 0);
    const float norm = bert_dev_clip_grad_norm(&m, 1.0f);
    const int took = bert_dev_adamw_step(&m, &opt);
    bert_dev_pull(&m, BERT_SYNC_PARAMS);
    char name[300];
    snprintf(name, sizeof name, "fp16 scale 2^100: the gradients overflow (norm %g), the step is skipped, the weights "
             "stay, m->step stays 0", norm);
    CHECK(name, !isfinite(norm) && !took && m.step == 0 && memcmp(before, m.params, m.num_params * sizeof *before) == 0);
    CHECK("fp16: ... and the scale halves to 2^99", sc && sc->scale == ldexp(1.0, 99) && sc->skipped == 1);
    bert_dev_detach(&m);
    bert_free(&m);

    load_tiny(&m, 1);
    attach_fp16(&m, 1024, 2);
    sc = bert_cuda_scaler(bert_dev_cuda(&m));
    run_cpu(&cpu, &s, NULL, BERT_ACT_GELU);
    const float cpu_norm = bert_clip_grad_norm(&cpu, INFINITY);
    float gpu_norm = 0;
    double clipped = 0;
    int taken = 0;
    for (int i = 0; i < 2; i++) {
        bert_dev_zero_grad(&m);
        bert_dev_forward(&m, &b, 1);
        bert_dev_backward(&m, 0);
        const float nrm = bert_dev_clip_grad_norm(&m, 1.0f);
        if (i == 0) {
            gpu_norm = nrm;
            /* the gradients as clipping leaves them: unscaled, then clipped to norm 1 */
            bert_dev_pull(&m, BERT_SYNC_GRADS);
            double ss = 0;
            for (size_t k = 0; k < m.num_params; k++) ss += (double)m.grads[k] * m.grads[k];
            clipped = sqrt(ss);
        }
        taken += bert_dev_adamw_step(&m, &opt);
    }
    snprintf(name, sizeof name, "fp16 scale 1024, interval 2: two clean steps are taken and double the scale (%g)",
             sc->scale);
    CHECK(name, taken == 2 && sc->scale == 2048 && m.step == 2 && sc->skipped == 0);
    snprintf(name, sizeof name, "fp16: the unscaled gradient norm is lib/bert's (%.6g vs %.6g)", gpu_norm, cpu_norm);
    CHECK(name, fabs(gpu_norm - cpu_norm) <= K_NORM * bert_precision_eps(BERT_FP16) * cpu_norm);
    snprintf(name, sizeof name, "fp16: the gradients after clipping to 1: unscaled and clipped (norm %.6g)", clipped);
    CHECK(name, gpu_norm > 1 && fabs(clipped - 1.0) <= 1e-5);
    bert_dev_detach(&m);
    bert_free(&m);
    bert_free(&cpu);
    free(before);
    free_state(&s);
}

/* Batches of other shapes on one GPU model: a larger batch (buffers grow),
 * then smaller ones; a forward without labels; an all-padding sequence
 * (uniform attention, as on the CPU); an invalid token. */
static void test_shapes(bert_precision p)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    bert_model m, cpu;
    load_tiny(&m, 1);
    load_tiny(&cpu, 1);
    attach(&m, p, 1);
    const double e = bert_precision_eps(p);
    const int T = 24, B = 6;
    int ids[6 * 24], mask[6 * 24], types[6 * 24], labels[6] = {0, 1, 2, 2, 1, 0};
    for (int i = 0; i < B * T; i++) {
        ids[i] = 1 + (i * 37) % 500;
        types[i] = (i / 5) % 2;
        mask[i] = (i % T) < 4 + (i / T) * 3;
    }
    for (int t = 0; t < T; t++) mask[3 * T + t] = 0; /* sequence 3: no token at all */
    int ok = 1;
    double worst = 0, zmax = 0;
    const int shapes[4][2] = {{2, 8}, {6, 24}, {1, 5}, {4, 24}};
    for (int k = 0; k < 4; k++) {
        const int b = shapes[k][0], t = shapes[k][1];
        int sub_ids[6 * 24], sub_mask[6 * 24], sub_types[6 * 24];
        for (int r = 0; r < b; r++)
            for (int c = 0; c < t; c++) {
                sub_ids[r * t + c] = ids[r * T + c];
                sub_mask[r * t + c] = mask[r * T + c];
                sub_types[r * t + c] = types[r * T + c];
            }
        bert_batch bt = {b, t, sub_ids, sub_types, sub_mask, k % 2 ? labels : NULL};
        ok &= bert_dev_forward(&m, &bt, 0) == 0;
        ok &= bert_forward(&cpu, &bt, 0) == 0;
        for (int i = 0; i < b * m.num_labels; i++) {
            ok &= isfinite(m.acts.logits[i]);
            worst = fmax(worst, fabs((double)m.acts.logits[i] - cpu.acts.logits[i]));
            zmax = fmax(zmax, fabs(cpu.acts.logits[i]));
        }
        if (k % 2) ok &= fabs((double)m.loss - cpu.loss) <= fmax(LOSS_TOL, K_LOGIT * e * fmax(1, cpu.loss));
    }
    char name[300];
    snprintf(name, sizeof name, "%s: batches 2x8, 6x24, 1x5, 4x24 (token types, padding, a sequence of padding only, "
             "with and without labels): lib/bert's logits (max diff %.3g)", bert_precision_name(p), worst);
    CHECK(name, ok && worst <= fmax(LOGIT_TOL, K_LOGIT * e * zmax));
    int bad[3] = {2, 512, 3};
    bert_batch bt = {1, 3, bad, NULL, NULL, NULL};
    CHECK("gpu: a token outside the vocabulary is lib/bert's error",
          bert_dev_forward(&m, &bt, 0) == -1 && strstr(m.err, "token id 512 is outside the vocabulary") != NULL);
    bert_dev_detach(&m);
    bert_free(&m);
    bert_free(&cpu);
    free_state(&s);
}

/* ------------------------------------------------------------------------
 * The training loop on the GPU. */

/* The GPU options of run_loop: fp32, deterministic; or fp16 with this loss
 * scaling (init_loss_scale > 0). */
static bert_cuda_options loop_gpu;

static void attach_loop(bert_model *m)
{
    attach_with(m, &loop_gpu);
}

static void loop_options(bert_precision p, double init_loss_scale, long interval)
{
    bert_cuda_options_default(&loop_gpu);
    loop_gpu.precision = p;
    loop_gpu.deterministic = 1;
    if (init_loss_scale > 0) loop_gpu.init_loss_scale = init_loss_scale, loop_gpu.loss_scale_interval = interval;
}

/* The scaler of the last run_loop on the GPU, as it ended */
static bert_loss_scaler loop_scaler;

static void finish_loop(bert_model *m)
{
    const bert_cuda *g = bert_dev_cuda(m);
    const bert_loss_scaler *sc = g ? bert_cuda_scaler(g) : NULL;
    if (sc) loop_scaler = *sc;
    else memset(&loop_scaler, 0, sizeof loop_scaler);
    bert_dev_detach(m);
}

/* test_train.c's resumable run (fewer epochs on the emulation), on a
 * device; returns the final weights */
static float *run_loop(bert_device dev, double dropout, const tok_dataset *tr, const tok_dataset *va, const char *ckpt,
                       int resume, long crash_after, strbuf *log, long *resumed_from, int *status)
{
    train_options o;
    resumable_options(&o, EMU ? 1 : 3, ckpt, resume);
    o.crash_after = crash_after;
    const tiny_hooks h = {dev == BERT_DEVICE_CUDA ? attach_loop : NULL, finish_loop};
    return train_tiny(&o, 9, dropout, tr, va, &h, log, resumed_from, status);
}

/* A scratch directory from the template dir; ckpt: the checkpoint's path in it */
static void checkpoint_dir(char *dir, char *ckpt, size_t n)
{
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp\n");
        exit(1);
    }
    snprintf(ckpt, n, "%s/checkpoint.bin", dir);
}

/* The losses of a log's train records */
static int log_losses(const strbuf *log, double *out, int max)
{
    int n = 0;
    for (const char *p = log->s; p && (p = strstr(p, "\"train_loss\":")) && n < max; p++) out[n++] = atof(p + 13);
    return n;
}

static void test_trainloop(void)
{
    train_fixture f; /* f.m: the tensor names */
    fixture_open(&f, 9);
    const size_t nb = f.m.num_params * sizeof(float);
    char dir[] = "/tmp/pipeclf-cuda-test.XXXXXX", ckpt[64];
    checkpoint_dir(dir, ckpt, sizeof ckpt);
    strbuf log_cpu = {0}, log0 = {0}, log1 = {0};
    long from = -1;
    int status = 0;
    loop_options(BERT_FP32, 0, 0);
    /* without dropout (the devices draw different masks): the same run */
    float *cpu = run_loop(BERT_DEVICE_CPU, 0, &f.tr, &f.va, NULL, 0, 0, &log_cpu, &from, &status);
    float *gpu = run_loop(BERT_DEVICE_CUDA, 0, &f.tr, &f.va, NULL, 0, 0, &log0, &from, &status);
    double lc[64], lg[64];
    const int nc = log_losses(&log_cpu, lc, 64), ng = log_losses(&log0, lg, 64);
    double worst = 0;
    int ok = nc == ng && ng > 0;
    for (int i = 0; i < ng && ok; i++) worst = fmax(worst, fabs(lg[i] - lc[i]) / lc[i]);
    const double wworst = weights_max_diff(&f.m, gpu, cpu);
    char name[300];
    snprintf(name, sizeof name, "trainloop on the GPU (fp32, no dropout) = on the CPU: %d steps' losses (max rel diff "
             "%.3g), final weights but the key biases (max diff %.3g)", ng, worst, wworst);
    CHECK(name, ok && worst <= 1e-4 && wworst <= 1e-4);
    free(gpu);

    /* with dropout on: the whole run, then killed and resumed */
    float *whole = run_loop(BERT_DEVICE_CUDA, 0.1, &f.tr, &f.va, NULL, 0, 0, &log0, &from, &status);
    run_loop(BERT_DEVICE_CUDA, 0.1, &f.tr, &f.va, ckpt, 0, EMU ? 3 : 7, NULL, NULL, &status);
    CHECK("trainloop on the GPU: the child run was killed by SIGKILL", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    float *resumed = run_loop(BERT_DEVICE_CUDA, 0.1, &f.tr, &f.va, ckpt, 1, 0, &log1, &from, &status);
    snprintf(name, sizeof name, "trainloop on the GPU, deterministic: killed after step %d and resumed from the "
             "checkpoint of step %ld: bit-identical weights and log", EMU ? 3 : 7, from);
    CHECK(name, from == (EMU ? 3 : 6) && memcmp(whole, resumed, nb) == 0 && log0.len == log1.len &&
                    memcmp(log0.s, log1.s, log0.len) == 0);
    unlink(ckpt);
    rmdir(dir);
    free(cpu);
    free(whole);
    free(resumed);
    sb_free(&log_cpu);
    sb_free(&log0);
    sb_free(&log1);
    fixture_close(&f);
}

/* fp16 with a loss scale that moves before the checkpoint (interval 1: a
 * clean step doubles it, an overflow halves it, from 2^SCALE0, so the run
 * hovers at the largest scale its gradients bear, taking every other step
 * or so): killed and resumed, it skips and grows where the whole run did,
 * bit-identical weights, log and scaler. The same checkpoint without the
 * scaler's state (as version 1 wrote it) resumes to another run (the fresh
 * scale 2^SCALE0 overflows where the whole run's 2^16 did not): what the
 * state is for. */
#define SCALE0 17

static void test_trainloop_fp16(void)
{
    train_fixture f; /* f.m: the model the checkpoint is read into */
    fixture_open(&f, 9);
    const size_t nb = f.m.num_params * sizeof(float);
    char dir[] = "/tmp/pipeclf-cuda-test.XXXXXX", ckpt[64];
    checkpoint_dir(dir, ckpt, sizeof ckpt);
    strbuf log0 = {0}, log1 = {0};
    long from = -1;
    int status = 0;
    const long crash = EMU ? 3 : 7;
    loop_options(BERT_FP16, ldexp(1.0, SCALE0), 1);
    float *whole = run_loop(BERT_DEVICE_CUDA, 0.1, &f.tr, &f.va, NULL, 0, 0, &log0, &from, &status);
    const bert_loss_scaler end = loop_scaler;
    run_loop(BERT_DEVICE_CUDA, 0.1, &f.tr, &f.va, ckpt, 0, crash, NULL, NULL, &status);
    CHECK("trainloop fp16: the child run was killed by SIGKILL", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    train_state s = {0};
    s.n = f.tr.n;
    char err[MODEL_ERR_MAX], name[400];
    const int read = checkpoint_read(ckpt, &f.m, &s, err, sizeof err) == 0;
    snprintf(name, sizeof name, "trainloop fp16: the checkpoint of step %ld holds the loss scaler: scale 2^%g (from "
             "2^%d), %ld steps skipped, %ld clean since the last change", s.step, log2(s.scaler.scale), SCALE0,
             s.scaler.skipped, s.scaler.good_steps);
    CHECK(name, read && s.has_scaler && s.scaler.skipped > 0 && s.scaler.scale != ldexp(1.0, SCALE0 - (int)s.scaler.skipped));

    float *resumed = run_loop(BERT_DEVICE_CUDA, 0.1, &f.tr, &f.va, ckpt, 1, 0, &log1, &from, &status);
    snprintf(name, sizeof name, "trainloop fp16, deterministic: killed after step %ld and resumed from the checkpoint "
             "of step %ld: bit-identical weights, log and loss scaler (2^%g, %ld skipped)", crash, from,
             log2(end.scale), end.skipped);
    CHECK(name, from == s.step && memcmp(whole, resumed, nb) == 0 && log0.len == log1.len &&
                    memcmp(log0.s, log1.s, log0.len) == 0 && loop_scaler.scale == end.scale &&
                    loop_scaler.good_steps == end.good_steps && loop_scaler.skipped == end.skipped);
    free(resumed);

    /* the same checkpoint without the scaler: the scale restarts at 2^SCALE0 */
    s.has_scaler = 0;
    checkpoint_write(ckpt, &f.m, &s);
    resumed = run_loop(BERT_DEVICE_CUDA, 0.1, &f.tr, &f.va, ckpt, 1, 0, &log1, &from, &status);
    snprintf(name, sizeof name, "trainloop fp16: resumed without the scaler's state, the run ends elsewhere (%ld steps "
             "skipped after the resume, not %ld)", loop_scaler.skipped, end.skipped - s.scaler.skipped);
    const int elsewhere = from == s.step && memcmp(whole, resumed, nb) != 0;
    /* the emulation's numbers are fixed; a GPU's skips may fall otherwise,
     * and a fresh scale that happens to skip the same steps is no fault */
    if (EMU || elsewhere) CHECK(name, elsewhere);
    else printf("SKIP %s: the same steps were skipped here\n", name);
    unlink(ckpt);
    rmdir(dir);
    free(whole);
    free(resumed);
    train_state_free(&s);
    sb_free(&log0);
    sb_free(&log1);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */

static void test_minilm(bert_precision p)
{
    char dir[4096];
    if (!minilm_found(dir, sizeof dir)) return;
    state s;
    load_state(&s, GOLDEN "minilm.state");
    bert_model cpu, m;
    for (int k = 0; k < 2; k++) {
        bert_model *x = k ? &m : &cpu;
        if (bert_load(x, dir, 3, 1) < 0 || bert_load_safetensors(x, GOLDEN "minilm_head.safetensors") != 2) {
            printf("FAIL load minilm: %s\n", x->err);
            return;
        }
    }
    bert_batch b = state_batch(&s);
    bert_zero_grad(&cpu);
    bert_forward(&cpu, &b, 0); /* the reference ran without dropout */
    bert_backward(&cpu, 0);
    attach(&m, p, 1);
    bert_dev_zero_grad(&m);
    bert_dev_forward(&m, &b, 0);
    bert_dev_backward(&m, 0);
    bert_dev_pull(&m, BERT_SYNC_GRADS);
    char what[100];
    snprintf(what, sizeof what, "minilm %s", bert_precision_name(p));
    check_forward_backward(what, &m, &s, &cpu, bert_precision_eps(p));
    bert_dev_detach(&m);
    bert_free(&m);
    bert_free(&cpu);
    free_state(&s);
}

int main(void)
{
    char why[256];
    if (bert_cuda_devices(why, sizeof why) <= 0) {
        printf("FAIL no CUDA device to test on: %s\n", why);
        return 1;
    }
    const int steps = EMU ? 3 : 10;
    for (size_t k = 0; k < sizeof all_precisions / sizeof all_precisions[0]; k++)
        test_state(GOLDEN "tiny.state", "tiny", BERT_ACT_GELU, all_precisions[k], 1, steps);
    test_state(GOLDEN "tiny.state", "tiny", BERT_ACT_GELU, BERT_FP32, 0, EMU ? 0 : steps);
    test_state(GOLDEN "tiny.state", "tiny", BERT_ACT_GELU, BERT_BF16, 0, 0);
    test_state(GOLDEN "tiny_weighted.state", "tiny class-weighted", BERT_ACT_GELU, BERT_FP32, 1, 0);
    test_state(GOLDEN "tiny_weighted.state", "tiny class-weighted", BERT_ACT_GELU, BERT_BF16, 1, 0);
    test_state(GOLDEN "tiny_gelu_new.state", "tiny gelu_new", BERT_ACT_GELU_TANH, BERT_FP32, 1, 0);
    test_state(GOLDEN "tiny_relu.state", "tiny relu", BERT_ACT_RELU, BERT_FP32, 1, 0);
    if (!EMU) {
        test_state(GOLDEN "tiny_gelu_new.state", "tiny gelu_new", BERT_ACT_GELU_TANH, BERT_FP16, 1, 0);
        test_state(GOLDEN "tiny_relu.state", "tiny relu", BERT_ACT_RELU, BERT_BF16, 1, 0);
    }
    test_deterministic(BERT_FP32);
    test_deterministic(BERT_BF16);
    if (!EMU) test_deterministic(BERT_FP16);
    test_dropout();
    test_accumulation_and_clip();
    test_loss_scaling();
    test_shapes(BERT_FP32);
    test_shapes(BERT_BF16);
    test_trainloop();
    test_trainloop_fp16();
    if (!EMU)
        for (size_t k = 0; k < sizeof all_precisions / sizeof all_precisions[0]; k++) test_minilm(all_precisions[k]);
    return check_exit();
}
