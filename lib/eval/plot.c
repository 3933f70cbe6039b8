#include "plot.h"
#include "core/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INK "#222222"
#define GRID "#e5e5e5"
#define AXIS "#555555"
#define FADED "#9a9a9a"
/* a white outline under text drawn over data, so that it stays readable */
#define HALO "stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\""

/* matplotlib's tab10: distinct, and readable on white */
static const char *const palette[10] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

const char *plot_color(size_t i) { return palette[i % 10]; }

const char *plot_dash(size_t i)
{
    static const char *const dashes[3] = {"", "7 3", "2 2"};
    return dashes[(i / 10) % 3];
}

static double max2(double a, double b) { return a > b ? a : b; }
static double min2(double a, double b) { return a < b ? a : b; }

/* ------------------------------------------------------------- confusion */

/* matplotlib's "Blues" at five stops, interpolated in RGB */
static void blues(double t, char out[8])
{
    static const unsigned char stops[5][3] = {
        {0xf7, 0xfb, 0xff}, {0xc6, 0xdb, 0xef}, {0x6b, 0xae, 0xd6}, {0x21, 0x71, 0xb5}, {0x08, 0x30, 0x6b},
    };
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double pos = t * 4;
    int i = pos >= 4 ? 3 : (int)pos;
    double f = pos - i;
    int rgb[3];
    for (int c = 0; c < 3; c++) rgb[c] = (int)lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

void plot_confusion(svg *s, char *const *labels, size_t k, const size_t *counts, int normalize,
                    const char *subtitle)
{
    double cell = k <= 4 ? 84 : max2(26, min2(64, 600.0 / (double)k));
    double font = k <= 12 ? 12 : 11;
    double label_w = 0;
    for (size_t i = 0; i < k; i++) label_w = max2(label_w, svg_text_width(labels[i], font));
    label_w = min2(label_w, 280);
    /* column labels lie flat when they fit a cell, else at 45 degrees */
    int slanted = label_w > cell - 6;
    double col_h = slanted ? label_w * 0.7072 + 16 : 22;

    size_t max_count = 1;
    for (size_t i = 0; i < k * k; i++)
        if (counts[i] > max_count) max_count = counts[i];
    double left = 34 + label_w + 10, top = subtitle ? 62 : 46;
    double grid = cell * (double)k;
    double bar_x = left + grid + 22;
    double width = bar_x + 16 + 56, height = top + grid + col_h + 36;
    width = max2(width, svg_text_width(subtitle ? subtitle : "", 12) + 40);
    svg_begin(s, width, height);

    svg_text(s, width / 2, 24, 16, SVG_MIDDLE, 0, INK, "font-weight=\"bold\"",
             normalize ? "Confusion matrix (row-normalised)" : "Confusion matrix");
    if (subtitle) svg_text_fit(s, width / 2, 44, 12, SVG_MIDDLE, 0, AXIS, NULL, subtitle, width - 20);

    double cell_font = min2(13, cell * 0.36);
    char fill[8], text[32], tip[64];
    for (size_t g = 0; g < k; g++) {
        size_t row = 0;
        for (size_t p = 0; p < k; p++) row += counts[g * k + p];
        for (size_t p = 0; p < k; p++) {
            size_t c = counts[g * k + p];
            double share = row ? (double)c / (double)row : 0;
            double x = left + cell * (double)p, y = top + cell * (double)g;
            blues(share, fill);
            strbuf title = {0};
            sb_adds(&title, "gold: ");
            sb_adds(&title, labels[g]);
            sb_adds(&title, "\npredicted: ");
            sb_adds(&title, labels[p]);
            snprintf(tip, sizeof tip, "\n%zu of %zu (%.1f%% of the row)", c, row, 100 * share);
            sb_adds(&title, tip);
            svg_group_begin(s, "cell", title.s);
            sb_free(&title);
            svg_rect(s, x, y, cell, cell, fill, "stroke=\"#ffffff\" stroke-width=\"1\"");
            /* an empty cell reads "0" in both modes: short, and quiet in grey */
            if (normalize && c) snprintf(text, sizeof text, "%.2f", share);
            else if (normalize && !row) snprintf(text, sizeof text, "-");
            else snprintf(text, sizeof text, "%zu", c);
            const char *ink = share > 0.5 ? "#ffffff" : c == 0 ? "#b0b0b0" : INK;
            svg_text(s, x + cell / 2, y + cell / 2 + cell_font * 0.36, cell_font, SVG_MIDDLE, 0, ink, NULL, text);
            svg_group_end(s);
        }
    }
    svg_rect(s, left, top, grid, grid, "none", "stroke=\"" AXIS "\" stroke-width=\"1\"");

    /* row labels left of the grid, column labels below it */
    for (size_t i = 0; i < k; i++) {
        double cy = top + cell * ((double)i + 0.5);
        svg_text_fit(s, left - 8, cy + font * 0.36, font, SVG_END, 0, INK, "class=\"row-label\"", labels[i],
                     label_w);
        double cx = left + cell * ((double)i + 0.5);
        if (slanted)
            svg_text_fit(s, cx + font * 0.3, top + grid + 12, font, SVG_END, -45, INK, "class=\"col-label\"",
                         labels[i], label_w);
        else
            svg_text_fit(s, cx, top + grid + 16, font, SVG_MIDDLE, 0, INK, "class=\"col-label\"", labels[i],
                         cell - 4);
    }
    svg_text(s, left + grid / 2, top + grid + col_h + 22, 13, SVG_MIDDLE, 0, INK, NULL, "Predicted label");
    svg_text(s, 16, top + grid / 2, 13, SVG_MIDDLE, -90, INK, NULL, "True label");

    /* colour bar of the row share */
    size_t steps = 50;
    for (size_t i = 0; i < steps; i++) {
        blues(1 - ((double)i + 0.5) / (double)steps, fill);
        svg_rect(s, bar_x, top + grid * (double)i / (double)steps, 16, grid / (double)steps + 0.5, fill, NULL);
    }
    svg_rect(s, bar_x, top, 16, grid, "none", "stroke=\"" AXIS "\" stroke-width=\"0.8\"");
    for (int t = 0; t <= 4; t++) {
        double y = top + grid * (1 - t / 4.0);
        snprintf(text, sizeof text, "%.2f", t / 4.0);
        svg_line(s, bar_x + 16, y, bar_x + 20, y, AXIS, 1, NULL);
        svg_text(s, bar_x + 23, y + 4, 10, SVG_START, 0, AXIS, NULL, text);
    }
    svg_text(s, bar_x + 8, top + grid + 16, 10, SVG_MIDDLE, 0, AXIS, NULL, "row share");
    svg_end(s);
}

/* ------------------------------------------------------------ line charts */

/* "nice" tick step (1, 2 or 5 times a power of ten) for about n ticks */
static double tick_step(double span, int n)
{
    if (!(span > 0)) return 1;
    double raw = span / n, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void tick_text(char *buf, size_t size, double v, double step)
{
    if (fabs(v) < step * 1e-9) v = 0;
    if (step >= 1 && fabs(v) < 1e6) snprintf(buf, size, "%.0f", v);
    else if (step >= 0.001 && fabs(v) < 1e6) {
        int dec = (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, size, "%.*f", dec, v);
    } else snprintf(buf, size, "%.3g", v);
}

/* a value's position on the axis: log2 of x on a log2 x axis */
static double axis_value(const line_chart *c, int axis, double v)
{
    return !axis && c->xlog2 ? log2(v) : v;
}

static void range_add(double v, double *lo, double *hi)
{
    if (!isfinite(v)) return;
    *lo = min2(*lo, v);
    *hi = max2(*hi, v);
}

static void data_range(const line_chart *c, int axis, double *lo, double *hi)
{
    double a = axis ? c->ymin : c->xmin, b = axis ? c->ymax : c->xmax;
    double dlo = INFINITY, dhi = -INFINITY;
    for (size_t i = 0; i < c->nseries; i++) {
        const plot_series *p = &c->series[i];
        if (p->faded) continue;
        for (size_t j = 0; j < p->n; j++) {
            if (!axis) {
                range_add(axis_value(c, 0, p->x[j]), &dlo, &dhi);
            } else {
                double e = p->err && isfinite(p->err[j]) ? fabs(p->err[j]) : 0;
                range_add(p->y[j] - e, &dlo, &dhi);
                range_add(p->y[j] + e, &dlo, &dhi);
            }
        }
    }
    /* reference lines stay in view */
    const plot_ref *refs = axis ? c->hlines : c->vlines;
    for (size_t i = 0, n = axis ? c->nhlines : c->nvlines; i < n; i++)
        range_add(axis_value(c, axis, refs[i].value), &dlo, &dhi);
    if (!isfinite(dlo)) dlo = 0, dhi = 1;
    if (dlo == dhi) dlo -= 0.5, dhi += 0.5;
    double st = tick_step(dhi - dlo, 5), margin = 0.06 * (dhi - dlo);
    /* pad and round outwards to the ticks, or pad by a margin */
    if (isnan(a)) a = c->margins ? dlo - margin : floor(dlo / st) * st;
    if (isnan(b)) {
        b = c->margins ? dhi + margin : ceil(dhi / st) * st;
        if (b == a) b = a + st;
    }
    *lo = a;
    *hi = b;
}

#define LEGEND_FONT 11
#define LEGEND_ROW 17
#define LEGEND_MAX 330

static double note_width(const plot_series *p)
{
    return p->note ? svg_text_width(p->note, LEGEND_FONT) : 0;
}

static double legend_width(const line_chart *c)
{
    double w = 0;
    for (size_t i = 0; i < c->nseries; i++) {
        const plot_series *p = &c->series[i];
        w = max2(w, min2(svg_text_width(p->name, LEGEND_FONT), LEGEND_MAX) + note_width(p));
    }
    w += 44;
    if (c->legend_title) w = max2(w, min2(svg_text_width(c->legend_title, LEGEND_FONT), LEGEND_MAX) + 6);
    return w;
}

/* the name cut to LEGEND_MAX, then the note whole; the full text as a
 * tooltip when cut */
static void legend_text(svg *s, double x, double y, const plot_series *p)
{
    char *cut = svg_fit(p->name, LEGEND_FONT, LEGEND_MAX);
    strbuf full = {0}, shown = {0};
    sb_adds(&full, p->name);
    sb_adds(&shown, cut);
    if (p->note) {
        sb_adds(&full, p->note);
        sb_adds(&shown, p->note);
    }
    int was_cut = strcmp(cut, p->name) != 0;
    svg_group_begin(s, "legend", was_cut ? full.s : NULL);
    svg_text(s, x, y, LEGEND_FONT, SVG_START, 0, p->faded ? FADED : INK, NULL, shown.s);
    svg_group_end(s);
    free(cut);
    sb_free(&full);
    sb_free(&shown);
}

/* a dashed reference line across the plot, its label at the far end */
static void draw_ref(svg *s, const plot_ref *r, int vertical, double x1, double y1, double x2, double y2)
{
    char tip[64];
    snprintf(tip, sizeof tip, "%s = %g", vertical ? "x" : "y", r->value);
    svg_group_begin(s, "ref", r->label ? r->label : tip);
    svg_line(s, x1, y1, x2, y2, AXIS, 1.3, "6 4");
    /* a vertical line's label above the plot, a horizontal one's inside at
     * the right end */
    if (r->label && vertical)
        svg_text_fit(s, x1, y2 - 5, 10, SVG_MIDDLE, 0, AXIS, NULL, r->label, 160);
    else if (r->label)
        svg_text_fit(s, x2 - 6, y1 - 5, 10, SVG_END, 0, AXIS, HALO, r->label, x2 - x1 - 12);
    svg_group_end(s);
}

/* a series' points: error bars, markers, labels; a group with a tooltip
 * per point when there are tooltips */
static void draw_points(svg *s, const line_chart *c, const plot_series *p, const char *color, double x, double y,
                        double h, double x0, double y0, double sx, double sy)
{
    int dots = p->markers || p->no_line;
    if (!dots && !p->err) return;
    for (size_t j = 0; j < p->n; j++) {
        if (!isfinite(p->x[j]) || !isfinite(p->y[j])) continue;
        double X = x + (axis_value(c, 0, p->x[j]) - x0) * sx, Y = y + h - (p->y[j] - y0) * sy;
        if (p->tips) svg_group_begin(s, "point", p->tips[j]);
        if (p->err && isfinite(p->err[j]) && p->err[j] > 0) {
            double e = fabs(p->err[j]) * sy;
            svg_line(s, X, Y - e, X, Y + e, color, 1.3, NULL);
            svg_line(s, X - 4, Y - e, X + 4, Y - e, color, 1.3, NULL);
            svg_line(s, X - 4, Y + e, X + 4, Y + e, color, 1.3, NULL);
        }
        if (dots) svg_circle(s, X, Y, p->no_line ? 4 : p->err ? 3.2 : 2.6, color);
        if (p->tips) svg_group_end(s);
    }
}

typedef struct box {
    double x0, y0, x1, y1;
} box;

static int overlaps(const box *a, const box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

#define POINT_LABEL_FONT 9
#define POINT_LABEL_MAX 110

/* Point labels, each at the first of four places around its point (right
 * above, right below, left above, left below) that is inside the plot and
 * clear of the markers and the labels placed before it; the first place when
 * none is. */
static void draw_point_labels(svg *s, const line_chart *c, double x, double y, double w, double h, double x0,
                              double y0, double sx, double sy)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nseries; i++) n += c->series[i].labels && !c->series[i].faded ? c->series[i].n : 0;
    if (!n) return;
    box *taken = xmalloc(2 * n * sizeof *taken);
    size_t nt = 0;
    for (size_t i = 0; i < c->nseries; i++) {
        const plot_series *p = &c->series[i];
        if (!p->labels || p->faded) continue;
        for (size_t j = 0; j < p->n; j++) {
            double X = x + (axis_value(c, 0, p->x[j]) - x0) * sx, Y = y + h - (p->y[j] - y0) * sy;
            if (isfinite(X) && isfinite(Y)) taken[nt++] = (box){X - 4, Y - 4, X + 4, Y + 4};
        }
    }
    for (size_t i = 0; i < c->nseries; i++) {
        const plot_series *p = &c->series[i];
        if (!p->labels || p->faded) continue;
        for (size_t j = 0; j < p->n; j++) {
            double X = x + (axis_value(c, 0, p->x[j]) - x0) * sx, Y = y + h - (p->y[j] - y0) * sy;
            if (!p->labels[j] || !isfinite(X) || !isfinite(Y)) continue;
            char *cut = svg_fit(p->labels[j], POINT_LABEL_FONT, POINT_LABEL_MAX);
            double tw = svg_text_width(cut, POINT_LABEL_FONT);
            free(cut);
            static const double dx[4] = {1, 1, -1, -1}, dy[4] = {-1, 1, -1, 1};
            box b = {0};
            int k;
            for (k = 0; k < 4; k++) {
                double bx = dx[k] > 0 ? X + 5 : X - 5 - tw, by = dy[k] < 0 ? Y - 5 - 9 : Y + 5;
                b = (box){bx, by, bx + tw, by + 10};
                int clear = b.x0 >= x && b.x1 <= x + w && b.y0 >= y && b.y1 <= y + h;
                for (size_t q = 0; clear && q < nt; q++) clear = !overlaps(&b, &taken[q]);
                if (clear) break;
            }
            if (k == 4) {
                k = 0;
                b = (box){X + 5, Y - 14, X + 5 + tw, Y - 4};
            }
            taken[nt++] = b;
            svg_text_fit(s, dx[k] > 0 ? b.x0 : b.x1, b.y1 - 2, POINT_LABEL_FONT, dx[k] > 0 ? SVG_START : SVG_END, 0,
                         AXIS, "class=\"point-label\" " HALO, p->labels[j], POINT_LABEL_MAX);
        }
    }
    free(taken);
}

/* the chart in the box (x, y, w, h), its legend at lx */
static void draw_chart(svg *s, const line_chart *c, double x, double y, double w, double h, double lx)
{
    double x0, x1, y0, y1;
    data_range(c, 0, &x0, &x1);
    data_range(c, 1, &y0, &y1);
    double sx = w / (x1 - x0), sy = h / (y1 - y0);
    char buf[48];

    if (c->title) svg_text(s, x + w / 2, y - 12, 14, SVG_MIDDLE, 0, INK, "font-weight=\"bold\"", c->title);
    /* grid and ticks; a log2 axis has its ticks at powers of two */
    double xs = tick_step(x1 - x0, c->square ? 5 : 6), ys = tick_step(y1 - y0, 5);
    if (c->xlog2) xs = max2(1, xs);
    for (double t = ceil(x0 / xs - 1e-9) * xs; t <= x1 + xs * 1e-9; t += xs) {
        double px = x + (t - x0) * sx;
        svg_line(s, px, y, px, y + h, GRID, 1, NULL);
        svg_line(s, px, y + h, px, y + h + 4, AXIS, 1, NULL);
        if (c->xlog2) snprintf(buf, sizeof buf, "%g", exp2(t));
        else tick_text(buf, sizeof buf, t, xs);
        svg_text(s, px, y + h + 16, 10, SVG_MIDDLE, 0, AXIS, NULL, buf);
    }
    for (double t = ceil(y0 / ys - 1e-9) * ys; t <= y1 + ys * 1e-9; t += ys) {
        double py = y + h - (t - y0) * sy;
        svg_line(s, x, py, x + w, py, GRID, 1, NULL);
        svg_line(s, x - 4, py, x, py, AXIS, 1, NULL);
        tick_text(buf, sizeof buf, t, ys);
        svg_text(s, x - 7, py + 3.5, 10, SVG_END, 0, AXIS, NULL, buf);
    }
    svg_rect(s, x, y, w, h, "none", "stroke=\"" AXIS "\" stroke-width=\"1\"");
    if (c->xlabel) svg_text(s, x + w / 2, y + h + 34, 12, SVG_MIDDLE, 0, INK, NULL, c->xlabel);
    if (c->ylabel) svg_text(s, x - 44, y + h / 2, 12, SVG_MIDDLE, -90, INK, NULL, c->ylabel);
    if (c->diagonal) {
        svg_line(s, x + (0 - x0) * sx, y + h - (0 - y0) * sy, x + (1 - x0) * sx, y + h - (1 - y0) * sy, FADED, 1,
                 "5 4");
    }
    for (size_t i = 0; i < c->nhlines; i++) {
        double py = y + h - (c->hlines[i].value - y0) * sy;
        if (isfinite(py)) draw_ref(s, &c->hlines[i], 0, x, py, x + w, py);
    }
    for (size_t i = 0; i < c->nvlines; i++) {
        double px = x + (axis_value(c, 0, c->vlines[i].value) - x0) * sx;
        if (isfinite(px)) draw_ref(s, &c->vlines[i], 1, px, y + h, px, y);
    }

    size_t cap = 0;
    for (size_t i = 0; i < c->nseries; i++) cap = cap > 2 * c->series[i].n ? cap : 2 * c->series[i].n;
    double *px = xmalloc((cap ? cap : 1) * sizeof *px), *py = xmalloc((cap ? cap : 1) * sizeof *py);
    for (size_t i = 0; i < c->nseries; i++) {
        const plot_series *p = &c->series[i];
        svg_group_begin(s, p->faded ? "series faded" : "series", p->name);
        size_t m = 0;
        for (size_t j = 0; j < p->n; j++) {
            if (!isfinite(p->x[j]) || !isfinite(p->y[j])) continue;
            double X = x + (axis_value(c, 0, p->x[j]) - x0) * sx, Y = y + h - (p->y[j] - y0) * sy;
            if (p->steps && m > 0) {
                /* vertical first: the height of an interval is the
                 * precision at its right end, as average precision sums */
                px[m] = px[m - 1];
                py[m] = Y;
                m++;
            }
            px[m] = X;
            py[m] = Y;
            m++;
        }
        if (!p->faded) {
            if (!p->no_line) svg_polyline(s, px, py, m, plot_color(i), 1.8, plot_dash(i));
            draw_points(s, c, p, plot_color(i), x, y, h, x0, y0, sx, sy);
        }
        svg_group_end(s);
    }
    free(px);
    free(py);
    draw_point_labels(s, c, x, y, w, h, x0, y0, sx, sy);

    /* legend, under its heading */
    double ly = y + 6;
    if (c->legend_title) {
        svg_text_fit(s, lx, ly + 10, LEGEND_FONT, SVG_START, 0, INK, "font-weight=\"bold\"", c->legend_title,
                     LEGEND_MAX);
        ly += LEGEND_ROW;
    }
    for (size_t i = 0; i < c->nseries; i++) {
        const plot_series *p = &c->series[i];
        double row_y = ly + LEGEND_ROW * (double)i;
        if (!p->faded && !p->no_line) svg_line(s, lx, row_y + 6, lx + 26, row_y + 6, plot_color(i), 2.2, plot_dash(i));
        if (!p->faded && (p->markers || p->no_line)) svg_circle(s, lx + 13, row_y + 6, p->no_line ? 4 : 3.2, plot_color(i));
        legend_text(s, lx + 32, row_y + 10, p);
    }
}

static void chart_size(const line_chart *c, double *w, double *h)
{
    *w = c->square ? 420 : 620;
    *h = c->square ? 420 : 250;
    double legend_h = LEGEND_ROW * (double)(c->nseries + (c->legend_title != NULL)) + 12;
    if (legend_h > *h) *h = legend_h;
    if (c->square && legend_h > *h) *h = legend_h;
}

void plot_line_chart(svg *s, const line_chart *c)
{
    plot_line_charts(s, c, 1, NULL);
}

void plot_line_charts(svg *s, const line_chart *charts, size_t n, const char *title)
{
    double left = 70, top = title ? 74 : 44, gap = 84, lw = 0, pw = 0, total_h = top;
    for (size_t i = 0; i < n; i++) {
        double w, h;
        chart_size(&charts[i], &w, &h);
        pw = max2(pw, w);
        lw = max2(lw, legend_width(&charts[i]));
        total_h += h + gap;
    }
    double width = left + pw + 24 + lw + 10;
    svg_begin(s, width, total_h - gap + 56);
    if (title) svg_text_fit(s, width / 2, 26, 16, SVG_MIDDLE, 0, INK, "font-weight=\"bold\"", title, width - 20);
    double y = top;
    for (size_t i = 0; i < n; i++) {
        double w, h;
        chart_size(&charts[i], &w, &h);
        /* a square chart keeps its plot square even when its legend is tall */
        double ph = charts[i].square ? w : h;
        draw_chart(s, &charts[i], left, y, w, ph, left + pw + 24);
        y += h + gap;
    }
    svg_end(s);
}

/* ------------------------------------------------------------------- bars */

void plot_bars(svg *s, const char *title, char *const *groups, size_t ngroups, char *const *runs,
               size_t nruns, const double *values)
{
    double vmax = 0;
    for (size_t i = 0; i < ngroups * nruns; i++)
        if (isfinite(values[i])) vmax = max2(vmax, values[i]);
    double ymax = vmax <= 1 ? 1 : ceil(vmax / tick_step(vmax, 5)) * tick_step(vmax, 5);
    double bw = nruns <= 4 ? 38 : 24, group_gap = 30;
    double group_w = bw * (double)nruns + group_gap;
    double legend_w = 0;
    for (size_t r = 0; r < nruns; r++) legend_w = max2(legend_w, svg_text_width(runs[r], 12));
    legend_w = min2(legend_w, 260) + 40;
    double label_font = 12, label_w = 0;
    for (size_t g = 0; g < ngroups; g++) label_w = max2(label_w, svg_text_width(groups[g], label_font));
    int slanted = label_w > group_w - 8;
    label_w = min2(label_w, 220);
    double left = 64, top = 60, plot_h = 320, plot_w = group_w * (double)ngroups;
    double bottom = slanted ? label_w * 0.7072 + 40 : 44;
    double width = left + plot_w + 24 + legend_w, height = top + plot_h + bottom;
    width = max2(width, svg_text_width(title, 16) + 40);
    svg_begin(s, width, height);
    svg_text_fit(s, width / 2, 28, 16, SVG_MIDDLE, 0, INK, "font-weight=\"bold\"", title, width - 20);

    char buf[32];
    double step = tick_step(ymax, 5);
    for (double t = 0; t <= ymax + step * 1e-9; t += step) {
        double py = top + plot_h * (1 - t / ymax);
        svg_line(s, left, py, left + plot_w, py, GRID, 1, NULL);
        tick_text(buf, sizeof buf, t, step);
        svg_text(s, left - 7, py + 3.5, 10, SVG_END, 0, AXIS, NULL, buf);
    }
    for (size_t g = 0; g < ngroups; g++) {
        double gx = left + group_w * (double)g + group_gap / 2;
        for (size_t r = 0; r < nruns; r++) {
            double v = values[r * ngroups + g];
            double x = gx + bw * (double)r;
            strbuf tip = {0};
            sb_adds(&tip, runs[r]);
            sb_adds(&tip, ", ");
            sb_adds(&tip, groups[g]);
            snprintf(buf, sizeof buf, isfinite(v) ? ": %.4f" : ": none", v);
            sb_adds(&tip, buf);
            svg_group_begin(s, "bar", tip.s);
            sb_free(&tip);
            if (isfinite(v)) {
                double bh = plot_h * max2(0, v) / ymax;
                svg_rect(s, x + 1, top + plot_h - bh, bw - 2, bh, plot_color(r), NULL);
                snprintf(buf, sizeof buf, "%.3f", v);
                if (bw >= 34)
                    svg_text(s, x + bw / 2, top + plot_h - bh - 4, 10, SVG_MIDDLE, 0, INK, NULL, buf);
                else
                    svg_text(s, x + bw / 2 + 3.5, top + plot_h - bh - 4, 10, SVG_START, -90, INK, NULL, buf);
            } else {
                svg_text(s, x + bw / 2, top + plot_h - 4, 10, SVG_MIDDLE, 0, FADED, NULL, "n/a");
            }
            svg_group_end(s);
        }
        double cx = left + group_w * ((double)g + 0.5);
        if (slanted)
            svg_text_fit(s, cx + 4, top + plot_h + 16, label_font, SVG_END, -45, INK, NULL, groups[g], label_w);
        else
            svg_text_fit(s, cx, top + plot_h + 20, label_font, SVG_MIDDLE, 0, INK, NULL, groups[g], group_w - 4);
    }
    svg_line(s, left, top + plot_h, left + plot_w, top + plot_h, AXIS, 1, NULL);
    svg_line(s, left, top, left, top + plot_h, AXIS, 1, NULL);
    for (size_t r = 0; r < nruns; r++) {
        double lx = left + plot_w + 24, ly = top + 20.0 * (double)r;
        svg_group_begin(s, "legend", NULL);
        svg_rect(s, lx, ly, 14, 14, plot_color(r), NULL);
        svg_text_fit(s, lx + 20, ly + 11, 12, SVG_START, 0, INK, NULL, runs[r], 260);
        svg_group_end(s);
    }
    svg_end(s);
}
