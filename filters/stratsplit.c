/* stratsplit: NDJSON records -> an exact stratified split (one file per split
 * or records tagged with "split"), with the assignment saved (--ids-out) or
 * reused (--ids-in), and the train split optionally subsampled, resampled to
 * a target class share, or over/under-sampled. The sizes and draws live in
 * lib/text/split and lib/text/apportion; this file holds options, records and outputs.
 * Records are kept in memory as their original JSON text. */
#include "text/apportion.h"
#include "core/common.h"
#include "core/ndjson.h"
#include "core/outfile.h"
#include "core/prng.h"
#include "text/split.h"
#include "core/strbuf.h"
#include "core/strmap.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: stratsplit [OPTIONS] [FILE]\n"
    "Split NDJSON records (FILE or standard input) into train/val/test sets with\n"
    "exact per-class proportions, and optionally sample the train split.\n"
    "\n"
    "Split:\n"
    "  -r, --ratios LIST    split ratios, '/' or ',' between them: 70/15/15,\n"
    "                       80/20, 0.7,0.15,0.15; percentages must sum to 100,\n"
    "                       fractions to 1 (default: 70/15/15)\n"
    "  -n, --names LIST     split names, comma-separated (default: train,test for\n"
    "                       2 splits, train,val,test for 3, else split1..splitN)\n"
    "  -s, --seed N         seed, an unsigned 64-bit integer (default: 0)\n"
    "  --per-class NAME=N   split NAME gets exactly N rows of every class (a\n"
    "                       balanced held-out set); --names lists it, --ratios\n"
    "                       gives the other splits' shares of the rest\n"
    "  --allow-empty-class  let a class too small to reach every split leave some\n"
    "                       split without rows (default: an error; or drop small\n"
    "                       classes first with csvclean --min-class-count N)\n"
    "  --id-field NAME      the record's id field (default: id)\n"
    "  --label-field NAME   the record's label field (default: label)\n"
    "  --ids-out FILE       save the assignment as NDJSON {\"id\", \"split\"}\n"
    "  --ids-in FILE        take the assignment from such a file instead\n"
    "\n"
    "Train sampling (in this order; the train split is --train NAME, by default\n"
    "'train' or else the first split):\n"
    "  --subsample FRAC     stratified subsample: FRAC of the train rows\n"
    "                       (0.4, 40% or 2/5), every class in proportion\n"
    "  --resample LABEL=FRAC  resample train without replacement so that LABEL\n"
    "                       has FRAC of --total rows, the other classes the rest\n"
    "                       in proportion to their sizes\n"
    "  --total N            the resampled train size (with --resample)\n"
    "  --oversample         raise every class to the largest class's size by\n"
    "                       drawing extra copies with replacement\n"
    "  --undersample        cut every class to the smallest class's size\n"
    "\n"
    "Output:\n"
    "  -d, --dir DIR        write DIR/NAME.jsonl per split (records unchanged);\n"
    "                       DIR is created if missing\n"
    "  -o, --output FILE    without -d: all records, each tagged with \"split\",\n"
    "                       to FILE instead of standard output\n"
    "  --stats FILE         also write the per-split class counts as JSON\n"
    "  --progress           a progress bar on standard error (reading the\n"
    "                       records) even when it is not a terminal\n"
    "  -q, --quiet          no summary table or progress bar on standard error\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "Records keep input order in every output (a row's oversampled copies follow\n"
    "it). Every file is written atomically: nothing is published unless the run\n"
    "succeeds. Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  stratsplit --ratios 70/15/15 --seed 42 --ids-out ids.jsonl -d split/ clean.jsonl\n"
    "  stratsplit --ids-in ids.jsonl --seed 42 --subsample 40% -d split/ clean.jsonl\n"
    "  stratsplit --ratios 80/20 --resample accept=1/4 --total 1200 papers.jsonl\n"
    "  csvclean --preset tweet --id textID --label sentiment train.csv \\\n"
    "    | stratsplit -q --seed 42 | jq -c 'select(.split == \"val\")'\n";

enum {
    OPT_ID_FIELD = 256, OPT_LABEL_FIELD, OPT_IDS_OUT, OPT_IDS_IN, OPT_ALLOW_EMPTY, OPT_TRAIN,
    OPT_SUBSAMPLE, OPT_RESAMPLE, OPT_TOTAL, OPT_OVERSAMPLE, OPT_UNDERSAMPLE, OPT_STATS, OPT_PROGRESS,
    OPT_PER_CLASS
};

/* PRNG streams of the one seed, one per decision (lib/core/prng) */
enum { STREAM_SPLIT = 1, STREAM_SUBSAMPLE = 2, STREAM_RESAMPLE = 3, STREAM_BALANCE = 4 };

enum balance { BALANCE_NONE, BALANCE_RESAMPLE, BALANCE_OVER, BALANCE_UNDER };

typedef struct config {
    const char *input, *ratios_arg, *names_arg, *id_field, *label_field;
    const char *ids_out, *ids_in, *dir, *output, *stats_path, *train_name;
    double *ratios;
    size_t nsplits;
    const char *per_class_arg; /* --per-class NAME=N */
    char *per_class_name;
    size_t per_class, per_class_split;
    char **names;
    char *names_list; /* "train,val,test", for messages */
    uint64_t seed;
    int allow_empty_class, quiet, progress;
    double subsample; /* < 0: none */
    enum balance balance;
    char *resample_label;
    double resample_frac;
    long total; /* 0: not given */
} config;

/* one record, held as its JSON text from '{' to '}' */
typedef struct row {
    size_t off, len;
    size_t id_off, id_len;
    long line;
    int has_split; /* it already has a "split" member */
} row;

typedef struct dataset {
    const char *name;
    strbuf text; /* record texts and ids */
    row *rows;
    size_t *class_of;
    size_t n, cap;
    char **labels; /* byte-sorted */
    size_t nclasses;
    strmap ids;        /* id -> row */
    strmap label_rank; /* label -> class, while reading */
    size_t *split_of;  /* the split of each row */
    size_t *copies;    /* how many times each row is written (train sampling) */
    size_t *table;     /* [split * nclasses + class]: rows written */
} dataset;

static uint64_t parse_seed(const char *s)
{
    /* strtoull alone would take " 1", "+1" and, negated, "-1" */
    if (!(s[0] >= '0' && s[0] <= '9')) die_usage("--seed: '%s' is not an unsigned 64-bit integer", s);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE) die_usage("--seed: '%s' is not an unsigned 64-bit integer", s);
    return (uint64_t)v;
}

/* Fills c->names as it goes, so that what is allocated stays reachable
 * should an error end the program (leak checkers run at exit). */
static size_t parse_names(config *c, const char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    char **names = c->names = xcalloc(n, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(s, ",");
        names[i] = xstrndup(s, len);
        s += len + 1;
        if (len == 0 || strchr(names[i], '/') || strcmp(names[i], ".") == 0 || strcmp(names[i], "..") == 0)
            die_usage("--names: '%s' cannot name a split (nor a file)", names[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], names[i]) == 0) die_usage("--names: '%s' given twice", names[i]);
    }
    return n;
}

static void set_balance(config *c, enum balance b)
{
    if (c->balance != BALANCE_NONE && c->balance != b)
        die_usage("--resample, --oversample and --undersample exclude one another");
    c->balance = b;
}

static void parse_args(config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"ratios", required_argument, 0, 'r'},
        {"names", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},
        {"allow-empty-class", no_argument, 0, OPT_ALLOW_EMPTY},
        {"per-class", required_argument, 0, OPT_PER_CLASS},
        {"id-field", required_argument, 0, OPT_ID_FIELD},
        {"label-field", required_argument, 0, OPT_LABEL_FIELD},
        {"ids-out", required_argument, 0, OPT_IDS_OUT},
        {"ids-in", required_argument, 0, OPT_IDS_IN},
        {"train", required_argument, 0, OPT_TRAIN},
        {"subsample", required_argument, 0, OPT_SUBSAMPLE},
        {"resample", required_argument, 0, OPT_RESAMPLE},
        {"total", required_argument, 0, OPT_TOTAL},
        {"oversample", no_argument, 0, OPT_OVERSAMPLE},
        {"undersample", no_argument, 0, OPT_UNDERSAMPLE},
        {"dir", required_argument, 0, 'd'},
        {"output", required_argument, 0, 'o'},
        {"stats", required_argument, 0, OPT_STATS},
        {"quiet", no_argument, 0, 'q'},
        {"progress", no_argument, 0, OPT_PROGRESS},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    c->ratios_arg = "70/15/15";
    c->id_field = "id";
    c->label_field = "label";
    c->subsample = -1;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":r:n:s:d:o:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'r': c->ratios_arg = optarg; break;
        case 'n': c->names_arg = optarg; break;
        case 's': c->seed = parse_seed(optarg); break;
        case OPT_ALLOW_EMPTY: c->allow_empty_class = 1; break;
        case OPT_PER_CLASS: {
            const char *eq = strrchr(optarg, '=');
            if (!eq || eq == optarg) die_usage("--per-class: expected NAME=N, got '%s'", optarg);
            free(c->per_class_name);
            c->per_class_name = xstrndup(optarg, (size_t)(eq - optarg));
            c->per_class = (size_t)parse_long_opt("--per-class", eq + 1, 1, 1L << 40);
            c->per_class_arg = optarg;
            break;
        }
        case OPT_ID_FIELD: c->id_field = optarg; break;
        case OPT_LABEL_FIELD: c->label_field = optarg; break;
        case OPT_IDS_OUT: c->ids_out = optarg; break;
        case OPT_IDS_IN: c->ids_in = optarg; break;
        case OPT_TRAIN: c->train_name = optarg; break;
        case OPT_SUBSAMPLE: c->subsample = parse_fraction_opt("--subsample", optarg); break;
        case OPT_RESAMPLE: {
            const char *eq = strrchr(optarg, '=');
            if (!eq || eq == optarg) die_usage("--resample: expected LABEL=FRAC, got '%s'", optarg);
            set_balance(c, BALANCE_RESAMPLE);
            free(c->resample_label);
            c->resample_label = xstrndup(optarg, (size_t)(eq - optarg));
            c->resample_frac = parse_fraction_opt("--resample", eq + 1);
            break;
        }
        case OPT_TOTAL: c->total = parse_long_opt("--total", optarg, 1, 1L << 40); break;
        case OPT_OVERSAMPLE: set_balance(c, BALANCE_OVER); break;
        case OPT_UNDERSAMPLE: set_balance(c, BALANCE_UNDER); break;
        case 'd': c->dir = optarg; break;
        case 'o': c->output = optarg; break;
        case OPT_STATS: c->stats_path = optarg; break;
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
    if (c->dir && c->output) die_usage("-d and -o exclude one another");
    if (c->balance == BALANCE_RESAMPLE && !c->total) die_usage("--resample needs --total N");
    if (c->total && c->balance != BALANCE_RESAMPLE) die_usage("--total goes with --resample");

    c->nsplits = parse_ratios_opt("--ratios", c->ratios_arg, &c->ratios);
    if (c->per_class_arg) {
        /* the held-out split has no ratio of its own */
        if (!c->names_arg) die_usage("--per-class needs --names (the held-out split among them)");
        if (c->ids_in) die_usage("--per-class and --ids-in exclude one another (the ids say the splits)");
        c->nsplits++;
    }
    if (c->names_arg) {
        size_t n = parse_names(c, c->names_arg);
        if (n != c->nsplits)
            die_usage("--names: %zu name%s for %zu ratio%s%s", n, n == 1 ? "" : "s", c->nsplits - !!c->per_class_arg,
                      c->nsplits - !!c->per_class_arg == 1 ? "" : "s", c->per_class_arg ? " and --per-class" : "");
        if (c->per_class_arg) {
            size_t s = 0;
            while (s < c->nsplits && strcmp(c->names[s], c->per_class_name) != 0) s++;
            if (s == c->nsplits) die_usage("--per-class: no split named '%s' in --names", c->per_class_name);
            c->per_class_split = s;
        }
    } else {
        c->names = default_split_names(c->nsplits);
    }
    strbuf list = {0};
    for (size_t s = 0; s < c->nsplits; s++) {
        if (s) sb_addc(&list, ',');
        sb_adds(&list, c->names[s]);
    }
    c->names_list = list.s;
    if (c->train_name) {
        size_t s = 0;
        while (s < c->nsplits && strcmp(c->names[s], c->train_name) != 0) s++;
        if (s == c->nsplits) die_usage("--train: no split named '%s'", c->train_name);
    }
}

static size_t find_split(const config *c, const char *name)
{
    for (size_t s = 0; s < c->nsplits; s++)
        if (strcmp(c->names[s], name) == 0) return s;
    return c->nsplits;
}

static size_t train_split(const config *c)
{
    size_t s = find_split(c, c->train_name ? c->train_name : "train");
    return s < c->nsplits ? s : 0;
}

static const char *row_text(const dataset *d, size_t i) { return d->text.s + d->rows[i].off; }
static const char *row_id(const dataset *d, size_t i) { return d->text.s + d->rows[i].id_off; }

static int compare_labels(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Numbers the classes in byte-sorted label order. */
static void sort_classes(dataset *d)
{
    char **sorted = xmalloc(d->nclasses * sizeof *sorted);
    memcpy(sorted, d->labels, d->nclasses * sizeof *sorted);
    qsort(sorted, d->nclasses, sizeof *sorted, compare_labels);
    strmap rank = {0};
    for (size_t c = 0; c < d->nclasses; c++) strmap_put(&rank, sorted[c], strlen(sorted[c]), c, NULL);
    size_t *renumber = xmalloc(d->nclasses * sizeof *renumber);
    for (size_t c = 0; c < d->nclasses; c++)
        renumber[c] = strmap_find(&rank, d->labels[c], strlen(d->labels[c]))->value;
    for (size_t i = 0; i < d->n; i++) d->class_of[i] = renumber[d->class_of[i]];
    free(renumber);
    strmap_free(&rank);
    free(d->labels);
    d->labels = sorted;
}

/* The string value of key, or the end of the program with the record freed
 * first (every error path frees what it holds: leak checkers run at exit). */
static const char *record_field(const ndjson_reader *r, cJSON *rec, const char *key)
{
    const char *v = rec_string(rec, key);
    if (v) return v;
    int present = cJSON_GetObjectItemCaseSensitive(rec, key) != NULL;
    cJSON_Delete(rec);
    if (present) die_at(r->name, r->line, "\"%s\" is not a string", key);
    die_at(r->name, r->line, "record has no \"%s\"", key);
}

static void read_records(dataset *d, const config *c)
{
    ndjson_reader r;
    ndjson_open(&r, c->input);
    progress bar;
    ndjson_progress(&r, &bar, progress_mode(c->quiet, c->progress));
    memset(d, 0, sizeof *d);
    d->name = r.name;
    strmap *labels = &d->label_rank;
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        const char *id = record_field(&r, rec, c->id_field);
        const char *label = record_field(&r, rec, c->label_field);
        int is_new;
        strmap_entry *e = strmap_put(&d->ids, id, strlen(id), d->n, &is_new);
        if (!is_new) {
            cJSON_Delete(rec);
            die_at(r.name, r.line, "duplicate id '%s' (first on line %ld)", e->key, d->rows[e->value].line);
        }
        if (d->n == d->cap) {
            d->cap = d->cap ? 2 * d->cap : 1024;
            d->rows = xrealloc(d->rows, d->cap * sizeof *d->rows);
            d->class_of = xrealloc(d->class_of, d->cap * sizeof *d->class_of);
        }
        e = strmap_put(labels, label, strlen(label), d->nclasses, &is_new);
        if (is_new) {
            d->labels = xrealloc(d->labels, (d->nclasses + 1) * sizeof *d->labels);
            d->labels[d->nclasses++] = xstrdup(label);
        }
        d->class_of[d->n] = e->value;
        /* the object's own bytes: only blanks (and a BOM) surround them */
        const char *open = strchr(r.buf, '{'), *close = strrchr(r.buf, '}');
        row *w = &d->rows[d->n++];
        w->line = r.line;
        w->off = d->text.len;
        w->len = (size_t)(close - open) + 1;
        sb_addn(&d->text, open, w->len);
        w->id_off = d->text.len;
        w->id_len = strlen(id);
        sb_addn(&d->text, id, w->id_len + 1);
        w->has_split = cJSON_GetObjectItemCaseSensitive(rec, "split") != NULL;
        cJSON_Delete(rec);
    }
    ndjson_progress_end(&r);
    ndjson_close(&r);
    strmap_free(labels);
    if (d->n == 0) die_at(d->name, 0, "no records");
    sort_classes(d);
}

static void assign_splits(const config *c, dataset *d)
{
    class_rows all;
    class_rows_build(&all, d->class_of, NULL, d->n, d->nclasses);
    size_t *counts = xmalloc(d->nclasses * c->nsplits * sizeof *counts);
    if (c->per_class_arg) {
        size_t small = split_counts_per_class(&all, c->ratios, c->nsplits, c->per_class_split, c->per_class, counts);
        if (small < d->nclasses) {
            size_t m = class_size(&all, small);
            free(counts);
            class_rows_free(&all);
            die("class '%s' has %zu row%s, fewer than --per-class %s", d->labels[small], m, m == 1 ? "" : "s",
                c->per_class_arg);
        }
    } else {
        split_counts(&all, c->ratios, c->nsplits, counts);
    }
    size_t empty = d->nclasses * c->nsplits; /* the first class x split left empty */
    for (size_t ks = 0; ks < d->nclasses * c->nsplits && !c->allow_empty_class; ks++)
        if (counts[ks] == 0) {
            empty = ks;
            break;
        }
    if (empty < d->nclasses * c->nsplits) {
        size_t k = empty / c->nsplits, s = empty % c->nsplits, m = class_size(&all, k);
        free(counts);
        class_rows_free(&all);
        die("class '%s' has %zu row%s, too few for %zu splits at %s (split '%s' would get none); "
            "drop small classes (csvclean --min-class-count) or pass --allow-empty-class",
            d->labels[k], m, m == 1 ? "" : "s", c->nsplits, c->ratios_arg, c->names[s]);
    }
    prng r;
    prng_seed(&r, c->seed, STREAM_SPLIT);
    split_assign(&all, counts, c->nsplits, &r, d->split_of);
    free(counts);
    class_rows_free(&all);
}

/* --ids-in: the assignment as saved by --ids-out */
static void read_assignment(const config *c, dataset *d)
{
    size_t *split_of = d->split_of;
    for (size_t i = 0; i < d->n; i++) split_of[i] = SIZE_MAX;
    ndjson_reader r;
    ndjson_open(&r, c->ids_in);
    strmap seen = {0}; /* id -> line */
    size_t listed = 0;
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        const char *id = record_field(&r, rec, "id");
        const char *name = record_field(&r, rec, "split");
        int is_new;
        strmap_entry *e = strmap_put(&seen, id, strlen(id), (size_t)r.line, &is_new);
        if (!is_new) {
            cJSON_Delete(rec);
            die_at(r.name, r.line, "duplicate id '%s' (first on line %zu)", e->key, e->value);
        }
        size_t s = find_split(c, name);
        if (s == c->nsplits) {
            char shown[256];
            snprintf(shown, sizeof shown, "%s", name);
            cJSON_Delete(rec);
            die_at(r.name, r.line, "unknown split '%s' (splits: %s; see --names)", shown, c->names_list);
        }
        e = strmap_find(&d->ids, id, strlen(id));
        if (e) {
            split_of[e->value] = s;
            listed++;
        }
        cJSON_Delete(rec);
    }
    const char *ids_name = r.name;
    for (size_t i = 0; i < d->n; i++)
        if (split_of[i] == SIZE_MAX)
            die_at(d->name, d->rows[i].line, "id '%s' is not in %s", row_id(d, i), ids_name);
    if (seen.count > listed)
        warn("%s: %zu id%s not in the input, ignored", ids_name, seen.count - listed,
             seen.count - listed == 1 ? " is" : "s are");
    strmap_free(&seen);
    ndjson_close(&r);
}

/* The rows of split s still drawn (copies > 0), grouped by class. */
static void split_rows(class_rows *cr, const dataset *d, size_t s)
{
    size_t *subset = xmalloc(d->n * sizeof *subset), n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->split_of[i] == s && d->copies[i] > 0) subset[n++] = i;
    class_rows_build(cr, d->class_of, subset, n, d->nclasses);
    free(subset);
}

static void subsample_train(const config *c, dataset *d)
{
    size_t train = train_split(c);
    class_rows cr;
    split_rows(&cr, d, train);
    size_t *sizes = xmalloc(d->nclasses * sizeof *sizes), *want = xmalloc(d->nclasses * sizeof *want);
    class_sizes(&cr, sizes);
    size_t total = round_half_up(c->subsample * (double)cr.start[d->nclasses]);
    apportion_sizes(total, sizes, d->nclasses, want);
    prng r;
    prng_seed(&r, c->seed, STREAM_SUBSAMPLE);
    sample_by_class(&cr, want, &r, d->copies);
    free(sizes);
    free(want);
    class_rows_free(&cr);
}

/* The class named by --resample, before anything is allocated. */
static size_t resample_target(const config *c, const dataset *d)
{
    for (size_t k = 0; k < d->nclasses; k++)
        if (strcmp(d->labels[k], c->resample_label) == 0) return k;
    die("--resample: no class '%s' in the input", c->resample_label);
}

static void rebalance_train(const config *c, dataset *d)
{
    size_t train = train_split(c);
    const char *train_name = c->names[train];
    size_t target = c->balance == BALANCE_RESAMPLE ? resample_target(c, d) : 0;
    class_rows cr;
    split_rows(&cr, d, train);
    size_t *sizes = xmalloc(d->nclasses * sizeof *sizes), *want = xmalloc(d->nclasses * sizeof *want);
    class_sizes(&cr, sizes);
    uint64_t stream = STREAM_BALANCE;
    if (c->balance == BALANCE_RESAMPLE) {
        stream = STREAM_RESAMPLE;
        size_t total = (size_t)c->total, target_count = round_half_up(c->resample_frac * (double)total);
        int shared = resample_counts(sizes, d->nclasses, target, target_count, total, want) == 0;
        size_t short_class = 0;
        while (short_class < d->nclasses && want[short_class] <= sizes[short_class]) short_class++;
        if (!shared || short_class < d->nclasses) {
            /* free first: leak checkers run at exit */
            size_t k = short_class, needs = shared ? want[k] : 0, has = shared ? sizes[k] : 0;
            free(sizes);
            free(want);
            class_rows_free(&cr);
            if (!shared)
                die("--resample: '%s' has no rows of classes other than '%s' for the other %zu of %zu rows",
                    train_name, c->resample_label, total - target_count, total);
            die("class '%s' needs %zu rows in '%s' but has %zu", d->labels[k], needs, train_name, has);
        }
    } else {
        balance_counts(sizes, d->nclasses, c->balance == BALANCE_OVER, want);
    }
    prng r;
    prng_seed(&r, c->seed, stream);
    sample_by_class(&cr, want, &r, d->copies);
    free(sizes);
    free(want);
    class_rows_free(&cr);
}

static void quote(strbuf *b, const char *s) { json_quote(b, s, strlen(s)); }

/* Writes row i (copies[i] times) as it came, or tagged with "split". */
static void write_row(FILE *f, const dataset *d, size_t i, size_t copies, const char *tag_json, const char *tag)
{
    const row *w = &d->rows[i];
    for (size_t k = 0; k < copies; k++) {
        if (!tag_json) {
            fwrite(row_text(d, i), 1, w->len, f);
            fputc('\n', f);
        } else if (w->has_split) {
            cJSON *rec = cJSON_ParseWithLength(row_text(d, i), w->len);
            if (!rec) die("out of memory parsing a record");
            rec_set_string(rec, "split", tag);
            ndjson_write(f, rec);
            cJSON_Delete(rec);
        } else {
            /* the text ends with the object's '}' and the object has members
             * (id and label at least): add one more before the brace */
            fwrite(row_text(d, i), 1, w->len - 1, f);
            fprintf(f, ",\"split\":%s}\n", tag_json);
        }
    }
}


static void count_table(const config *c, dataset *d)
{
    d->table = xcalloc(c->nsplits * d->nclasses, sizeof *d->table);
    for (size_t i = 0; i < d->n; i++) d->table[d->split_of[i] * d->nclasses + d->class_of[i]] += d->copies[i];
}

static void write_stats(FILE *f, const config *c, const dataset *d)
{
    const size_t *table = d->table;
    strbuf b = {0};
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, c->seed);
    sb_adds(&b, "{\n  \"seed\": ");
    sb_adds(&b, num);
    snprintf(num, sizeof num, "%zu", d->n);
    sb_adds(&b, ",\n  \"rows\": ");
    sb_adds(&b, num);
    sb_adds(&b, ",\n  \"splits\": {");
    for (size_t s = 0; s < c->nsplits; s++) {
        sb_adds(&b, s ? ",\n    " : "\n    ");
        quote(&b, c->names[s]);
        sb_adds(&b, ": {");
        size_t total = 0;
        for (size_t k = 0; k < d->nclasses; k++) {
            quote(&b, d->labels[k]);
            snprintf(num, sizeof num, ": %zu, ", table[s * d->nclasses + k]);
            sb_adds(&b, num);
            total += table[s * d->nclasses + k];
        }
        snprintf(num, sizeof num, "\"total\": %zu}", total);
        sb_adds(&b, num);
    }
    sb_adds(&b, "\n  }\n}\n");
    fputs(sb_str(&b), f);
    sb_free(&b);
}

static int digits(size_t v)
{
    int n = 1;
    while (v >= 10) v /= 10, n++;
    return n;
}

/* The summary: a header line, then one row per split of per-class counts
 * and the total, columns right-aligned and two spaces apart. */
static void print_summary(const config *c, const dataset *d)
{
    const size_t *table = d->table;
    size_t nk = d->nclasses;
    fprintf(stderr, "%s: %zu row%s, %zu class%s, seed %" PRIu64 "\n", prog_name, d->n, d->n == 1 ? "" : "s", nk,
            nk == 1 ? "" : "es", c->seed);
    int *width = xmalloc((nk + 2) * sizeof *width);
    size_t *totals = xcalloc(c->nsplits, sizeof *totals);
    width[0] = 5; /* "split" */
    for (size_t s = 0; s < c->nsplits; s++) {
        int len = (int)strlen(c->names[s]);
        if (len > width[0]) width[0] = len;
    }
    width[nk + 1] = 5; /* "total" */
    for (size_t k = 0; k < nk; k++) {
        width[k + 1] = (int)strlen(d->labels[k]);
        for (size_t s = 0; s < c->nsplits; s++) {
            size_t v = table[s * nk + k];
            totals[s] += v;
            if (digits(v) > width[k + 1]) width[k + 1] = digits(v);
        }
    }
    for (size_t s = 0; s < c->nsplits; s++)
        if (digits(totals[s]) > width[nk + 1]) width[nk + 1] = digits(totals[s]);
    fprintf(stderr, "%-*s", width[0], "split");
    for (size_t k = 0; k < nk; k++) fprintf(stderr, "  %*s", width[k + 1], d->labels[k]);
    fprintf(stderr, "  %*s\n", width[nk + 1], "total");
    for (size_t s = 0; s < c->nsplits; s++) {
        fprintf(stderr, "%-*s", width[0], c->names[s]);
        for (size_t k = 0; k < nk; k++) fprintf(stderr, "  %*zu", width[k + 1], table[s * nk + k]);
        fprintf(stderr, "  %*zu\n", width[nk + 1], totals[s]);
    }
    free(width);
    free(totals);
}

/* Every output of a run. main holds it, so that what it points to stays
 * reachable if an error ends the program while files are open (leak
 * checkers run at exit; the temporaries are removed by lib/core/outfile). */
typedef struct outputs {
    outfile *files; /* one per split with -d, else the one tagged output */
    size_t nfiles;
    outfile ids, stats;
    char **tags; /* the split names as JSON strings */
} outputs;

static void open_outputs(outputs *o, const config *c)
{
    memset(o, 0, sizeof *o);
    o->tags = xcalloc(c->nsplits, sizeof *o->tags);
    for (size_t s = 0; s < c->nsplits; s++) {
        strbuf b = {0};
        quote(&b, c->names[s]);
        o->tags[s] = b.s;
    }
    o->nfiles = c->dir ? c->nsplits : 1;
    o->files = xcalloc(o->nfiles, sizeof *o->files);
    if (c->dir) {
        out_mkdirs(c->dir);
        strbuf path = {0};
        for (size_t s = 0; s < c->nsplits; s++) {
            sb_clear(&path);
            sb_adds(&path, c->dir);
            if (path.s[path.len - 1] != '/') sb_addc(&path, '/');
            sb_adds(&path, c->names[s]);
            sb_adds(&path, ".jsonl");
            out_open(&o->files[s], path.s);
        }
        sb_free(&path);
    } else {
        out_open(&o->files[0], c->output);
    }
    if (c->ids_out) out_open(&o->ids, c->ids_out);
    if (c->stats_path) out_open(&o->stats, c->stats_path);
}

static void write_outputs(outputs *o, const config *c, const dataset *d)
{
    const size_t *split_of = d->split_of, *copies = d->copies;
    for (size_t i = 0; i < d->n; i++) {
        size_t s = split_of[i];
        if (c->dir) write_row(o->files[s].f, d, i, copies[i], NULL, NULL);
        else write_row(o->files[0].f, d, i, copies[i], o->tags[s], c->names[s]);
    }
    if (c->ids_out) {
        strbuf b = {0};
        for (size_t i = 0; i < d->n; i++) {
            sb_clear(&b);
            sb_adds(&b, "{\"id\":");
            json_quote(&b, row_id(d, i), d->rows[i].id_len);
            sb_adds(&b, ",\"split\":");
            sb_adds(&b, o->tags[split_of[i]]);
            sb_adds(&b, "}\n");
            fwrite(b.s, 1, b.len, o->ids.f);
        }
        sb_free(&b);
    }
    if (c->stats_path) write_stats(o->stats.f, c, d);
}

/* Only now, with everything written, is anything renamed into place. */
static void commit_outputs(outputs *o, const config *c)
{
    for (size_t k = 0; k < o->nfiles; k++) out_commit(&o->files[k]);
    if (c->ids_out) out_commit(&o->ids);
    if (c->stats_path) out_commit(&o->stats);
    out_keep_dirs();
    for (size_t s = 0; s < c->nsplits; s++) free(o->tags[s]);
    free(o->tags);
    free(o->files);
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    config c;
    parse_args(&c, argc, argv);
    dataset d;
    read_records(&d, &c);

    d.split_of = xmalloc(d.n * sizeof *d.split_of);
    d.copies = xmalloc(d.n * sizeof *d.copies);
    for (size_t i = 0; i < d.n; i++) d.copies[i] = 1;
    if (c.ids_in) read_assignment(&c, &d);
    else assign_splits(&c, &d);
    if (c.subsample >= 0) subsample_train(&c, &d);
    if (c.balance != BALANCE_NONE) rebalance_train(&c, &d);

    count_table(&c, &d);
    outputs out;
    open_outputs(&out, &c);
    write_outputs(&out, &c, &d);
    commit_outputs(&out, &c);
    if (!c.quiet) print_summary(&c, &d);

    free(d.table);
    free(d.copies);
    free(d.split_of);
    for (size_t k = 0; k < d.nclasses; k++) free(d.labels[k]);
    free(d.labels);
    free(d.rows);
    free(d.class_of);
    sb_free(&d.text);
    strmap_free(&d.ids);
    strmap_free(&d.label_rank);
    for (size_t s = 0; s < c.nsplits; s++) free(c.names[s]);
    free(c.names);
    free(c.names_list);
    free(c.per_class_name);
    free(c.ratios);
    free(c.resample_label);
    return 0;
}
