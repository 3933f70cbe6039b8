/* csvclean: CSV -> cleaned NDJSON records {"id","text"[,"text_b"],"label"}.
 * Picks columns by name (each input file may order them differently), runs
 * the text-cleaning steps chosen by flags or a preset (lib/text/textclean), drops
 * empty rows, duplicates and small classes, and reports what it dropped. */
#include "text/columns.h"
#include "core/common.h"
#include "text/csvread.h"
#include "core/ndjson.h"
#include "core/outfile.h"
#include "core/progress.h"
#include "core/strbuf.h"
#include "core/strmap.h"
#include "text/textclean.h"

#include <getopt.h>
#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "Usage: csvclean [OPTIONS] [FILE.csv ...]\n"
    "Read CSV files (or standard input), clean the text, write NDJSON records\n"
    "{\"id\", \"text\", [\"text_b\",] \"label\"} to standard output.\n"
    "\n"
    "Columns (selected by header name in every file):\n"
    "  --id COL             id column (default: 'id' if present, else the row number)\n"
    "  --text COL           text column; repeat to join several (title + abstract)\n"
    "                       (default: 'text')\n"
    "  --join STR           separator between joined --text columns (default: ' ')\n"
    "  --text-b COL         second segment for pair input, emitted as text_b\n"
    "  --drop-empty-b       leave text_b out of a record whose text_b is empty\n"
    "                       after cleaning (the text alone, not a pair with \"\")\n"
    "  --joined-field NAME  also emit text and text_b joined by --join as NAME\n"
    "                       (one text for models that take no pairs)\n"
    "  --keep COL[=FIELD]   also emit column COL as FIELD (default: COL), cleaned\n"
    "                       by the steps before the token steps; left out when\n"
    "                       empty (repeatable)\n"
    "  --where COL=VALUE    keep only the rows whose COL is VALUE; repeat for\n"
    "                       more values of a column (any of them) or for more\n"
    "                       columns (each must match)\n"
    "  --label COL          label column (default: 'label')\n"
    "  --no-label           the input has no labels; records get none\n"
    "  --rename-label OLD=NEW  rename a label (repeatable)\n"
    "  --drop-missing-label drop rows whose label is empty (default: error)\n"
    "\n"
    "Cleaning steps, in this order (each off unless given or set by --preset;\n"
    "every flag has a --no-... form to turn a preset's step off):\n"
    "  --html               unescape HTML entities, then strip tags\n"
    "  --urls               remove http://, https:// and www. links\n"
    "  --mentions           remove @mentions\n"
    "  --hashtags           #word -> word\n"
    "  --controls           control characters -> space\n"
    "  --squeeze            collapse whitespace runs to one space and trim\n"
    "  --max-repeat N       cap runs of one word character at N (soooo -> soo)\n"
    "  --drop-empty         drop rows whose text is empty after the steps above\n"
    "  --dedupe             drop later rows with the same (text, text_b, label)\n"
    "  Token steps (after de-duplication):\n"
    "  --lower              lowercase\n"
    "  --alpha-only         keep alphabetic tokens only\n"
    "  --stopwords LIST     drop stopwords: a list in data/stopwords (english)\n"
    "                       or a file with one word per line\n"
    "  --stem LANG          Snowball stemming (english, french, ...; any libstemmer\n"
    "                       language)\n"
    "  (--drop-empty also drops rows left empty by the token steps)\n"
    "  --light-field NAME   also emit the text as it was before the token steps\n"
    "  --preset tweet       all of: --html --urls --mentions --hashtags --controls\n"
    "                       --squeeze --max-repeat 2 --drop-empty --dedupe --lower\n"
    "                       --alpha-only --stopwords english --stem english\n"
    "\n"
    "Rows and output:\n"
    "  --min-class-count N  drop classes with fewer than N rows (after all else)\n"
    "  --replace-invalid    replace invalid UTF-8 with U+FFFD (default: error)\n"
    "  -o, --output FILE    write here (atomically) instead of standard output\n"
    "  --stats FILE         also write the counts as JSON\n"
    "  --progress           a progress bar on standard error (reading each file)\n"
    "                       even when it is not a terminal\n"
    "  -q, --quiet          no summary or progress bar on standard error\n"
    "  -h, --help           this help; -V, --version  the version\n"
    "\n"
    "The summary on standard error gives rows read, rows dropped by each step\n"
    "and rows written per label. Exit status: 0 ok, 1 bad input, 2 bad usage.\n"
    "\n"
    "Example:\n"
    "  csvclean --preset tweet --id textID --label sentiment train.csv test.csv \\\n"
    "    | stratsplit --ratios 70/15/15 --seed 42 -d split/\n";

enum {
    OPT_ID = 256, OPT_TEXT, OPT_JOIN, OPT_TEXT_B, OPT_LABEL, OPT_NO_LABEL, OPT_RENAME,
    OPT_DROP_MISSING, OPT_MAX_REPEAT, OPT_NO_MAX_REPEAT, OPT_STOPWORDS, OPT_NO_STOPWORDS,
    OPT_STEM, OPT_NO_STEM, OPT_LIGHT, OPT_PRESET, OPT_MIN_CLASS, OPT_REPLACE, OPT_STATS, OPT_PROGRESS,
    OPT_DROP_EMPTY_B, OPT_JOINED, OPT_KEEP, OPT_WHERE,
    /* boolean steps: OPT_FLAG + index to set, OPT_NOFLAG + index to clear */
    OPT_FLAG = 512, OPT_NOFLAG = 640
};

enum { F_HTML, F_URLS, F_MENTIONS, F_HASHTAGS, F_CONTROLS, F_SQUEEZE, F_DROP_EMPTY,
       F_DEDUPE, F_LOWER, F_ALPHA, N_FLAGS };
static const char *flag_names[N_FLAGS] = {"html", "urls", "mentions", "hashtags", "controls",
                                          "squeeze", "drop-empty", "dedupe", "lower", "alpha-only"};

typedef struct rename_rule {
    char *from, *to;
} rename_rule;

/* COL=VALUE of --where, COL[=FIELD] of --keep */
typedef struct column_pair {
    char *column, *value;
} column_pair;

typedef struct config {
    const char *id_col, *text_b_col, *label_col, *join, *light_field, *joined_field;
    int drop_empty_b;
    column_pair *keeps, *wheres;
    size_t n_keeps, n_wheres;
    const char **text_cols;
    size_t n_text_cols;
    int no_label, drop_missing_label, replace_invalid, quiet, progress;
    int flag[N_FLAGS];
    int max_repeat;
    char *stopwords_arg, *stem_arg;
    long min_class_count;
    rename_rule *renames;
    size_t n_renames;
    const char *output, *stats_path;
} config;

/* what happened to the rows, for the summary and --stats */
typedef struct counts {
    size_t not_matching; /* rows --where left out */
    size_t read, empty, duplicate, empty_after_tokens, missing_label, small_class, written;
    size_t replaced_bytes;
    strmap labels;        /* label -> rows written */
    strmap small_classes; /* label -> rows, of the classes --min-class-count dropped */
    strmap file_rows;     /* file -> rows read */
    const char **files;
    size_t n_files;
} counts;

/* one output record waiting for --min-class-count to decide */
typedef struct held_record {
    char *json;
    char *label;
} held_record;

static void apply_preset(config *c, const char *name)
{
    if (strcmp(name, "tweet") != 0) die_usage("--preset: unknown preset '%s' (known: tweet)", name);
    for (int f = 0; f < N_FLAGS; f++) c->flag[f] = 1;
    c->max_repeat = 2;
    free(c->stopwords_arg);
    free(c->stem_arg);
    c->stopwords_arg = xstrdup("english");
    c->stem_arg = xstrdup("english");
}

/* COL=VALUE (or COL alone, when the value is optional: --keep's field
 * defaults to the column's name) */
static void add_pair(column_pair **v, size_t *n, const char *opt, const char *arg, int value_needed)
{
    const char *eq = strrchr(arg, '=');
    if (eq == arg || (value_needed && !eq)) die_usage("%s: expected COL=%s, got '%s'", opt, value_needed ? "VALUE" : "FIELD", arg);
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[*n].column = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
    (*v)[*n].value = xstrdup(eq ? eq + 1 : arg);
    (*n)++;
}

/* A field name a record already has, or one given twice, is a usage error. */
static void check_field_names(const config *c)
{
    size_t cap = 6 + c->n_keeps, n = 0;
    const char **name = xmalloc(cap * sizeof *name), **opt = xmalloc(cap * sizeof *opt);
    static const char *own[] = {"id", "text", "text_b", "label"};
    for (size_t i = 0; i < 4; i++) name[n] = own[i], opt[n++] = NULL;
    if (c->light_field) name[n] = c->light_field, opt[n++] = "--light-field";
    if (c->joined_field) name[n] = c->joined_field, opt[n++] = "--joined-field";
    for (size_t i = 0; i < c->n_keeps; i++) name[n] = c->keeps[i].value, opt[n++] = "--keep";
    for (size_t i = 4; i < n; i++) {
        if (!*name[i]) die_usage("%s: empty field name", opt[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(name[i], name[j]) == 0) die_usage("%s: '%s' is already a record field", opt[i], name[i]);
    }
    free(name);
    free(opt);
}

static void parse_args(config *c, int argc, char **argv)
{
    static struct option base[] = {
        {"id", required_argument, 0, OPT_ID},
        {"text", required_argument, 0, OPT_TEXT},
        {"join", required_argument, 0, OPT_JOIN},
        {"text-b", required_argument, 0, OPT_TEXT_B},
        {"label", required_argument, 0, OPT_LABEL},
        {"no-label", no_argument, 0, OPT_NO_LABEL},
        {"rename-label", required_argument, 0, OPT_RENAME},
        {"drop-missing-label", no_argument, 0, OPT_DROP_MISSING},
        {"max-repeat", required_argument, 0, OPT_MAX_REPEAT},
        {"no-max-repeat", no_argument, 0, OPT_NO_MAX_REPEAT},
        {"stopwords", required_argument, 0, OPT_STOPWORDS},
        {"no-stopwords", no_argument, 0, OPT_NO_STOPWORDS},
        {"stem", required_argument, 0, OPT_STEM},
        {"no-stem", no_argument, 0, OPT_NO_STEM},
        {"light-field", required_argument, 0, OPT_LIGHT},
        {"drop-empty-b", no_argument, 0, OPT_DROP_EMPTY_B},
        {"joined-field", required_argument, 0, OPT_JOINED},
        {"keep", required_argument, 0, OPT_KEEP},
        {"where", required_argument, 0, OPT_WHERE},
        {"preset", required_argument, 0, OPT_PRESET},
        {"min-class-count", required_argument, 0, OPT_MIN_CLASS},
        {"replace-invalid", no_argument, 0, OPT_REPLACE},
        {"output", required_argument, 0, 'o'},
        {"stats", required_argument, 0, OPT_STATS},
        {"quiet", no_argument, 0, 'q'},
        {"progress", no_argument, 0, OPT_PROGRESS},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
    };
    enum { N_BASE = sizeof base / sizeof base[0] };
    struct option opts[N_BASE + 2 * N_FLAGS + 1];
    char no_names[N_FLAGS][32];
    memcpy(opts, base, sizeof base);
    for (int f = 0; f < N_FLAGS; f++) {
        snprintf(no_names[f], sizeof no_names[f], "no-%s", flag_names[f]);
        opts[N_BASE + 2 * f] = (struct option){flag_names[f], no_argument, 0, OPT_FLAG + f};
        opts[N_BASE + 2 * f + 1] = (struct option){no_names[f], no_argument, 0, OPT_NOFLAG + f};
    }
    memset(&opts[N_BASE + 2 * N_FLAGS], 0, sizeof opts[0]);

    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":o:qhV", opts, NULL)) != -1) {
        if (ch >= OPT_FLAG && ch < OPT_FLAG + N_FLAGS) { c->flag[ch - OPT_FLAG] = 1; continue; }
        if (ch >= OPT_NOFLAG && ch < OPT_NOFLAG + N_FLAGS) { c->flag[ch - OPT_NOFLAG] = 0; continue; }
        switch (ch) {
        case OPT_ID: c->id_col = optarg; break;
        case OPT_TEXT:
            c->text_cols = xrealloc(c->text_cols, (c->n_text_cols + 1) * sizeof *c->text_cols);
            c->text_cols[c->n_text_cols++] = optarg;
            break;
        case OPT_JOIN: c->join = optarg; break;
        case OPT_TEXT_B: c->text_b_col = optarg; break;
        case OPT_LABEL: c->label_col = optarg; break;
        case OPT_NO_LABEL: c->no_label = 1; break;
        case OPT_RENAME: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) die_usage("--rename-label: expected OLD=NEW, got '%s'", optarg);
            c->renames = xrealloc(c->renames, (c->n_renames + 1) * sizeof *c->renames);
            c->renames[c->n_renames].from = xstrndup(optarg, (size_t)(eq - optarg));
            c->renames[c->n_renames++].to = xstrdup(eq + 1);
            break;
        }
        case OPT_DROP_MISSING: c->drop_missing_label = 1; break;
        case OPT_MAX_REPEAT: c->max_repeat = (int)parse_long_opt("--max-repeat", optarg, 1, 1000000); break;
        case OPT_NO_MAX_REPEAT: c->max_repeat = 0; break;
        case OPT_STOPWORDS: free(c->stopwords_arg); c->stopwords_arg = xstrdup(optarg); break;
        case OPT_NO_STOPWORDS: free(c->stopwords_arg); c->stopwords_arg = NULL; break;
        case OPT_STEM: free(c->stem_arg); c->stem_arg = xstrdup(optarg); break;
        case OPT_NO_STEM: free(c->stem_arg); c->stem_arg = NULL; break;
        case OPT_LIGHT: c->light_field = optarg; break;
        case OPT_DROP_EMPTY_B: c->drop_empty_b = 1; break;
        case OPT_JOINED: c->joined_field = optarg; break;
        case OPT_KEEP: add_pair(&c->keeps, &c->n_keeps, "--keep", optarg, 0); break;
        case OPT_WHERE: add_pair(&c->wheres, &c->n_wheres, "--where", optarg, 1); break;
        case OPT_PRESET: apply_preset(c, optarg); break;
        case OPT_MIN_CLASS: c->min_class_count = parse_long_opt("--min-class-count", optarg, 0, 1L << 40); break;
        case OPT_REPLACE: c->replace_invalid = 1; break;
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
    if (c->n_text_cols == 0) {
        static const char *default_text[] = {"text"};
        c->text_cols = xmalloc(sizeof *c->text_cols);
        c->text_cols[0] = default_text[0];
        c->n_text_cols = 1;
    }
    if (c->no_label && c->min_class_count) die_usage("--min-class-count needs labels (drop --no-label)");
    check_field_names(c);
    if ((c->drop_empty_b || c->joined_field) && !c->text_b_col)
        die_usage("%s needs --text-b", c->drop_empty_b ? "--drop-empty-b" : "--joined-field");
}

static stopword_set *load_stopwords(const char *arg)
{
    char *path = stopwords_resolve(arg);
    stopword_set *s = stopwords_load(path);
    free(path);
    return s;
}

static struct sb_stemmer *open_stemmer(const char *lang)
{
    struct sb_stemmer *st = sb_stemmer_new(lang, "UTF_8");
    if (st) return st;
    strbuf known = {0};
    for (const char **l = sb_stemmer_list(); *l; l++) {
        if (known.len) sb_adds(&known, ", ");
        sb_adds(&known, *l);
    }
    die_usage("--stem: unknown language '%s' (known: %s)", lang, sb_str(&known));
}

static const char *rename_label(const config *c, const char *label)
{
    for (size_t i = 0; i < c->n_renames; i++)
        if (strcmp(label, c->renames[i].from) == 0) return c->renames[i].to;
    return label;
}

/* The columns of one input file, resolved against its header. */
typedef struct file_columns {
    long id, text_b, label;
    size_t *text;
    size_t *keep, *where; /* the columns of --keep and --where */
    size_t n_fields;
} file_columns;

static void resolve_columns(const config *c, const csv_row *h, const char *file, file_columns *fc)
{
    fc->n_fields = h->n;
    fc->id = c->id_col ? (long)column_require(h, file, c->id_col) : column_find(h, file, "id");
    fc->text_b = c->text_b_col ? (long)column_require(h, file, c->text_b_col) : -1;
    fc->label = c->no_label ? -1 : (long)column_require(h, file, c->label_col ? c->label_col : "label");
    fc->text = xrealloc(fc->text, c->n_text_cols * sizeof *fc->text);
    for (size_t i = 0; i < c->n_text_cols; i++) fc->text[i] = column_require(h, file, c->text_cols[i]);
    fc->keep = xrealloc(fc->keep, (c->n_keeps + 1) * sizeof *fc->keep);
    for (size_t i = 0; i < c->n_keeps; i++) fc->keep[i] = column_require(h, file, c->keeps[i].column);
    fc->where = xrealloc(fc->where, (c->n_wheres + 1) * sizeof *fc->where);
    for (size_t i = 0; i < c->n_wheres; i++) fc->where[i] = column_require(h, file, c->wheres[i].column);
}

/* --where: for each column named, the row's value is one of those given */
static int row_matches(const config *c, const csv_row *row, const file_columns *fc)
{
    for (size_t i = 0; i < c->n_wheres; i++) {
        int any = 0, seen_before = 0;
        for (size_t j = 0; j < i && !seen_before; j++) seen_before = fc->where[j] == fc->where[i];
        if (seen_before) continue; /* that column was judged with all its values */
        for (size_t j = i; j < c->n_wheres && !any; j++)
            any = fc->where[j] == fc->where[i] && strcmp(sb_str(&row->field[fc->where[j]]), c->wheres[j].value) == 0;
        if (!any) return 0;
    }
    return 1;
}

static void trim_ascii(strbuf *b)
{
    size_t start = 0, end = b->len;
    while (start < end && strchr(" \t\r\n", b->s[start])) start++;
    while (end > start && strchr(" \t\r\n", b->s[end - 1])) end--;
    memmove(b->s, b->s + start, end - start);
    b->len = end - start;
    b->s[b->len] = '\0';
}

typedef struct cleaner {
    const config *cfg;
    textclean_opts text;
    int normalizes, tokenizes;
    strmap seen;             /* dedupe keys */
    counts n;
    held_record *held;       /* only with --min-class-count */
    size_t n_held, cap_held;
    strbuf raw, text_a, text_b, tok_a, tok_b, key, json, kept;
} cleaner;

static void emit(cleaner *cl, FILE *out, const char *label)
{
    if (cl->cfg->min_class_count > 0) {
        if (cl->n_held == cl->cap_held) {
            cl->cap_held = cl->cap_held ? cl->cap_held * 2 : 1024;
            cl->held = xrealloc(cl->held, cl->cap_held * sizeof *cl->held);
        }
        cl->held[cl->n_held].json = xstrndup(cl->json.s, cl->json.len);
        cl->held[cl->n_held++].label = xstrdup(label);
    } else {
        fwrite(cl->json.s, 1, cl->json.len, out);
    }
    strmap_entry *e = strmap_put(&cl->n.labels, label, strlen(label), 0, NULL);
    e->value++;
}

/* ,"NAME":"VALUE" */
static void add_field(strbuf *json, const char *name, const strbuf *value)
{
    sb_addc(json, ',');
    json_quote(json, name, strlen(name));
    sb_addc(json, ':');
    json_quote(json, sb_str(value), value->len);
}

static void clean_row(cleaner *cl, const csv_row *row, const file_columns *fc, const char *file, FILE *out)
{
    const config *c = cl->cfg;
    cl->n.read++;
    if (row->n != fc->n_fields)
        die_at(file, row->line, "row has %zu field%s, the header has %zu", row->n, row->n == 1 ? "" : "s", fc->n_fields);

    if (c->n_wheres && !row_matches(c, row, fc)) {
        cl->n.not_matching++;
        return;
    }

    const char *label = "";
    if (fc->label >= 0) {
        strbuf *lb = &row->field[fc->label];
        trim_ascii(lb);
        label = rename_label(c, lb->s);
        if (!*label) {
            if (!c->drop_missing_label)
                die_at(file, row->line, "empty label in column '%s' (pass --drop-missing-label to drop such rows)",
                       c->label_col ? c->label_col : "label");
            cl->n.missing_label++;
            return;
        }
    }

    sb_clear(&cl->raw);
    for (size_t i = 0; i < c->n_text_cols; i++) {
        const strbuf *f = &row->field[fc->text[i]];
        if (f->len == 0) continue;
        if (cl->raw.len) sb_adds(&cl->raw, c->join ? c->join : " ");
        sb_addn(&cl->raw, f->s, f->len);
    }
    sb_clear(&cl->text_a);
    sb_clear(&cl->text_b);
    if (cl->normalizes) textclean_normalize(&cl->text, cl->raw.s ? cl->raw.s : "", cl->raw.len, &cl->text_a);
    else sb_addn(&cl->text_a, sb_str(&cl->raw), cl->raw.len);
    if (fc->text_b >= 0) {
        const strbuf *f = &row->field[fc->text_b];
        if (cl->normalizes) textclean_normalize(&cl->text, f->s, f->len, &cl->text_b);
        else sb_addn(&cl->text_b, f->s, f->len);
    }

    if (c->flag[F_DROP_EMPTY] && cl->text_a.len == 0 && cl->text_b.len == 0) {
        cl->n.empty++;
        return;
    }
    if (c->flag[F_DEDUPE]) {
        sb_clear(&cl->key);
        sb_addn(&cl->key, sb_str(&cl->text_a), cl->text_a.len);
        sb_addc(&cl->key, '\x1f');
        sb_addn(&cl->key, sb_str(&cl->text_b), cl->text_b.len);
        sb_addc(&cl->key, '\x1f');
        sb_adds(&cl->key, label);
        int is_new;
        strmap_put(&cl->seen, cl->key.s, cl->key.len, 0, &is_new);
        if (!is_new) {
            cl->n.duplicate++;
            return;
        }
    }

    const strbuf *final_a = &cl->text_a, *final_b = &cl->text_b;
    if (cl->tokenizes) {
        sb_clear(&cl->tok_a);
        sb_clear(&cl->tok_b);
        textclean_tokens(&cl->text, sb_str(&cl->text_a), cl->text_a.len, &cl->tok_a);
        if (fc->text_b >= 0) textclean_tokens(&cl->text, sb_str(&cl->text_b), cl->text_b.len, &cl->tok_b);
        if (c->flag[F_DROP_EMPTY] && cl->tok_a.len == 0 && cl->tok_b.len == 0) {
            cl->n.empty_after_tokens++;
            return;
        }
        final_a = &cl->tok_a;
        final_b = &cl->tok_b;
    }

    sb_clear(&cl->json);
    char rowno[32];
    const char *id = rowno;
    size_t id_len;
    if (fc->id >= 0) id = row->field[fc->id].s, id_len = row->field[fc->id].len;
    else id_len = (size_t)snprintf(rowno, sizeof rowno, "%zu", cl->n.read);
    sb_adds(&cl->json, "{\"id\":");
    json_quote(&cl->json, id, id_len);
    sb_adds(&cl->json, ",\"text\":");
    json_quote(&cl->json, sb_str(final_a), final_a->len);
    if (fc->text_b >= 0 && !(c->drop_empty_b && final_b->len == 0)) {
        sb_adds(&cl->json, ",\"text_b\":");
        json_quote(&cl->json, sb_str(final_b), final_b->len);
    }
    if (c->joined_field) {
        sb_clear(&cl->kept);
        sb_addn(&cl->kept, sb_str(final_a), final_a->len);
        if (final_a->len && final_b->len) sb_adds(&cl->kept, c->join ? c->join : " ");
        sb_addn(&cl->kept, sb_str(final_b), final_b->len);
        add_field(&cl->json, c->joined_field, &cl->kept);
    }
    for (size_t i = 0; i < c->n_keeps; i++) {
        const strbuf *f = &row->field[fc->keep[i]];
        sb_clear(&cl->kept);
        if (cl->normalizes) textclean_normalize(&cl->text, f->s, f->len, &cl->kept);
        else sb_addn(&cl->kept, f->s, f->len);
        if (cl->kept.len) add_field(&cl->json, c->keeps[i].value, &cl->kept);
    }
    if (c->light_field) {
        sb_addc(&cl->json, ',');
        json_quote(&cl->json, c->light_field, strlen(c->light_field));
        sb_addc(&cl->json, ':');
        json_quote(&cl->json, sb_str(&cl->text_a), cl->text_a.len);
    }
    if (fc->label >= 0) {
        sb_adds(&cl->json, ",\"label\":");
        json_quote(&cl->json, label, strlen(label));
    }
    sb_adds(&cl->json, "}\n");
    emit(cl, out, fc->label >= 0 ? label : "");
}

static void read_file(cleaner *cl, const char *path, FILE *out)
{
    const config *c = cl->cfg;
    csv_reader *r = csv_open(path, c->replace_invalid ? CSV_REPLACE_INVALID : 0);
    const char *name = csv_name(r);
    csv_row header, row;
    if (!csv_next(r, &header)) die_at(name, 0, "empty file");
    file_columns fc = {0};
    resolve_columns(c, &header, name, &fc);
    size_t before = cl->n.read;
    progress bar;
    progress_start_reading(&bar, progress_mode(c->quiet, c->progress), csv_file(r), "rows");
    while (csv_next(r, &row)) {
        clean_row(cl, &row, &fc, name, out);
        if (((cl->n.read - before) & 63) == 0) progress_reading(&bar, csv_file(r), (long)(cl->n.read - before));
    }
    progress_reading(&bar, csv_file(r), (long)(cl->n.read - before));
    progress_end(&bar);
    if (cl->n.read == before) die_at(name, header.line, "no data rows after the header");
    strmap_put(&cl->n.file_rows, name, strlen(name), 0, NULL)->value += cl->n.read - before;
    cl->n.replaced_bytes += csv_replaced(r);
    free(fc.text);
    free(fc.keep);
    free(fc.where);
    csv_close(r);
}

/* label order for reports: byte order */
static int cmp_entry_key(const void *a, const void *b)
{
    const strmap_entry *x = *(const strmap_entry *const *)a, *y = *(const strmap_entry *const *)b;
    return strcmp(x->key, y->key);
}

static strmap_entry **sorted_entries(const strmap *m)
{
    strmap_entry **v = xmalloc((m->count + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) v[k++] = &m->slots[i];
    qsort(v, k, sizeof *v, cmp_entry_key);
    v[k] = NULL;
    return v;
}

static void release_held(cleaner *cl, FILE *out)
{
    long min = cl->cfg->min_class_count;
    for (size_t i = 0; i < cl->n_held; i++) {
        strmap_entry *e = strmap_find(&cl->n.labels, cl->held[i].label, strlen(cl->held[i].label));
        if ((long)e->value >= min) fputs(cl->held[i].json, out);
        free(cl->held[i].json);
        free(cl->held[i].label);
    }
    free(cl->held);
    /* the counts now describe what was written */
    for (size_t i = 0; i < cl->n.labels.cap; i++) {
        strmap_entry *e = &cl->n.labels.slots[i];
        if (e->key && (long)e->value < min) {
            strmap_put(&cl->n.small_classes, e->key, e->keylen, 0, NULL)->value = e->value;
            cl->n.small_class += e->value, e->value = 0;
        }
    }
}

static void report(const cleaner *cl, FILE *err)
{
    const counts *n = &cl->n;
    fprintf(err, "%s: read %zu rows from %zu file%s\n", prog_name, n->read, n->n_files, n->n_files == 1 ? "" : "s");
    if (cl->cfg->n_wheres) fprintf(err, "%s: --where kept %zu of them\n", prog_name, n->read - n->not_matching);
    fprintf(err, "%s: dropped %zu empty, %zu duplicate, %zu empty after token steps, %zu missing label, %zu in small classes\n",
            prog_name, n->empty, n->duplicate, n->empty_after_tokens, n->missing_label, n->small_class);
    if (n->small_classes.count) {
        fprintf(err, "%s: classes with fewer than %ld rows, dropped", prog_name, cl->cfg->min_class_count);
        strmap_entry **s = sorted_entries(&n->small_classes);
        for (size_t i = 0; s[i]; i++) fprintf(err, "%s%s (%zu)", i ? ", " : ": ", s[i]->key, s[i]->value);
        fputc('\n', err);
        free(s);
    }
    if (n->replaced_bytes) fprintf(err, "%s: replaced %zu invalid UTF-8 bytes\n", prog_name, n->replaced_bytes);
    fprintf(err, "%s: wrote %zu rows", prog_name, n->written);
    strmap_entry **e = sorted_entries(&n->labels);
    const char *sep = ": ";
    for (size_t i = 0; e[i]; i++) {
        if (!e[i]->value || !e[i]->keylen) continue;
        fprintf(err, "%s%s %zu", sep, e[i]->key, e[i]->value);
        sep = ", ";
    }
    fputc('\n', err);
    free(e);
}

static void write_stats(const cleaner *cl, const char *path)
{
    const counts *n = &cl->n;
    cJSON *root = cJSON_CreateObject();
    cJSON *files = cJSON_AddObjectToObject(root, "files");
    strmap_entry **e = sorted_entries(&n->file_rows);
    for (size_t i = 0; e[i]; i++) cJSON_AddNumberToObject(files, e[i]->key, (double)e[i]->value);
    free(e);
    cJSON_AddNumberToObject(root, "rows_read", (double)n->read);
    if (cl->cfg->n_wheres) cJSON_AddNumberToObject(root, "rows_matching_where", (double)(n->read - n->not_matching));
    cJSON *d = cJSON_AddObjectToObject(root, "dropped");
    cJSON_AddNumberToObject(d, "empty", (double)n->empty);
    cJSON_AddNumberToObject(d, "duplicate", (double)n->duplicate);
    cJSON_AddNumberToObject(d, "empty_after_tokens", (double)n->empty_after_tokens);
    cJSON_AddNumberToObject(d, "missing_label", (double)n->missing_label);
    cJSON_AddNumberToObject(d, "small_class", (double)n->small_class);
    if (n->small_classes.count) {
        cJSON *sc = cJSON_AddObjectToObject(root, "small_classes");
        strmap_entry **s = sorted_entries(&n->small_classes);
        for (size_t i = 0; s[i]; i++) cJSON_AddNumberToObject(sc, s[i]->key, (double)s[i]->value);
        free(s);
    }
    cJSON_AddNumberToObject(root, "replaced_invalid_bytes", (double)n->replaced_bytes);
    cJSON_AddNumberToObject(root, "rows_written", (double)n->written);
    cJSON *labels = cJSON_AddObjectToObject(root, "labels");
    e = sorted_entries(&n->labels);
    for (size_t i = 0; e[i]; i++)
        if (e[i]->value && e[i]->keylen) cJSON_AddNumberToObject(labels, e[i]->key, (double)e[i]->value);
    free(e);
    outfile o;
    out_open(&o, path);
    char *s = cJSON_Print(root);
    fprintf(o.f, "%s\n", s);
    free(s);
    cJSON_Delete(root);
    out_commit(&o);
}

int main(int argc, char **argv)
{
    prog_init(argv[0]);
    config c = {0};
    parse_args(&c, argc, argv);

    cleaner cl = {0};
    cl.cfg = &c;
    cl.text = (textclean_opts){
        .html = c.flag[F_HTML], .urls = c.flag[F_URLS], .mentions = c.flag[F_MENTIONS],
        .hashtags = c.flag[F_HASHTAGS], .controls = c.flag[F_CONTROLS], .squeeze = c.flag[F_SQUEEZE],
        .max_repeat = c.max_repeat, .lower = c.flag[F_LOWER], .alpha_only = c.flag[F_ALPHA],
        .stopwords = c.stopwords_arg ? load_stopwords(c.stopwords_arg) : NULL,
        .stemmer = c.stem_arg ? open_stemmer(c.stem_arg) : NULL,
    };
    cl.normalizes = cl.text.html || cl.text.urls || cl.text.mentions || cl.text.hashtags ||
                    cl.text.controls || cl.text.squeeze || cl.text.max_repeat;
    cl.tokenizes = textclean_has_token_steps(&cl.text);

    static const char *stdin_only[] = {"-"};
    const char **files = argc > optind ? (const char **)argv + optind : stdin_only;
    size_t n_files = argc > optind ? (size_t)(argc - optind) : 1;
    cl.n.files = files;
    cl.n.n_files = n_files;

    outfile out;
    out_open(&out, c.output);
    for (size_t i = 0; i < n_files; i++) read_file(&cl, files[i], out.f);
    if (c.min_class_count > 0) release_held(&cl, out.f);
    for (size_t i = 0; i < cl.n.labels.cap; i++)
        if (cl.n.labels.slots[i].key) cl.n.written += cl.n.labels.slots[i].value;
    if (cl.n.written == 0) die("no rows left after cleaning; nothing written");
    if (c.stats_path) write_stats(&cl, c.stats_path);
    out_commit(&out);
    if (!c.quiet) report(&cl, stderr);

    if (cl.text.stemmer) sb_stemmer_delete(cl.text.stemmer);
    if (cl.text.stopwords) stopwords_free((stopword_set *)cl.text.stopwords);
    strmap_free(&cl.seen);
    strmap_free(&cl.n.labels);
    strmap_free(&cl.n.small_classes);
    strmap_free(&cl.n.file_rows);
    sb_free(&cl.raw), sb_free(&cl.text_a), sb_free(&cl.text_b), sb_free(&cl.tok_a);
    sb_free(&cl.tok_b), sb_free(&cl.key), sb_free(&cl.json), sb_free(&cl.kept);
    for (size_t i = 0; i < c.n_keeps; i++) free(c.keeps[i].column), free(c.keeps[i].value);
    for (size_t i = 0; i < c.n_wheres; i++) free(c.wheres[i].column), free(c.wheres[i].value);
    free(c.keeps);
    free(c.wheres);
    for (size_t i = 0; i < c.n_renames; i++) free(c.renames[i].from), free(c.renames[i].to);
    free(c.renames);
    free(c.text_cols);
    free(c.stopwords_arg);
    free(c.stem_arg);
    return 0;
}
