/* logreg: sparse-vector records -> a logistic-regression model directory.
 * One-vs-rest L2 (trust-region Newton) or L1 (newGLMNET) logistic
 * regression with liblinear's objective, as scikit-learn's
 * solver='liblinear'; optionally the options chosen by a cross-validated
 * grid search and the winner refitted on all rows. The work is in
 * lib/linear/logreg (data, training, model file), lib/linear/linsolve (the solvers) and
 * lib/linear/gridsearch (folds, scores, the search); this file holds the options
 * and the messages. */
#include "core/common.h"
#include "linear/gridsearch.h"
#include "linear/linsolve.h"
#include "linear/logreg.h"
#include "core/progress.h"
#include "core/strbuf.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: logreg -m MODEL_DIR [OPTIONS] [FILE]\n"
    "Train one-vs-rest logistic regression (liblinear's objective, as\n"
    "scikit-learn's LogisticRegression(solver='liblinear')) on NDJSON records\n"
    "with a sparse vector \"x\" (from tfidf) and a string \"label\" (FILE or\n"
    "standard input), and write MODEL_DIR/logreg.json.\n"
    "\n"
    "Model:\n"
    "  -m, --model-dir DIR  where to write logreg.json (created if missing;\n"
    "                       other files there are left alone)\n"
    "  -C, --cost C         inverse regularisation strength (default: 1)\n"
    "  --penalty l1|l2      L2: trust-region Newton; L1: newGLMNET coordinate\n"
    "                       descent (default: l2)\n"
    "  --class-weight W     none, balanced (n / (classes * class count)) or\n"
    "                       LABEL:W,LABEL:W,... (unlisted labels weigh 1)\n"
    "                       (default: none)\n"
    "  --tol X              stopping tolerance, relative to the first\n"
    "                       gradient (default: 1e-4)\n"
    "  --max-iter N         Newton iterations per class (multinomial: L-BFGS\n"
    "                       iterations) at most (default: 100); reaching it\n"
    "                       prints a warning\n"
    "  --intercept-scaling X  value of the constant bias feature; its weight\n"
    "                       is regularised like the others (default: 1)\n"
    "  --multi-class M      ovr: one-vs-rest, liblinear's solvers (default);\n"
    "                       multinomial: one softmax model by L-BFGS, L2 only,\n"
    "                       the intercept not regularised (scikit-learn's\n"
    "                       lbfgs; tol is its gtol)\n"
    "  --no-intercept       no bias feature, intercept 0\n"
    "  -s, --seed N         seed in [0, 4294967295]: the L1 solver's coordinate\n"
    "                       order and the --cv folds (default: 0)\n"
    "\n"
    "Grid search (the winner is refitted on all rows):\n"
    "  --grid SPEC          'KEY=V,V,...;KEY=V,...' over C, penalty,\n"
    "                       class_weight, max_iter, tol, intercept_scaling,\n"
    "                       multi_class;\n"
    "                       an explicit class weight in braces:\n"
    "                       class_weight=none,balanced,{neg:1.2,pos:0.8};\n"
    "                       'SPEC | SPEC | ...': a list of grids, their\n"
    "                       candidates one grid after the other (a key a\n"
    "                       grid lacks takes its option's value and shows\n"
    "                       empty in the CV table)\n"
    "  --cv K               K stratified folds (default with --grid: 5)\n"
    "  --folds FILE         the folds from NDJSON {\"id\": ID, \"fold\": N}\n"
    "                       lines, one per row, instead of --cv\n"
    "  --scoring S          macro_f1, accuracy or weighted_f1 (default:\n"
    "                       macro_f1)\n"
    "  -j, --jobs N         fits run on N threads (default: 1)\n"
    "  --exact              every CV fit as scikit-learn's (cold start, run to\n"
    "                       liblinear's tolerance or max_iter): the table of\n"
    "                       GridSearchCV to the bit. Without it the fits of a\n"
    "                       fold go up the C values warm-started from the ones\n"
    "                       before, and an L1 fit whose objective has stopped\n"
    "                       decreasing ends there, marked not converged. The\n"
    "                       refit of the winner is scikit-learn's either way\n"
    "  --cv-out FILE        the CV table: CSV if FILE ends in .csv, else NDJSON\n"
    "  --cv-times           fit times in the CV table too (they vary from run\n"
    "                       to run; without them the table's bytes do not)\n"
    "  --folds-out FILE     the folds used, as --folds reads them\n"
    "\n"
    "Input and messages:\n"
    "  --vector-field NAME  the records' sparse vector (default: x)\n"
    "  --label-field NAME   the records' label (default: label)\n"
    "  --id-field NAME      the records' id, for --folds (default: id)\n"
    "  --progress           a progress bar on standard error (the search's fits)\n"
    "                       even when it is not a terminal\n"
    "  -q, --quiet          no summary or progress bar on standard error\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "Classes are the labels in byte-sorted order; two classes give one weight\n"
    "vector (decision > 0: the second class). The model file is written\n"
    "atomically. Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  logreg -m model/ -C 4 --class-weight balanced train.vec.jsonl\n"
    "  logreg -m model/ --penalty l1 -C 8 --max-iter 2000 train.vec.jsonl\n"
    "  logreg -m model/ --grid 'C=0.1,1,8;penalty=l1,l2' --cv 5 --seed 42 \\\n"
    "    --jobs 2 --cv-out cv.csv train.vec.jsonl\n"
    "  logreg -m model/ --grid 'C=1,8;penalty=l1,l2 | C=1,8;multi_class=multinomial' \\\n"
    "    --cv 5 train.vec.jsonl\n";

enum {
    OPT_PENALTY = 256, OPT_CLASS_WEIGHT, OPT_TOL, OPT_MAX_ITER, OPT_INTERCEPT_SCALING, OPT_NO_INTERCEPT,
    OPT_GRID, OPT_CV, OPT_FOLDS, OPT_SCORING, OPT_CV_OUT, OPT_FOLDS_OUT, OPT_EXACT, OPT_VECTOR_FIELD,
    OPT_LABEL_FIELD, OPT_ID_FIELD, OPT_CV_TIMES, OPT_PROGRESS, OPT_MULTI_CLASS
};

typedef struct config {
    const char *input, *model_dir, *grid, *folds, *cv_out, *folds_out;
    const char *vector_field, *label_field, *id_field;
    lr_params base;
    long cv;
    int jobs, quiet, exact, cv_times, progress;
    gs_scoring scoring;
} config;

static double positive_opt(const char *opt, const char *s)
{
    double v = parse_double_opt(opt, s);
    if (!(v > 0)) die_usage("%s: '%s' is not a positive number", opt, s);
    return v;
}

static void parse_args(config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"model-dir", required_argument, 0, 'm'},
        {"cost", required_argument, 0, 'C'},
        {"penalty", required_argument, 0, OPT_PENALTY},
        {"class-weight", required_argument, 0, OPT_CLASS_WEIGHT},
        {"tol", required_argument, 0, OPT_TOL},
        {"max-iter", required_argument, 0, OPT_MAX_ITER},
        {"intercept-scaling", required_argument, 0, OPT_INTERCEPT_SCALING},
        {"no-intercept", no_argument, 0, OPT_NO_INTERCEPT},
        {"multi-class", required_argument, 0, OPT_MULTI_CLASS},
        {"seed", required_argument, 0, 's'},
        {"grid", required_argument, 0, OPT_GRID},
        {"cv", required_argument, 0, OPT_CV},
        {"folds", required_argument, 0, OPT_FOLDS},
        {"scoring", required_argument, 0, OPT_SCORING},
        {"jobs", required_argument, 0, 'j'},
        {"cv-out", required_argument, 0, OPT_CV_OUT},
        {"cv-times", no_argument, 0, OPT_CV_TIMES},
        {"folds-out", required_argument, 0, OPT_FOLDS_OUT},
        {"exact", no_argument, 0, OPT_EXACT},
        {"vector-field", required_argument, 0, OPT_VECTOR_FIELD},
        {"label-field", required_argument, 0, OPT_LABEL_FIELD},
        {"id-field", required_argument, 0, OPT_ID_FIELD},
        {"quiet", no_argument, 0, 'q'},
        {"progress", no_argument, 0, OPT_PROGRESS},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    lr_params_default(&c->base);
    c->vector_field = "x";
    c->label_field = "label";
    c->id_field = "id";
    c->jobs = 1;
    c->scoring = GS_MACRO_F1;
    int ch;
    const char *why;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":m:C:s:j:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': c->model_dir = optarg; break;
        case 'C': c->base.C = positive_opt("-C", optarg); break;
        case OPT_PENALTY:
            if (lr_parse_penalty(optarg, &c->base.penalty) < 0) die_usage("--penalty: '%s' is not l1 or l2", optarg);
            break;
        case OPT_CLASS_WEIGHT:
            if (lr_parse_class_weight(optarg, &c->base, &why) < 0) die_usage("--class-weight: '%s': %s", optarg, why);
            break;
        case OPT_TOL: c->base.tol = positive_opt("--tol", optarg); break;
        case OPT_MAX_ITER: c->base.max_iter = parse_long_opt("--max-iter", optarg, 1, 1000000000L); break;
        case OPT_INTERCEPT_SCALING:
            c->base.intercept_scaling = positive_opt("--intercept-scaling", optarg);
            if (c->base.intercept_scaling > LR_MAX_ABS_VALUE)
                die_usage("--intercept-scaling: '%s' is more than %g (the bias column's value, a feature value "
                          "like any other)", optarg, LR_MAX_ABS_VALUE);
            break;
        case OPT_NO_INTERCEPT: c->base.fit_intercept = 0; break;
        case OPT_MULTI_CLASS:
            if (lr_parse_multi_class(optarg, &c->base.multinomial) < 0)
                die_usage("--multi-class: '%s' is not ovr or multinomial", optarg);
            break;
        case 's': {
            /* strtol alone would take " 1" and "+1" */
            if (!(optarg[0] >= '0' && optarg[0] <= '9'))
                die_usage("--seed: '%s' is not an integer in [0, 4294967295]", optarg);
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || errno == ERANGE || v > 4294967295ULL)
                die_usage("--seed: '%s' is not an integer in [0, 4294967295]", optarg);
            c->base.seed = (uint32_t)v;
            break;
        }
        case OPT_GRID: c->grid = optarg; break;
        case OPT_CV: c->cv = parse_long_opt("--cv", optarg, 2, 1000000L); break;
        case OPT_FOLDS: c->folds = optarg; break;
        case OPT_SCORING:
            if (gs_parse_scoring(optarg, &c->scoring) < 0)
                die_usage("--scoring: '%s' is not macro_f1, accuracy or weighted_f1", optarg);
            break;
        case 'j': c->jobs = (int)parse_long_opt("--jobs", optarg, 1, 1024); break;
        case OPT_CV_OUT: c->cv_out = optarg; break;
        case OPT_CV_TIMES: c->cv_times = 1; break;
        case OPT_FOLDS_OUT: c->folds_out = optarg; break;
        case OPT_EXACT: c->exact = 1; break;
        case OPT_VECTOR_FIELD: c->vector_field = optarg; break;
        case OPT_LABEL_FIELD: c->label_field = optarg; break;
        case OPT_ID_FIELD: c->id_field = optarg; break;
        case 'q': c->quiet = 1; break;
        case OPT_PROGRESS: c->progress = 1; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind > 1) die_usage("one input file at most, got %d", argc - optind);
    c->input = optind < argc ? argv[optind] : NULL;
    if (!c->model_dir) die_usage("-m MODEL_DIR is required");
    if (!c->grid && lr_params_conflict(&c->base)) die_usage("--multi-class: %s", lr_params_conflict(&c->base));
    if (c->cv && c->folds) die_usage("--cv and --folds exclude one another");
    if (c->grid && !c->cv && !c->folds) c->cv = 5;
    if (c->cv_out && !c->cv && !c->folds) die_usage("--cv-out needs cross-validation (--grid, --cv or --folds)");
    if (c->cv_times && !c->cv_out) die_usage("--cv-times needs --cv-out");
    if (c->folds_out && !c->cv && !c->folds)
        die_usage("--folds-out needs cross-validation (--grid, --cv or --folds)");
}

/* "C=1 class_weight=balanced penalty=l2": a candidate's grid values (the
 * keys of its own sub-grid) */
static void describe_candidate(strbuf *b, const gs_grid *g, size_t c)
{
    for (size_t i = 0; i < g->nkeys; i++) {
        const char *text = g->text[c * g->nkeys + i];
        if (!text) continue;
        if (b->len) sb_addc(b, ' ');
        sb_adds(b, g->keys[i]);
        sb_addc(b, '=');
        sb_adds(b, text);
    }
}

static void check_class_weights(const lr_data *d, const lr_params *p)
{
    if (p->cw_kind != LR_CW_EXPLICIT) return;
    size_t *ones = xcalloc(d->nclasses, sizeof *ones);
    double *w = xmalloc(d->nclasses * sizeof *w);
    for (size_t c = 0; c < d->nclasses; c++) ones[c] = 1;
    const char *bad;
    if (lr_class_weights(p, d->labels, d->nclasses, ones, w, &bad) < 0)
        die("class weight for '%s': no such class in %s", bad, d->name);
    free(ones);
    free(w);
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    linsolve_blas_single_thread();
    /* the solvers allocate and free buffers of a few hundred KB for every
     * subproblem, thousands of times in a grid search: keep them in the
     * heap rather than mapping, unmapping and faulting them in each time */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    config c;
    parse_args(&c, argc, argv);
    gs_grid grid;
    int cross_validate = c.cv || c.folds;
    if (c.grid) gs_grid_parse(&grid, c.grid, &c.base);
    else gs_grid_single(&grid, &c.base);

    lr_data d;
    lr_data_read(&d, c.input, c.vector_field, c.label_field, c.id_field);
    if (d.nclasses < 2)
        die("%s: one class only ('%s'); logistic regression needs two or more", d.name, d.labels[0]);
    for (size_t k = 0; k < grid.ncand; k++) check_class_weights(&d, &grid.cand[k]);
    if (!c.quiet)
        fprintf(stderr, "%s: %zu rows, %zu classes, %ld features\n", prog_name, d.n, d.nclasses, d.dim);

    lr_params chosen;
    char *cv_json = NULL;
    if (cross_validate) {
        size_t *fold_of = xmalloc(d.n * sizeof *fold_of), k;
        if (c.folds) k = gs_read_folds(c.folds, &d, c.id_field, fold_of);
        else {
            k = (size_t)c.cv;
            if (k > d.n) die("--cv %zu: more folds than rows (%zu)", k, d.n);
            gs_stratified_folds(&d, k, c.base.seed, fold_of);
        }
        gs_check_folds(&d, fold_of, k);
        if (c.folds_out) gs_write_folds(c.folds_out, &d, fold_of, c.id_field);
        gs_result r;
        gs_opts go = {c.jobs, c.exact, progress_mode(c.quiet, c.progress)};
        gs_run(&d, &grid, fold_of, k, c.scoring, &go, &r);
        if (c.cv_out) gs_write_table(c.cv_out, &grid, &r, c.scoring, c.cv_times);
        if (r.nhit)
            warn("warning: reaching max number of iterations in %zu of %zu cross-validation fits; "
                 "increase max_iter",
                 r.nhit, grid.ncand * k);
        if (r.nstalled)
            warn("warning: %zu of %zu cross-validation fits stalled short of the tolerance (objective no longer "
                 "decreasing): stopped there and marked not converged (L1: --exact runs them to max_iter, as "
                 "scikit-learn; multinomial: a line search failed, as scipy's can)",
                 r.nstalled, grid.ncand * k);
        if (!c.quiet) {
            strbuf b = {0};
            describe_candidate(&b, &grid, r.best);
            fprintf(stderr, "%s: %zu candidate%s x %zu folds (%zu %sfits); best by %s: %s%s%.4f (std %.4f)\n",
                    prog_name, grid.ncand, grid.ncand == 1 ? "" : "s", k, r.nfits, c.exact ? "exact " : "",
                    gs_scoring_name(c.scoring), sb_str(&b), b.len ? ": " : "", r.mean[r.best], r.std[r.best]);
            sb_free(&b);
        }
        lr_params_copy(&chosen, &grid.cand[r.best]);
        cv_json = gs_summary_json(&grid, &r, c.scoring);
        gs_result_free(&r);
        free(fold_of);
    } else {
        lr_params_copy(&chosen, &grid.cand[0]);
    }

    logreg_model *m = logreg_train(&d, NULL, 0, &chosen);
    m->cv_json = cv_json;
    if (m->nstalled) { /* only multinomial refits stall: the L1 stall rule is the search's */
        warn("warning: no step of L-BFGS's line search decreased the objective enough, short of the tolerance "
             "(features of very different scales?); the model may not have converged");
    } else if (logreg_hit_max_iter(m) && chosen.multinomial) {
        warn("warning: reaching max number of iterations (max_iter %ld); the model may not have converged: "
             "increase --max-iter",
             chosen.max_iter);
    } else if (logreg_hit_max_iter(m)) {
        size_t hit = 0;
        for (size_t v = 0; v < m->nvec; v++) hit += m->n_iter[v] >= chosen.max_iter;
        warn("warning: reaching max number of iterations (max_iter %ld) in %zu of %zu subproblem%s; "
             "the model may not have converged: increase --max-iter",
             chosen.max_iter, hit, m->nvec, m->nvec == 1 ? "" : "s");
    }
    logreg_save(m, c.model_dir);
    if (!c.quiet) {
        strbuf b = {0};
        lr_class_weight_text(&b, &chosen);
        fprintf(stderr, "%s: %s%s, C=%g, class_weight %s: %zu weight vector%s, iterations", prog_name,
                chosen.penalty == LR_L1 ? "l1" : "l2", chosen.multinomial ? " multinomial" : "", chosen.C,
                sb_str(&b), m->nvec, m->nvec == 1 ? "" : "s");
        for (size_t v = 0; v < m->nvec; v++) fprintf(stderr, "%s%d", v ? "," : " ", m->n_iter[v]);
        fprintf(stderr, " -> %s/logreg.json\n", c.model_dir);
        sb_free(&b);
    }
    logreg_free(m);
    lr_params_free(&chosen);
    gs_grid_free(&grid);
    lr_params_free(&c.base);
    lr_data_free(&d);
    return 0;
}
