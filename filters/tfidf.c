/* tfidf: NDJSON records -> the same records with a TF-IDF sparse vector "x"
 * (scikit-learn's TfidfVectorizer). `fit` learns the model from the records
 * and emits their vectors; `apply` streams records through a fitted model.
 * The analysis, pruning, idf, model file and record loops live in
 * lib/linear/tfidf*; this file holds options, fit's reading, and the outputs. */
#include "core/common.h"
#include "core/ndjson.h"
#include "core/outfile.h"
#include "core/strbuf.h"
#include "text/textclean.h"
#include "linear/tfidf.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: tfidf fit -m MODEL_DIR [OPTIONS] [FILE]\n"
    "       tfidf apply -m MODEL_DIR [OPTIONS] [FILE]\n"
    "TF-IDF vectors of NDJSON records (FILE or standard input), as scikit-learn's\n"
    "TfidfVectorizer computes them. fit learns the vocabulary and idf from the\n"
    "records, writes MODEL_DIR/tfidf.json and emits the records' vectors; apply\n"
    "emits vectors with a fitted model as it reads the records. Each record is\n"
    "written back with \"x\" added: {\"dim\":D,\"idx\":[...],\"val\":[...]}.\n"
    "\n"
    "Both commands:\n"
    "  -m, --model DIR      the model directory; fit creates it if missing and\n"
    "                       writes only DIR/tfidf.json in it\n"
    "  --field NAME         the text field (default: text)\n"
    "  --drop-text          leave the text field out of the output records\n"
    "  -o, --output FILE    write the records to FILE (atomically), not stdout\n"
    "  -j, --threads N      threads that vectorise records (default: 1); the\n"
    "                       output is the same for any N\n"
    "  --progress           a progress bar on standard error (reading the\n"
    "                       records) even when it is not a terminal\n"
    "  -q, --quiet          no summary or progress bar on standard error\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "fit only (apply takes these from the model):\n"
    "  --analyzer KIND      word (default), char, or char_wb (character n-grams\n"
    "                       inside words padded with a space)\n"
    "  --ngram MIN,MAX      n-gram lengths, words or characters (default 1,1);\n"
    "                       --ngram N means N,N\n"
    "  --token-pattern RE   words are the matches of RE (PCRE2, Unicode classes;\n"
    "                       default (?u)\\b\\w\\w+\\b; with one group, the group)\n"
    "  --lowercase          lowercase the text first (the default)\n"
    "  --no-lowercase       keep case\n"
    "  --stopwords LIST     drop these words before n-grams are built: a list in\n"
    "                       data/stopwords (sklearn_english: scikit-learn's\n"
    "                       stop_words='english'; english: NLTK's) or a file,\n"
    "                       one word a line\n"
    "  --min-df X           drop terms found in fewer documents than X: an\n"
    "                       integer is a count, a number with a point (0.01,\n"
    "                       1.0) a fraction of the documents (default: 1)\n"
    "  --max-df X           drop terms found in more documents than X, same\n"
    "                       forms (default: 1.0)\n"
    "  --max-features N     then keep the N terms most frequent in the corpus\n"
    "  --sublinear-tf       tf = 1 + ln(tf)\n"
    "  --no-idf             no idf weighting\n"
    "  --no-smooth-idf      idf = ln(n/df) + 1, not ln((1+n)/(1+df)) + 1\n"
    "  --norm NORM          scale each vector to unit l2 (default) or l1 norm,\n"
    "                       or none\n"
    "\n"
    "Features are the surviving terms in byte order (Python's str order). Every\n"
    "output is written atomically: nothing is published unless the run\n"
    "succeeds. Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Examples:\n"
    "  tfidf fit -m model/ --ngram 1,3 --min-df 2 --max-df 0.95 \\\n"
    "      --max-features 100000 --sublinear-tf train.jsonl > train.vec.jsonl\n"
    "  tfidf apply -m model/ --drop-text test.jsonl > test.vec.jsonl\n";

enum command { CMD_FIT, CMD_APPLY };

NORETURN static void usage(void)
{
    fputs(usage_text, stdout);
    exit(0);
}

enum {
    OPT_FIELD = 256, OPT_DROP_TEXT, OPT_ANALYZER, OPT_NGRAM, OPT_TOKEN_PATTERN, OPT_LOWERCASE,
    OPT_NO_LOWERCASE, OPT_STOPWORDS, OPT_MIN_DF, OPT_MAX_DF, OPT_MAX_FEATURES, OPT_SUBLINEAR,
    OPT_NO_IDF, OPT_NO_SMOOTH_IDF, OPT_NORM, OPT_PROGRESS
};

typedef struct config {
    enum command cmd;
    const char *model_dir, *field, *output, *input, *stopwords_arg;
    const char *min_df_arg, *max_df_arg;
    int drop_text, quiet, threads, progress;
    tfidf_opts opts;
    char **stop_words; /* read from --stopwords */
    size_t n_stop_words;
} config;

/* The --stopwords list (a name in data/stopwords or a path, as csvclean
 * takes it); the words are kept in the model. */
static void read_stop_words(config *c)
{
    char *path = stopwords_resolve(c->stopwords_arg);
    c->stop_words = stopwords_read(path, &c->n_stop_words);
    free(path);
    c->opts.stop_words = (const char *const *)c->stop_words;
    c->opts.n_stop_words = c->n_stop_words;
}

static void parse_ngram(config *c, const char *s)
{
    const char *comma = strchr(s, ',');
    if (!comma) {
        c->opts.ngram_min = c->opts.ngram_max = (int)parse_long_opt("--ngram", s, 1, 1000);
        return;
    }
    char *lo = xstrndup(s, (size_t)(comma - s));
    c->opts.ngram_min = (int)parse_long_opt("--ngram", lo, 1, 1000);
    free(lo);
    c->opts.ngram_max = (int)parse_long_opt("--ngram", comma + 1, 1, 1000);
    if (c->opts.ngram_min > c->opts.ngram_max)
        die_usage("--ngram: MIN %d is above MAX %d", c->opts.ngram_min, c->opts.ngram_max);
}

static tfidf_df_limit parse_df(const char *opt, const char *s)
{
    tfidf_df_limit l;
    if (tfidf_parse_df(s, &l) != 0)
        die_usage("%s: '%s' is neither a document count (an integer) nor a fraction in [0, 1]", opt, s);
    return l;
}

static void parse_args(config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"field", required_argument, 0, OPT_FIELD},
        {"drop-text", no_argument, 0, OPT_DROP_TEXT},
        {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},
        {"progress", no_argument, 0, OPT_PROGRESS},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {"analyzer", required_argument, 0, OPT_ANALYZER},
        {"ngram", required_argument, 0, OPT_NGRAM},
        {"token-pattern", required_argument, 0, OPT_TOKEN_PATTERN},
        {"lowercase", no_argument, 0, OPT_LOWERCASE},
        {"no-lowercase", no_argument, 0, OPT_NO_LOWERCASE},
        {"stopwords", required_argument, 0, OPT_STOPWORDS},
        {"min-df", required_argument, 0, OPT_MIN_DF},
        {"max-df", required_argument, 0, OPT_MAX_DF},
        {"max-features", required_argument, 0, OPT_MAX_FEATURES},
        {"sublinear-tf", no_argument, 0, OPT_SUBLINEAR},
        {"no-idf", no_argument, 0, OPT_NO_IDF},
        {"no-smooth-idf", no_argument, 0, OPT_NO_SMOOTH_IDF},
        {"norm", required_argument, 0, OPT_NORM},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    c->field = "text";
    c->threads = 1;
    tfidf_opts_init(&c->opts);
    if (argc < 2) die_usage("a command is needed: fit or apply");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) usage();
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) print_version();
    if (strcmp(cmd, "fit") == 0) c->cmd = CMD_FIT;
    else if (strcmp(cmd, "apply") == 0) c->cmd = CMD_APPLY;
    else if (cmd[0] == '-') die_usage("the command (fit or apply) comes first, before '%s'", cmd);
    else die_usage("unknown command '%s' (fit or apply)", cmd);
    argc--, argv++;
    const char *fit_only = NULL;
    int ch, index;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":m:o:j:qhV", opts, &index)) != -1) {
        if (ch >= OPT_ANALYZER && ch <= OPT_NORM && !fit_only) fit_only = opts[index].name;
        switch (ch) {
        case 'm': c->model_dir = optarg; break;
        case OPT_FIELD: c->field = optarg; break;
        case OPT_DROP_TEXT: c->drop_text = 1; break;
        case 'o': c->output = optarg; break;
        case 'j': c->threads = (int)parse_long_opt("--threads", optarg, 1, 64); break;
        case 'q': c->quiet = 1; break;
        case OPT_PROGRESS: c->progress = 1; break;
        case 'h': usage();
        case 'V': print_version();
        case OPT_ANALYZER:
            if (strcmp(optarg, "word") == 0) c->opts.analyzer = TFIDF_WORD;
            else if (strcmp(optarg, "char") == 0) c->opts.analyzer = TFIDF_CHAR;
            else if (strcmp(optarg, "char_wb") == 0) c->opts.analyzer = TFIDF_CHAR_WB;
            else die_usage("--analyzer: '%s' is not word, char or char_wb", optarg);
            break;
        case OPT_NGRAM: parse_ngram(c, optarg); break;
        case OPT_TOKEN_PATTERN: c->opts.token_pattern = optarg; break;
        case OPT_LOWERCASE: c->opts.lowercase = 1; break;
        case OPT_NO_LOWERCASE: c->opts.lowercase = 0; break;
        case OPT_STOPWORDS: c->stopwords_arg = optarg; break;
        case OPT_MIN_DF: c->min_df_arg = optarg, c->opts.min_df = parse_df("--min-df", optarg); break;
        case OPT_MAX_DF: c->max_df_arg = optarg, c->opts.max_df = parse_df("--max-df", optarg); break;
        case OPT_MAX_FEATURES: c->opts.max_features = parse_long_opt("--max-features", optarg, 1, 1L << 31); break;
        case OPT_SUBLINEAR: c->opts.sublinear_tf = 1; break;
        case OPT_NO_IDF: c->opts.use_idf = 0; break;
        case OPT_NO_SMOOTH_IDF: c->opts.smooth_idf = 0; break;
        case OPT_NORM:
            if (strcmp(optarg, "l2") == 0) c->opts.norm = TFIDF_NORM_L2;
            else if (strcmp(optarg, "l1") == 0) c->opts.norm = TFIDF_NORM_L1;
            else if (strcmp(optarg, "none") == 0) c->opts.norm = TFIDF_NORM_NONE;
            else die_usage("--norm: '%s' is not l2, l1 or none", optarg);
            break;
        case ':': die_usage("option '%s' needs a value", argv[optind - 1]);
        default: die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind > 1) die_usage("one input file at most, got %d", argc - optind);
    c->input = optind < argc ? argv[optind] : NULL;
    if (!c->model_dir) die_usage("-m MODEL_DIR is needed");
    if (c->cmd == CMD_APPLY && fit_only)
        die_usage("--%s is a fit option; apply takes it from the model", fit_only);
    if (c->opts.analyzer != TFIDF_WORD && c->stopwords_arg)
        die_usage("--stopwords goes with --analyzer word (scikit-learn ignores it for char n-grams)");
    if (c->opts.analyzer != TFIDF_WORD && c->opts.token_pattern)
        die_usage("--token-pattern goes with --analyzer word (scikit-learn ignores it for char n-grams)");
    if (!c->opts.min_df.is_fraction && !c->opts.max_df.is_fraction && c->opts.max_df.value < c->opts.min_df.value)
        die_usage("--max-df %s corresponds to fewer documents than --min-df %s", c->max_df_arg,
                  c->min_df_arg ? c->min_df_arg : "1");
    if (c->stopwords_arg) read_stop_words(c);
}

/* ---- outputs --------------------------------------------------------- */


/* ---- fit ------------------------------------------------------------- */

/* The records' text up to "x", held until the vocabulary is known. */
typedef struct held {
    strbuf text;
    size_t *end; /* end offset of each record's prefix */
    size_t n, cap;
} held;

static void print_summary(const tfidf_fit_stats *st)
{
    fprintf(stderr, "%s: %zu document%s, %zu distinct term%s: %zu outside min_df/max_df, %zu beyond max_features; %zu feature%s\n",
            prog_name, st->documents, st->documents == 1 ? "" : "s", st->terms_seen, st->terms_seen == 1 ? "" : "s",
            st->pruned_df, st->pruned_max_features, st->features, st->features == 1 ? "" : "s");
    if (st->tied_at_cut)
        fprintf(stderr,
                "%s: the max_features cut fell among %zu terms of equal corpus frequency; the alphabetically first were kept\n",
                prog_name, st->tied_at_cut);
}

static int fit(config *c)
{
    char *err;
    tfidf_fitter *f = tfidf_fitter_new(&c->opts, &err);
    if (!f) die_usage("--token-pattern: %s", err);
    held h = {0};
    tfidf_reader r;
    tfidf_reader_open(&r, c->input, c->field, c->drop_text);
    progress bar;
    ndjson_progress(&r.in, &bar, progress_mode(c->quiet, c->progress));
    const char *text;
    size_t len;
    while (tfidf_reader_next(&r, &text, &len, &h.text)) {
        tfidf_fitter_add(f, text, len);
        if (h.n == h.cap) {
            h.cap = h.cap ? 2 * h.cap : 1024;
            h.end = xrealloc(h.end, h.cap * sizeof *h.end);
        }
        h.end[h.n++] = h.text.len;
    }
    ndjson_progress_end(&r.in);
    if (h.n == 0) die_at(r.in.name, 0, "no records: nothing to fit");
    tfidf_fit_stats st;
    tfidf_model *m = tfidf_fitter_finish(f, &st);

    out_mkdirs(c->model_dir);
    strbuf path = {0};
    sb_adds(&path, c->model_dir);
    if (path.s[path.len - 1] != '/') sb_addc(&path, '/');
    sb_adds(&path, TFIDF_MODEL_FILE);
    outfile model_out, out;
    out_open(&model_out, path.s);
    tfidf_write_model(m, model_out.f);
    out_open(&out, c->output);
    /* A reader that stops early (| head) must not cost the model: the
     * broken pipe shows as a write error, the model is committed, and the
     * run ends quietly in out_commit. */
    if (!out.path) signal(SIGPIPE, SIG_IGN);
    tfidf_fit_write(f, m, h.text.s, h.end, h.n, out.f, c->threads);
    if (out.path) {
        /* records to a file: both outputs or neither */
        out_commit(&out);
        out_commit(&model_out);
    } else {
        out_commit(&model_out);
        out_keep_dirs();
        out_commit(&out);
    }
    out_keep_dirs(); /* committed: they stay */
    if (!c->quiet) print_summary(&st);

    tfidf_reader_close(&r);
    sb_free(&path);
    sb_free(&h.text);
    free(h.end);
    tfidf_free(m);
    tfidf_fitter_free(f);
    return 0;
}

/* ---- apply ----------------------------------------------------------- */

static int apply(config *c)
{
    tfidf_model *m = tfidf_load(c->model_dir);
    tfidf_reader r;
    tfidf_reader_open(&r, c->input, c->field, c->drop_text);
    progress bar;
    ndjson_progress(&r.in, &bar, progress_mode(c->quiet, c->progress));
    outfile out;
    out_open(&out, c->output);
    tfidf_apply_stream(m, &r, out.f, c->threads);
    ndjson_progress_end(&r.in);
    out_commit(&out);
    tfidf_reader_close(&r);
    tfidf_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    config c;
    parse_args(&c, argc, argv);
    int rc = c.cmd == CMD_FIT ? fit(&c) : apply(&c);
    for (size_t i = 0; i < c.n_stop_words; i++) free(c.stop_words[i]);
    free(c.stop_words);
    return rc;
}
