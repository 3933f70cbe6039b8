/* bert-train: token records (input_ids, optional token_type_ids and
 * attention_mask, label) + a pretrained HF BERT directory -> a fine-tuned
 * BertForSequenceClassification directory. Options and the output
 * directory here; the training loop is lib/bert/trainloop (schedules
 * lib/bert/schedule, data and batches lib/bert/tokdata, checkpoints lib/bert/checkpoint,
 * the model lib/bert). Labels are mapped to class ids in byte order and
 * saved as id2label/label2id. */
#include "bert/bert.h"
#include "bert/bert_cuda.h"
#include "bert/lowp_matmul.h"
#include "core/common.h"
#include "linear/logreg.h"
#include "core/ndjson.h"
#include "core/numfmt.h"
#include "core/outfile.h"
#include "core/progress.h"
#include "core/strbuf.h"
#include "bert/tokdata.h"
#include "bert/trainloop.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: bert-train [OPTIONS] --model DIR -o OUTDIR [FILE]\n"
    "Fine-tune a BERT encoder for sequence classification on token records\n"
    "(FILE or standard input: NDJSON with input_ids, optional token_type_ids\n"
    "and attention_mask, as wptok writes them, and a string label).\n"
    "\n"
    "Model and data:\n"
    "  -m, --model DIR        pretrained HF BERT directory: config.json, vocab.txt,\n"
    "                         model.safetensors or pytorch_model.bin\n"
    "  -o, --output DIR       the fine-tuned model directory to write (created)\n"
    "  --val FILE             validation token records, evaluated during training\n"
    "  --label-field NAME     the records' label field (default: label)\n"
    "Steps:\n"
    "  -e, --epochs N         passes over the data (default: 3)\n"
    "  --max-steps N          exactly N optimizer steps instead (epochs ignored)\n"
    "  -b, --batch-size N     sequences per forward/backward pass (default: 16)\n"
    "  --grad-accum N         batches per optimizer step: a step sees\n"
    "                         batch-size x N sequences (default: 1)\n"
    "  --bucket               group sequences of similar length into batches\n"
    "Optimizer (AdamW, betas 0.9/0.999, eps 1e-8):\n"
    "  --lr X                 peak learning rate (default: 5e-5)\n"
    "  --weight-decay X       decoupled weight decay, not on biases and LayerNorm\n"
    "                         (default: 0.01)\n"
    "  --schedule NAME        linear, cosine or constant after the warmup\n"
    "                         (default: linear)\n"
    "  --warmup FRAC          warmup over this share of the steps (default: 0)\n"
    "  --warmup-steps N       warmup over N steps (instead of --warmup)\n"
    "  --max-grad-norm X      clip the gradient's L2 norm (default: 1; 0: off)\n"
    "  --class-weight W       loss weights: none, balanced (n / (classes x count))\n"
    "                         or LABEL:W,LABEL:W,... (default: none)\n"
    "  --gamma LABEL=G        multiply LABEL's loss weight by G (repeatable)\n"
    "Validation (with --val):\n"
    "  --eval-every N|1/P     evaluate every N steps, or P times at equal shares of\n"
    "                         the schedule (default: each epoch's end)\n"
    "  --eval-batch-size N    sequences per evaluation pass (default: --batch-size)\n"
    "  --metric NAME          best model by macro_f1, accuracy, weighted_f1 or loss\n"
    "                         (default: macro_f1); its weights are restored at the end\n"
    "  --patience N           stop after N evaluations without a better metric\n"
    "Checkpoints, logs, machine:\n"
    "  --checkpoint-dir DIR   keep DIR/checkpoint.bin: the whole training state\n"
    "  --checkpoint-every N   write it every N steps (default: at each evaluation,\n"
    "                         or each epoch's end without --val)\n"
    "  --resume               continue from DIR/checkpoint.bin when it exists\n"
    "  --stop-at N|A/B        pause after step N, or A/B of the schedule, with the\n"
    "                         checkpoint written and no OUTDIR: a later --resume\n"
    "                         goes on as if never stopped (needs --checkpoint-dir)\n"
    "  --log FILE             the metrics log (NDJSON) also to FILE\n"
    "  --log-every N          a training record every N steps (default: 1)\n"
    "  -s, --seed N           seed for shuffling, dropout and new weights (default: 42)\n"
    "  -j, --threads N        threads (default: OPENBLAS_NUM_THREADS or the cores)\n"
    "  --device NAME          cpu, cuda (an NVIDIA GPU) or auto (cuda when there\n"
    "                         is one, else cpu) (default: cpu)\n"
    "  --precision NAME       fp32, or bf16 (bf16 matrix products, fp32 sums; on\n"
    "                         the CPU through oneDNN); on the GPU also tf32 (TF32\n"
    "                         matrix products) or fp16 (dynamic loss scaling);\n"
    "                         master weights stay fp32 (default: fp32)\n"
    "  --deterministic        on the GPU: every reduction in a fixed order, so that\n"
    "                         two runs give the same files (the CPU always does)\n"
    "  --progress             a progress bar on standard error even when it is not\n"
    "                         a terminal (default: only on a terminal)\n"
    "  -q, --quiet            no progress bar, notes or warnings\n"
    "  -h, --help             this help; -V, --version  the version\n"
    "\n"
    "OUTDIR gets config.json (with id2label/label2id, labels in byte order),\n"
    "model.safetensors, vocab.txt and tokenizer files (copied), training_args.json,\n"
    "trainer_state.json and train_log.jsonl; it loads in HF transformers. Every\n"
    "file is written atomically, model.safetensors last. The same inputs, seed,\n"
    "threads and precision give byte-identical files, resumed or not (on the GPU:\n"
    "the same device, precision and --deterministic).\n"
    "Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Example:\n"
    "  wptok -m model --max-len 128 train.jsonl > train.tok\n"
    "  wptok -m model --max-len 128 val.jsonl > val.tok\n"
    "  bert-train --model model --val val.tok --eval-every 200 --patience 3 \\\n"
    "    --lr 3e-5 --warmup 0.1 -o finetuned train.tok\n";

enum {
    OPT_GRAD_ACCUM = 256, OPT_LR, OPT_WEIGHT_DECAY, OPT_WARMUP, OPT_WARMUP_STEPS, OPT_MAX_GRAD_NORM, OPT_LABEL_FIELD,
    OPT_VAL, OPT_MAX_STEPS, OPT_BUCKET, OPT_SCHEDULE, OPT_CLASS_WEIGHT, OPT_GAMMA, OPT_EVAL_EVERY, OPT_EVAL_BATCH,
    OPT_METRIC, OPT_PATIENCE, OPT_CHECKPOINT_DIR, OPT_CHECKPOINT_EVERY, OPT_RESUME, OPT_LOG, OPT_LOG_EVERY,
    OPT_PROGRESS, OPT_CRASH_AFTER, OPT_DEVICE, OPT_PRECISION, OPT_DETERMINISTIC, OPT_STOP_AT,
};

typedef struct gamma_opt {
    char *label;
    double g;
} gamma_opt;

/* Creates dir if needed and makes sure a file can be written in it, before
 * any training time is spent. */
static void writable_dir(const char *dir)
{
    out_mkdirs(dir); /* mkdir -p; what it made goes again if the run fails */
    char *probe = path_join(dir, "probe");
    outfile o;
    out_open(&o, probe); /* dies with "cannot create DIR/probe: <reason>" */
    out_abort(&o);
    free(probe);
}

/* One run at a time on a checkpoint directory: two would overwrite each
 * other's checkpoints, and a resume started while the run it resumes still
 * goes on (its shell was killed, not bert-train) races it: the other's
 * last act, removing OUTDIR's old model.safetensors, can remove the model
 * the resume just wrote. flock on the directory itself: no lock file, and
 * the kernel drops the lock with the process, kill -9 included.
 * A file system without flock (some network ones) runs unlocked. Once
 * locked, the checkpoint temporaries in DIR (lib/core/outfile's names) are a
 * killed run's leftovers, a checkpoint's size each: removed. */
static void lock_checkpoint_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die("cannot open %s: %s", dir, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) die("%s is in use by another bert-train run", dir);
        close(fd);
        return;
    }
    /* fd stays open: the lock lasts as long as the process */
    char *pattern = path_join(dir, ".checkpoint.bin.tmp.??????");
    glob_t g;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    free(pattern);
}

/* numbers as lib/core/numfmt writes them (shortest round-trip text) */
static void put_num(cJSON *o, const char *key, double v)
{
    char buf[NUMFMT_MAX];
    if (!isfinite(v)) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    fmt_double(buf, v);
    cJSON_AddRawToObject(o, key, buf);
}

/* The loss weight of each class: --class-weight (lr_class_weights, as
 * logreg has it), then each --gamma multiplies its class's. Returns 0 when
 * neither option was given (the plain mean loss). */
static int class_weights(double *weights, const lr_params *cw, const gamma_opt *gammas, size_t ngammas,
                         const tok_dataset *train, char *const *labels, int nlabels)
{
    size_t *counts = xmalloc((size_t)nlabels * sizeof *counts);
    tokdata_class_counts(train, counts, nlabels);
    const char *bad;
    if (lr_class_weights(cw, labels, (size_t)nlabels, counts, weights, &bad) < 0)
        die("--class-weight: label '%s' is not in the training labels", bad);
    free(counts);
    for (size_t g = 0; g < ngammas; g++) {
        int k = 0;
        while (k < nlabels && strcmp(labels[k], gammas[g].label) != 0) k++;
        if (k == nlabels) die("--gamma: label '%s' is not in the training labels", gammas[g].label);
        weights[k] *= gammas[g].g;
    }
    return cw->cw_kind != LR_CW_NONE || ngammas > 0;
}

static cJSON *eval_json(const eval_result *r)
{
    cJSON *o = cJSON_CreateObject();
    put_num(o, "val_loss", r->loss);
    put_num(o, "val_accuracy", r->accuracy);
    put_num(o, "val_macro_f1", r->macro_f1);
    put_num(o, "val_weighted_f1", r->weighted_f1);
    return o;
}

/* The options that decide the run's course: a checkpoint made with others
 * is refused. (Paths, threads, --quiet and the like are not among them.) */
static cJSON *course_json(const train_options *o, long seed, char *const *labels, int nlabels, const double *weights)
{
    cJSON *c = cJSON_CreateObject();
    put_num(c, "epochs", (double)o->epochs);
    put_num(c, "max_steps", (double)o->max_steps);
    put_num(c, "batch_size", o->batch_size);
    put_num(c, "grad_accum", o->grad_accum);
    cJSON_AddBoolToObject(c, "bucket", o->bucket);
    put_num(c, "lr", o->lr);
    put_num(c, "weight_decay", o->weight_decay);
    cJSON_AddStringToObject(c, "schedule", sched_name(o->schedule));
    put_num(c, "warmup", o->warmup_ratio);
    put_num(c, "warmup_steps", (double)o->warmup_steps);
    put_num(c, "max_grad_norm", o->max_grad_norm);
    cJSON *cw = cJSON_CreateObject();
    for (int k = 0; k < nlabels; k++) put_num(cw, labels[k], weights ? weights[k] : 1.0);
    cJSON_AddItemToObject(c, "class_weights", cw);
    char seed_text[24];
    snprintf(seed_text, sizeof seed_text, "%ld", seed); /* exact beyond 2^53 */
    cJSON_AddRawToObject(c, "seed", seed_text);
    put_num(c, "eval_every", (double)o->eval_every);
    if (o->eval_parts) put_num(c, "eval_parts", (double)o->eval_parts); /* only when given: older checkpoints match */
    put_num(c, "eval_batch_size", o->eval_batch_size);
    cJSON_AddStringToObject(c, "metric", train_metric_name(o->metric));
    put_num(c, "patience", (double)o->patience);
    put_num(c, "log_every", (double)o->log_every);
    return c;
}

/* trainer_state.json: how the run went */
static cJSON *state_json(const train_result *res, train_metric metric)
{
    cJSON *st = cJSON_CreateObject();
    put_num(st, "global_step", (double)res->steps);
    put_num(st, "epoch", res->epochs);
    put_num(st, "total_steps", (double)res->total_steps);
    cJSON_AddBoolToObject(st, "stopped_early", res->stopped_early);
    if (res->resumed_from >= 0) put_num(st, "resumed_from_step", (double)res->resumed_from);
    else cJSON_AddNullToObject(st, "resumed_from_step");
    cJSON_AddStringToObject(st, "metric", train_metric_name(metric));
    if (res->best_step >= 0) {
        put_num(st, "best_step", (double)res->best_step);
        put_num(st, "best_metric", eval_metric(&res->best, metric));
        cJSON_AddItemToObject(st, "best_eval", eval_json(&res->best));
        cJSON_AddItemToObject(st, "final_eval", eval_json(&res->final));
    } else {
        cJSON_AddNullToObject(st, "best_step");
    }
    return st;
}

static void write_json(const char *path, cJSON *j)
{
    char *s = cJSON_Print(j);
    if (!s) die("out of memory");
    outfile o;
    out_open(&o, path);
    fputs(s, o.f);
    fputc('\n', o.f);
    out_commit(&o);
    cJSON_free(s);
}

static void write_text(const char *path, const strbuf *b)
{
    outfile o;
    out_open(&o, path);
    fwrite(sb_str(b), 1, b->len, o.f);
    out_commit(&o);
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"output", required_argument, 0, 'o'},
        {"val", required_argument, 0, OPT_VAL}, {"label-field", required_argument, 0, OPT_LABEL_FIELD},
        {"epochs", required_argument, 0, 'e'}, {"max-steps", required_argument, 0, OPT_MAX_STEPS},
        {"batch-size", required_argument, 0, 'b'}, {"grad-accum", required_argument, 0, OPT_GRAD_ACCUM},
        {"bucket", no_argument, 0, OPT_BUCKET}, {"lr", required_argument, 0, OPT_LR},
        {"weight-decay", required_argument, 0, OPT_WEIGHT_DECAY}, {"schedule", required_argument, 0, OPT_SCHEDULE},
        {"warmup", required_argument, 0, OPT_WARMUP}, {"warmup-steps", required_argument, 0, OPT_WARMUP_STEPS},
        {"max-grad-norm", required_argument, 0, OPT_MAX_GRAD_NORM},
        {"class-weight", required_argument, 0, OPT_CLASS_WEIGHT}, {"gamma", required_argument, 0, OPT_GAMMA},
        {"eval-every", required_argument, 0, OPT_EVAL_EVERY},
        {"eval-batch-size", required_argument, 0, OPT_EVAL_BATCH}, {"metric", required_argument, 0, OPT_METRIC},
        {"patience", required_argument, 0, OPT_PATIENCE},
        {"checkpoint-dir", required_argument, 0, OPT_CHECKPOINT_DIR},
        {"checkpoint-every", required_argument, 0, OPT_CHECKPOINT_EVERY}, {"resume", no_argument, 0, OPT_RESUME},
        {"stop-at", required_argument, 0, OPT_STOP_AT},
        {"log", required_argument, 0, OPT_LOG}, {"log-every", required_argument, 0, OPT_LOG_EVERY},
        {"seed", required_argument, 0, 's'}, {"threads", required_argument, 0, 'j'},
        {"progress", no_argument, 0, OPT_PROGRESS}, {"quiet", no_argument, 0, 'q'},
        {"device", required_argument, 0, OPT_DEVICE}, {"precision", required_argument, 0, OPT_PRECISION},
        {"deterministic", no_argument, 0, OPT_DETERMINISTIC},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
        /* tests only: end with SIGKILL after step N, as kill -9 would */
        {"crash-after-steps", required_argument, 0, OPT_CRASH_AFTER},
        {0, 0, 0, 0},
    };
    train_options o;
    train_options_default(&o);
    const char *model_dir = NULL, *out_dir = NULL, *label_field = "label", *val_path = NULL;
    const char *ckpt_dir = NULL, *log_path = NULL;
    long seed = 42, threads = 0, stop_num = 0, stop_den = 0; /* --stop-at: step stop_num, or stop_num/stop_den */
    int progress_flag = 0, quiet = 0, c, precision_given = 0;
    bert_device device = BERT_DEVICE_CPU;
    bert_cuda_options gpu;
    bert_cuda_options_default(&gpu);
    lr_params cw;
    lr_params_default(&cw);
    gamma_opt *gammas = NULL;
    size_t ngammas = 0;
    const char *why;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:o:e:b:s:j:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'o': out_dir = optarg; break;
        case OPT_VAL: val_path = optarg; break;
        case OPT_LABEL_FIELD: label_field = optarg; break;
        case 'e': o.epochs = parse_long_opt("--epochs", optarg, 1, 100000); break;
        case OPT_MAX_STEPS: o.max_steps = parse_long_opt("--max-steps", optarg, 1, 1L << 40); break;
        case 'b': o.batch_size = (int)parse_long_opt("--batch-size", optarg, 1, 1 << 20); break;
        case OPT_GRAD_ACCUM: o.grad_accum = (int)parse_long_opt("--grad-accum", optarg, 1, 1 << 20); break;
        case OPT_BUCKET: o.bucket = 1; break;
        case OPT_LR: o.lr = parse_double_opt("--lr", optarg); break;
        case OPT_WEIGHT_DECAY: o.weight_decay = parse_double_opt("--weight-decay", optarg); break;
        case OPT_SCHEDULE:
            if (sched_parse(optarg, &o.schedule) < 0)
                die_usage("--schedule: '%s' is not linear, cosine or constant", optarg);
            break;
        case OPT_WARMUP: o.warmup_ratio = parse_fraction_opt("--warmup", optarg); break;
        case OPT_WARMUP_STEPS: o.warmup_steps = parse_long_opt("--warmup-steps", optarg, 0, 1L << 40); break;
        case OPT_MAX_GRAD_NORM: o.max_grad_norm = parse_double_opt("--max-grad-norm", optarg); break;
        case OPT_CLASS_WEIGHT:
            if (lr_parse_class_weight(optarg, &cw, &why) < 0) die_usage("--class-weight: '%s': %s", optarg, why);
            break;
        case OPT_GAMMA: {
            const char *eq = strrchr(optarg, '=');
            if (!eq || eq == optarg) die_usage("--gamma: '%s' is not LABEL=G", optarg);
            double g = parse_double_opt("--gamma", eq + 1);
            if (!(g > 0) || !isfinite(g)) die_usage("--gamma: '%s': G must be a positive number", optarg);
            gammas = xrealloc(gammas, (ngammas + 1) * sizeof *gammas);
            gammas[ngammas++] = (gamma_opt){xstrndup(optarg, (size_t)(eq - optarg)), g};
            break;
        }
        case OPT_EVAL_EVERY:
            if (strncmp(optarg, "1/", 2) == 0) o.eval_parts = parse_long_opt("--eval-every 1/P", optarg + 2, 1, 1L << 40);
            else o.eval_every = parse_long_opt("--eval-every", optarg, 1, 1L << 40);
            break;
        case OPT_EVAL_BATCH: o.eval_batch_size = (int)parse_long_opt("--eval-batch-size", optarg, 1, 1 << 20); break;
        case OPT_METRIC:
            if (train_metric_parse(optarg, &o.metric) < 0)
                die_usage("--metric: '%s' is not macro_f1, accuracy, weighted_f1 or loss", optarg);
            break;
        case OPT_PATIENCE: o.patience = parse_long_opt("--patience", optarg, 1, 1L << 40); break;
        case OPT_CHECKPOINT_DIR: ckpt_dir = optarg; break;
        case OPT_CHECKPOINT_EVERY: o.checkpoint_every = parse_long_opt("--checkpoint-every", optarg, 1, 1L << 40); break;
        case OPT_RESUME: o.resume = 1; break;
        case OPT_STOP_AT: {
            const char *slash = strchr(optarg, '/');
            if (slash) {
                char *num = xstrndup(optarg, (size_t)(slash - optarg));
                stop_num = parse_long_opt("--stop-at A/B", num, 1, 1L << 20);
                stop_den = parse_long_opt("--stop-at A/B", slash + 1, 1, 1L << 20);
                free(num);
                if (stop_num > stop_den) die_usage("--stop-at %s: A/B is a share of the schedule, at most 1", optarg);
            } else {
                stop_num = parse_long_opt("--stop-at", optarg, 1, 1L << 40);
            }
            break;
        }
        case OPT_LOG: log_path = optarg; break;
        case OPT_LOG_EVERY: o.log_every = parse_long_opt("--log-every", optarg, 1, 1L << 40); break;
        case 's': seed = parse_long_opt("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case 'j': threads = parse_long_opt("--threads", optarg, 1, 1024); break;
        case OPT_PROGRESS: progress_flag = 1; break;
        case 'q': quiet = 1; break;
        case OPT_DEVICE:
            if (bert_device_parse(optarg, &device) < 0) die_usage("--device: '%s' is not cpu, cuda or auto", optarg);
            break;
        case OPT_PRECISION:
            if (bert_precision_parse(optarg, &gpu.precision) < 0)
                die_usage("--precision: '%s' is not fp32, tf32, bf16 or fp16", optarg);
            precision_given = gpu.precision != BERT_FP32;
            break;
        case OPT_DETERMINISTIC: gpu.deterministic = 1; break;
        case OPT_CRASH_AFTER: o.crash_after = parse_long_opt("--crash-after-steps", optarg, 1, 1L << 40); break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!model_dir) die_usage("--model DIR is required");
    if (!out_dir) die_usage("-o OUTDIR is required");
    if (optind < argc - 1) die_usage("more than one input file");
    if (!(o.lr > 0) || !(o.weight_decay >= 0) || !(o.max_grad_norm >= 0))
        die_usage("--lr must be > 0, --weight-decay and --max-grad-norm >= 0");
    if (!val_path && (o.eval_every || o.eval_parts || o.patience || o.eval_batch_size))
        die_usage("--eval-every, --eval-batch-size and --patience need a validation set (--val FILE)");
    if ((o.resume || o.checkpoint_every || stop_num) && !ckpt_dir)
        die_usage("--resume, --checkpoint-every and --stop-at need --checkpoint-dir DIR");
    if (device == BERT_DEVICE_CPU && precision_given && gpu.precision != BERT_BF16)
        die_usage("--precision %s is for the GPU (--device cuda or auto); the CPU trains in fp32 or bf16",
                  bert_precision_name(gpu.precision));
    const char *input = optind < argc ? argv[optind] : NULL;
    if (val_path && input && strcmp(val_path, input) == 0 && strcmp(val_path, "-") != 0)
        warn("--val %s is the training file too", val_path);
    if (val_path && strcmp(val_path, "-") == 0 && (!input || strcmp(input, "-") == 0))
        die_usage("the training records and --val cannot both come from standard input");
    o.seed = (uint64_t)seed;
    o.quiet = quiet;
    o.progress = progress_mode(quiet, progress_flag);
    if (threads > 0) openblas_set_num_threads((int)threads);

    /* the config first: records are checked against it */
    bert_config cfg;
    char err[MODEL_ERR_MAX], *path = path_join(model_dir, "config.json");
    if (bert_config_load(&cfg, path, err) < 0) die("%s", err);
    free(path);
    tok_dataset train, val;
    tokdata_read(&train, input, label_field, &cfg);
    if (val_path) tokdata_read(&val, val_path, label_field, &cfg);
    bert_config_free(&cfg);
    int nlabels;
    char **labels = tokdata_map_labels(&train, &nlabels);
    if (nlabels < 2) die("the records have %d label%s; a classifier needs at least 2", nlabels, nlabels == 1 ? "" : "s");
    if (val_path) tokdata_apply_labels(&val, labels, nlabels);

    const long total = train_total_steps(&o, train.n);
    if (o.eval_parts > total)
        die_usage("--eval-every 1/%ld: the run has only %ld step%s", o.eval_parts, total, total == 1 ? "" : "s");
    if (stop_num) /* A/B of the schedule: the step ceil(A x total / B), where --eval-every 1/P evaluates when B divides P */
        o.stop_at = stop_den ? (long)(((__int128)stop_num * total + stop_den - 1) / stop_den) : stop_num;

    double *weights = xmalloc((size_t)nlabels * sizeof *weights);
    const int weighted = class_weights(weights, &cw, gammas, ngammas, &train, labels, nlabels);

    bert_model m;
    if (bert_load(&m, model_dir, nlabels, (uint64_t)seed) < 0) die("%s", m.err);
    bert_config_set_labels(&m.cfg, (const char *const *)labels, nlabels);
    if (!quiet)
        for (int i = 0; i < m.num_fresh; i++) warn("%s is not in %s: initialised at random", m.fresh[i], model_dir);
    if (weighted) {
        float *fw = xmalloc((size_t)nlabels * sizeof *fw);
        for (int k = 0; k < nlabels; k++) fw[k] = (float)weights[k];
        bert_set_class_weights(&m, fw);
        free(fw);
    }

    char no_device[512];
    const int on = bert_dev_attach(&m, device, &gpu, no_device, sizeof no_device);
    if (on < 0) die("--device %s: %s", bert_device_name(device), no_device);
    if (on == BERT_DEVICE_CPU && precision_given && gpu.precision != BERT_BF16) {
        if (!quiet) warn("no CUDA device: training on the CPU in fp32, not %s", bert_precision_name(gpu.precision));
        gpu.precision = BERT_FP32;
    }
    /* bf16 on the CPU: the encoder's Linear layers through oneDNN, forward
     * and backward (lib/bert/lowp_matmul.h) */
    const int cpu_bf16 = on == BERT_DEVICE_CPU && gpu.precision == BERT_BF16;
    if (cpu_bf16 && bert_lowp_attach(&m, BERT_LOWP_BF16, NULL) < 0) die("--precision bf16: %s", m.err);
    if (cpu_bf16 && !quiet) fprintf(stderr, "%s: training on the CPU in %s\n", prog_name, bert_lowp_describe(&m));
    if (on == BERT_DEVICE_CUDA && !quiet)
        fprintf(stderr, "%s: training on %s in %s%s\n", prog_name, bert_cuda_describe(bert_dev_cuda(&m)),
                bert_precision_name(gpu.precision), gpu.deterministic ? ", deterministic" : "");

    cJSON *course = course_json(&o, seed, labels, nlabels, weighted ? weights : NULL);
    /* a bf16 run's checkpoint resumes only in bf16 (fp32's course has no
     * precision, as before, so that its checkpoints stay valid) */
    if (cpu_bf16) cJSON_AddStringToObject(course, "precision", "bf16");
    char *course_text = cJSON_PrintUnformatted(course);
    o.args_json = course_text;

    path = path_join(model_dir, "vocab.txt");
    struct stat sb;
    if (stat(path, &sb) < 0 && !quiet) warn("%s has no vocab.txt; %s gets none", model_dir, out_dir);
    free(path);

    /* fail on an unwritable place now, not after the training */
    if (log_path) {
        outfile probe;
        out_open(&probe, log_path);
        out_abort(&probe);
    }
    writable_dir(out_dir);
    char *ckpt = NULL;
    if (ckpt_dir) {
        writable_dir(ckpt_dir);
        lock_checkpoint_dir(ckpt_dir);
        ckpt = path_join(ckpt_dir, "checkpoint.bin");
        o.checkpoint = ckpt;
    }

    train_result res;
    int rc = train_run(&m, &train, val_path ? &val : NULL, &o, &res, NULL, NULL);
    if (rc < 0) {
        if (log_path) write_text(log_path, &res.log);
        die("%s", res.err);
    }
    if (res.paused) { /* the checkpoint holds the run; OUTDIR waits for its end */
        if (log_path) write_text(log_path, &res.log);
        cJSON *st = state_json(&res, o.metric);
        cJSON_AddBoolToObject(st, "paused", 1);
        path = path_join(ckpt_dir, "trainer_state.json"); /* where the run stands: step, total_steps */
        write_json(path, st);
        free(path);
        cJSON_Delete(st);
        goto done;
    }

    /* the directory: the old weights go first, the new ones come last, so
     * that no mix of two runs is ever a loadable model */
    path = path_join(out_dir, "model.safetensors");
    if (unlink(path) < 0 && errno != ENOENT) die("cannot remove %s: %s", path, strerror(errno));
    free(path);
    bert_copy_tokenizer(model_dir, out_dir);

    cJSON *args = cJSON_Duplicate(course, 1);
    cJSON_AddStringToObject(args, "model", model_dir);
    cJSON_AddStringToObject(args, "train", input_name(input));
    cJSON_AddItemToObject(args, "val", val_path ? cJSON_CreateString(input_name(val_path)) : cJSON_CreateNull());
    cJSON_AddStringToObject(args, "label_field", label_field);
    put_num(args, "examples", (double)train.n);
    put_num(args, "val_examples", val_path ? (double)val.n : 0);
    put_num(args, "steps", (double)res.total_steps);
    put_num(args, "warmup_steps_used", (double)res.warmup_steps);
    put_num(args, "threads", (double)threads);
    cJSON_AddStringToObject(args, "device", bert_device_name((bert_device)on));
    if (!cpu_bf16) cJSON_AddStringToObject(args, "precision", bert_precision_name(gpu.precision));
    cJSON_AddBoolToObject(args, "deterministic", on == BERT_DEVICE_CPU || gpu.deterministic);
    path = path_join(out_dir, "training_args.json");
    write_json(path, args);
    free(path);
    cJSON_Delete(args);

    cJSON *st = state_json(&res, o.metric);
    path = path_join(out_dir, "trainer_state.json");
    write_json(path, st);
    free(path);
    cJSON_Delete(st);

    path = path_join(out_dir, "train_log.jsonl");
    write_text(path, &res.log);
    free(path);
    if (log_path) write_text(log_path, &res.log);
    bert_save(&m, out_dir); /* config.json, then model.safetensors */

done:
    train_result_free(&res);
    bert_dev_detach(&m);
    bert_free(&m);
    cJSON_Delete(course);
    cJSON_free(course_text);
    tokdata_free(&train);
    if (val_path) tokdata_free(&val);
    for (size_t g = 0; g < ngammas; g++) free(gammas[g].label);
    free(gammas);
    lr_params_free(&cw);
    free(labels);
    free(weights);
    free(ckpt);
    return 0;
}
