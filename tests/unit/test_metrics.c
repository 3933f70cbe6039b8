/* Unit tests for lib/eval/metrics on examples small enough to work out by hand
 * (worked in the comments); the full scikit-learn comparison is
 * test_metrics_golden.c. */
#include "check.h"
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

static void test_roc_auc(void)
{
    /* sklearn's roc_auc_score docstring example: 3 of the 4 (pos, neg)
     * pairs ranked right -> 0.75 */
    const double s[] = {0.1, 0.4, 0.35, 0.8};
    const unsigned char t[] = {0, 0, 1, 1};
    CHECK("roc_auc of the sklearn example = 0.75", NEAR(roc_auc_binary(s, t, 4), 0.75));
    /* one positive at 0.5; negatives at 0.2 (beaten) and 0.5 (tie: half)
     * -> (1 + 0.5) / 2 */
    const double tie_s[] = {0.2, 0.5, 0.5};
    const unsigned char tie_t[] = {0, 1, 0};
    CHECK("roc_auc counts a tie as half = 0.75", NEAR(roc_auc_binary(tie_s, tie_t, 3), 0.75));
    const double flat[] = {0.5, 0.5, 0.5, 0.5};
    const unsigned char alt[] = {0, 1, 0, 1};
    CHECK("roc_auc of constant scores = 0.5", NEAR(roc_auc_binary(flat, alt, 4), 0.5));
    const unsigned char none[] = {0, 0, 0, 0}, all[] = {1, 1, 1, 1};
    CHECK("roc_auc without positives is undefined", isnan(roc_auc_binary(s, none, 4)));
    CHECK("roc_auc without negatives is undefined", isnan(roc_auc_binary(s, all, 4)));
}

static void test_average_precision(void)
{
    /* thresholds 0.8: P=1, R=.5; 0.4: R unchanged; 0.35: P=2/3, R=1
     * -> .5 * 1 + .5 * 2/3 = 5/6 (sklearn's docstring: 0.83) */
    const double s[] = {0.1, 0.4, 0.35, 0.8};
    const unsigned char t[] = {0, 0, 1, 1};
    CHECK("average_precision of the sklearn example = 5/6", NEAR(average_precision_binary(s, t, 4), 5.0 / 6));
    /* one threshold holding both records: P = 1/2 at R = 1 */
    const double tie[] = {0.5, 0.5};
    const unsigned char pn[] = {1, 0};
    CHECK("average_precision of a tie = 0.5", NEAR(average_precision_binary(tie, pn, 2), 0.5));
    const unsigned char none[] = {0, 0, 0, 0};
    CHECK("average_precision without positives = 0 (as sklearn)", average_precision_binary(s, none, 4) == 0);
}

static void test_curves(void)
{
    const double s[] = {0.1, 0.4, 0.35, 0.8};
    const unsigned char t[] = {0, 0, 1, 1};
    curve c;
    /* sklearn roc_curve: fpr 0 0 .5 .5 1, tpr 0 .5 .5 1 1 */
    roc_curve_binary(&c, s, t, 4);
    const double fpr[] = {0, 0, 0.5, 0.5, 1}, tpr[] = {0, 0.5, 0.5, 1, 1};
    int same = c.n == 5;
    for (size_t i = 0; same && i < 5; i++) same = NEAR(c.x[i], fpr[i]) && NEAR(c.y[i], tpr[i]);
    CHECK("roc_curve points as sklearn's", same);
    curve_free(&c);
    /* collinear points dropped: scores 4 3 2 1 with truth 1 1 0 0 give the
     * points (0,.5) (0,1) (.5,1) (1,1); (.5,1) lies on a line and goes; the
     * origin is added after (sklearn: fpr 0 0 0 1, tpr 0 .5 1 1) */
    const double d[] = {4, 3, 2, 1};
    const unsigned char dt[] = {1, 1, 0, 0};
    roc_curve_binary(&c, d, dt, 4);
    CHECK("roc_curve drops collinear points", c.n == 4 && c.x[2] == 0 && c.y[2] == 1 && c.x[3] == 1);
    curve_free(&c);
    /* PR by increasing recall from (0, 1): (.5, 1) (.5, .5) (1, 2/3) (1, .5) */
    pr_curve_binary(&c, s, t, 4);
    const double rec[] = {0, 0.5, 0.5, 1, 1}, prec[] = {1, 1, 0.5, 2.0 / 3, 0.5};
    same = c.n == 5;
    for (size_t i = 0; same && i < 5; i++) same = NEAR(c.x[i], rec[i]) && NEAR(c.y[i], prec[i]);
    CHECK("pr_curve points as sklearn's, reversed", same);
    curve_free(&c);
}

static void test_prf(void)
{
    prf p = prf_from_counts(0, 0, 0);
    CHECK("prf of an absent class is all 0 (zero_division=0)", p.precision == 0 && p.recall == 0 && p.f1 == 0);
    p = prf_from_counts(0, 3, 0);
    CHECK("prf of a class never predicted: precision 0", p.precision == 0 && p.recall == 0 && p.f1 == 0);
    /* tp 2 of 4 predicted, of 5 gold: P .5, R .4, F1 = 4/9 */
    p = prf_from_counts(2, 5, 4);
    CHECK("prf 2/4/5 = .5, .4, 4/9", NEAR(p.precision, 0.5) && NEAR(p.recall, 0.4) && NEAR(p.f1, 4.0 / 9));
}

/* a two-class set built by hand: probabilities of class a given, b = 1 - a */
static void make_set(pred_set *s, size_t n, const double *pa, const size_t *gold, const size_t *pred)
{
    static char a[] = "a", b[] = "b";
    static char *classes[] = {a, b};
    static long col[] = {0, 1};
    memset(s, 0, sizeof *s);
    s->n = n;
    s->nclasses = 2;
    s->classes = classes;
    s->gold = (size_t *)gold;
    s->pred = (size_t *)pred;
    s->has_probs = 1;
    s->nscored = 2;
    s->col = col;
    s->probs = malloc(2 * n * sizeof *s->probs);
    for (size_t i = 0; i < n; i++) {
        s->probs[2 * i] = pa[i];
        s->probs[2 * i + 1] = 1 - pa[i];
    }
}

static void test_calibration(void)
{
    /* confidences: 8/15 exactly is bin 7's upper edge (bins are (lo, hi]);
     * 0.9 is bin 13 (13/15 = .867 < .9 <= .933); 1.0 is the last bin */
    double edge = 8 * (1.0 / 15);
    const double pa[] = {edge, 0.9, 1.0, 0.9};
    const size_t gold[] = {0, 0, 0, 1}, pred[] = {0, 0, 0, 0};
    pred_set s;
    make_set(&s, 4, pa, gold, pred);
    metrics m;
    metrics_compute(&m, &s);
    CHECK("calibration: an upper edge belongs to its bin", m.calib[7].n == 1 && m.calib[8].n == 0);
    CHECK("calibration: 0.9 in bin 13, 1.0 in bin 14", m.calib[13].n == 2 && m.calib[14].n == 1);
    /* ECE = 1/4 |1 - 8/15| + 2/4 |.5 - .9| + 1/4 |1 - 1| */
    double want = 0.25 * (1 - edge) + 0.5 * 0.4;
    CHECK("calibration: ECE worked by hand", NEAR(m.ece, want));
    /* log loss: -(log(8/15) + 2 log .9 + log(1 - eps)... + log .1) / 4, with
     * 1.0 clipped to 1 - eps */
    double ll = -(log(edge) + log(0.9) + log(1 - 2.220446049250313e-16) + log(1 - 0.9)) / 4;
    CHECK("log loss with sklearn's clipping", NEAR(m.log_loss, ll));
    metrics_free(&m);
    free(s.probs);
}

static void test_size_bins(void)
{
    /* train counts: a 0, b 50; edges 0,50,inf: both in [0, 50] (the first
     * bin is closed), nothing above */
    const double pa[] = {1, 0, 0};
    const size_t gold[] = {0, 1, 1}, pred[] = {0, 0, 1};
    pred_set s;
    make_set(&s, 3, pa, gold, pred);
    const size_t train[] = {0, 50};
    const double edges[] = {0, 50, INFINITY};
    size_bin bins[2];
    size_t bin_of[2];
    size_bins_compute(bins, bin_of, &s, train, edges, 3);
    CHECK("size bins: 0 and 50 fall in [0, 50]", bin_of[0] == 0 && bin_of[1] == 0);
    CHECK("size bins: accuracy 2 of 3", bins[0].n == 3 && bins[0].correct == 2 && bins[0].nclasses == 2);
    CHECK("size bins: an empty bin has no accuracy", bins[1].n == 0 && isnan(bins[1].accuracy));
    const size_t train2[] = {10, 51};
    const double edges2[] = {10, 50, 100};
    size_bins_compute(bins, bin_of, &s, train2, edges2, 3);
    CHECK("size bins: 51 in (50, 100], 10 in [10, 50]", bin_of[0] == 0 && bin_of[1] == 1);
    CHECK("size bins: per-bin accuracy", bins[0].accuracy == 1 && NEAR(bins[1].accuracy, 0.5));
    free(s.probs);
}

int main(void)
{
    test_roc_auc();
    test_average_precision();
    test_curves();
    test_prf();
    test_calibration();
    test_size_bins();
    return check_exit();
}
