/* plot: the charts cmplot draws, as complete SVG documents on lib/eval/svg —
 * confusion-matrix heatmaps, line charts (ROC, precision-recall, training
 * curves, lines and scatter plots of a table's columns) and grouped bar
 * charts. Each chart sizes its canvas to its
 * content: long class names are cut to a width (full name in a tooltip),
 * column labels turn 45 degrees when they do not fit a cell, legends grow
 * with the number of series. Elements carry class attributes (cell,
 * series, point, ref, legend, bar) so that tests can count them. */
#ifndef PIPECLF_PLOT_H
#define PIPECLF_PLOT_H

#include <stddef.h>

#include "svg.h"

/* A series' colour and dash pattern by index (10 colours, then dashed,
 * then dotted: 30 distinct styles). */
const char *plot_color(size_t i);
const char *plot_dash(size_t i);

/* k x k counts (rows gold, columns predicted), shaded by the row share;
 * cells show counts, or the row shares with normalize. subtitle may be
 * NULL. */
void plot_confusion(svg *s, char *const *labels, size_t k, const size_t *counts, int normalize,
                    const char *subtitle);

typedef struct plot_series {
    const char *name;   /* legend text, cut to fit (full in a tooltip) */
    const char *note;   /* appended to the legend uncut, e.g. " (AUC = 0.91)";
                           NULL for none */
    size_t n;
    const double *x, *y;
    int steps;          /* a step function: vertical, then horizontal */
    int markers;        /* a dot at each point */
    int faded;          /* listed in the legend only (no points), grey */
    int no_line;        /* markers only, not joined (a scatter plot) */
    const double *err;  /* NULL, or an error bar of y +- err[i] (none where
                           err[i] is 0 or not finite) */
    char *const *tips;  /* NULL, or a tooltip per point: each marker is then
                           a group of class "point" */
    char *const *labels; /* NULL, or a short text beside each point (cut to
                            fit, full in a tooltip; NULL items for none) */
} plot_series;

/* A labelled reference line across the plot: y = value (horizontal) or
 * x = value (vertical), dashed; label may be NULL. */
typedef struct plot_ref {
    double value;
    const char *label;
} plot_ref;

typedef struct line_chart {
    const char *title, *xlabel, *ylabel;
    double xmin, xmax, ymin, ymax; /* NAN: from the data */
    int diagonal;                  /* a dashed chance line y = x */
    int square;                    /* equal x and y scales */
    int margins;                   /* ranges from the data get a 6% margin
                                      instead of being rounded out to ticks */
    int xlog2;                     /* x on a log2 scale (x > 0), ticks at
                                      powers of two */
    const char *legend_title;      /* a heading over the legend, or NULL */
    const plot_series *series;
    size_t nseries;
    const plot_ref *hlines, *vlines;
    size_t nhlines, nvlines;
} line_chart;

/* One chart with its legend on the right, as a document. */
void plot_line_chart(svg *s, const line_chart *c);
/* Several charts stacked, sharing the width, as a document. */
void plot_line_charts(svg *s, const line_chart *charts, size_t n, const char *title);

/* Bars grouped by metric, one bar per run; values[run * ngroups + group],
 * NAN for none. */
void plot_bars(svg *s, const char *title, char *const *groups, size_t ngroups, char *const *runs,
               size_t nruns, const double *values);

#endif
