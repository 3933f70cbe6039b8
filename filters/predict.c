/* predict: records + a model directory -> the records with "pred" and
 * "probs" (label -> probability) added, and with --top-k the K most
 * probable classes as "top". A baseline directory (tfidf.json +
 * logreg.json) takes raw-text records, which it vectorises with its own
 * tfidf model, or vector records ("x"); a BERT directory (config.json,
 * vocab.txt, model.safetensors) takes raw-text records, which it tokenizes
 * with its own vocabulary, or token records (input_ids), in batches. The
 * model inputs (x, input_ids, token_type_ids, attention_mask) are left out of
 * the output; every other field, id and gold label among them, is kept.
 * --prior moves the probabilities to other class priors (lib/eval/prior);
 * --threshold decides a two-class pred by one class's probability. */
#include "linear/baseline.h"
#include "bert/bert_cuda.h"
#include "bert/bert_predict.h"
#include "bert/lowp_matmul.h"
#include "bert/quant.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "core/numfmt.h"
#include "core/outfile.h"
#include "core/strbuf.h"
#include "eval/prior.h"

#include <cblas.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: predict -m MODEL_DIR [OPTIONS] [FILE]\n"
    "Add \"pred\" and \"probs\" to NDJSON records (FILE or standard input).\n"
    "\n"
    "  -m, --model DIR      the model directory: a baseline (tfidf.json +\n"
    "                       logreg.json, from tfidf fit and logreg) or a BERT\n"
    "                       classifier (config.json, vocab.txt, model.safetensors,\n"
    "                       from bert-train or HF transformers)\n"
    "  --text-field NAME    the text of raw records (default: text)\n"
    "  --text-b-field NAME  BERT: the second text of pair records (default: text_b)\n"
    "  --vector-field NAME  baseline: the sparse vector of vectorised records\n"
    "                       (default: x); a record that has it is not vectorised\n"
    "                       again (BERT likewise uses input_ids when present)\n"
    "  --batch-size N       BERT: records per forward pass (default: 32)\n"
    "  --max-len N          BERT: truncate raw text to N tokens, [CLS] and [SEP]\n"
    "                       included (default: the model's maximum positions)\n"
    "  --threads N          BERT: threads (default: OPENBLAS_NUM_THREADS or the cores)\n"
    "  --device NAME        BERT: cpu, cuda (an NVIDIA GPU) or auto (cuda when\n"
    "                       there is one, else cpu) (default: cpu)\n"
    "  --precision NAME     BERT: fp32 (the default); on the CPU also bf16 or int8\n"
    "                       (oneDNN; the encoder's Linear layers), on the GPU\n"
    "                       tf32, bf16 or fp16\n"
    "  --save-quantized DIR BERT, with --precision int8: also write the int8\n"
    "                       model to DIR, which predict -m DIR then runs in int8\n"
    "  --top-k K            also \"top\": [{\"label\", \"prob\"}, ...], the K most\n"
    "                       probable classes (all of them when K is larger),\n"
    "                       most probable first\n"
    "  --prior LABEL=P      correct the probabilities to a class prior of P for\n"
    "                       LABEL (repeatable; P in (0, 1), as 0.3, 30% or 3/10);\n"
    "                       classes not named share the rest in proportion to\n"
    "                       their training priors; needs --train or --train-prior\n"
    "  --train FILE         records whose \"label\" counts give the training priors\n"
    "  --train-prior LABEL=P\n"
    "                       the training prior of LABEL, instead of --train\n"
    "                       (repeatable; classes not named share the rest equally)\n"
    "  --threshold LABEL=T  two classes: pred is LABEL when its probability is at\n"
    "                       least T, else the other class; probs unchanged\n"
    "  --keep-inputs        keep the model inputs (x, input_ids, ...) in the output\n"
    "  -o, --output FILE    write here (atomically) instead of standard output\n"
    "  --progress           a progress bar on standard error (the records read)\n"
    "                       even when it is not a terminal\n"
    "  -q, --quiet          no summary or progress bar on standard error\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "probs holds every class of the model, in its label order; pred is the class\n"
    "with the largest decision value (the first on a tie). In top, equal\n"
    "probabilities keep the label order, pred first, so top[0] is pred (unless\n"
    "--threshold chose pred). A gold label the model never saw is kept as it is:\n"
    "the prediction is still made, and metrics counts it.\n"
    "With --prior, p(c) becomes p(c) * prior(c) / train_prior(c), renormalised\n"
    "(for two classes: log(target odds / training odds) added to the logit);\n"
    "probs and top are the corrected probabilities, pred the most probable.\n"
    "Exit status: 0 ok, 1 bad input or model, 2 bad usage.\n"
    "\n"
    "Example:\n"
    "  predict -m runs/tweets/baseline runs/tweets/split/test.jsonl > test.pred.jsonl\n";

enum { OPT_TEXT_FIELD = 256, OPT_TEXT_B_FIELD, OPT_VECTOR_FIELD, OPT_KEEP_INPUTS, OPT_BATCH, OPT_MAX_LEN,
       OPT_THREADS, OPT_DEVICE, OPT_PRECISION, OPT_SAVE_QUANTIZED, OPT_PROGRESS, OPT_TOP_K,
       OPT_PRIOR, OPT_TRAIN, OPT_TRAIN_PRIOR, OPT_THRESHOLD };

/* a LABEL=VALUE option: --prior, --threshold */
typedef struct label_value {
    const char *label; /* into argv, cut at the '=' */
    double value;
} label_value;

/* fields that feed a model, left out of the predictions unless --keep-inputs */
static const char *const model_inputs[] = {"input_ids", "token_type_ids", "attention_mask"};

typedef struct config {
    const char *model_dir, *text_field, *text_b_field, *vector_field, *output, *input;
    const char *save_quantized; /* --save-quantized DIR */
    int keep_inputs, quiet, precision_given, progress;
    bert_device device;
    bert_precision precision; /* on the GPU */
    int cpu_lowp;             /* on the CPU: 0 (fp32), BERT_LOWP_INT8 or BERT_LOWP_BF16 */
    long batch, max_len, threads;
    size_t top_k; /* 0: no "top" */
    label_value *priors, *train_priors; /* --prior, --train-prior */
    size_t npriors, ntrain_priors;
    const char *train;    /* --train: the records giving the training priors */
    label_value threshold; /* .label NULL: no --threshold */
} config;

/* What --prior or --threshold does to each probability row, once the
 * model's labels are known. */
typedef struct adjust {
    double *ratio;    /* --prior: target / training prior per class; NULL: none */
    long threshold_class; /* --threshold: the class named; -1: none */
    double threshold;
} adjust;

/* "LABEL=V", V a fraction (0.3, 30%, 3/10) in [0, 1], or in (0, 1) when
 * open; the label is cut out of arg in place. */
static label_value parse_label_value(const char *opt, char *arg, int open)
{
    char *eq = strrchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) die_usage("%s: '%s' is not LABEL=VALUE", opt, arg);
    *eq = 0;
    double v = parse_fraction_opt(opt, eq + 1);
    if (open && (v <= 0 || v >= 1)) die_usage("%s: %s=%s: the value must be in (0, 1)", opt, arg, eq + 1);
    return (label_value){arg, v};
}

static void parse_args(config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"text-field", required_argument, 0, OPT_TEXT_FIELD},
        {"text-b-field", required_argument, 0, OPT_TEXT_B_FIELD},
        {"batch-size", required_argument, 0, OPT_BATCH},
        {"max-len", required_argument, 0, OPT_MAX_LEN},
        {"threads", required_argument, 0, OPT_THREADS},
        {"device", required_argument, 0, OPT_DEVICE},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"save-quantized", required_argument, 0, OPT_SAVE_QUANTIZED},
        {"vector-field", required_argument, 0, OPT_VECTOR_FIELD},
        {"keep-inputs", no_argument, 0, OPT_KEEP_INPUTS},
        {"top-k", required_argument, 0, OPT_TOP_K},
        {"prior", required_argument, 0, OPT_PRIOR},
        {"train", required_argument, 0, OPT_TRAIN},
        {"train-prior", required_argument, 0, OPT_TRAIN_PRIOR},
        {"threshold", required_argument, 0, OPT_THRESHOLD},
        {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},
        {"progress", no_argument, 0, OPT_PROGRESS},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    c->text_field = "text";
    c->text_b_field = "text_b";
    c->vector_field = "x";
    c->batch = 32;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":m:o:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': c->model_dir = optarg; break;
        case OPT_TEXT_FIELD: c->text_field = optarg; break;
        case OPT_TEXT_B_FIELD: c->text_b_field = optarg; break;
        case OPT_BATCH: c->batch = parse_long_opt("--batch-size", optarg, 1, 1 << 20); break;
        case OPT_MAX_LEN: c->max_len = parse_long_opt("--max-len", optarg, 3, 1 << 20); break;
        case OPT_THREADS: c->threads = parse_long_opt("--threads", optarg, 1, 1024); break;
        case OPT_VECTOR_FIELD: c->vector_field = optarg; break;
        case OPT_DEVICE:
            if (bert_device_parse(optarg, &c->device) < 0) die_usage("--device: '%s' is not cpu, cuda or auto", optarg);
            break;
        case OPT_PRECISION:
            c->precision = BERT_FP32;
            c->cpu_lowp = 0;
            if (strcmp(optarg, "int8") == 0) c->cpu_lowp = BERT_LOWP_INT8;
            else if (bert_precision_parse(optarg, &c->precision) < 0)
                die_usage("--precision: '%s' is not fp32, bf16, int8 (CPU), tf32 or fp16 (GPU)", optarg);
            c->precision_given = 1;
            break;
        case OPT_SAVE_QUANTIZED: c->save_quantized = optarg; break;
        case OPT_KEEP_INPUTS: c->keep_inputs = 1; break;
        case OPT_TOP_K: c->top_k = (size_t)parse_long_opt("--top-k", optarg, 1, 1000000); break;
        case OPT_PRIOR:
            c->priors = xrealloc(c->priors, (c->npriors + 1) * sizeof *c->priors);
            c->priors[c->npriors++] = parse_label_value("--prior", optarg, 1);
            break;
        case OPT_TRAIN: c->train = optarg; break;
        case OPT_TRAIN_PRIOR:
            c->train_priors = xrealloc(c->train_priors, (c->ntrain_priors + 1) * sizeof *c->train_priors);
            c->train_priors[c->ntrain_priors++] = parse_label_value("--train-prior", optarg, 1);
            break;
        case OPT_THRESHOLD: c->threshold = parse_label_value("--threshold", optarg, 0); break;
        case 'o': c->output = optarg; break;
        case 'q': c->quiet = 1; break;
        case OPT_PROGRESS: c->progress = 1; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!c->model_dir) die_usage("a model directory is needed: -m DIR");
    /* the CPU has fp32, bf16 and int8; the GPU fp32, tf32, bf16 and fp16 */
    if (c->cpu_lowp && c->device != BERT_DEVICE_CPU)
        die_usage("--precision int8 is for the CPU (--device cpu)");
    if (c->device == BERT_DEVICE_CPU && (c->precision == BERT_TF32 || c->precision == BERT_FP16))
        die_usage("--precision %s is for the GPU (--device cuda or auto); the CPU computes in fp32, bf16 or int8",
                  bert_precision_name(c->precision));
    if (c->device == BERT_DEVICE_CPU && c->precision == BERT_BF16) c->cpu_lowp = BERT_LOWP_BF16;
    if (c->save_quantized && c->precision_given && c->cpu_lowp != BERT_LOWP_INT8)
        die_usage("--save-quantized writes int8 weights: it goes with --precision int8");
    if (c->npriors && c->threshold.label) die_usage("--prior and --threshold exclude each other");
    if (c->train && c->ntrain_priors) die_usage("--train and --train-prior exclude each other");
    if (c->npriors && !c->train && !c->ntrain_priors)
        die_usage("--prior needs the training priors: --train FILE or --train-prior LABEL=P");
    if (c->train && !c->npriors) die_usage("--train goes with --prior");
    if (c->ntrain_priors && !c->npriors) die_usage("--train-prior goes with --prior");
    if (argc - optind > 1) die_usage("one input file at most (got %d)", argc - optind);
    c->input = optind < argc ? argv[optind] : "-";
    if (c->train && strcmp(c->train, "-") == 0 && strcmp(c->input, "-") == 0)
        die_usage("--train - and the records cannot both be standard input");
}

static long label_index(char *const *labels, size_t nclasses, const char *label)
{
    for (size_t k = 0; k < nclasses; k++)
        if (strcmp(labels[k], label) == 0) return (long)k;
    return -1;
}

/* The values of a repeatable LABEL=P option by class, -1 for a class not
 * named; an unknown or repeated label is a usage error. */
static double *named_priors(const char *opt, const label_value *lv, size_t n, char *const *labels, size_t nclasses,
                            const char *model_dir)
{
    double *given = xmalloc(nclasses * sizeof *given);
    for (size_t k = 0; k < nclasses; k++) given[k] = -1;
    for (size_t i = 0; i < n; i++) {
        long k = label_index(labels, nclasses, lv[i].label);
        if (k < 0) die_usage("%s: '%s' is not a class of %s", opt, lv[i].label, model_dir);
        if (given[k] >= 0) die_usage("%s: '%s' is given twice", opt, lv[i].label);
        given[k] = lv[i].value;
    }
    return given;
}

/* Resolves --prior and --threshold against the model's labels: unknown
 * labels and a threshold on more than two classes are usage errors. */
static void adjust_init(adjust *a, const config *c, char *const *labels, size_t nclasses)
{
    a->ratio = NULL;
    a->threshold_class = -1;
    if (c->threshold.label) {
        if (nclasses != 2)
            die_usage("--threshold is for two classes, and %s has %zu", c->model_dir, nclasses);
        a->threshold_class = label_index(labels, nclasses, c->threshold.label);
        if (a->threshold_class < 0)
            die_usage("--threshold: '%s' is not a class of %s", c->threshold.label, c->model_dir);
        a->threshold = c->threshold.value;
    }
    if (!c->npriors) return;
    double *train = xmalloc(nclasses * sizeof *train), *target = xmalloc(nclasses * sizeof *target);
    const char *why;
    if (c->train) {
        size_t *counts = xmalloc(nclasses * sizeof *counts), total = 0;
        prior_counts_read(counts, labels, nclasses, c->train, "label");
        for (size_t k = 0; k < nclasses; k++) total += counts[k];
        for (size_t k = 0; k < nclasses; k++) train[k] = (double)counts[k] / (double)total;
        free(counts);
    } else {
        /* the classes not named share the rest equally (in proportion to 1 each) */
        double *given = named_priors("--train-prior", c->train_priors, c->ntrain_priors, labels, nclasses,
                                     c->model_dir);
        double *equal = xmalloc(nclasses * sizeof *equal);
        for (size_t k = 0; k < nclasses; k++) equal[k] = 1;
        if (prior_targets(train, given, equal, nclasses, &why) < 0) die_usage("--train-prior: %s", why);
        free(given);
        free(equal);
    }
    double *given = named_priors("--prior", c->priors, c->npriors, labels, nclasses, c->model_dir);
    if (prior_targets(target, given, train, nclasses, &why) < 0) die_usage("--prior: %s", why);
    free(given);
    a->ratio = xmalloc(nclasses * sizeof *a->ratio);
    prior_ratios(a->ratio, target, train, nclasses);
    free(train);
    free(target);
}

/* Applies --prior (probs corrected in place, pred their argmax) or
 * --threshold (pred only) to one row. */
static void adjust_row(const adjust *a, double *probs, size_t nclasses, size_t *pred)
{
    if (a->ratio) *pred = prior_shift(probs, a->ratio, nclasses);
    else if (a->threshold_class >= 0) {
        size_t k = (size_t)a->threshold_class;
        *pred = probs[k] >= a->threshold ? k : 1 - k;
    }
}

/* Appends "top": the c->top_k most probable classes, by selection (a few
 * of a few dozen classes). Equal probabilities go in label order with pred
 * first, so that top[0] is pred: pred has the largest decision value, and
 * probabilities, increasing in it, can round to equal. */
static void append_top(strbuf *line, size_t top_k, char *const *labels, size_t nclasses, const double *probs,
                       size_t pred)
{
    unsigned char *taken = xcalloc(nclasses, 1);
    char num[NUMFMT_MAX];
    sb_adds(line, ",\"top\":[");
    for (size_t j = 0; j < top_k && j < nclasses; j++) {
        size_t best = (size_t)-1;
        for (size_t k = 0; k < nclasses; k++) {
            if (taken[k]) continue;
            if (best == (size_t)-1 || probs[k] > probs[best] || (probs[k] == probs[best] && k == pred)) best = k;
        }
        taken[best] = 1;
        if (j) sb_addc(line, ',');
        sb_adds(line, "{\"label\":");
        json_quote(line, labels[best], strlen(labels[best]));
        sb_adds(line, ",\"prob\":");
        sb_addn(line, num, (size_t)fmt_double(num, probs[best]));
        sb_addc(line, '}');
    }
    sb_addc(line, ']');
    free(taken);
}

/* Appends rec without its model inputs and old predictions, then
 * "pred", "probs" and, with --top-k, "top", as one NDJSON line. */
static void append_prediction(strbuf *line, cJSON *rec, const config *c, char *const *labels, size_t nclasses,
                              const double *probs, size_t pred)
{
    if (!c->keep_inputs) {
        cJSON_DeleteItemFromObjectCaseSensitive(rec, c->vector_field);
        for (size_t i = 0; i < sizeof model_inputs / sizeof *model_inputs; i++)
            cJSON_DeleteItemFromObjectCaseSensitive(rec, model_inputs[i]);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "pred");
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "probs");
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "top");
    char *s = cJSON_PrintUnformatted(rec);
    if (!s) die("out of memory printing a record");
    size_t n = strlen(s);
    sb_addn(line, s, n - 1); /* all but the closing brace */
    free(s);
    sb_adds(line, n > 2 ? ",\"pred\":" : "\"pred\":");
    json_quote(line, labels[pred], strlen(labels[pred]));
    sb_adds(line, ",\"probs\":{");
    char num[NUMFMT_MAX];
    for (size_t k = 0; k < nclasses; k++) {
        if (k) sb_addc(line, ',');
        json_quote(line, labels[k], strlen(labels[k]));
        sb_addc(line, ':');
        sb_addn(line, num, (size_t)fmt_double(num, probs[k]));
    }
    sb_addc(line, '}');
    if (c->top_k) append_top(line, c->top_k, labels, nclasses, probs, pred);
    sb_adds(line, "}\n");
}

/* Baseline models score one record at a time. */
static size_t predict_baseline(const config *c, ndjson_reader *in, FILE *out)
{
    if (c->save_quantized) die_usage("--save-quantized is for BERT models, and %s is a baseline", c->model_dir);
    baseline_model *model = baseline_load(c->model_dir);
    const logreg_model *lr = model->logreg;
    baseline_scratch scratch;
    baseline_scratch_init(&scratch);
    double *probs = xcalloc(logreg_nclasses(lr), sizeof *probs);
    adjust adj;
    adjust_init(&adj, c, lr->labels, logreg_nclasses(lr));
    strbuf line = {0};
    size_t n = 0;
    cJSON *rec;
    while ((rec = ndjson_next(in))) {
        baseline_proba(model, &scratch, rec, c->text_field, c->vector_field, in->name, in->line, probs);
        /* from the decision values, as scikit-learn: sigmoids of large values
         * can round to the same probability */
        size_t pred = logreg_predict(lr, &scratch.x);
        adjust_row(&adj, probs, logreg_nclasses(lr), &pred);
        sb_clear(&line);
        append_prediction(&line, rec, c, lr->labels, logreg_nclasses(lr), probs, pred);
        fwrite(line.s, 1, line.len, out);
        cJSON_Delete(rec);
        n++;
    }
    baseline_scratch_free(&scratch);
    baseline_free(model);
    free(probs);
    free(adj.ratio);
    sb_free(&line);
    return n;
}

/* BERT models score --batch-size records per forward pass. */
static size_t predict_bert(const config *c, ndjson_reader *in, FILE *out, const char **kind)
{
    bert_predictor p;
    bert_predict_load(&p, c->model_dir, (int)c->max_len);
    /* an int8 directory runs in int8 (its weights are int8), on the CPU */
    if (bert_lowp_kind(&p.model) == BERT_LOWP_INT8) {
        if (c->precision_given && c->cpu_lowp != BERT_LOWP_INT8)
            die_usage("%s holds int8 weights (predict --save-quantized): --precision is int8 or left out",
                      c->model_dir);
        if (c->device != BERT_DEVICE_CPU)
            die_usage("%s holds int8 weights, which run on the CPU (--device cpu)", c->model_dir);
    } else if (c->cpu_lowp && bert_lowp_attach(&p.model, c->cpu_lowp, NULL) < 0) {
        die("%s: --precision %s: %s", c->model_dir, bert_lowp_name(c->cpu_lowp), p.model.err);
    }
    if (c->save_quantized) {
        if (bert_lowp_kind(&p.model) != BERT_LOWP_INT8)
            die_usage("--save-quantized needs --precision int8 (%s holds fp32 weights)", c->model_dir);
        quant_save_dir(&p.model, bert_lowp_int8(&p.model), c->model_dir, c->save_quantized);
        out_keep_dirs();
    }
    if (c->threads > 0) openblas_set_num_threads((int)c->threads);
    bert_cuda_options gpu;
    bert_cuda_options_default(&gpu);
    gpu.precision = c->precision;
    char why[512];
    if (bert_dev_attach(&p.model, c->device, &gpu, why, sizeof why) < 0)
        die("--device %s: %s", bert_device_name(c->device), why);
    size_t C = (size_t)p.model.num_labels, B = (size_t)c->batch, n = 0;
    adjust adj;
    adjust_init(&adj, c, p.model.cfg.labels, C);
    cJSON **recs = xcalloc(B, sizeof *recs);
    long *lines = xcalloc(B, sizeof *lines);
    double *probs = xcalloc(B * C, sizeof *probs);
    size_t *pred = xcalloc(B, sizeof *pred);
    strbuf line = {0};
    for (int done = 0; !done;) {
        size_t k = 0;
        while (k < B && (recs[k] = ndjson_next(in))) lines[k++] = in->line;
        done = k < B;
        if (k == 0) break;
        bert_predict_batch(&p, recs, lines, k, in->name, c->text_field, c->text_b_field, probs, pred);
        for (size_t r = 0; r < k; r++) {
            adjust_row(&adj, probs + r * C, C, pred + r);
            sb_clear(&line);
            append_prediction(&line, recs[r], c, p.model.cfg.labels, C, probs + r * C, pred[r]);
            fwrite(line.s, 1, line.len, out);
            cJSON_Delete(recs[r]);
        }
        n += k;
    }
    static const char *const kinds[] = {"BERT", "BERT, int8", "BERT, bf16"};
    *kind = kinds[bert_lowp_kind(&p.model)];
    bert_predict_free(&p);
    free(recs);
    free(lines);
    free(probs);
    free(pred);
    free(adj.ratio);
    sb_free(&line);
    return n;
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    config c = {0};
    parse_args(&c, argc, argv);
    int baseline = baseline_dir(c.model_dir);
    if (!baseline && !bert_predict_dir(c.model_dir))
        die("%s: not a model directory (neither logreg.json nor config.json there)", c.model_dir);

    ndjson_reader in;
    ndjson_open(&in, c.input);
    progress bar;
    ndjson_progress(&in, &bar, progress_mode(c.quiet, c.progress));
    outfile out;
    out_open(&out, c.output);
    const char *kind = "BERT";
    size_t n = baseline ? predict_baseline(&c, &in, out.f) : predict_bert(&c, &in, out.f, &kind);
    ndjson_progress_end(&in);
    /* no records in, none out: a filter, as tfidf apply and wptok are */
    out_commit(&out);
    if (!c.quiet)
        fprintf(stderr, "%s: %zu records, model %s (%s)%s%s\n", prog_name, n, c.model_dir,
                baseline ? "tfidf + logreg" : kind, c.save_quantized ? "; int8 model written to " : "",
                c.save_quantized ? c.save_quantized : "");
    ndjson_close(&in);
    free(c.priors);
    free(c.train_priors);
    return 0;
}
