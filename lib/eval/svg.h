/* svg: writing SVG by hand, with no dependencies — the elements cmplot's
 * charts are made of, XML-escaped text, and a text width estimate for
 * layout (SVG has no text measurement; the estimate uses DejaVu Sans
 * proportions and errs wide, so labels do not collide). */
#ifndef PIPECLF_SVG_H
#define PIPECLF_SVG_H

#include <stddef.h>

#include "core/strbuf.h"

typedef struct svg {
    strbuf b;
    double width, height;
} svg;

/* Starts a document of the given size with a white background. */
void svg_begin(svg *s, double width, double height);
/* Closes the document; s->b holds it. */
void svg_end(svg *s);
void svg_free(svg *s);

/* Appends text escaped for XML character data and attribute values
 * (& < > " '); the characters XML 1.0 forbids (controls, U+FFFE, U+FFFF)
 * become U+FFFD. */
void svg_escape(strbuf *b, const char *text);

/* Estimated advance width of UTF-8 text at a font size, in px. */
double svg_text_width(const char *text, double size);
/* A copy of text cut at a character boundary with "…" so that it fits
 * max_width px at size (text itself when it fits). Caller frees. */
char *svg_fit(const char *text, double size, double max_width);

enum svg_anchor { SVG_START, SVG_MIDDLE, SVG_END };

/* Text at (x, y) (baseline), rotated by `rotate` degrees about that point.
 * extra: more attributes (e.g. "font-weight=\"bold\"") or NULL. */
void svg_text(svg *s, double x, double y, double size, enum svg_anchor anchor, double rotate, const char *fill,
              const char *extra, const char *text);
/* The same, text cut to max_width with the full text as a <title> tooltip
 * when cut. */
void svg_text_fit(svg *s, double x, double y, double size, enum svg_anchor anchor, double rotate,
                  const char *fill, const char *extra, const char *text, double max_width);
/* extra as above; fill "none" for an outline */
void svg_rect(svg *s, double x, double y, double w, double h, const char *fill, const char *extra);
void svg_line(svg *s, double x1, double y1, double x2, double y2, const char *stroke, double width,
              const char *dash);
void svg_polyline(svg *s, const double *x, const double *y, size_t n, const char *stroke, double width,
                  const char *dash);
void svg_circle(svg *s, double cx, double cy, double r, const char *fill);
/* <g> with a tooltip (<title>) and optional class attribute; close with
 * svg_group_end. */
void svg_group_begin(svg *s, const char *cls, const char *title);
void svg_group_end(svg *s);

#endif
