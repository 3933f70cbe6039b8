/* The class-weighted cross-entropy of lib/bert (bert-train --gamma,
 * --class-weight) against losses worked out by hand. The classifier's
 * weight is zeroed, so every sequence's logits are the classifier's bias,
 * set to known values; the loss and the bias gradient then follow from a few
 * lines of arithmetic, written out below.
 *
 * The normalisation checked: PyTorch's CrossEntropyLoss(weight=w), the
 * weighted mean  sum_i w_{y_i} * -log p_i(y_i) / sum_i w_{y_i},  over the
 * examples of one optimizer step (all its accumulated micro-batches), not
 * the plain mean over the batch  sum_i w_{y_i} * -log p_i(y_i) / B.
 *
 *  - a two-class model (accept, reject), a batch of 4: the loss, the
 *    logits' gradient of one example and the bias gradient, unweighted and
 *    with gamma 2 on either class; two micro-batches of 2 each divided by
 *    the step's weight sum give the same gradient and, combined as the
 *    trainer does, the same loss;
 *  - the trainer itself (train_run, micro-batches of 2 x 2 accumulated) on
 *    the tiny 3-class model: the logged train_loss of its one step. */
#include "bert/bert.h"
#include "bert/bertconfig.h"
#include "bert/tokdata.h"
#include "bert/trainloop.h"
#include "check.h"
#include "core/common.h"
#include "train_fixture.h"

#include <stdlib.h>
#include <string.h>

#define LOSS_TOL 1e-6 /* float logits and loss */
#define GRAD_TOL 1e-6

/* Every sequence's logits become bias[0..C): the classifier weight is 0. */
static void set_logits(bert_model *m, const float *bias)
{
    memset(m->w.cls_w, 0, (size_t)m->num_labels * (size_t)m->cfg.hidden_size * sizeof *m->w.cls_w);
    memcpy(m->w.cls_b, bias, (size_t)m->num_labels * sizeof *bias);
}

/* The two-class model: the tiny model's configuration, random weights. */
static void binary_model(bert_model *m)
{
    bert_config cfg;
    char err[512];
    if (bert_config_load(&cfg, GOLDEN "tiny_model/config.json", err) < 0) {
        printf("FAIL load tiny config: %s\n", err);
        exit(1);
    }
    static const char *const labels[] = {"accept", "reject"};
    bert_config_set_labels(&cfg, labels, 2);
    if (bert_init(m, &cfg, 2, 7) < 0) {
        printf("FAIL init a two-class model: %s\n", m->err);
        exit(1);
    }
}

/* One weighting of the hand-made batch and its expected numbers. */
typedef struct weighted_case {
    const char *name;
    float weights[2];  /* accept, reject */
    double loss;       /* the weighted mean */
    double plain_mean; /* the same sum over B = 4: what bert-train does not do */
    double weight_sum;
    double dlogits0[2]; /* example 0's gradient of the logits */
    double dbias[2];    /* the bias gradient: the sum over the batch */
} weighted_case;

static void test_two_classes(void)
{
    /* logits (0, ln 3) for every sequence: p = (1/4, 3/4), so
     *   -log p(accept) = ln 4     = 1.3862943611198906
     *   -log p(reject) = ln 4/3   = 0.28768207245178085
     * labels (accept, reject, reject, reject).
     * Unweighted: (ln 4 + 3 ln 4/3) / 4 = 0.5623351446188083; example 0's
     * logit gradient (p - onehot) / 4 = (-3/16, 3/16); the bias gradient
     * sum_i (p - onehot(y_i)) / 4 is 0 (p(accept) = 1/4 is the batch's own
     * share of accept).
     * gamma 2 on accept, w = (2, 1): sum w_y = 2 + 1 + 1 + 1 = 5,
     *   loss (2 ln 4 + 3 ln 4/3) / 5 = 0.7271269879190247 (/4: 0.908908734898781)
     *   example 0 (accept): w (p - onehot) / 5 = 2 (-3/4, 3/4) / 5 = (-0.3, 0.3)
     *   bias: (2 (1/4 - 1) + 3 (1/4)) / 5 = -0.15 for accept, +0.15 for reject
     * gamma 2 on reject, w = (1, 2): sum w_y = 1 + 2 + 2 + 2 = 7,
     *   loss (ln 4 + 6 ln 4/3) / 7 = 0.44462668511865366 (/4: 0.7780966989576439)
     *   example 0: (p - onehot) / 7 = (-3/28, 3/28)
     *   bias: ((1/4 - 1) + 2 * 3 (1/4)) / 7 = 0.75 / 7 = 0.10714285714285714
     *   for accept, minus that for reject */
    const double l4 = 1.3862943611198906, l43 = 0.28768207245178085;
    const weighted_case cases[] = {
        {"unweighted", {1, 1}, (l4 + 3 * l43) / 4, (l4 + 3 * l43) / 4, 4, {-0.75 / 4, 0.75 / 4}, {0, 0}},
        {"gamma accept=2", {2, 1}, 0.7271269879190247, 0.908908734898781, 5, {-0.3, 0.3}, {-0.15, 0.15}},
        {"gamma reject=2", {1, 2}, 0.44462668511865366, 0.7780966989576439, 7, {-3.0 / 28, 3.0 / 28},
         {0.75 / 7, -0.75 / 7}},
    };
    bert_model m;
    binary_model(&m);
    const float bias[2] = {0.0f, 1.0986122886681098f}; /* ln 3 */
    set_logits(&m, bias);
    enum { B = 4, T = 4 };
    int ids[B * T] = {2, 161, 89, 3, 2, 484, 178, 3, 2, 71, 44, 3, 2, 59, 251, 3};
    int types[B * T] = {0}, mask[B * T], labels[B] = {0, 1, 1, 1};
    for (int i = 0; i < B * T; i++) mask[i] = 1;
    const bert_batch batch = {B, T, ids, types, mask, labels};
    char name[200];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const weighted_case *c = &cases[k];
        bert_set_class_weights(&m, c->weights);
        bert_zero_grad(&m);
        bert_forward(&m, &batch, 1);
        snprintf(name, sizeof name, "two classes, %s: p = (1/4, 3/4) (got %.9g, %.9g)", c->name, m.acts.probs[0],
                 m.acts.probs[1]);
        CHECK(name, fabs(m.acts.probs[0] - 0.25) < 1e-7 && fabs(m.acts.probs[1] - 0.75) < 1e-7);
        snprintf(name, sizeof name, "two classes, %s: loss %.9g = the weighted mean %.9g (the plain mean: %.9g)",
                 c->name, m.loss, c->loss, c->plain_mean);
        CHECK(name, fabs(m.loss - c->loss) < LOSS_TOL);
        snprintf(name, sizeof name, "two classes, %s: weight sum %g", c->name, m.weight_sum);
        CHECK(name, m.weight_sum == c->weight_sum);
        bert_backward(&m, 0);
        const float *d = m.scr.dlogits;
        snprintf(name, sizeof name, "two classes, %s: example 0's logit gradient (%.9g, %.9g) = (%.9g, %.9g)",
                 c->name, d[0], d[1], c->dlogits0[0], c->dlogits0[1]);
        CHECK(name, fabs(d[0] - c->dlogits0[0]) < GRAD_TOL && fabs(d[1] - c->dlogits0[1]) < GRAD_TOL);
        const float *g = m.g.cls_b;
        snprintf(name, sizeof name, "two classes, %s: bias gradient (%.9g, %.9g) = (%.9g, %.9g)", c->name, g[0],
                 g[1], c->dbias[0], c->dbias[1]);
        CHECK(name, fabs(g[0] - c->dbias[0]) < GRAD_TOL && fabs(g[1] - c->dbias[1]) < GRAD_TOL);

        /* two micro-batches, (accept, reject) and (reject, reject), each
         * backward divided by the step's weight sum; the loss combined as
         * the trainer does, sum(micro loss * micro weight sum) / step sum */
        bert_zero_grad(&m);
        double loss_sum = 0;
        for (int half = 0; half < 2; half++) {
            const bert_batch mb = {2, T, ids + half * 2 * T, types + half * 2 * T, mask + half * 2 * T,
                                   labels + half * 2};
            bert_forward(&m, &mb, 1);
            loss_sum += (double)m.loss * m.weight_sum;
            bert_backward(&m, c->weight_sum);
        }
        snprintf(name, sizeof name, "two classes, %s, 2 micro-batches: loss %.9g, bias gradient (%.9g, %.9g)",
                 c->name, loss_sum / c->weight_sum, g[0], g[1]);
        CHECK(name, fabs(loss_sum / c->weight_sum - c->loss) < LOSS_TOL && fabs(g[0] - c->dbias[0]) < GRAD_TOL &&
                        fabs(g[1] - c->dbias[1]) < GRAD_TOL);
    }
    bert_free(&m);
}

/* The first "train_loss" of a train log */
static double first_train_loss(const strbuf *log)
{
    const char *p = log->s ? strstr(log->s, "\"train_loss\":") : NULL;
    return p ? strtod(p + strlen("\"train_loss\":"), NULL) : NAN;
}

static void test_trainer(void)
{
    /* The tiny model (negative, neutral, positive), logits (0, ln 2, ln 5):
     * p = (1/8, 2/8, 5/8), so -log p = (ln 8, ln 4, ln 8/5) =
     * (2.0794415416798357, 1.3862943611198906, 0.47000362924573563).
     * train_ref's first 4 records, in file order: positive, neutral,
     * positive, negative; one step of micro-batches of 2 x 2.
     * gamma 3 on negative, w = (3, 1, 1): the step's weight sum 1+1+1+3 = 6,
     *   loss (2 ln 8/5 + ln 4 + 3 ln 8) / 6 = 1.4274377074418114
     * (the plain mean /4 would be 2.1411565611627172; the mean of the two
     * micro-batches' own weighted means, (0.9281489951828131 +
     * 1.6770820635713106) / 2 = 1.3026155293770618). */
    train_fixture f;
    fixture_open(&f, 1);
    const float bias[3] = {0.0f, 0.6931471805599453f, 1.6094379124341003f};
    set_logits(&f.m, bias);
    const float weights[3] = {3, 1, 1};
    bert_set_class_weights(&f.m, weights);
    f.o.shuffle = 0;
    f.o.bucket = 0;
    f.o.batch_size = 2;
    f.o.grad_accum = 2;
    f.o.max_steps = 1;
    train_result res;
    int rc = train_run(&f.m, &f.tr, NULL, &f.o, &res, NULL, NULL);
    if (rc < 0) printf("  train_run: %s\n", res.err);
    const double got = first_train_loss(&res.log), want = 1.4274377074418114;
    char name[200];
    snprintf(name, sizeof name,
             "trainer, gamma negative=3, 2 x 2 accumulated: train_loss %.9g = the step's weighted mean %.9g", got,
             want);
    CHECK(name, rc == 0 && fabs(got - want) < LOSS_TOL);
    train_result_free(&res);
    fixture_close(&f);
}

int main(void)
{
    test_two_classes();
    test_trainer();
    return check_exit();
}
