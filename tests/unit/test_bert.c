/* Parity of lib/bert with HuggingFace transformers + PyTorch, after llm.c's
 * test_gpt2.c: golden debug states written by tests/ref/bert_ref.py (see its
 * header for the file format and how each was made) hold the batch, the
 * logits, the loss, every parameter gradient and the losses of 10 AdamW
 * steps; this test runs the real library code on the same model and batch
 * and fails (exit 1) on any mismatch.
 *
 *  - tiny: a random-initialised 2-layer model committed with the golden
 *    (tests/golden/bert/tiny_model): logits to 1e-5, loss to 1e-6, every
 *    gradient element to tol + |ref| * eps, 10 AdamW steps' losses to 1e-4.
 *  - tiny_weighted: the same with class weights (gradients as summaries);
 *    tiny_gelu_new, tiny_relu: the same weights with the other activations.
 *  - minilm: all-MiniLM-L6-v2 (22M parameters) fetched by
 *    scripts/fetch_model.sh; skipped with a SKIP line when absent. Its
 *    golden keeps per-tensor summaries only (sum, sum of |g|, L2 norm and
 *    32 sampled elements: the 16 largest |g| and 16 evenly strided), so the
 *    committed file stays small; those are compared.
 * Also: gradient accumulation equals the larger batch, save -> load gives
 * bit-identical logits, seeded dropout is reproducible and its backward
 * agrees with finite differences, clip_grad_norm, and the model-file errors. */
#include "bert/bert.h"
#include "bert_state.h"
#include "check.h"
#include "core/common.h"
#include "bert/safetensors.h"
#include "train_fixture.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Comparisons. fp32 tolerances, after llm.c: an element passes when
 * |ours - ref| <= tol + |ref| * eps, with tol scaled by the largest |ref| of
 * its tensor, so that a tensor of small gradients is held to its own scale
 * and cannot pass by being small. The one exception, the attention key
 * biases: their exact gradient is zero (adding q.b_k to every score of a row
 * does not change the softmax), so both sides hold rounding noise (~1e-8);
 * they are held to 1% of the model's largest gradient instead, which asks
 * ours to be as close to zero as that. */

#define LOGIT_TOL 1e-5
#define LOSS_TOL 1e-6
#define STEP_LOSS_TOL 1e-4
#define GRAD_TOL 1e-5 /* times the tensor's largest |gradient| */
#define GRAD_EPS 1e-4 /* relative to the element */

static int close_enough(double ours, double ref, double tol, double eps)
{
    return fabs(ours - ref) <= tol + fabs(ref) * eps;
}

static void check_logits(const char *what, const bert_model *m, const state *s)
{
    double worst = 0;
    for (int i = 0; i < s->B * s->C; i++) {
        double d = fabs((double)m->acts.logits[i] - s->logits[i]);
        if (d > worst) worst = d;
    }
    char name[200];
    snprintf(name, sizeof name, "%s: logits within %g of transformers (max diff %.3g)", what, LOGIT_TOL, worst);
    CHECK(name, worst <= LOGIT_TOL);
    snprintf(name, sizeof name, "%s: loss within %g (ours %.8f, ref %.8f)", what, LOSS_TOL, m->loss, s->loss);
    CHECK(name, fabs((double)m->loss - s->loss) <= LOSS_TOL);
}

/* Every gradient tensor, by HF name, against the reference. */
static void check_grads(const char *what, const bert_model *m, const state *s)
{
    int compared = 0;
    double model_scale = 0;
    for (int i = 0; i < s->ntensors; i++) {
        const grad_ref *g = &s->grads[i];
        for (int k = 0; g->full && k < g->numel; k++)
            if (fabs(g->full[k]) > model_scale) model_scale = fabs(g->full[k]);
        for (int k = 0; !g->full && k < g->nsample; k++)
            if (fabs(g->sample_val[k]) > model_scale) model_scale = fabs(g->sample_val[k]);
    }
    for (int i = 0; i < s->ntensors; i++) {
        const grad_ref *g = &s->grads[i];
        int t = bert_find_tensor(m, g->name);
        char name[300];
        if (t < 0 || m->tensors[t].numel != (size_t)g->numel) {
            snprintf(name, sizeof name, "%s: gradient %s exists with %d elements", what, g->name, g->numel);
            CHECK(name, 0);
            continue;
        }
        const float *ours = m->grads + m->tensors[t].offset;
        int bad = 0;
        double worst = 0, scale = 0; /* worst |diff| / largest |ref| */
        if (g->full) {
            for (int k = 0; k < g->numel; k++)
                if (fabs(g->full[k]) > scale) scale = fabs(g->full[k]);
            double tol_scale = is_key_bias(g->name) ? 0.01 * model_scale : scale;
            for (int k = 0; k < g->numel; k++) {
                double d = fabs((double)ours[k] - g->full[k]);
                if (d > worst) worst = d;
                if (!close_enough(ours[k], g->full[k], GRAD_TOL * tol_scale, GRAD_EPS)) bad++;
            }
            snprintf(name, sizeof name, "%s: gradient %s (%d elements, max |ref| %.3g, max diff %.3g)", what,
                     g->name, g->numel, scale, worst);
        } else {
            for (int k = 0; k < g->nsample; k++)
                if (fabs(g->sample_val[k]) > scale) scale = fabs(g->sample_val[k]); /* the largest are sampled */
            double tol_scale = is_key_bias(g->name) ? 0.01 * model_scale : scale;
            double sum = 0, abs_sum = 0, l2 = 0;
            for (int k = 0; k < g->numel; k++) {
                sum += ours[k];
                abs_sum += fabs(ours[k]);
                l2 += (double)ours[k] * ours[k];
            }
            l2 = sqrt(l2);
            /* the sum may cancel to ~0: its tolerance scales with sum |g| */
            if (fabs(sum - g->sum) > GRAD_TOL * tol_scale * g->numel + GRAD_EPS * g->abs_sum) bad++;
            if (!close_enough(abs_sum, g->abs_sum, GRAD_TOL * tol_scale * g->numel, GRAD_EPS)) bad++;
            if (!close_enough(l2, g->l2, GRAD_TOL * tol_scale, GRAD_EPS)) bad++;
            for (int k = 0; k < g->nsample; k++) {
                double d = fabs((double)ours[g->sample_idx[k]] - g->sample_val[k]);
                if (d > worst) worst = d;
                if (!close_enough(ours[g->sample_idx[k]], g->sample_val[k], GRAD_TOL * tol_scale, GRAD_EPS)) bad++;
            }
            snprintf(name, sizeof name, "%s: gradient %s summary (sum, sum |g|, L2, %d samples; max |ref| %.3g, "
                     "max diff %.3g)", what, g->name, g->nsample, scale, worst);
        }
        CHECK(name, bad == 0 && scale > 0);
        compared++;
    }
    char name[200];
    snprintf(name, sizeof name, "%s: every parameter tensor has a reference gradient (%d of %d)", what, compared,
             m->num_tensors);
    CHECK(name, compared == m->num_tensors);
}

/* The golden's AdamW steps: the loss before each step. */
static void check_steps(const char *what, bert_model *m, const state *s)
{
    if (!s->nsteps) return;
    bert_batch b = state_batch(s);
    bert_adamw opt = {s->lr, s->beta1, s->beta2, s->eps, s->weight_decay};
    double worst = 0;
    int ok = 1;
    for (int step = 0; step < s->nsteps; step++) {
        bert_zero_grad(m);
        if (bert_forward(m, &b, 1) < 0) ok = 0;
        double d = fabs((double)m->loss - s->losses[step]);
        if (d > worst) worst = d;
        if (d > STEP_LOSS_TOL) {
            printf("  step %d: loss %.7f, reference %.7f\n", step, m->loss, s->losses[step]);
            ok = 0;
        }
        bert_backward(m, 0);
        bert_adamw_step(m, &opt);
    }
    char name[200];
    snprintf(name, sizeof name, "%s: %d AdamW steps, losses within %g (max diff %.3g; %.5f -> %.5f)", what,
             s->nsteps, STEP_LOSS_TOL, worst, s->losses[0], s->losses[s->nsteps - 1]);
    CHECK(name, ok);
}

/* ------------------------------------------------------------------------ */

/* Prediction without gradients (predict sets no_grad): the layers share one
 * set of buffers, the output going back and forth between two, and the
 * logits are the same bits as a forward that keeps every layer's. */
static void check_no_grad(const char *what, bert_model *m, const bert_batch *b)
{
    char name[200];
    const size_t n = (size_t)b->B * m->num_labels;
    float *full = xmalloc(n * sizeof *full);
    m->no_grad = 0;
    bert_forward(m, b, 0);
    memcpy(full, m->acts.logits, n * sizeof *full);
    m->no_grad = 1;
    int rc = bert_forward(m, b, 0);
    const bert_acts *a = &m->acts;
    const int L = m->cfg.num_layers;
    snprintf(name, sizeof name, "%s: no_grad forward, the same logits bit for bit", what);
    CHECK(name, rc == 0 && memcmp(full, a->logits, n * sizeof *full) == 0);
    snprintf(name, sizeof name, "%s: no_grad, the %d layers share layer 0's buffers, two outputs in turn", what, L);
    int shared = L < 2 || a->layers[1].out != a->layers[0].out;
    for (int l = 1; l < L; l++)
        shared &= a->layers[l].qkv == a->layers[0].qkv && a->layers[l].fc_act == a->layers[0].fc_act &&
                  a->layers[l].out == a->layers[l % 2].out;
    CHECK(name, shared);
    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        bert_backward(m, 0); /* dies */
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    snprintf(name, sizeof name, "%s: no_grad, a backward is refused", what);
    CHECK(name, WIFEXITED(status) && WEXITSTATUS(status) != 0);
    m->no_grad = 0;
    bert_forward(m, b, 0);
    snprintf(name, sizeof name, "%s: no_grad off again, the same logits", what);
    CHECK(name, memcmp(full, a->logits, n * sizeof *full) == 0 && a->layers[L - 1].qkv != a->layers[0].qkv);
    free(full);
}

static void test_tiny(void)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    bert_model m;
    int rc = bert_load(&m, GOLDEN "tiny_model", 0, 1);
    if (rc < 0) printf("  %s\n", m.err);
    CHECK("tiny: the HF directory loads", rc == 0);
    if (rc < 0) exit(1);
    CHECK("tiny: 3 labels from id2label", m.num_labels == 3 && m.cfg.labels && strcmp(m.cfg.labels[2], "positive") == 0);
    CHECK("tiny: nothing initialised from scratch", m.num_fresh == 0);
    bert_batch b = state_batch(&s);
    bert_zero_grad(&m);
    rc = bert_forward(&m, &b, 1);
    CHECK("tiny: forward accepts the batch", rc == 0);
    check_logits("tiny", &m, &s);
    bert_backward(&m, 0);
    check_grads("tiny", &m, &s);
    /* the gradient of the padding token's embedding row stays zero */
    int pad_zero = 1;
    for (int j = 0; j < m.cfg.hidden_size; j++)
        if (m.g.word_emb[j] != 0) pad_zero = 0;
    CHECK("tiny: no gradient on the padding embedding row", pad_zero);
    check_no_grad("tiny", &m, &b);
    bert_free(&m);

    load_tiny(&m, 1);
    check_steps("tiny", &m, &s);
    bert_free(&m);
    free_state(&s);

    load_state(&s, GOLDEN "tiny_weighted.state");
    load_tiny(&m, 1);
    bert_set_class_weights(&m, s.class_weights);
    b = state_batch(&s);
    bert_zero_grad(&m);
    bert_forward(&m, &b, 1);
    check_logits("tiny class-weighted", &m, &s);
    bert_backward(&m, 0);
    check_grads("tiny class-weighted", &m, &s);
    bert_free(&m);
    free_state(&s);
}

/* gelu_new (tanh approximation) and relu: the same weights, the activation
 * switched as transformers does with hidden_act=... */
static void test_activations(void)
{
    static const struct { const char *file, *what; bert_act act; } acts[] = {
        {GOLDEN "tiny_gelu_new.state", "tiny gelu_new", BERT_ACT_GELU_TANH},
        {GOLDEN "tiny_relu.state", "tiny relu", BERT_ACT_RELU},
    };
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        state s;
        load_state(&s, acts[k].file);
        bert_model m;
        load_tiny(&m, 1);
        m.cfg.act = acts[k].act;
        bert_batch b = state_batch(&s);
        bert_zero_grad(&m);
        bert_forward(&m, &b, 1);
        check_logits(acts[k].what, &m, &s);
        bert_backward(&m, 0);
        check_grads(acts[k].what, &m, &s);
        bert_free(&m);
        free_state(&s);
    }
}

/* A model built from a config alone: HF's initialisation rules. */
static void test_init(void)
{
    bert_config c;
    bert_config_init(&c, 300, 32, 1, 2, 64, 16);
    bert_model m;
    int rc = bert_init(&m, &c, 4, 3);
    CHECK("init: a model from bert_config_init", rc == 0 && m.num_labels == 4);
    if (rc < 0) return;
    double ss = 0;
    size_t n = (size_t)300 * 32;
    for (size_t i = 32; i < n; i++) ss += (double)m.w.word_emb[i] * m.w.word_emb[i];
    double sd = sqrt(ss / (n - 32));
    int pad_zero = 1, ln_ok = 1, bias_zero = 1;
    for (int j = 0; j < 32; j++) {
        if (m.w.word_emb[j] != 0) pad_zero = 0;
        if (m.w.emb_ln_w[j] != 1 || m.w.emb_ln_b[j] != 0 || m.w.layers[0].ln2_w[j] != 1) ln_ok = 0;
        if (m.w.layers[0].proj_b[j] != 0 || m.w.pool_b[j] != 0) bias_zero = 0;
    }
    char name[200];
    snprintf(name, sizeof name, "init: weights ~ normal(0, 0.02) (sample sd %.4f)", sd);
    CHECK(name, fabs(sd - 0.02) < 0.001);
    CHECK("init: padding row 0, LayerNorm 1/0, biases 0", pad_zero && ln_ok && bias_zero);
    int ids[4] = {1, 5, 299, 0}, lab[1] = {3};
    bert_batch b = {1, 4, ids, NULL, NULL, lab};
    rc = bert_forward(&m, &b, 1);
    CHECK("init: forward runs; loss near ln 4 at initialisation", rc == 0 && fabs(m.loss - log(4.0)) < 0.1);
    bert_model m2;
    bert_config_init(&c, 300, 32, 1, 2, 64, 16);
    bert_init(&m2, &c, 4, 3);
    CHECK("init: the same seed gives the same parameters", memcmp(m.params, m2.params, m.num_params * 4) == 0);
    bert_free(&m2);
    bert_free(&m);
}

static void test_minilm(void)
{
    char dir[4096];
    if (!minilm_found(dir, sizeof dir)) return;
    state s;
    load_state(&s, GOLDEN "minilm.state");
    bert_model m;
    int rc = bert_load(&m, dir, 3, 1);
    if (rc < 0) printf("  %s\n", m.err);
    CHECK("minilm: the BertModel checkpoint loads (names without bert.)", rc == 0);
    if (rc < 0) return;
    CHECK("minilm: only the classifier is initialised from scratch",
          m.num_fresh == 2 && strcmp(m.fresh[0], "classifier.weight") == 0);
    rc = bert_load_safetensors(&m, GOLDEN "minilm_head.safetensors");
    CHECK("minilm: the reference's classifier head loads (2 tensors)", rc == 2);
    bert_batch b = state_batch(&s);
    bert_zero_grad(&m);
    /* the checkpoint's config has dropout 0.1; the reference ran without */
    bert_forward(&m, &b, 0);
    check_logits("minilm", &m, &s);
    bert_backward(&m, 0);
    check_grads("minilm", &m, &s);
    /* steps without dropout: training = 0 in the forward */
    bert_adamw opt = {s.lr, s.beta1, s.beta2, s.eps, s.weight_decay};
    bert_free(&m);
    bert_load(&m, dir, 3, 1);
    bert_load_safetensors(&m, GOLDEN "minilm_head.safetensors");
    double worst = 0;
    for (int step = 0; step < s.nsteps; step++) {
        bert_zero_grad(&m);
        bert_forward(&m, &b, 0);
        double d = fabs((double)m.loss - s.losses[step]);
        if (d > worst) worst = d;
        bert_backward(&m, 0);
        bert_adamw_step(&m, &opt);
    }
    char name[200];
    snprintf(name, sizeof name, "minilm: %d AdamW steps, losses within %g (max diff %.3g)", s.nsteps, STEP_LOSS_TOL,
             worst);
    CHECK(name, worst <= STEP_LOSS_TOL);
    check_no_grad("minilm", &m, &b);
    bert_free(&m);
    free_state(&s);
}

/* Two micro-batches of 2, each backward divided by the whole batch's weight
 * sum, add up to the gradient of the batch of 4 (class weights on, so the
 * denominator matters). */
static void test_grad_accumulation(void)
{
    state s;
    load_state(&s, GOLDEN "tiny_weighted.state");
    bert_model m;
    load_tiny(&m, 1);
    bert_set_class_weights(&m, s.class_weights);
    bert_batch full = state_batch(&s);
    bert_zero_grad(&m);
    bert_forward(&m, &full, 1);
    bert_backward(&m, 0);
    float *want = copy_floats(m.grads, m.num_params);
    double wsum = m.weight_sum;
    bert_zero_grad(&m);
    for (int half = 0; half < 2; half++) {
        bert_batch mb = state_micro_batch(&s, half);
        bert_forward(&m, &mb, 1);
        bert_backward(&m, wsum);
    }
    double scale;
    const double worst = max_diff(m.grads, want, m.num_params, &scale);
    char name[200];
    snprintf(name, sizeof name, "gradient accumulation over 2 micro-batches = the batch of 4 (max diff %.3g, max |g| %.3g)",
             worst, scale);
    CHECK(name, worst <= 1e-5 && scale > 0.01);
    free(want);
    bert_free(&m);
    free_state(&s);
}

/* Seeded dropout: the same seed gives the same masks and loss, another seed
 * others; the backward through the masks agrees with finite differences of
 * the loss under the same masks. */
static void test_dropout(void)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    bert_model m;
    load_tiny(&m, 1);
    bert_batch b = state_batch(&s);
    set_dropout(&m, 0.5);
    bert_seed_dropout(&m, 7);
    bert_forward(&m, &b, 1);
    float l1 = m.loss;
    size_t n = (size_t)s.B * s.T * m.cfg.hidden_size, kept = 0;
    for (size_t i = 0; i < n; i++) kept += m.acts.emb_keep[i];
    bert_seed_dropout(&m, 7);
    bert_forward(&m, &b, 1);
    float l2 = m.loss;
    bert_seed_dropout(&m, 8);
    bert_forward(&m, &b, 1);
    float l3 = m.loss;
    bert_forward(&m, &b, 0);
    char name[200];
    CHECK("dropout: the same seed gives the same loss, bit for bit", l1 == l2);
    CHECK("dropout: another seed gives another loss", l1 != l3);
    CHECK("dropout: off in a forward without training (reference loss)", fabs((double)m.loss - s.loss) <= LOSS_TOL);
    snprintf(name, sizeof name, "dropout: p=0.5 keeps about half (%zu of %zu)", kept, n);
    CHECK(name, fabs((double)kept / n - 0.5) < 0.03);

    set_dropout(&m, 0.1);
    bert_zero_grad(&m);
    bert_seed_dropout(&m, 11);
    bert_forward(&m, &b, 1);
    bert_backward(&m, 0);
    CHECK("dropout: backward through the masks agrees with finite differences (7 tensors)",
          dropout_fd_agrees(&m, &b, 11, bert_forward, NULL));
    bert_free(&m);
    free_state(&s);
}

static void test_clip_and_decay(void)
{
    state s;
    load_state(&s, GOLDEN "tiny.state");
    bert_model m;
    load_tiny(&m, 1);
    bert_batch b = state_batch(&s);
    bert_zero_grad(&m);
    bert_forward(&m, &b, 1);
    bert_backward(&m, 0);
    double ss = 0;
    for (size_t i = 0; i < m.num_params; i++) ss += (double)m.grads[i] * m.grads[i];
    float norm = bert_clip_grad_norm(&m, (float)(sqrt(ss) / 2));
    double ss2 = 0;
    for (size_t i = 0; i < m.num_params; i++) ss2 += (double)m.grads[i] * m.grads[i];
    CHECK("clip_grad_norm: returns the norm before clipping", fabs(norm - sqrt(ss)) <= 1e-6 * sqrt(ss));
    CHECK("clip_grad_norm: the clipped norm is max_norm", fabs(sqrt(ss2) - sqrt(ss) / 2) <= 1e-5 * sqrt(ss));
    norm = bert_clip_grad_norm(&m, 1e6f);
    double ss3 = 0;
    for (size_t i = 0; i < m.num_params; i++) ss3 += (double)m.grads[i] * m.grads[i];
    CHECK("clip_grad_norm: below max_norm nothing changes", ss3 == ss2);

    /* zero gradients: AdamW only decays, and not biases or LayerNorm */
    bert_zero_grad(&m);
    float *before = copy_floats(m.params, m.num_params);
    bert_adamw opt = {0.1f, 0.9f, 0.999f, 1e-8f, 0.5f};
    bert_adamw_step(&m, &opt);
    int ok = 1;
    for (int t = 0; t < m.num_tensors; t++) {
        const bert_tensor *bt = &m.tensors[t];
        float f = bt->no_decay ? 1.0f : (float)(1.0 - 0.1 * 0.5);
        for (size_t i = 0; i < bt->numel; i++)
            if (m.params[bt->offset + i] != before[bt->offset + i] * f) ok = 0;
    }
    CHECK("adamw: decoupled decay on weights and embeddings, none on biases and LayerNorm", ok);
    int nd = 0;
    for (int t = 0; t < m.num_tensors; t++) nd += m.tensors[t].no_decay;
    /* per layer 6 biases and 4 LayerNorm tensors; the embeddings LayerNorm; pooler and classifier biases */
    CHECK("adamw: no-decay tensors are the 2 x 10 + 2 + 2 biases and LayerNorm tensors", nd == 2 * 10 + 2 + 2);
    free(before);
    bert_free(&m);
    free_state(&s);
}

int main(void)
{
    test_tiny();
    test_activations();
    test_init();
    test_grad_accumulation();
    test_dropout();
    test_clip_and_decay();
    test_minilm();
    return check_exit();
}
