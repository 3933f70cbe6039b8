/* Unit tests for lib/linear/logreg, lib/linear/linsolve and lib/linear/gridsearch: the random
 * source, option parsing, class weights, the grid's candidate order, folds,
 * scores (against scikit-learn's, tests/golden/logreg/scores.json), the
 * model file (round trip, corrupt files) and the prediction helpers. Errors
 * that end the program are run in a child process and their message and
 * exit status checked. */
#include "check.h"
#include "core/common.h"
#include "linear/gridsearch.h"
#include "linear/linsolve.h"
#include "linear/logreg.h"
#include "core/strbuf.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/logreg-unit.XXXXXX";

/* ---- helpers */

/* Runs fn(arg) in a child process; returns its exit status and its stderr
 * in msg (first line, no newline). */
static int run_dying(void (*fn)(const void *), const void *arg, char *msg, size_t cap)
{
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(fd[0], msg + n, cap - 1 - n)) > 0) n += (size_t)got;
    msg[n] = '\0';
    char *nl = strchr(msg, '\n');
    if (nl) *nl = '\0';
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    strbuf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_addn(&b, buf, n);
    fclose(f);
    return b.s;
}

/* a data set from dense rows (zeros left out) */
static void make_data(lr_data *d, size_t n, long dim, const double *x, const size_t *cls, char **labels, size_t K)
{
    memset(d, 0, sizeof *d);
    d->name = "test";
    d->n = n;
    d->dim = dim;
    d->rowptr = xmalloc((n + 1) * sizeof *d->rowptr);
    d->idx = xmalloc(n * (size_t)dim * sizeof *d->idx);
    d->val = xmalloc(n * (size_t)dim * sizeof *d->val);
    d->cls = xmalloc(n * sizeof *d->cls);
    d->ids = xcalloc(n, sizeof *d->ids);
    d->line = xmalloc(n * sizeof *d->line);
    size_t k = 0;
    d->rowptr[0] = 0;
    for (size_t i = 0; i < n; i++) {
        for (long j = 0; j < dim; j++)
            if (x[i * (size_t)dim + (size_t)j] != 0) {
                d->idx[k] = (uint32_t)j;
                d->val[k++] = x[i * (size_t)dim + (size_t)j];
            }
        d->rowptr[i + 1] = k;
        d->cls[i] = cls[i];
        d->line[i] = (long)i + 1;
    }
    d->nclasses = K;
    d->labels = xmalloc(K * sizeof *d->labels);
    for (size_t c = 0; c < K; c++) d->labels[c] = xstrdup(labels[c]);
}

/* ---- the random source */

static void test_mt19937(void)
{
    linsolve_rng r;
    /* C++11 [rand.predef]: the 10000th output of a default-constructed
     * std::mt19937 (seed 5489) is 4123659995 */
    linsolve_rng_seed(&r, 5489);
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++) v = linsolve_rng_next(&r);
    CHECK("mt19937: 10000th draw of seed 5489 is 4123659995 (C++ standard)", v == 4123659995u);
    linsolve_rng_seed(&r, 42);
    int in_range = 1, hit_last = 0;
    for (int i = 0; i < 10000; i++) {
        uint32_t b = linsolve_rng_below(&r, 7);
        in_range &= b < 7;
        hit_last |= b == 6;
    }
    CHECK("bounded draws stay in [0, range) and reach range-1", in_range && hit_last);
    linsolve_rng_seed(&r, 1);
    CHECK("range 1 always gives 0", linsolve_rng_below(&r, 1) == 0);
}

static void test_primal_tol(void)
{
    double y[] = {1, -1, -1, -1, 1};
    linsolve_problem p = {5, 1, NULL, NULL, NULL, y, NULL};
    /* min(#pos, #neg) = 2 of 5 rows */
    CHECK("subproblem tolerance eps * min(pos,neg) / l", linsolve_primal_tol(&p, 0.5) == 0.5 * 2 / 5);
    double all[] = {1, 1};
    linsolve_problem q = {2, 1, NULL, NULL, NULL, all, NULL};
    CHECK("subproblem tolerance uses at least one row", linsolve_primal_tol(&q, 1e-4) == 1e-4 * 1 / 2);
}

/* ---- options */

/* linsolve_cols_merge_duplicates on a 4 x 6 matrix whose columns 2 and 4
 * repeat column 0 and column 3 shares a row with column 1 (not a copy);
 * the last column (5, the bias's place) is outside ncols and must stay. */
static void test_merge_duplicate_columns(void)
{
    /* rows: the entries (column: value) */
    size_t rowptr[] = {0, 4, 6, 9, 10};
    uint32_t idx[] = {0, 2, 4, 5, /**/ 1, 3, /**/ 0, 2, 4, /**/ 1};
    double val[] = {0.5, 0.5, 0.5, 1, /**/ 0.25, 0.75, /**/ 0.125, 0.125, 0.125, /**/ 0.5};
    double y[] = {1, -1, 1, -1}, C[] = {1, 1, 1, 1};
    linsolve_problem p = {4, 6, rowptr, idx, val, y, C};
    linsolve_cols c;
    linsolve_cols_build(&c, &p);
    size_t rep[5];
    size_t merged = linsolve_cols_merge_duplicates(&c, 5, rep);
    CHECK("merge: two columns equal to column 0 merged into it",
          merged == 2 && rep[0] == 0 && rep[1] == 1 && rep[2] == 0 && rep[3] == 3 && rep[4] == 0);
    size_t want_ptr[] = {0, 2, 4, 4, 5, 5, 6};
    uint32_t want_row[] = {0, 2, 1, 3, 1, 0};
    double want_val[] = {0.5, 0.125, 0.25, 0.5, 0.75, 1};
    CHECK("merge: the merged columns are empty, the others (and the column past ncols) unchanged",
          memcmp(c.colptr, want_ptr, sizeof want_ptr) == 0 && memcmp(c.row, want_row, sizeof want_row) == 0 &&
              memcmp(c.val, want_val, sizeof want_val) == 0);
    CHECK("merge: nothing to merge the second time", linsolve_cols_merge_duplicates(&c, 5, rep) == 0 &&
          rep[2] == 2 && c.colptr[6] == 6);
    linsolve_cols_free(&c);
}

/* linsolve_cost_col_sums on a 4 x 6 matrix (values exact in binary), and
 * the fast solvers' two ways to their w = 0 sums: passed in linsolve_ctl
 * (as logreg's layouts do, from per-class column sums) or summed by the
 * solver itself. Given the same sums the solves are the same, bit for bit. */
static void test_cost_col_sums(void)
{
    size_t rowptr[] = {0, 3, 5, 8, 9};
    uint32_t idx[] = {0, 2, 5, /**/ 1, 3, /**/ 0, 4, 5, /**/ 1};
    double val[] = {0.5, 0.25, 1, /**/ 0.25, 0.75, /**/ 0.125, 2, 1, /**/ 0.5};
    double y[] = {1, -1, 1, -1}, C[] = {2, 1, 0.5, 1};
    linsolve_problem p = {4, 6, rowptr, idx, val, y, C};
    linsolve_cols c;
    linsolve_cols_build(&c, &p);
    double pos[6], neg[6];
    linsolve_cost_col_sums(&p, &c, pos, neg);
    double want_pos[] = {1.0625, 0, 0.5, 0, 1, 2.5}, want_neg[] = {0, 0.75, 0, 0.75, 0, 0};
    CHECK("cost column sums: C_i x_ij summed over the positive and the negative rows",
          memcmp(pos, want_pos, sizeof pos) == 0 && memcmp(neg, want_neg, sizeof neg) == 0);
    for (int l1 = 0; l1 < 2; l1++) {
        double w_own[6], w_given[6];
        linsolve_rng r1, r2;
        linsolve_rng_seed(&r1, 3);
        linsolve_rng_seed(&r2, 3);
        linsolve_ctl own = {.fast = 1}, given = {.fast = 1, .cx_pos = pos, .cx_neg = neg};
        int it_own = l1 ? linsolve_l1r_lr(&p, &c, 1e-6, 100, &r1, &own, w_own)
                        : linsolve_l2r_lr_fast(&p, &c, 1e-6, 100, &own, w_own);
        int it_given = l1 ? linsolve_l1r_lr(&p, &c, 1e-6, 100, &r2, &given, w_given)
                          : linsolve_l2r_lr_fast(&p, &c, 1e-6, 100, &given, w_given);
        CHECK(l1 ? "fast L1: the same solve with the cost sums given or summed by the solver"
                 : "fast L2: the same solve with the cost sums given or summed by the solver",
              it_own > 0 && it_own == it_given && memcmp(w_own, w_given, sizeof w_own) == 0);
    }
    linsolve_cols_free(&c);
}

static void test_class_weight_parsing(void)
{
    lr_params p;
    lr_params_default(&p);
    const char *why = NULL;
    CHECK("class weight none", lr_parse_class_weight("none", &p, &why) == 0 && p.cw_kind == LR_CW_NONE);
    CHECK("class weight balanced", lr_parse_class_weight("balanced", &p, &why) == 0 && p.cw_kind == LR_CW_BALANCED);
    CHECK("class weight LABEL:W list",
          lr_parse_class_weight("negative:1.2,neutral:0.8", &p, &why) == 0 && p.cw_kind == LR_CW_EXPLICIT &&
              p.ncw == 2 && strcmp(p.cw_label[1], "neutral") == 0 && p.cw_weight[0] == 1.2);
    CHECK("class weight in braces, label up to the last ':'",
          lr_parse_class_weight("{a:b:2}", &p, &why) == 0 && p.ncw == 1 && strcmp(p.cw_label[0], "a:b") == 0 &&
              p.cw_weight[0] == 2);
    strbuf b = {0};
    lr_parse_class_weight("{-1:1.2,0:0.8,1:1.2}", &p, &why);
    lr_class_weight_text(&b, &p);
    CHECK_STR("class weight text", sb_str(&b), "{-1:1.2,0:0.8,1:1.2}");
    sb_free(&b);
    CHECK("class weight without ':' is refused", lr_parse_class_weight("a", &p, &why) < 0);
    CHECK("class weight 0 is refused", lr_parse_class_weight("a:0", &p, &why) < 0);
    CHECK("class weight -1 is refused", lr_parse_class_weight("a:-1", &p, &why) < 0);
    CHECK("class weight 'x' is refused", lr_parse_class_weight("a:x", &p, &why) < 0);
    CHECK("class weight label twice is refused", lr_parse_class_weight("a:1,a:2", &p, &why) < 0);
    CHECK("empty class weight is refused", lr_parse_class_weight("{}", &p, &why) < 0);
    lr_params_free(&p);
}

static void test_class_weights(void)
{
    char *labels[] = {"a", "b", "c"};
    size_t counts[] = {1, 3, 6};
    double w[3];
    const char *bad = NULL;
    lr_params p;
    lr_params_default(&p);
    lr_class_weights(&p, labels, 3, counts, w, &bad);
    CHECK("no class weights: all 1", w[0] == 1 && w[1] == 1 && w[2] == 1);
    p.cw_kind = LR_CW_BALANCED;
    lr_class_weights(&p, labels, 3, counts, w, &bad);
    /* n / (classes * count): 10 / 3, 10 / 9, 10 / 18 */
    CHECK("balanced: n / (classes * count)", w[0] == 10.0 / 3.0 && w[1] == 10.0 / 9.0 && w[2] == 10.0 / 18.0);
    const char *why;
    lr_parse_class_weight("c:2,a:0.5", &p, &why);
    CHECK("explicit weights, unlisted labels 1",
          lr_class_weights(&p, labels, 3, counts, w, &bad) == 0 && w[0] == 0.5 && w[1] == 1 && w[2] == 2);
    lr_parse_class_weight("a:1,zz:2", &p, &why);
    CHECK("explicit weight for an unknown label is reported",
          lr_class_weights(&p, labels, 3, counts, w, &bad) < 0 && strcmp(bad, "zz") == 0);
    lr_params_free(&p);
}

/* ---- grid */

static void test_grid(void)
{
    lr_params base;
    lr_params_default(&base);
    base.tol = 1e-3;
    gs_grid g;
    gs_grid_parse(&g, "penalty=l1,l2; C=1,0.5 ;class_weight=none,{x:1.5,y:2};max-iter=7", &base);
    CHECK("grid: 2 x 2 x 2 x 1 candidates", g.ncand == 8 && g.nkeys == 4);
    CHECK("grid keys sorted as scikit-learn's ParameterGrid",
          strcmp(g.keys[0], "C") == 0 && strcmp(g.keys[1], "class_weight") == 0 && strcmp(g.keys[2], "max_iter") == 0 &&
              strcmp(g.keys[3], "penalty") == 0);
    /* itertools.product over the sorted keys: the last key (penalty) fastest */
    CHECK("grid candidate 0: C=1 none l1", g.cand[0].C == 1 && g.cand[0].cw_kind == LR_CW_NONE && g.cand[0].penalty == LR_L1);
    CHECK("grid candidate 1: C=1 none l2", g.cand[1].C == 1 && g.cand[1].cw_kind == LR_CW_NONE && g.cand[1].penalty == LR_L2);
    CHECK("grid candidate 2: C=1 {x:1.5,y:2} l1",
          g.cand[2].C == 1 && g.cand[2].cw_kind == LR_CW_EXPLICIT && g.cand[2].ncw == 2 && g.cand[2].penalty == LR_L1);
    CHECK("grid candidate 4: C=0.5 none l1", g.cand[4].C == 0.5 && g.cand[4].cw_kind == LR_CW_NONE);
    CHECK("grid keeps the base options", g.cand[7].tol == 1e-3 && g.cand[7].max_iter == 7);
    CHECK_STR("grid value text", g.text[2 * g.nkeys + 1], "{x:1.5,y:2}");
    gs_grid_free(&g);
    lr_params_free(&base);
}

/* a list of grids: the candidates of each in turn, the keys the union, a
 * key a candidate's sub-grid lacks without text and at the base's value */
static void test_grid_list(void)
{
    lr_params base;
    lr_params_default(&base);
    base.penalty = LR_L1;
    gs_grid g;
    gs_grid_parse(&g, "C=1,2;class_weight=none,{a|b:2} | multi_class=multinomial;C=4;penalty=l2 | tol=0.5", &base);
    CHECK("grid list: 4 + 1 + 1 candidates", g.ncand == 6);
    CHECK("grid list: the keys of all sub-grids, byte-sorted",
          g.nkeys == 5 && strcmp(g.keys[0], "C") == 0 && strcmp(g.keys[1], "class_weight") == 0 &&
              strcmp(g.keys[2], "multi_class") == 0 && strcmp(g.keys[3], "penalty") == 0 &&
              strcmp(g.keys[4], "tol") == 0);
    CHECK("grid list: the first sub-grid's candidates first, in its own order",
          g.cand[1].C == 1 && g.cand[1].cw_kind == LR_CW_EXPLICIT && g.cand[2].C == 2 &&
              g.cand[2].cw_kind == LR_CW_NONE);
    CHECK_STR("grid list: '|' inside braces is part of a label", g.cand[1].cw_label[0], "a|b");
    CHECK("grid list: keys the sub-grid lacks have no text",
          g.text[0 * g.nkeys + 2] == NULL && g.text[0 * g.nkeys + 3] == NULL && g.text[4 * g.nkeys + 1] == NULL &&
              g.text[5 * g.nkeys + 0] == NULL && g.text[5 * g.nkeys + 4] != NULL);
    CHECK("grid list: ... and the base options' values",
          g.cand[0].penalty == LR_L1 && !g.cand[0].multinomial && g.cand[5].C == 1 && g.cand[5].penalty == LR_L1 &&
              g.cand[5].tol == 0.5 && g.cand[4].cw_kind == LR_CW_NONE);
    CHECK("grid list: the second sub-grid's candidate", g.cand[4].multinomial && g.cand[4].penalty == LR_L2 &&
                                                            g.cand[4].C == 4);
    gs_grid_free(&g);
    lr_params_free(&base);
}

static void grid_parse_dies(const void *spec)
{
    lr_params base;
    lr_params_default(&base);
    gs_grid g;
    gs_grid_parse(&g, spec, &base);
}

static void test_grid_errors(void)
{
    static const struct {
        const char *spec, *msg;
    } cases[] = {
        {"C=1;gamma=2", "test_logreg: --grid: unknown key 'gamma' (C, penalty, class_weight, max_iter, tol, intercept_scaling, multi_class)"},
        {"C=1,0", "test_logreg: --grid: C=0: not a positive number"},
        {"C=1;C=2", "test_logreg: --grid: key 'C' given twice"},
        {"penalty=l3", "test_logreg: --grid: penalty=l3: not l1 or l2"},
        {"max_iter=10,0", "test_logreg: --grid: max_iter=0: not an integer in [1, 1000000000]"},
        {"C", "test_logreg: --grid: 'C' is not KEY=VALUE,VALUE,..."},
        {"C=1,,2", "test_logreg: --grid: C has an empty value"},
        {"class_weight={a:x}", "test_logreg: --grid: class_weight={a:x}: a class weight must be a positive number"},
        {";", "test_logreg: --grid: no KEY=VALUES in ';'"},
        {"C=1|;", "test_logreg: --grid: sub-grid 2 of 2 is empty (no KEY=VALUES between the '|'s) in 'C=1|;'"},
        {"C=1,2 | C=3;multi_class=multinomial;penalty=l2,l1",
         "test_logreg: --grid: sub-grid 2 of 2 ('C=3;multi_class=multinomial;penalty=l2,l1'): the candidate C=3 "
         "multi_class=multinomial penalty=l1: multinomial takes penalty l2 only (scikit-learn's lbfgs; l1 is "
         "one-vs-rest's liblinear); give such candidates a grid of their own"},
        {"C=1 | C=1;C=2", "test_logreg: --grid: key 'C' given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512], name[300];
        int rc = run_dying(grid_parse_dies, cases[i].spec, msg, sizeof msg);
        snprintf(name, sizeof name, "--grid '%s' is a usage error", cases[i].spec);
        CHECK(name, rc == 2 && strcmp(msg, cases[i].msg) == 0);
        if (rc != 2 || strcmp(msg, cases[i].msg) != 0) printf("  got %d '%s'\n", rc, msg);
    }
}

/* ---- folds */

static void test_folds(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/tweets.jsonl", tmpdir);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "gzip -dc tests/golden/logreg/tweets.jsonl.gz > %s", path);
    if (system(cmd) != 0) {
        CHECK("golden tweets readable", 0);
        return;
    }
    snprintf(cmd, sizeof cmd, "gzip -dc tests/golden/logreg/folds.jsonl.gz > %s/folds.jsonl", tmpdir);
    if (system(cmd) != 0) {
        CHECK("golden folds readable", 0);
        return;
    }
    lr_data d;
    lr_data_read(&d, path, "x", "label", "id");
    size_t *sk = xmalloc(d.n * sizeof *sk), *ours = xmalloc(d.n * sizeof *ours), *again = xmalloc(d.n * sizeof *again);
    char folds_path[256];
    snprintf(folds_path, sizeof folds_path, "%s/folds.jsonl", tmpdir);
    size_t k = gs_read_folds(folds_path, &d, "id", sk);
    CHECK("--folds file: 3 folds read", k == 3);
    gs_stratified_folds(&d, 3, 0, ours);
    /* StratifiedKFold's per-class fold sizes, from scikit-learn's own folds */
    size_t cnt_sk[3 * 16] = {0}, cnt_ours[3 * 16] = {0};
    for (size_t i = 0; i < d.n; i++) {
        cnt_sk[d.cls[i] * 3 + sk[i]]++;
        cnt_ours[d.cls[i] * 3 + ours[i]]++;
    }
    CHECK("stratified folds: per class and fold the sizes of scikit-learn's StratifiedKFold",
          d.nclasses == 3 && memcmp(cnt_sk, cnt_ours, sizeof cnt_sk) == 0);
    gs_stratified_folds(&d, 3, 0, again);
    CHECK("stratified folds: the same seed, the same folds", memcmp(ours, again, d.n * sizeof *ours) == 0);
    gs_stratified_folds(&d, 3, 1, again);
    CHECK("stratified folds: another seed, other folds", memcmp(ours, again, d.n * sizeof *ours) != 0);
    free(sk);
    free(ours);
    free(again);
    lr_data_free(&d);
}

/* ---- scores */

static void test_scores(void)
{
    char *text = slurp("tests/golden/logreg/scores.json");
    cJSON *cases = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK("scores golden readable", cases != NULL);
    if (!cases) return;
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const cJSON *truth = cJSON_GetObjectItem(c, "truth"), *pred = cJSON_GetObjectItem(c, "pred");
        size_t len = (size_t)cJSON_GetArraySize(truth), K = (size_t)cJSON_GetObjectItem(c, "classes")->valueint;
        size_t *t = xmalloc(len * sizeof *t), *p = xmalloc(len * sizeof *p);
        for (size_t i = 0; i < len; i++) {
            t[i] = (size_t)cJSON_GetArrayItem(truth, (int)i)->valueint;
            p[i] = (size_t)cJSON_GetArrayItem(pred, (int)i)->valueint;
        }
        static const struct {
            gs_scoring s;
            const char *key;
        } kinds[] = {{GS_ACCURACY, "accuracy"}, {GS_MACRO_F1, "macro_f1"}, {GS_WEIGHTED_F1, "weighted_f1"}};
        for (size_t k = 0; k < 3; k++) {
            double want = cJSON_GetObjectItem(c, kinds[k].key)->valuedouble, got = gs_score(kinds[k].s, t, p, len, K);
            char name[128];
            snprintf(name, sizeof name, "score case %d: %s %.17g as scikit-learn's", n, kinds[k].key, got);
            CHECK(name, fabs(got - want) <= 1e-15);
        }
        free(t);
        free(p);
        n++;
    }
    CHECK("5 score cases", n == 5);
    cJSON_Delete(cases);
}

/* ---- model */

static void test_model_round_trip(void)
{
    /* 3 classes in 2 features, 12 rows */
    const double x[] = {1, 0, 0.9, 0.1, 1.1, 0, 0.8, 0.3, 0, 1, 0.1, 0.9, 0, 1.2, 0.2, 1,
                        -1, -1, -0.9, -1.1, -1, -0.8, -1.2, -1};
    const size_t cls[] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2};
    char *labels[] = {"a b", "c\"d", "\xc3\xa9t\xc3\xa9"};
    lr_data d;
    make_data(&d, 12, 2, x, cls, labels, 3);
    lr_params p;
    lr_params_default(&p);
    const char *why;
    lr_parse_class_weight("a b:2,\xc3\xa9t\xc3\xa9:0.5", &p, &why);
    p.C = 3;
    logreg_model *m = logreg_train(&d, NULL, 0, &p);
    char dir[256], other[300];
    snprintf(dir, sizeof dir, "%s/model/sub", tmpdir);
    snprintf(other, sizeof other, "%s/model/sub/tfidf.json", tmpdir);
    logreg_save(m, dir); /* creates model/sub */
    write_file(other, "{\"mine\":1}\n");
    logreg_save(m, dir); /* again, beside another stage's file */
    logreg_model *l = logreg_load(dir);
    CHECK("round trip: classes and labels",
          l->nclasses == 3 && l->nvec == 3 && strcmp(l->labels[1], "c\"d") == 0 && strcmp(l->labels[2], labels[2]) == 0);
    CHECK("round trip: weights bit for bit", memcmp(l->coef, m->coef, 3 * 2 * sizeof(double)) == 0 &&
                                                  memcmp(l->intercept, m->intercept, 3 * sizeof(double)) == 0);
    CHECK("round trip: options", l->params.C == 3 && l->params.cw_kind == LR_CW_EXPLICIT && l->params.ncw == 2 &&
                                     strcmp(l->params.cw_label[1], labels[2]) == 0 && l->params.cw_weight[1] == 0.5);
    CHECK("round trip: class weights used", l->class_weight[0] == 2 && l->class_weight[1] == 1 && l->class_weight[2] == 0.5);
    char *kept = slurp(other);
    CHECK_STR("another stage's file in the model dir is left alone", kept, "{\"mine\":1}\n");
    free(kept);

    sparse_vec v = {0};
    sparse_push(&v, 0, 1.0);
    v.dim = 2;
    double dec[3], prob[3];
    logreg_decision(l, &v, dec);
    CHECK("decision = w'x + b", dec[1] == 1.0 * l->coef[1 * 2 + 0] + l->intercept[1]);
    logreg_proba(l, &v, prob);
    double s1 = 1 / (1 + exp(-dec[0])), s2 = 1 / (1 + exp(-dec[1])), s3 = 1 / (1 + exp(-dec[2]));
    CHECK("probabilities: one-vs-rest sigmoids normalised",
          prob[0] == s1 / (s1 + s2 + s3) && fabs(prob[0] + prob[1] + prob[2] - 1) < 1e-15);
    CHECK("prediction: the first largest decision value", logreg_predict(l, &v) == 0);
    sparse_free(&v);
    logreg_free(l);
    logreg_free(m);
    lr_params_free(&p);
    lr_data_free(&d);
}

static void test_binary_convention(void)
{
    const double x[] = {1, 0.9, 1.1, -1, -0.8, -1.2};
    const size_t cls[] = {1, 1, 1, 0, 0, 0};
    char *labels[] = {"neg", "pos"};
    lr_data d;
    make_data(&d, 6, 1, x, cls, labels, 2);
    lr_params p;
    lr_params_default(&p);
    logreg_model *m = logreg_train(&d, NULL, 0, &p);
    CHECK("two classes: one weight vector, positive for the second class", m->nvec == 1 && m->coef[0] > 0);
    sparse_vec v = {0};
    sparse_push(&v, 0, 2.0);
    v.dim = 1;
    double dec[2], prob[2];
    logreg_decision(m, &v, dec);
    double dsk = 2.0 * m->coef[0] + m->intercept[0];
    CHECK("two classes: decision values {-d, d}", dec[1] == dsk && dec[0] == -dsk);
    logreg_proba(m, &v, prob);
    double ps = 1 / (1 + exp(-dsk));
    CHECK("two classes: probabilities {1 - p, p}", prob[1] == ps && prob[0] == 1 - ps);
    CHECK("two classes: d > 0 predicts the second class", logreg_predict(m, &v) == 1);
    p.fit_intercept = 0;
    logreg_model *n = logreg_train(&d, NULL, 0, &p);
    CHECK("--no-intercept: intercept 0", n->intercept[0] == 0);
    p.fit_intercept = 1;
    p.max_iter = 1;
    p.tol = 1e-12;
    logreg_model *o = logreg_train(&d, NULL, 0, &p);
    CHECK("max_iter reached is reported", logreg_hit_max_iter(o) && !logreg_hit_max_iter(m));
    sparse_free(&v);
    logreg_free(m);
    logreg_free(n);
    logreg_free(o);
    lr_params_free(&p);
    lr_data_free(&d);
}

/* ---- errors that end the program */

static void load_dies(const void *dir) { logreg_load(dir); }

static void check_vector_dies(const void *unused)
{
    (void)unused;
    const double x[] = {1, 0, -1, 0, 1, 1, -1, -1};
    const size_t cls[] = {0, 1, 0, 1};
    char *labels[] = {"a", "b"};
    lr_data d;
    make_data(&d, 4, 2, x, cls, labels, 2);
    lr_params p;
    lr_params_default(&p);
    logreg_model *m = logreg_train(&d, NULL, 0, &p);
    sparse_vec v = {0};
    sparse_push(&v, 4, 1.0);
    v.dim = 5;
    logreg_check_vector(m, &v, "in.jsonl", 7);
}

static void test_corrupt_models(void)
{
    static const struct {
        const char *name, *text, *msg;
    } cases[] = {
        {"missing file", NULL, "No such file or directory (is this a model directory written by logreg?)"},
        {"not JSON", "{\"format\":\"pipeclf-logreg\",", "1: not valid JSON: a corrupt or truncated model file"},
        {"JSON, not an object", "[1]", "corrupt model: not a JSON object"},
        {"another format", "{\"format\":\"tfidf\"}", "not a logreg model (\"format\" is not \"pipeclf-logreg\")"},
        {"no labels", "{\"format\":\"pipeclf-logreg\",\"version\":1}", "corrupt model: no \"labels\""},
        {"labels out of order",
         "{\"format\":\"pipeclf-logreg\",\"version\":1,\"labels\":[\"b\",\"a\"]}",
         "corrupt model: labels are not in byte-sorted order (at 'a')"},
        {"newer version", "{\"format\":\"pipeclf-logreg\",\"version\":2}",
         "model version 2 is not supported (this program reads version 1)"},
        {"weight index out of range",
         "{\"format\":\"pipeclf-logreg\",\"version\":1,\"labels\":[\"a\",\"b\"],\"dim\":3,"
         "\"options\":{\"C\":1,\"penalty\":\"l2\",\"class_weight\":\"none\",\"tol\":0.0001,\"max_iter\":100,"
         "\"fit_intercept\":true,\"intercept_scaling\":1,\"seed\":0},\"class_weight_used\":[1,1],\"n_iter\":[3],"
         "\"intercept\":[0.5],\"coef\":[{\"idx\":[0,3],\"val\":[1,2]}]}",
         "corrupt model: \"coef\"[0].idx has an index out of [0, 3) or out of order"},
        {"bad multi_class",
         "{\"format\":\"pipeclf-logreg\",\"version\":1,\"labels\":[\"a\",\"b\"],\"dim\":3,"
         "\"options\":{\"C\":1,\"penalty\":\"l2\",\"class_weight\":\"none\",\"tol\":0.0001,\"max_iter\":100,"
         "\"fit_intercept\":true,\"intercept_scaling\":1,\"seed\":0,\"multi_class\":\"softmax\"}}",
         "corrupt model: \"multi_class\" is not ovr or multinomial"},
        {"multinomial l1",
         "{\"format\":\"pipeclf-logreg\",\"version\":1,\"labels\":[\"a\",\"b\"],\"dim\":3,"
         "\"options\":{\"C\":1,\"penalty\":\"l1\",\"class_weight\":\"none\",\"tol\":0.0001,\"max_iter\":100,"
         "\"fit_intercept\":true,\"intercept_scaling\":1,\"seed\":0,\"multi_class\":\"multinomial\"}}",
         "corrupt model: multinomial takes penalty l2 only (scikit-learn's lbfgs; l1 is one-vs-rest's liblinear)"},
        {"intercept count",
         "{\"format\":\"pipeclf-logreg\",\"version\":1,\"labels\":[\"a\",\"b\",\"c\"],\"dim\":3,"
         "\"options\":{\"C\":1,\"penalty\":\"l2\",\"class_weight\":\"none\",\"tol\":0.0001,\"max_iter\":100,"
         "\"fit_intercept\":true,\"intercept_scaling\":1,\"seed\":0},\"class_weight_used\":[1,1,1],\"n_iter\":[3,3,3],"
         "\"intercept\":[0.5]}",
         "corrupt model: \"intercept\" has 1 entries, expected 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[256], file[300], msg[512], want[600], name[200];
        snprintf(dir, sizeof dir, "%s/corrupt%zu", tmpdir, i);
        snprintf(file, sizeof file, "%s/logreg.json", dir);
        mkdir(dir, 0777);
        if (cases[i].text) {
            write_file(file, cases[i].text);
            /* a message that starts with a line number follows FILE:, not FILE: */
            int at_line = cases[i].msg[0] >= '0' && cases[i].msg[0] <= '9';
            snprintf(want, sizeof want, at_line ? "test_logreg: %s:%s" : "test_logreg: %s: %s", file, cases[i].msg);
        } else {
            snprintf(want, sizeof want, "test_logreg: %s: %s", file, cases[i].msg);
        }
        int rc = run_dying(load_dies, dir, msg, sizeof msg);
        snprintf(name, sizeof name, "corrupt model (%s): one-line error naming the file, exit 1", cases[i].name);
        CHECK(name, rc == 1 && strcmp(msg, want) == 0);
        if (rc != 1 || strcmp(msg, want) != 0) printf("  got %d '%s'\n", rc, msg);
    }
    char msg[512];
    int rc = run_dying(check_vector_dies, NULL, msg, sizeof msg);
    CHECK("model/vector dimension mismatch: error at FILE:LINE, exit 1",
          rc == 1 && strcmp(msg, "test_logreg: in.jsonl:7: vector dimension 5 differs from the model's 2 "
                                 "(a vector from another tfidf model?)") == 0);
}

int main(void)
{
    prog_init("test_logreg");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    test_mt19937();
    test_primal_tol();
    test_merge_duplicate_columns();
    test_cost_col_sums();
    test_class_weight_parsing();
    test_class_weights();
    test_grid();
    test_grid_list();
    test_grid_errors();
    test_folds();
    test_scores();
    test_model_round_trip();
    test_binary_convention();
    test_corrupt_models();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("FAIL cannot remove %s\n", tmpdir);
    return check_exit();
}
