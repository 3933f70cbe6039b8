/* Unit tests for lib/eval/svg (XML escaping, fitting text to a width) and
 * lib/eval/plot (the elements a chart is made of), the parts of cmplot that do
 * not need a renderer; tests/cases/cmplot render the charts. */
#include "check.h"
#include "eval/plot.h"
#include "eval/svg.h"

#include <math.h>
#include <stdlib.h>

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void test_escape(void)
{
    strbuf b = {0};
    svg_escape(&b, "a&b <c> \"d\" 'e'");
    CHECK_STR("svg_escape: the five XML specials", b.s, "a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;");
    sb_clear(&b);
    svg_escape(&b, "x\x01y\xEF\xBF\xBFz\tw");
    CHECK_STR("svg_escape: controls and U+FFFF become U+FFFD, tab stays", b.s,
              "x\xEF\xBF\xBDy\xEF\xBF\xBDz\tw");
    sb_clear(&b);
    svg_escape(&b, "R\xC3\xA9sum\xC3\xA9 \xE2\x80\x9Cq\xE2\x80\x9D");
    CHECK_STR("svg_escape: other UTF-8 kept", b.s, "R\xC3\xA9sum\xC3\xA9 \xE2\x80\x9Cq\xE2\x80\x9D");
    sb_free(&b);
}

static void test_fit(void)
{
    const char *name = "Multimodality and Language Grounding to Vision, Robotics and Beyond";
    char *same = svg_fit("Generation", 12, 200);
    CHECK_STR("svg_fit: a short name is kept", same, "Generation");
    free(same);
    char *cut = svg_fit(name, 12, 150);
    size_t len = strlen(cut);
    CHECK("svg_fit: a long name is cut, ending in an ellipsis",
          len > 3 && len < strlen(name) && strcmp(cut + len - 3, "\xE2\x80\xA6") == 0);
    CHECK("svg_fit: the cut text fits the width", svg_text_width(cut, 12) <= 150);
    CHECK("svg_fit: the cut keeps the start of the name", strncmp(cut, name, len - 3) == 0);
    free(cut);
    /* never inside a UTF-8 sequence: each e-acute is 2 bytes */
    char *u = svg_fit("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 10, 30);
    size_t ul = strlen(u);
    CHECK("svg_fit: cuts between UTF-8 characters", ul >= 3 && (ul - 3) % 2 == 0 && ul < 16 + 3);
    free(u);
    CHECK("svg_text_width grows with the text",
          svg_text_width("ab", 12) < svg_text_width("abc", 12) && svg_text_width("", 12) == 0);
}

static void test_confusion_elements(void)
{
    char a[] = "a & b", b[] = "<b>", c[] = "c";
    char *labels[] = {a, b, c};
    const size_t counts[] = {5, 1, 0, 2, 2, 0, 0, 0, 0};
    svg s;
    plot_confusion(&s, labels, 3, counts, 0, "run");
    const char *doc = s.b.s;
    CHECK("confusion: one cell per pair", count(doc, "<g class=\"cell\">") == 9);
    CHECK("confusion: a row and a column label per class",
          count(doc, "class=\"row-label\"") == 3 && count(doc, "class=\"col-label\"") == 3);
    CHECK("confusion: labels escaped", count(doc, "a &amp; b") >= 2 && count(doc, "&lt;b&gt;") >= 2 &&
                                           count(doc, "<b>") == 0);
    CHECK("confusion: row share in the tooltip", count(doc, "5 of 6 (83.3% of the row)") == 1);
    CHECK("confusion: an empty row has no share", count(doc, "0 of 0 (0.0% of the row)") == 3);
    CHECK("confusion: one svg element, closed", count(doc, "<svg ") == 1 && count(doc, "</svg>\n") == 1);
    svg_free(&s);
    plot_confusion(&s, labels, 3, counts, 1, NULL);
    /* 5/6 and 1/6 of row a; an empty cell says 0; the empty row c says - */
    CHECK("confusion --normalize: row shares in the cells",
          count(s.b.s, ">0.83</text>") == 1 && count(s.b.s, ">0.17</text>") == 1 && count(s.b.s, ">-</text>") == 3);
    svg_free(&s);
}

static void test_chart_elements(void)
{
    const double x[] = {0, 0.5, 1}, y[] = {0, 0.8, 1};
    plot_series series[] = {
        {.name = "first", .note = " (AUC = 0.9000)", .n = 3, .x = x, .y = y},
        {.name = "second", .n = 3, .x = x, .y = y, .steps = 1},
        {.name = "absent", .note = " (no scores)", .faded = 1},
    };
    line_chart c = {.title = "t", .xmin = 0, .xmax = 1, .ymin = 0, .ymax = 1, .square = 1, .series = series,
                    .nseries = 3};
    svg s;
    plot_line_chart(&s, &c);
    CHECK("line chart: a polyline per drawn series", count(s.b.s, "<polyline") == 2);
    CHECK("line chart: legend text with the note", count(s.b.s, ">first (AUC = 0.9000)</text>") == 1);
    /* a step function through 3 points has 2 corners more: 5 points */
    const char *steps = strstr(s.b.s, "<title>second</title>");
    const char *pts = steps ? strstr(steps, "points=\"") : NULL;
    size_t npts = 0;
    for (const char *p = pts ? pts + 8 : ""; *p && *p != '"'; p++) npts += *p == ',';
    CHECK("line chart: a step function turns at every point", npts == 5);
    svg_free(&s);
    char g1[] = "accuracy", g2[] = "macro f1", r1[] = "base", r2[] = "bert";
    char *groups[] = {g1, g2}, *runs[] = {r1, r2};
    const double v[] = {0.7, 0.6, 0.75, NAN};
    plot_bars(&s, "runs", groups, 2, runs, 2, v);
    CHECK("bars: a bar per run and metric", count(s.b.s, "<g class=\"bar\">") == 4);
    CHECK("bars: values on the bars, n/a for none",
          count(s.b.s, ">0.750</text>") == 1 && count(s.b.s, ">n/a</text>") == 1);
    svg_free(&s);
}

static void test_points_and_refs(void)
{
    const double x[] = {1, 2, 8}, y[] = {0.2, 0.5, 0.9}, err[] = {NAN, 0.1, 0};
    char t1[] = "a", t2[] = "b", t3[] = "c", l1[] = "first";
    char *tips[] = {t1, t2, t3}, *labels[] = {l1, NULL, NULL};
    plot_series series[] = {
        {.name = "mean", .n = 3, .x = x, .y = y, .markers = 1, .err = err, .tips = tips},
        {.name = "dots", .n = 3, .x = x, .y = y, .no_line = 1, .labels = labels},
    };
    const plot_ref h[] = {{0.5, "half"}}, v[] = {{4, NULL}};
    line_chart c = {.xmin = NAN, .xmax = NAN, .ymin = NAN, .ymax = NAN, .margins = 1, .xlog2 = 1,
                    .legend_title = "group", .series = series, .nseries = 2, .hlines = h, .nhlines = 1,
                    .vlines = v, .nvlines = 1};
    svg s;
    plot_line_chart(&s, &c);
    CHECK("points: a polyline for the lines only", count(s.b.s, "<polyline") == 1);
    CHECK("points: a group per tooltip", count(s.b.s, "<g class=\"point\">") == 3);
    /* an error bar is 3 lines: the one point with a positive finite error */
    CHECK("points: one error bar", count(s.b.s, "stroke-width=\"1.3\"/>") == 3);
    CHECK("points: reference lines, titled by label or value",
          count(s.b.s, "<g class=\"ref\"><title>half</title>") == 1 &&
              count(s.b.s, "<g class=\"ref\"><title>x = 4</title>") == 1);
    CHECK("points: a label beside a point", count(s.b.s, "class=\"point-label\"") == 1);
    CHECK("points: log2 ticks at powers of two", count(s.b.s, ">8</text>") == 1 && count(s.b.s, ">4</text>") == 1);
    CHECK("points: the legend's heading", count(s.b.s, ">group</text>") == 1);
    svg_free(&s);
}

int main(void)
{
    test_escape();
    test_fit();
    test_confusion_elements();
    test_chart_elements();
    test_points_and_refs();
    return check_exit();
}
