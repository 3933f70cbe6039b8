/* trials: the trials of a BERT hyperparameter search (make sweep), and the
 * successive-halving cut between its rungs. The search space's syntax and
 * the draws live in lib/core/searchspace; this file holds what the names
 * mean to bert-train, the two modes and their records. */
#include "core/common.h"
#include "core/ndjson.h"
#include "core/numfmt.h"
#include "core/outfile.h"
#include "core/prng.h"
#include "core/searchspace.h"
#include "core/strbuf.h"

#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: trials [OPTIONS] --space SPACE\n"
    "       trials rung [--eta N] [--minimize] [FILE]\n"
    "Write the trials of a hyperparameter search for bert-train as NDJSON, one\n"
    "record per trial: {\"trial\": \"t03\", \"params\": {...}, \"args\": \"--lr ...\"}.\n"
    "\n"
    "Search:\n"
    "  --space SPACE        parameters separated by ';', each NAME=V1,V2,... or\n"
    "                       NAME=LO..HI with :log (log-uniform) and :N (grid\n"
    "                       points): 'lr=1e-5..1e-4:log;batch=16,32;epochs=2..4'\n"
    "  --search KIND        grid (every combination, the last parameter fastest)\n"
    "                       or random (independent draws) (default: grid)\n"
    "  -n, --trials N       random: this many trials (default: 10); grid: at\n"
    "                       most N of the combinations, chosen at random and kept\n"
    "                       in grid order (default: all of them)\n"
    "  -s, --seed N         seed of the draws (default: 42)\n"
    "  -o, --output FILE    write to FILE instead of standard output\n"
    "  --ids                only the trial ids, one a line\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "Names, and the bert-train options they set: lr (--lr), batch (--batch-size),\n"
    "epochs (--epochs), weight_decay (--weight-decay), warmup (--warmup, a share\n"
    "of the steps), grad_accum (--grad-accum), max_grad_norm (--max-grad-norm),\n"
    "schedule (--schedule: linear, cosine or constant). A range's grid has 3\n"
    "points, or every whole number for batch, epochs and grad_accum; drawn and\n"
    "grid values of a range keep 3 significant digits.\n"
    "\n"
    "rung: successive halving's cut. FILE (or standard input) holds one record\n"
    "per trial that reached the rung, {\"trial\": ID, \"score\": X}; each is\n"
    "written back with \"rank\" (1 = best) and \"promoted\": the best\n"
    "max(1, floor(n / eta)) go on. A higher score is better (--minimize: lower);\n"
    "equal scores go to the lower \"tiebreak\" (none: the highest; make\n"
    "sweep gives the validation loss), then to the trial listed first; a null\n"
    "score (a failed trial) is last.\n"
    "  --eta N              the reduction factor (default: 3)\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  trials --search random -n 20 --seed 7 --space 'lr=1e-5..1e-4:log;batch=16,32'\n"
    "  trials rung --eta 3 rung1.jsonl | jq -r 'select(.promoted) | .trial'\n";

/* what a name means to bert-train */
typedef struct known_param {
    const char *name, *option;
    int integer;    /* whole numbers */
    double min;     /* numbers: the least value allowed */
    double max;
    const char *words; /* not numbers: the values allowed, space-separated */
} known_param;

static const known_param known[] = {
    {"lr", "--lr", 0, 1e-12, 10, NULL},
    {"batch", "--batch-size", 1, 1, 1 << 20, NULL},
    {"epochs", "--epochs", 1, 1, 100000, NULL},
    {"weight_decay", "--weight-decay", 0, 0, 10, NULL},
    {"warmup", "--warmup", 0, 0, 1, NULL},
    {"grad_accum", "--grad-accum", 1, 1, 1 << 20, NULL},
    {"max_grad_norm", "--max-grad-norm", 0, 0, 1e6, NULL},
    {"schedule", "--schedule", 0, 0, 0, "linear cosine constant"},
};
#define NKNOWN (sizeof known / sizeof *known)

static const known_param *lookup(const char *name)
{
    for (size_t i = 0; i < NKNOWN; i++)
        if (strcmp(known[i].name, name) == 0) return &known[i];
    return NULL;
}

static int word_in(const char *w, const char *words)
{
    size_t n = strlen(w);
    for (const char *p = words; (p = strstr(p, w)); p += n)
        if ((p == words || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

/* A value a trial is given: checked against the name's meaning. */
static void check_value(const known_param *k, const char *v)
{
    if (k->words) {
        if (!word_in(v, k->words)) die_usage("--space: %s: '%s' is not one of: %s", k->name, v, k->words);
        return;
    }
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !isfinite(x)) die_usage("--space: %s: '%s' is not a number", k->name, v);
    if (k->integer && x != floor(x)) die_usage("--space: %s: '%s' is not a whole number", k->name, v);
    if (x < k->min || x > k->max) die_usage("--space: %s: %s is outside %g..%g", k->name, v, k->min, k->max);
}

static void check_space(search_space *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ss_param *p = &s->p[i];
        const known_param *k = lookup(p->name);
        if (!k) {
            strbuf names = {0};
            for (size_t j = 0; j < NKNOWN; j++) sb_adds(&names, j ? ", " : ""), sb_adds(&names, known[j].name);
            die_usage("--space: '%s' is not a parameter of the search (%s)", p->name, sb_str(&names));
        }
        p->integer = k->integer;
        if (p->values) {
            for (size_t j = 0; j < p->nvalues; j++) check_value(k, p->values[j]);
        } else {
            if (k->words) die_usage("--space: %s takes a list of words, not a range", p->name);
            if (k->integer && (p->lo != floor(p->lo) || p->hi != floor(p->hi)))
                die_usage("--space: %s: a range of whole numbers needs whole bounds", p->name);
            char lo[NUMFMT_MAX], hi[NUMFMT_MAX];
            fmt_double(lo, p->lo);
            fmt_double(hi, p->hi);
            check_value(k, lo);
            check_value(k, hi);
        }
    }
}

static int ids_only; /* --ids */

/* {"trial": ID, "params": {...}, "args": "..."}: numbers as JSON numbers */
static void put_trial(FILE *f, const search_space *s, size_t index, int width, char **values)
{
    if (ids_only) {
        fprintf(f, "t%0*zu\n", width, index);
        return;
    }
    strbuf line = {0}, args = {0};
    sb_addf(&line, "{\"trial\":\"t%0*zu\",\"params\":{", width, index);
    for (size_t i = 0; i < s->n; i++) {
        const known_param *k = lookup(s->p[i].name);
        char num[NUMFMT_MAX];
        const char *v = values[i];
        if (k->words) {
            sb_addf(&line, "%s\"%s\":\"%s\"", i ? "," : "", k->name, v);
        } else {
            fmt_double(num, strtod(v, NULL)); /* "1e-5" -> 1e-05, ".1" -> 0.1: JSON numbers */
            sb_addf(&line, "%s\"%s\":%s", i ? "," : "", k->name, num);
            v = num;
        }
        sb_addf(&args, "%s%s %s", i ? " " : "", k->option, v);
    }
    sb_addf(&line, "},\"args\":\"%s\"}\n", sb_str(&args));
    fputs(sb_str(&line), f);
    sb_free(&line);
    sb_free(&args);
}

static int digits(size_t n)
{
    int d = 1;
    while (n >= 10) n /= 10, d++;
    return d;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void write_trials(FILE *f, search_space *s, int random, long ntrials, uint64_t seed)
{
    prng r;
    prng_seed(&r, seed, 0x7472696c /* "tril" */);
    char **values = xmalloc(s->n * sizeof *values);
    if (random) {
        const long n = ntrials > 0 ? ntrials : 10;
        const int width = digits((size_t)(n - 1)) < 2 ? 2 : digits((size_t)(n - 1));
        for (long t = 0; t < n; t++) {
            for (size_t i = 0; i < s->n; i++) values[i] = ss_draw(&s->p[i], &r);
            put_trial(f, s, (size_t)t, width, values);
            for (size_t i = 0; i < s->n; i++) free(values[i]);
        }
        free(values);
        return;
    }
    char ***grid = xmalloc(s->n * sizeof *grid), err[256];
    long *count = xmalloc(s->n * sizeof *count);
    size_t total = 1;
    for (size_t i = 0; i < s->n; i++) {
        count[i] = ss_grid_values(&s->p[i], &grid[i], err, sizeof err);
        if (count[i] < 0) die_usage("--space: %s", err);
        if ((size_t)count[i] > ((size_t)1 << 20) / total)
            die_usage("--space: the grid has more than %d combinations", 1 << 20);
        total *= (size_t)count[i];
    }
    /* the combinations kept: all, or n of them drawn, in grid order */
    size_t *pick = xmalloc(total * sizeof *pick), keep = total;
    for (size_t g = 0; g < total; g++) pick[g] = g;
    if (ntrials > 0 && (size_t)ntrials < total) {
        prng_shuffle(&r, pick, total);
        keep = (size_t)ntrials;
        qsort(pick, keep, sizeof *pick, cmp_size);
    }
    const int width = digits(keep - 1) < 2 ? 2 : digits(keep - 1);
    for (size_t t = 0; t < keep; t++) {
        size_t g = pick[t];
        for (size_t i = s->n; i-- > 0;) { /* mixed radix, the last parameter fastest */
            values[i] = grid[i][g % (size_t)count[i]];
            g /= (size_t)count[i];
        }
        put_trial(f, s, t, width, values);
    }
    for (size_t i = 0; i < s->n; i++) ss_values_free(grid[i], count[i]);
    free(grid);
    free(count);
    free(pick);
    free(values);
}

/* ---- rung: the cut of successive halving ---- */

typedef struct entry {
    cJSON *rec;
    double score, tiebreak;
    int has_score;
    size_t order;
} entry;

static int minimize;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->has_score != y->has_score) return y->has_score - x->has_score;
    if (x->has_score && x->score != y->score) return (minimize ? x->score < y->score : x->score > y->score) ? -1 : 1;
    if (x->tiebreak != y->tiebreak) return x->tiebreak < y->tiebreak ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int rung_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"eta", required_argument, 0, 'e'}, {"minimize", no_argument, 0, 'm'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    long eta = 3;
    const char *out_path = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': eta = parse_long_opt("--eta", optarg, 2, 1000); break;
        case 'm': minimize = 1; break;
        case 'o': out_path = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc - 1) die_usage("more than one input file");
    const char *in = optind < argc ? argv[optind] : NULL;
    ndjson_reader rd;
    ndjson_open(&rd, in);
    entry *e = NULL;
    size_t n = 0;
    cJSON *rec;
    while ((rec = ndjson_next(&rd))) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "trial");
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(rec, "score");
        if (!cJSON_IsString(id)) die_at(rd.name, rd.line, "no \"trial\" string");
        if (!score || !(cJSON_IsNumber(score) || cJSON_IsNull(score)))
            die_at(rd.name, rd.line, "trial %s: \"score\" must be a number or null", id->valuestring);
        const cJSON *tie = cJSON_GetObjectItemCaseSensitive(rec, "tiebreak");
        if (tie && !cJSON_IsNumber(tie) && !cJSON_IsNull(tie))
            die_at(rd.name, rd.line, "trial %s: \"tiebreak\" must be a number or null", id->valuestring);
        for (size_t i = 0; i < n; i++)
            if (strcmp(cJSON_GetObjectItemCaseSensitive(e[i].rec, "trial")->valuestring, id->valuestring) == 0)
                die_at(rd.name, rd.line, "trial %s is listed twice", id->valuestring);
        e = xrealloc(e, (n + 1) * sizeof *e);
        e[n] = (entry){rec, cJSON_IsNumber(score) ? score->valuedouble : 0,
                       cJSON_IsNumber(tie) ? tie->valuedouble : INFINITY, cJSON_IsNumber(score), n};
        n++;
    }
    ndjson_close(&rd);
    entry *ranked = xmalloc((n ? n : 1) * sizeof *ranked);
    memcpy(ranked, e, n * sizeof *e);
    qsort(ranked, n, sizeof *ranked, cmp_entry);
    const size_t keep = n / (size_t)eta > 0 ? n / (size_t)eta : 1;
    for (size_t r = 0; r < n; r++) {
        cJSON *rec_r = e[ranked[r].order].rec;
        cJSON_AddNumberToObject(rec_r, "rank", (double)(r + 1));
        cJSON_AddBoolToObject(rec_r, "promoted", r < keep && ranked[r].has_score);
    }
    outfile o;
    FILE *f = stdout;
    if (out_path) {
        out_open(&o, out_path);
        f = o.f;
    }
    for (size_t i = 0; i < n; i++) {
        char *s = cJSON_PrintUnformatted(e[i].rec);
        fputs(s, f);
        fputc('\n', f);
        cJSON_free(s);
        cJSON_Delete(e[i].rec);
    }
    if (out_path) out_commit(&o);
    free(e);
    free(ranked);
    return 0;
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    if (argc > 1 && strcmp(argv[1], "rung") == 0) return rung_main(argc - 1, argv + 1);
    static const struct option longopts[] = {
        {"space", required_argument, 0, 'S'}, {"search", required_argument, 0, 'k'},
        {"trials", required_argument, 0, 'n'}, {"seed", required_argument, 0, 's'},
        {"output", required_argument, 0, 'o'}, {"ids", no_argument, 0, 'I'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
    };
    const char *spec = NULL, *out_path = NULL;
    int random = 0, c;
    long ntrials = 0;
    uint64_t seed = 42;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:s:o:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'S': spec = optarg; break;
        case 'k':
            if (strcmp(optarg, "grid") == 0) random = 0;
            else if (strcmp(optarg, "random") == 0) random = 1;
            else die_usage("--search: '%s' is not grid or random", optarg);
            break;
        case 'n': ntrials = parse_long_opt("--trials", optarg, 1, 1000000); break;
        case 's': seed = (uint64_t)parse_long_opt("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case 'o': out_path = optarg; break;
        case 'I': ids_only = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': print_version();
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!spec) die_usage("--space SPACE is required");
    if (optind < argc) die_usage("unexpected argument '%s'", argv[optind]);
    search_space s;
    char err[256];
    if (ss_parse(&s, spec, err, sizeof err) < 0) die_usage("--space: %s", err);
    check_space(&s);
    outfile o;
    FILE *f = stdout;
    if (out_path) {
        out_open(&o, out_path);
        f = o.f;
    }
    write_trials(f, &s, random, ntrials, seed);
    if (out_path) out_commit(&o);
    ss_free(&s);
    return 0;
}
