#include "svg.h"
#include "core/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FONT "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"

/* numbers in coordinates: two decimals are finer than a pixel */
static void add_num(strbuf *b, double v)
{
    char buf[32];
    if (fabs(v) < 0.005) v = 0;
    int n = snprintf(buf, sizeof buf, "%.2f", v);
    while (n > 0 && buf[n - 1] == '0') n--;
    if (n > 0 && buf[n - 1] == '.') n--;
    sb_addn(b, buf, (size_t)n);
}

static void attr_num(strbuf *b, const char *name, double v)
{
    sb_addc(b, ' ');
    sb_adds(b, name);
    sb_adds(b, "=\"");
    add_num(b, v);
    sb_addc(b, '"');
}

static void attr_str(strbuf *b, const char *name, const char *v)
{
    sb_addc(b, ' ');
    sb_adds(b, name);
    sb_adds(b, "=\"");
    svg_escape(b, v);
    sb_addc(b, '"');
}

void svg_begin(svg *s, double width, double height)
{
    memset(s, 0, sizeof *s);
    s->width = width;
    s->height = height;
    sb_adds(&s->b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"");
    attr_num(&s->b, "width", width);
    attr_num(&s->b, "height", height);
    sb_adds(&s->b, " viewBox=\"0 0 ");
    add_num(&s->b, width);
    sb_addc(&s->b, ' ');
    add_num(&s->b, height);
    sb_adds(&s->b, "\" font-family=\"" FONT "\">\n");
    svg_rect(s, 0, 0, width, height, "#ffffff", NULL);
}

void svg_end(svg *s) { sb_adds(&s->b, "</svg>\n"); }

void svg_free(svg *s) { sb_free(&s->b); }

/* the next character of UTF-8 text (continuation bytes skipped; stops at
 * the NUL even in a cut sequence) */
static const char *next_char(const char *p)
{
    p++;
    while (((unsigned char)*p & 0xC0) == 0x80) p++;
    return p;
}

void svg_escape(strbuf *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        switch (c) {
        case '&': sb_adds(b, "&amp;"); break;
        case '<': sb_adds(b, "&lt;"); break;
        case '>': sb_adds(b, "&gt;"); break;
        case '"': sb_adds(b, "&quot;"); break;
        case '\'': sb_adds(b, "&apos;"); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                sb_adds(b, "\xEF\xBF\xBD");
            } else if (c == 0xEF && (unsigned char)p[1] == 0xBF && ((unsigned char)p[2] & 0xFE) == 0xBE) {
                /* U+FFFE and U+FFFF are not XML characters either */
                sb_adds(b, "\xEF\xBF\xBD");
                p += 2;
            } else {
                sb_addc(b, (char)c);
            }
        }
    }
}

/* advance widths of DejaVu Sans in em, rounded up a little */
static double char_em(unsigned c)
{
    if (c >= 0x80) return 0.70;
    if (strchr("il.,:;'|!", (int)c)) return 0.32;
    if (strchr("fjrt()[] -/", (int)c)) return 0.42;
    if (strchr("mwMW@", (int)c)) return 0.95;
    if (c >= 'A' && c <= 'Z') return 0.72;
    if (c >= '0' && c <= '9') return 0.64;
    return 0.62;
}

double svg_text_width(const char *text, double size)
{
    double w = 0;
    for (const char *p = text; *p; p = next_char(p)) w += char_em((unsigned char)*p);
    return w * size;
}

char *svg_fit(const char *text, double size, double max_width)
{
    if (svg_text_width(text, size) <= max_width) return xstrdup(text);
    double budget = max_width - char_em(0x2026) * size, w = 0;
    const char *p = text;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        double cw = char_em(c) * size;
        if (w + cw > budget) break;
        w += cw;
        p = next_char(p);
    }
    /* no trailing blank before the ellipsis */
    while (p > text && p[-1] == ' ') p--;
    size_t n = (size_t)(p - text);
    char *out = xmalloc(n + 4);
    memcpy(out, text, n);
    memcpy(out + n, "\xE2\x80\xA6", 4); /* U+2026 … and the NUL */
    return out;
}

static void text_open(svg *s, double x, double y, double size, enum svg_anchor anchor, double rotate,
                      const char *fill, const char *extra)
{
    strbuf *b = &s->b;
    sb_adds(b, "<text");
    attr_num(b, "x", x);
    attr_num(b, "y", y);
    attr_num(b, "font-size", size);
    if (anchor != SVG_START) attr_str(b, "text-anchor", anchor == SVG_MIDDLE ? "middle" : "end");
    if (fill && strcmp(fill, "#000000") != 0) attr_str(b, "fill", fill);
    if (rotate != 0) {
        sb_adds(b, " transform=\"rotate(");
        add_num(b, rotate);
        sb_addc(b, ' ');
        add_num(b, x);
        sb_addc(b, ' ');
        add_num(b, y);
        sb_adds(b, ")\"");
    }
    if (extra) {
        sb_addc(b, ' ');
        sb_adds(b, extra);
    }
    sb_addc(b, '>');
}

void svg_text(svg *s, double x, double y, double size, enum svg_anchor anchor, double rotate, const char *fill,
              const char *extra, const char *text)
{
    text_open(s, x, y, size, anchor, rotate, fill, extra);
    svg_escape(&s->b, text);
    sb_adds(&s->b, "</text>\n");
}

void svg_text_fit(svg *s, double x, double y, double size, enum svg_anchor anchor, double rotate,
                  const char *fill, const char *extra, const char *text, double max_width)
{
    char *cut = svg_fit(text, size, max_width);
    text_open(s, x, y, size, anchor, rotate, fill, extra);
    if (strcmp(cut, text) != 0) {
        /* the full name shows as a tooltip */
        sb_adds(&s->b, "<title>");
        svg_escape(&s->b, text);
        sb_adds(&s->b, "</title>");
    }
    svg_escape(&s->b, cut);
    sb_adds(&s->b, "</text>\n");
    free(cut);
}

void svg_rect(svg *s, double x, double y, double w, double h, const char *fill, const char *extra)
{
    strbuf *b = &s->b;
    sb_adds(b, "<rect");
    attr_num(b, "x", x);
    attr_num(b, "y", y);
    attr_num(b, "width", w);
    attr_num(b, "height", h);
    attr_str(b, "fill", fill);
    if (extra) {
        sb_addc(b, ' ');
        sb_adds(b, extra);
    }
    sb_adds(b, "/>\n");
}

static void stroke_attrs(strbuf *b, const char *stroke, double width, const char *dash)
{
    attr_str(b, "stroke", stroke);
    attr_num(b, "stroke-width", width);
    if (dash && *dash) attr_str(b, "stroke-dasharray", dash);
}

void svg_line(svg *s, double x1, double y1, double x2, double y2, const char *stroke, double width,
              const char *dash)
{
    strbuf *b = &s->b;
    sb_adds(b, "<line");
    attr_num(b, "x1", x1);
    attr_num(b, "y1", y1);
    attr_num(b, "x2", x2);
    attr_num(b, "y2", y2);
    stroke_attrs(b, stroke, width, dash);
    sb_adds(b, "/>\n");
}

void svg_polyline(svg *s, const double *x, const double *y, size_t n, const char *stroke, double width,
                  const char *dash)
{
    strbuf *b = &s->b;
    sb_adds(b, "<polyline fill=\"none\" stroke-linejoin=\"round\"");
    stroke_attrs(b, stroke, width, dash);
    sb_adds(b, " points=\"");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_addc(b, ' ');
        add_num(b, x[i]);
        sb_addc(b, ',');
        add_num(b, y[i]);
    }
    sb_adds(b, "\"/>\n");
}

void svg_circle(svg *s, double cx, double cy, double r, const char *fill)
{
    strbuf *b = &s->b;
    sb_adds(b, "<circle");
    attr_num(b, "cx", cx);
    attr_num(b, "cy", cy);
    attr_num(b, "r", r);
    attr_str(b, "fill", fill);
    sb_adds(b, "/>\n");
}

void svg_group_begin(svg *s, const char *cls, const char *title)
{
    sb_adds(&s->b, "<g");
    if (cls) attr_str(&s->b, "class", cls);
    sb_addc(&s->b, '>');
    if (title) {
        sb_adds(&s->b, "<title>");
        svg_escape(&s->b, title);
        sb_adds(&s->b, "</title>");
    }
    sb_addc(&s->b, '\n');
}

void svg_group_end(svg *s) { sb_adds(&s->b, "</g>\n"); }
