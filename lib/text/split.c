#include "split.h"
#include "apportion.h"
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One ratio of a list, parsed from a stack copy: nothing is allocated while
 * an error may end the program (so leak checkers stay quiet). */
static double parse_ratio(const char *opt, const char *list, const char *item, size_t len, int *percent)
{
    char buf[64];
    if (len >= sizeof buf) len = sizeof buf - 1; /* too long for a number anyway */
    memcpy(buf, item, len);
    buf[len] = '\0';
    if (len > 0 && buf[len - 1] == '%') {
        buf[len - 1] = '\0';
        *percent = 1;
    }
    double v = parse_double_opt(opt, buf);
    if (!(v > 0)) die_usage("%s: ratios must be positive, got %g in '%s'", opt, v, list);
    if (v > 1) *percent = 1;
    return v;
}

size_t parse_ratios_opt(const char *opt, const char *s, double **ratios)
{
    size_t n = 1;
    for (const char *p = s; *p; p++) n += *p == '/' || *p == ',';
    int percent = 0;
    double sum = 0;
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, "/,");
        sum += parse_ratio(opt, s, p, len, &percent);
        p += len + 1;
    }
    double want = percent ? 100 : 1;
    if (fabs(sum / want - 1) > 1e-9) die_usage("%s: ratios sum to %g, not %g", opt, sum, want);
    double *v = xmalloc(n * sizeof *v);
    p = s;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, "/,");
        v[i] = parse_ratio(opt, s, p, len, &percent);
        p += len + 1;
    }
    *ratios = v;
    return n;
}

char **default_split_names(size_t n)
{
    static const char *two[] = {"train", "test"}, *three[] = {"train", "val", "test"};
    char **names = xmalloc(n * sizeof *names);
    for (size_t i = 0; i < n; i++) {
        if (n == 2) names[i] = xstrdup(two[i]);
        else if (n == 3) names[i] = xstrdup(three[i]);
        else {
            char buf[32];
            snprintf(buf, sizeof buf, "split%zu", i + 1);
            names[i] = xstrdup(buf);
        }
    }
    return names;
}

void class_rows_build(class_rows *cr, const size_t *class_of, const size_t *subset, size_t n,
                      size_t nclasses)
{
    cr->nclasses = nclasses;
    cr->start = xcalloc(nclasses + 1, sizeof *cr->start);
    cr->rows = xmalloc(n * sizeof *cr->rows);
    for (size_t i = 0; i < n; i++) cr->start[class_of[subset ? subset[i] : i] + 1]++;
    for (size_t c = 0; c < nclasses; c++) cr->start[c + 1] += cr->start[c];
    size_t *fill = xmalloc((nclasses + 1) * sizeof *fill);
    memcpy(fill, cr->start, (nclasses + 1) * sizeof *fill);
    for (size_t i = 0; i < n; i++) {
        size_t row = subset ? subset[i] : i;
        cr->rows[fill[class_of[row]]++] = row;
    }
    free(fill);
}

void class_rows_free(class_rows *cr)
{
    free(cr->start);
    free(cr->rows);
    memset(cr, 0, sizeof *cr);
}

void class_sizes(const class_rows *cr, size_t *sizes)
{
    for (size_t c = 0; c < cr->nclasses; c++) sizes[c] = class_size(cr, c);
}

void split_counts(const class_rows *cr, const double *ratios, size_t nsplits, size_t *counts)
{
    for (size_t c = 0; c < cr->nclasses; c++)
        apportion(class_size(cr, c), ratios, nsplits, counts + c * nsplits);
}

size_t split_counts_per_class(const class_rows *cr, const double *ratios, size_t nsplits, size_t fixed,
                              size_t per_class, size_t *counts)
{
    size_t *rest = xmalloc((nsplits > 1 ? nsplits - 1 : 1) * sizeof *rest);
    for (size_t c = 0; c < cr->nclasses; c++) {
        size_t m = class_size(cr, c);
        if (m < per_class) {
            free(rest);
            return c;
        }
        if (nsplits > 1) apportion(m - per_class, ratios, nsplits - 1, rest);
        for (size_t s = 0, o = 0; s < nsplits; s++) counts[c * nsplits + s] = s == fixed ? per_class : rest[o++];
    }
    free(rest);
    return cr->nclasses;
}

/* the rows of class c, copied and shuffled with r */
static size_t *shuffled_class(const class_rows *cr, size_t c, prng *r)
{
    size_t m = class_size(cr, c);
    size_t *rows = xmalloc(m * sizeof *rows);
    memcpy(rows, cr->rows + cr->start[c], m * sizeof *rows);
    prng_shuffle(r, rows, m);
    return rows;
}

void split_assign(const class_rows *cr, const size_t *counts, size_t nsplits, prng *r, size_t *split_of)
{
    for (size_t c = 0; c < cr->nclasses; c++) {
        size_t m = class_size(cr, c);
        size_t *rows = shuffled_class(cr, c, r);
        size_t i = 0;
        for (size_t s = 0; s < nsplits; s++)
            for (size_t k = 0; k < counts[c * nsplits + s] && i < m; k++) split_of[rows[i++]] = s;
        free(rows);
    }
}

void sample_by_class(const class_rows *cr, const size_t *want, prng *r, size_t *copies)
{
    for (size_t c = 0; c < cr->nclasses; c++) {
        size_t m = class_size(cr, c);
        const size_t *rows = cr->rows + cr->start[c];
        if (m == 0) continue;
        if (want[c] > m) {
            for (size_t i = 0; i < m; i++) copies[rows[i]] = 1;
            for (size_t k = m; k < want[c]; k++) copies[rows[prng_below(r, m)]]++;
            continue;
        }
        size_t *order = shuffled_class(cr, c, r);
        for (size_t i = 0; i < m; i++) copies[order[i]] = i < want[c];
        free(order);
    }
}

int resample_counts(const size_t *sizes, size_t nclasses, size_t target, size_t target_count, size_t total,
                    size_t *want)
{
    memset(want, 0, nclasses * sizeof *want);
    if (target_count > total) return -1;
    size_t *others = xmalloc(nclasses * sizeof *others);
    memcpy(others, sizes, nclasses * sizeof *others);
    others[target] = 0;
    int rc = apportion_sizes(total - target_count, others, nclasses, want);
    free(others);
    want[target] = target_count;
    return rc;
}

void balance_counts(const size_t *sizes, size_t nclasses, int up, size_t *want)
{
    size_t level = 0;
    int first = 1;
    for (size_t c = 0; c < nclasses; c++) {
        if (sizes[c] == 0) continue;
        if (first || (up ? sizes[c] > level : sizes[c] < level)) level = sizes[c];
        first = 0;
    }
    for (size_t c = 0; c < nclasses; c++) want[c] = sizes[c] ? level : 0;
}
