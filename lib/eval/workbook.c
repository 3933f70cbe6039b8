#include "workbook.h"
#include "core/common.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xlsxwriter.h>

/* UTF-16 units of a UTF-8 string (valid UTF-8: the ledger's cells are
 * checked when read); Excel counts sheet names and widths in these. */
static size_t utf16_units(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (len == 0) cp = 0xFFFD, len = 1;
        units += cp > 0xFFFF ? 2 : 1;
        i += (size_t)len;
    }
    return units;
}

/* The longest prefix of s[0..n) that ends on a character and has at most
 * max UTF-16 units. */
static size_t cut_to_units(const char *s, size_t n, size_t max)
{
    size_t units = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        int len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (len == 0) cp = 0xFFFD, len = 1;
        size_t u = cp > 0xFFFF ? 2 : 1;
        if (units + u > max) break;
        units += u;
        i += (size_t)len;
    }
    return i;
}

static int name_taken(const char *name, char *const *taken, size_t ntaken)
{
    if (strcasecmp(name, "History") == 0) return 1;
    for (size_t i = 0; i < ntaken; i++)
        if (strcasecmp(name, taken[i]) == 0) return 1;
    return 0;
}

char *sheet_name_for(const char *study, char *const *taken, size_t ntaken)
{
    size_t n = strlen(study);
    char *base = xstrdup(n ? study : "_");
    n = strlen(base);
    for (char *p = base; *p; p++)
        if (strchr("[]:*?/\\", *p)) *p = '_';
    n = cut_to_units(base, n, SHEET_NAME_MAX);
    base[n] = '\0';
    if (base[0] == '\'') base[0] = '_';
    if (base[n - 1] == '\'') base[n - 1] = '_';
    if (!name_taken(base, taken, ntaken)) return base;
    char *name = xmalloc(n + 24);
    for (unsigned k = 2;; k++) {
        char suffix[16];
        int slen = snprintf(suffix, sizeof suffix, "~%u", k);
        size_t keep = cut_to_units(base, n, SHEET_NAME_MAX - (size_t)slen);
        snprintf(name, n + 24, "%.*s%s", (int)keep, base, suffix);
        if (!name_taken(name, taken, ntaken)) break;
    }
    free(base);
    return name;
}

/* A worksheet and what is known of it while its rows are written. */
typedef struct sheet {
    const char *study;
    char *name;
    lxw_worksheet *ws;
    lxw_row_t next_row;
    double width[LEDGER_NCOLS];
} sheet;

static void check_cell(lxw_error err, const char *name, long line, int col)
{
    if (err != LXW_NO_ERROR) die_at(name, line, "%s: %s", ledger_columns[col], lxw_strerror(err));
}

static void write_row(sheet *sh, const ledger_table *t, size_t row, const char *name)
{
    long line = t->line[row];
    if (sh->next_row > LXW_ROW_MAX - 1) die_at(name, line, "more rows of study \"%s\" than a worksheet holds", sh->study);
    for (int k = 0; k < LEDGER_NCOLS; k++) {
        const char *s = ledger_cell(t, row, k);
        if (!*s) continue;
        double w;
        if (ledger_column_is_number(k)) {
            double v;
            if (ledger_cell_number(s, &v) != 1) die_at(name, line, "%s: not a number", ledger_columns[k]);
            check_cell(worksheet_write_number(sh->ws, sh->next_row, (lxw_col_t)k, v, NULL), name, line, k);
            w = (double)strlen(s);
            if (w > 12) w = 12; /* Excel shows about 11 digits in General format */
        } else {
            check_cell(worksheet_write_string(sh->ws, sh->next_row, (lxw_col_t)k, s, NULL), name, line, k);
            w = (double)utf16_units(s, strlen(s));
        }
        if (w > sh->width[k]) sh->width[k] = w;
    }
    sh->next_row++;
}

static sheet *sheet_of(sheet **sheets, size_t *nsheets, lxw_workbook *wb, lxw_format *bold, const char *study)
{
    for (size_t i = 0; i < *nsheets; i++)
        if (strcmp((*sheets)[i].study, study) == 0) return &(*sheets)[i];
    *sheets = xrealloc(*sheets, (*nsheets + 1) * sizeof **sheets);
    sheet *sh = &(*sheets)[*nsheets];
    memset(sh, 0, sizeof *sh);
    sh->study = study;
    char **taken = xmalloc((*nsheets + 1) * sizeof *taken);
    for (size_t i = 0; i < *nsheets; i++) taken[i] = (*sheets)[i].name;
    sh->name = sheet_name_for(study, taken, *nsheets);
    free(taken);
    if (workbook_validate_sheet_name(wb, sh->name) != LXW_NO_ERROR || !(sh->ws = workbook_add_worksheet(wb, sh->name)))
        die("internal error: libxlsxwriter refuses the sheet name \"%s\"", sh->name);
    for (int k = 0; k < LEDGER_NCOLS; k++) {
        worksheet_write_string(sh->ws, 0, (lxw_col_t)k, ledger_columns[k], bold);
        sh->width[k] = (double)strlen(ledger_columns[k]) + 1; /* bold is wider */
    }
    sh->next_row = 1;
    (*nsheets)++;
    return sh;
}

void ledger_workbook_write(const char *path, const ledger_table *t, time_t created, const char *name)
{
    lxw_workbook *wb = workbook_new(path);
    if (!wb) die("cannot create a workbook for %s", path);
    lxw_doc_properties props = {0};
    props.title = "Experiment ledger";
    props.comments = "Written by pipeclf's ledger from its CSV ledger";
    props.created = created;
    workbook_set_properties(wb, &props);
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);

    sheet *sheets = NULL;
    size_t nsheets = 0;
    for (size_t r = 0; r < t->nrows; r++)
        write_row(sheet_of(&sheets, &nsheets, wb, bold, ledger_cell(t, r, LEDGER_STUDY)), t, r, name);
    if (nsheets == 0) sheet_of(&sheets, &nsheets, wb, bold, "ledger");
    for (size_t i = 0; i < nsheets; i++) {
        sheet *sh = &sheets[i];
        worksheet_freeze_panes(sh->ws, 1, 0);
        worksheet_autofilter(sh->ws, 0, 0, sh->next_row - 1, LEDGER_NCOLS - 1);
        for (int k = 0; k < LEDGER_NCOLS; k++) {
            double w = sh->width[k] + 2; /* the autofilter's button */
            worksheet_set_column(sh->ws, (lxw_col_t)k, (lxw_col_t)k, w > 60 ? 60 : w, NULL);
        }
        free(sh->name);
    }
    free(sheets);
    lxw_error err = workbook_close(wb);
    if (err != LXW_NO_ERROR) die("cannot write %s: %s", path, lxw_strerror(err));
}
