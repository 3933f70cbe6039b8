#include "ledger.h"
#include "core/common.h"
#include "core/numfmt.h"
#include "core/utf8.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const ledger_columns[LEDGER_NCOLS] = {
    "study", "run", "model", "params", "val_accuracy", "val_macro_f1", "test_accuracy", "test_macro_f1",
    "wall_s", "commit", "date",
};

int ledger_column_is_number(int col)
{
    return col >= LEDGER_VAL_ACCURACY && col <= LEDGER_WALL_S;
}

void ledger_row_csv(strbuf *b, const char *const *cells)
{
    for (int k = 0; k < LEDGER_NCOLS; k++) {
        const char *s = cells[k] ? cells[k] : "";
        if (k > 0) sb_addc(b, ',');
        if (!s[strcspn(s, ",\"\r\n")]) {
            sb_adds(b, s);
            continue;
        }
        sb_addc(b, '"');
        for (; *s; s++) {
            if (*s == '"') sb_addc(b, '"');
            sb_addc(b, *s);
        }
        sb_addc(b, '"');
    }
    sb_addc(b, '\n');
}

void ledger_number_text(strbuf *b, double v)
{
    char buf[NUMFMT_MAX];
    sb_addn(b, buf, (size_t)fmt_double(buf, v));
}

int ledger_cell_number(const char *s, double *v)
{
    if (!*s) return 0;
    /* strtod would skip leading spaces and take hex, inf and nan */
    if (!strchr("+-.0123456789", *s) || strpbrk(s, "xXnN")) return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(x)) return -1;
    *v = x;
    return 1;
}

int ledger_is_header(const char *const *cells, size_t n)
{
    if (n != LEDGER_NCOLS) return 0;
    for (size_t k = 0; k < n; k++)
        if (strcmp(cells[k], ledger_columns[k]) != 0) return 0;
    return 1;
}

const char *ledger_row_check(const char *const *cells, size_t n, int *bad_col)
{
    *bad_col = -1;
    if (n != LEDGER_NCOLS) return "the row does not have the ledger's 11 fields";
    static const int required[] = {LEDGER_STUDY, LEDGER_RUN, LEDGER_MODEL};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        if (!*cells[required[i]]) {
            *bad_col = required[i];
            return "is empty: every row needs a study, a run and a model";
        }
    }
    for (int k = 0; k < LEDGER_NCOLS; k++) {
        double v;
        if (ledger_column_is_number(k) && ledger_cell_number(cells[k], &v) < 0) {
            *bad_col = k;
            return "is not a number";
        }
        if (!ledger_column_is_number(k)) {
            /* line breaks may stay (a quoted cell); other controls break the XML of a workbook */
            for (const unsigned char *p = (const unsigned char *)cells[k]; *p; p++) {
                if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f) {
                    *bad_col = k;
                    return "has a control character";
                }
            }
        }
    }
    return NULL;
}

const char *ledger_text_check(const char *s)
{
    size_t n = strlen(s);
    if (utf8_invalid_offset(s, n) < n) return "not valid UTF-8";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return "holds a control character (a ledger row is one line)";
    return NULL;
}

/* ---- metrics --json documents ------------------------------------------- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot read %s: %s", path, strerror(errno));
    strbuf b = {0};
    if (sb_read_stream(&b, f) < 0) die("cannot read %s: %s", path, strerror(errno));
    fclose(f);
    *len = b.len;
    return b.s;
}

static double score(const char *path, const cJSON *obj, const char *key, const char *shown)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) die_at(path, 0, "no %s: not a metrics --json document", shown);
    if (!cJSON_IsNumber(v)) die_at(path, 0, "%s is not a number", shown);
    if (!(v->valuedouble >= 0 && v->valuedouble <= 1))
        die_at(path, 0, "%s %g is not in [0, 1]", shown, v->valuedouble);
    return v->valuedouble;
}

void ledger_scores_read(const char *path, double *accuracy, double *macro_f1)
{
    size_t len;
    char *text = read_all(path, &len);
    if (len == 0) die_at(path, 0, "empty file: not a metrics --json document");
    if (memchr(text, '\0', len)) die_at(path, 0, "NUL byte: not a metrics --json document");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long line = 1;
        for (const char *p = text; at && p < at && p < text + len; p++) line += *p == '\n';
        die_at(path, line, "invalid JSON (a metrics --json document was expected)");
    }
    while (end && end < text + len && strchr(" \t\r\n", *end)) end++;
    if (end && end < text + len) {
        long line = 1;
        for (const char *p = text; p < end; p++) line += *p == '\n';
        die_at(path, line, "extra text after the JSON document");
    }
    if (!cJSON_IsObject(root)) die_at(path, 0, "not a JSON object: not a metrics --json document");
    if (cJSON_GetObjectItemCaseSensitive(root, "runs"))
        die_at(path, 0, "several runs (metrics --compare --json): give the document of one run");
    *accuracy = score(path, root, "accuracy", "\"accuracy\"");
    const cJSON *macro = cJSON_GetObjectItemCaseSensitive(root, "macro");
    if (!macro) die_at(path, 0, "no \"macro\": not a metrics --json document");
    if (!cJSON_IsObject(macro)) die_at(path, 0, "\"macro\" is not an object");
    *macro_f1 = score(path, macro, "f1", "\"macro\" \"f1\"");
    cJSON_Delete(root);
    free(text);
}

/* ---- a ledger read back ---------------------------------------------- */

void ledger_table_add(ledger_table *t, const char *const *cells, long line)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->cell = xrealloc(t->cell, t->cap * LEDGER_NCOLS * sizeof *t->cell);
        t->line = xrealloc(t->line, t->cap * sizeof *t->line);
    }
    for (int k = 0; k < LEDGER_NCOLS; k++) t->cell[t->nrows * LEDGER_NCOLS + (size_t)k] = xstrdup(cells[k]);
    t->line[t->nrows++] = line;
}

void ledger_table_free(ledger_table *t)
{
    for (size_t i = 0; i < t->nrows * LEDGER_NCOLS; i++) free(t->cell[i]);
    free(t->cell);
    free(t->line);
    memset(t, 0, sizeof *t);
}
