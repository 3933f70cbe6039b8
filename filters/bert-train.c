/* bert-train: token records (input_ids, optional token_type_ids and
 * attention_mask, label) + a pretrained HF BERT directory -> a fine-tuned
 * BertForSequenceClassification directory. A first, minimal trainer on
 * lib/bert (CPU, fp32): shuffled mini-batches padded to their longest
 * sequence, AdamW with decoupled weight decay (none on biases and
 * LayerNorm), linear warmup and decay as transformers' default schedule,
 * gradient clipping, gradient accumulation, dropout from the config, seed.
 * Labels are mapped to class ids in byte order and saved as id2label. */
#include "bert.h"
#include "common.h"
#include "ndjson.h"
#include "outfile.h"
#include "prng.h"
#include "strbuf.h"
#include "strmap.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "Usage: bert-train [OPTIONS] --model DIR -o OUTDIR [FILE]\n"
    "Fine-tune a BERT encoder for sequence classification on token records\n"
    "(FILE or standard input: NDJSON with input_ids, optional token_type_ids\n"
    "and attention_mask, as wptok writes them, and a string label).\n"
    "\n"
    "  -m, --model DIR        pretrained HF BERT directory: config.json, vocab.txt,\n"
    "                         model.safetensors or pytorch_model.bin\n"
    "  -o, --output DIR       the fine-tuned model directory to write (created)\n"
    "  -e, --epochs N         passes over the data (default: 3)\n"
    "  -b, --batch-size N     sequences per optimizer step (default: 16)\n"
    "  --grad-accum N         split each batch into N micro-batches (default: 1)\n"
    "  --lr X                 peak learning rate (default: 5e-5)\n"
    "  --weight-decay X       AdamW decoupled weight decay, not on biases and\n"
    "                         LayerNorm (default: 0.01)\n"
    "  --warmup FRAC          share of the steps with a linear warmup; then a\n"
    "                         linear decay to 0 (default: 0)\n"
    "  --max-grad-norm X      clip the gradient's L2 norm (default: 1; 0: off)\n"
    "  --label-field NAME     the record's label field (default: label)\n"
    "  -s, --seed N           seed for shuffling, dropout and new weights (default: 42)\n"
    "  -q, --quiet            no progress lines on standard error\n"
    "  -h, --help             this help; -V, --version  the version\n"
    "\n"
    "OUTDIR gets config.json (with id2label/label2id, labels in byte order),\n"
    "model.safetensors, vocab.txt (copied), training_args.json and train_log.jsonl\n"
    "(one {\"step\", \"epoch\", \"lr\", \"loss\"} per optimizer step); it loads in\n"
    "HF transformers. Every file is written atomically. The same inputs and seed\n"
    "give byte-identical files. Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Example:\n"
    "  wptok --vocab model/vocab.txt --max-length 128 train.jsonl \\\n"
    "    | bert-train --model model --epochs 3 --lr 3e-5 -o finetuned\n";

enum { OPT_GRAD_ACCUM = 256, OPT_LR, OPT_WEIGHT_DECAY, OPT_WARMUP, OPT_MAX_GRAD_NORM, OPT_LABEL_FIELD };

typedef struct example {
    size_t off;   /* into the token arrays */
    int len, label;
    char *label_name;
} example;

typedef struct dataset {
    example *ex;
    size_t n, cap;
    int *ids, *types, *mask; /* concatenated sequences */
    size_t ntok, captok;
} dataset;

/* The int array rec[key] into *out (len values); -1 absent, dies when malformed. */
static int int_array(const ndjson_reader *r, const cJSON *rec, const char *key, int *out, int maxlen)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!a) return -1;
    if (!cJSON_IsArray(a)) die_at(r->name, r->line, "\"%s\" is not an array", key);
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9)
            die_at(r->name, r->line, "\"%s\" holds a value that is not an integer", key);
        if (n < maxlen) out[n] = (int)v->valuedouble;
        n++;
    }
    return n;
}

static void read_records(const char *path, const char *label_field, const bert_config *cfg, dataset *d)
{
    ndjson_reader r;
    ndjson_open(&r, path);
    cJSON *rec;
    int *buf = xmalloc((size_t)cfg->max_position * 3 * sizeof *buf);
    while ((rec = ndjson_next(&r))) {
        int *ids = buf, *types = buf + cfg->max_position, *mask = buf + 2 * cfg->max_position;
        int n = int_array(&r, rec, "input_ids", ids, cfg->max_position);
        if (n < 0) die_at(r.name, r.line, "no \"input_ids\" array (token records come from wptok)");
        if (n == 0) die_at(r.name, r.line, "\"input_ids\" is empty");
        if (n > cfg->max_position)
            die_at(r.name, r.line, "%d tokens, more than the model's max_position_embeddings %d (wptok --max-length)",
                   n, cfg->max_position);
        int nt = int_array(&r, rec, "token_type_ids", types, cfg->max_position);
        int nm = int_array(&r, rec, "attention_mask", mask, cfg->max_position);
        if ((nt >= 0 && nt != n) || (nm >= 0 && nm != n))
            die_at(r.name, r.line, "token_type_ids / attention_mask differ in length from input_ids");
        for (int i = 0; i < n; i++) {
            if (nt < 0) types[i] = 0;
            if (nm < 0) mask[i] = 1;
            if (ids[i] < 0 || ids[i] >= cfg->vocab_size)
                die_at(r.name, r.line, "token id %d is outside the model's vocabulary (size %d)", ids[i], cfg->vocab_size);
            if (types[i] < 0 || types[i] >= cfg->type_vocab_size)
                die_at(r.name, r.line, "token type %d is outside [0, %d)", types[i], cfg->type_vocab_size);
            if (mask[i] != 0 && mask[i] != 1) die_at(r.name, r.line, "attention_mask value %d is not 0 or 1", mask[i]);
        }
        const char *label = rec_require_string(&r, rec, label_field);
        if (d->n == d->cap) d->ex = xrealloc(d->ex, (d->cap = d->cap * 2 + 256) * sizeof *d->ex);
        while (d->ntok + (size_t)n > d->captok) {
            d->captok = d->captok * 2 + 4096;
            d->ids = xrealloc(d->ids, d->captok * sizeof(int));
            d->types = xrealloc(d->types, d->captok * sizeof(int));
            d->mask = xrealloc(d->mask, d->captok * sizeof(int));
        }
        memcpy(d->ids + d->ntok, ids, (size_t)n * sizeof(int));
        memcpy(d->types + d->ntok, types, (size_t)n * sizeof(int));
        memcpy(d->mask + d->ntok, mask, (size_t)n * sizeof(int));
        d->ex[d->n++] = (example){d->ntok, n, -1, xstrdup(label)};
        d->ntok += (size_t)n;
        cJSON_Delete(rec);
    }
    free(buf);
    if (d->n == 0) die("%s: no records", input_name(path));
    ndjson_close(&r);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Class ids in byte order of the label strings; returns the sorted names. */
static char **map_labels(dataset *d, int *nlabels)
{
    strmap seen = {0};
    char **names = NULL;
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        int is_new;
        strmap_put(&seen, d->ex[i].label_name, strlen(d->ex[i].label_name), 0, &is_new);
        if (is_new) {
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = d->ex[i].label_name;
        }
    }
    if (n < 2) die("the records have %zu label%s; a classifier needs at least 2", n, n == 1 ? "" : "s");
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t k = 0; k < n; k++) strmap_find(&seen, names[k], strlen(names[k]))->value = k;
    for (size_t i = 0; i < d->n; i++)
        d->ex[i].label = (int)strmap_find(&seen, d->ex[i].label_name, strlen(d->ex[i].label_name))->value;
    strmap_free(&seen);
    *nlabels = (int)n;
    return names;
}

/* transformers' get_linear_schedule_with_warmup, for the optimizer step t */
static double schedule(double lr, long t, long warmup, long total)
{
    if (t < warmup) return lr * (double)t / (double)warmup;
    double left = (double)(total - t) / (double)(total - warmup > 0 ? total - warmup : 1);
    return lr * (left > 0 ? left : 0);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) die("cannot open %s: %s", from, strerror(errno));
    outfile o;
    out_open(&o, to);
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, o.f);
    if (ferror(in)) die("cannot read %s", from);
    fclose(in);
    out_commit(&o);
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"output", required_argument, 0, 'o'},
        {"epochs", required_argument, 0, 'e'}, {"batch-size", required_argument, 0, 'b'},
        {"grad-accum", required_argument, 0, OPT_GRAD_ACCUM}, {"lr", required_argument, 0, OPT_LR},
        {"weight-decay", required_argument, 0, OPT_WEIGHT_DECAY}, {"warmup", required_argument, 0, OPT_WARMUP},
        {"max-grad-norm", required_argument, 0, OPT_MAX_GRAD_NORM},
        {"label-field", required_argument, 0, OPT_LABEL_FIELD}, {"seed", required_argument, 0, 's'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    const char *model_dir = NULL, *out_dir = NULL, *label_field = "label";
    long epochs = 3, batch = 16, accum = 1, seed = 42;
    double lr = 5e-5, wd = 0.01, warmup = 0, max_norm = 1.0;
    int quiet = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:o:e:b:s:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'o': out_dir = optarg; break;
        case 'e': epochs = parse_long_opt("--epochs", optarg, 1, 100000); break;
        case 'b': batch = parse_long_opt("--batch-size", optarg, 1, 1 << 20); break;
        case OPT_GRAD_ACCUM: accum = parse_long_opt("--grad-accum", optarg, 1, 1 << 20); break;
        case OPT_LR: lr = parse_double_opt("--lr", optarg); break;
        case OPT_WEIGHT_DECAY: wd = parse_double_opt("--weight-decay", optarg); break;
        case OPT_WARMUP: warmup = parse_fraction_opt("--warmup", optarg); break;
        case OPT_MAX_GRAD_NORM: max_norm = parse_double_opt("--max-grad-norm", optarg); break;
        case OPT_LABEL_FIELD: label_field = optarg; break;
        case 's': seed = parse_long_opt("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!model_dir) die_usage("--model DIR is required");
    if (!out_dir) die_usage("-o OUTDIR is required");
    if (optind < argc - 1) die_usage("more than one input file");
    if (!(lr > 0) || !(wd >= 0) || !(max_norm >= 0)) die_usage("--lr must be > 0, --weight-decay and --max-grad-norm >= 0");
    if (batch % accum) die_usage("--batch-size %ld is not a multiple of --grad-accum %ld", batch, accum);
    const char *input = optind < argc ? argv[optind] : NULL;

    bert_config cfg;
    char err[MODEL_ERR_MAX], path[4200];
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    if (bert_config_load(&cfg, path, err) < 0) die("%s", err);
    dataset d = {0};
    read_records(input, label_field, &cfg, &d);
    bert_config_free(&cfg);
    int nlabels;
    char **labels = map_labels(&d, &nlabels);

    bert_model m;
    if (bert_load(&m, model_dir, nlabels, (uint64_t)seed) < 0) die("%s", m.err);
    bert_config_set_labels(&m.cfg, (const char *const *)labels, nlabels);
    if (!quiet)
        for (int i = 0; i < m.num_fresh; i++) warn("%s is not in %s: initialised at random", m.fresh[i], model_dir);

    const long steps_per_epoch = (long)((d.n + (size_t)batch - 1) / (size_t)batch), total = steps_per_epoch * epochs;
    const long warmup_steps = (long)ceil(warmup * (double)total);
    size_t *order = xmalloc(d.n * sizeof *order);
    prng shuffle;
    prng_seed(&shuffle, (uint64_t)seed, 0x73687566 /* "shuf" */);
    const long micro = batch / accum;
    int *ids = xmalloc((size_t)micro * m.cfg.max_position * sizeof(int));
    int *types = xmalloc((size_t)micro * m.cfg.max_position * sizeof(int));
    int *mask = xmalloc((size_t)micro * m.cfg.max_position * sizeof(int));
    int *blabels = xmalloc((size_t)micro * sizeof(int));
    if (mkdir(out_dir, 0755) < 0 && errno != EEXIST) die("cannot create %s: %s", out_dir, strerror(errno));
    snprintf(path, sizeof path, "%s/train_log.jsonl", out_dir);
    outfile log;
    out_open(&log, path);
    long step = 0;
    for (long epoch = 0; epoch < epochs; epoch++) {
        for (size_t i = 0; i < d.n; i++) order[i] = i;
        prng_shuffle(&shuffle, order, d.n);
        double epoch_loss = 0;
        for (size_t start = 0; start < d.n; start += (size_t)batch, step++) {
            size_t end = start + (size_t)batch < d.n ? start + (size_t)batch : d.n;
            double wsum = (double)(end - start), step_loss = 0;
            bert_zero_grad(&m);
            for (size_t ms = start; ms < end; ms += (size_t)micro) {
                size_t me = ms + (size_t)micro < end ? ms + (size_t)micro : end;
                int B = (int)(me - ms), T = 0;
                for (size_t k = ms; k < me; k++)
                    if (d.ex[order[k]].len > T) T = d.ex[order[k]].len;
                for (int b = 0; b < B; b++) { /* pad to the longest sequence of the micro-batch */
                    const example *e = &d.ex[order[ms + (size_t)b]];
                    for (int t = 0; t < T; t++) {
                        size_t o = (size_t)b * T + t;
                        int in = t < e->len;
                        ids[o] = in ? d.ids[e->off + t] : m.cfg.pad_token_id;
                        types[o] = in ? d.types[e->off + t] : 0;
                        mask[o] = in ? d.mask[e->off + t] : 0;
                    }
                    blabels[b] = e->label;
                }
                bert_batch bt = {B, T, ids, types, mask, blabels};
                if (bert_forward(&m, &bt, 1) < 0) die("%s", m.err);
                step_loss += m.loss * (double)B;
                bert_backward(&m, wsum); /* divided by the whole batch: accumulation = one batch */
            }
            if (max_norm > 0) bert_clip_grad_norm(&m, (float)max_norm);
            double step_lr = schedule(lr, step, warmup_steps, total);
            bert_adamw opt = {(float)step_lr, 0.9f, 0.999f, 1e-8f, (float)wd};
            bert_adamw_step(&m, &opt);
            step_loss /= wsum;
            epoch_loss += step_loss * wsum;
            fprintf(log.f, "{\"step\":%ld,\"epoch\":%ld,\"lr\":%.9g,\"loss\":%.7f}\n", step + 1, epoch + 1, step_lr,
                    step_loss);
        }
        if (!quiet) fprintf(stderr, "bert-train: epoch %ld/%ld: mean loss %.5f\n", epoch + 1, epochs, epoch_loss / d.n);
    }

    bert_save(&m, out_dir);
    snprintf(path, sizeof path, "%s/vocab.txt", model_dir);
    char to[4200];
    snprintf(to, sizeof to, "%s/vocab.txt", out_dir);
    struct stat sb;
    if (stat(path, &sb) == 0) copy_file(path, to);
    else if (!quiet) warn("%s has no vocab.txt; %s gets none", model_dir, out_dir);
    snprintf(to, sizeof to, "%s/training_args.json", out_dir);
    outfile args;
    out_open(&args, to);
    strbuf q = {0};
    json_quote(&q, model_dir, strlen(model_dir));
    fprintf(args.f,
            "{\n  \"model\": %s,\n  \"epochs\": %ld,\n  \"batch_size\": %ld,\n  \"grad_accum\": %ld,\n"
            "  \"lr\": %.9g,\n  \"weight_decay\": %.9g,\n  \"warmup\": %.9g,\n  \"max_grad_norm\": %.9g,\n"
            "  \"seed\": %ld,\n  \"steps\": %ld,\n  \"examples\": %zu\n}\n",
            sb_str(&q), epochs, batch, accum, lr, wd, warmup, max_norm, seed, total, d.n);
    sb_free(&q);
    out_commit(&args);
    out_commit(&log);

    bert_free(&m);
    for (size_t i = 0; i < d.n; i++) free(d.ex[i].label_name);
    free(d.ex), free(d.ids), free(d.types), free(d.mask), free(labels), free(order);
    free(ids), free(types), free(mask), free(blabels);
    return 0;
}
