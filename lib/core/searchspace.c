#include "searchspace.h"

#include "common.h"
#include "numfmt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && errno == 0 && isfinite(*v) ? 0 : -1;
}

static char *trimmed(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return xstrndup(s, n);
}

/* NAME=LO..HI[:log][:N] */
static int parse_range(ss_param *p, char *text, char *err, size_t errlen)
{
    char *dots = strstr(text, ".."), *flags = strchr(dots + 2, ':');
    if (flags) *flags++ = '\0';
    *dots = '\0';
    if (parse_number(text, &p->lo) < 0 || parse_number(dots + 2, &p->hi) < 0)
        return fail(err, errlen, "%s: '%s..%s' is not a range LO..HI of two numbers", p->name, text, dots + 2);
    if (!(p->lo < p->hi)) return fail(err, errlen, "%s: the range's low end must be below its high end", p->name);
    while (flags) {
        char *next = strchr(flags, ':');
        if (next) *next++ = '\0';
        char *end;
        long n;
        if (strcmp(flags, "log") == 0) {
            if (!(p->lo > 0)) return fail(err, errlen, "%s: a :log range needs LO > 0", p->name);
            p->log = 1;
        } else if ((n = strtol(flags, &end, 10)) >= 2 && n <= 1000 && *flags && !*end) {
            p->points = (int)n;
        } else {
            return fail(err, errlen, "%s: ':%s' is not :log or a number of grid points (2 to 1000)", p->name, flags);
        }
        flags = next;
    }
    return 0;
}

static int parse_param(ss_param *p, const char *item, size_t len, char *err, size_t errlen)
{
    char *text = trimmed(item, len), *eq = strchr(text, '=');
    int rc = 0;
    if (!eq || eq == text) {
        rc = fail(err, errlen, "'%s' is not NAME=VALUES", text);
        goto out;
    }
    *eq = '\0';
    p->name = trimmed(text, strlen(text));
    char *values = eq + 1;
    if (!*values) {
        rc = fail(err, errlen, "%s: no values", p->name);
    } else if (strstr(values, "..")) {
        rc = parse_range(p, values, err, errlen);
    } else {
        for (char *v = values;;) {
            char *comma = strchr(v, ',');
            size_t n = comma ? (size_t)(comma - v) : strlen(v);
            char *one = trimmed(v, n);
            if (!*one) {
                free(one);
                rc = fail(err, errlen, "%s: an empty value in '%s'", p->name, values);
                break;
            }
            p->values = xrealloc(p->values, (p->nvalues + 1) * sizeof *p->values);
            p->values[p->nvalues++] = one;
            if (!comma) break;
            v = comma + 1;
        }
    }
out:
    free(text);
    return rc;
}

int ss_parse(search_space *s, const char *spec, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    for (const char *item = spec; *item;) {
        const char *semi = strchr(item, ';');
        size_t len = semi ? (size_t)(semi - item) : strlen(item);
        s->p = xrealloc(s->p, (s->n + 1) * sizeof *s->p);
        ss_param *p = &s->p[s->n++];
        memset(p, 0, sizeof *p);
        if (parse_param(p, item, len, err, errlen) < 0) {
            ss_free(s);
            return -1;
        }
        for (size_t i = 0; i + 1 < s->n; i++)
            if (strcmp(s->p[i].name, p->name) == 0) {
                fail(err, errlen, "%s: given twice", p->name);
                ss_free(s);
                return -1;
            }
        if (!semi) break;
        item = semi + 1;
    }
    if (s->n == 0) return fail(err, errlen, "an empty search space");
    return 0;
}

void ss_free(search_space *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->p[i].name);
        ss_values_free(s->p[i].values, (long)s->p[i].nvalues);
    }
    free(s->p);
    memset(s, 0, sizeof *s);
}

void ss_values_free(char **v, long n)
{
    for (long i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* 3 significant digits: the values a person would write, and names that
 * stay short in tables */
static char *number_text(double v, int integer)
{
    char buf[NUMFMT_MAX];
    if (integer) {
        snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        snprintf(buf, sizeof buf, "%.3g", v);
        fmt_double(buf, strtod(buf, NULL));
    }
    return xstrdup(buf);
}

/* the point at share t (0..1) of the range */
static double range_at(const ss_param *p, double t)
{
    return p->log ? exp(log(p->lo) + t * (log(p->hi) - log(p->lo))) : p->lo + t * (p->hi - p->lo);
}

long ss_grid_values(const ss_param *p, char ***out, char *err, size_t errlen)
{
    if (p->values) {
        char **v = xmalloc(p->nvalues * sizeof *v);
        for (size_t i = 0; i < p->nvalues; i++) v[i] = xstrdup(p->values[i]);
        *out = v;
        return (long)p->nvalues;
    }
    if (p->integer && (p->lo != floor(p->lo) || p->hi != floor(p->hi)))
        return fail(err, errlen, "%s: a range of whole numbers needs whole bounds", p->name);
    long n = p->points ? p->points : p->integer && !p->log ? (long)(p->hi - p->lo) + 1 : 3;
    char **v = xmalloc((size_t)n * sizeof *v);
    for (long i = 0; i < n; i++) {
        double x = range_at(p, (double)i / (double)(n - 1));
        v[i] = number_text(p->integer ? round(x) : x, p->integer);
        if (i > 0 && strcmp(v[i], v[i - 1]) == 0) {
            ss_values_free(v, i + 1);
            return fail(err, errlen, "%s: %ld grid points of whole numbers from %g to %g repeat a value", p->name, n,
                        p->lo, p->hi);
        }
    }
    *out = v;
    return n;
}

char *ss_draw(const ss_param *p, prng *r)
{
    if (p->values) return xstrdup(p->values[prng_below(r, p->nvalues)]);
    if (p->integer && !p->log) {
        const long lo = (long)ceil(p->lo), hi = (long)floor(p->hi);
        return number_text((double)(lo + (long)prng_below(r, (uint64_t)(hi - lo + 1))), 1);
    }
    const double x = range_at(p, prng_uniform(r));
    return number_text(p->integer ? round(x) : x, p->integer);
}
