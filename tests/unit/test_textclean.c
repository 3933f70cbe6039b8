/* Unit tests for lib/text/textclean. Expected values are what bench/ref_clean.py
 * (Python's html.unescape, re, str methods, snowballstemmer) gives for the
 * same input; tests/ref/textclean_diff.py compares the two on every tweet. */
#include "check.h"
#include "core/strbuf.h"
#include "text/textclean.h"

#include <libstemmer.h>
#include <stdlib.h>

typedef void (*step_fn)(const char *, size_t, strbuf *);

static strbuf result;

/* The step's output for in (NUL-terminated), in a buffer reused per call. */
static const char *run(step_fn fn, const char *in)
{
    sb_clear(&result);
    fn(in, strlen(in), &result);
    return sb_str(&result);
}

static const char *run_n(step_fn fn, const char *in, size_t n)
{
    sb_clear(&result);
    fn(in, n, &result);
    return sb_str(&result);
}

static const char *repeats(const char *in, int max)
{
    sb_clear(&result);
    tc_cap_repeats(in, strlen(in), max, &result);
    return sb_str(&result);
}

static void test_html_unescape(void)
{
    CHECK_STR("html &amp;", run(tc_html_unescape, "a &amp; b"), "a & b");
    CHECK_STR("html &lt;3", run(tc_html_unescape, "&lt;3"), "<3");
    CHECK_STR("html &#39;", run(tc_html_unescape, "it&#39;s"), "it's");
    CHECK_STR("html &#x27;", run(tc_html_unescape, "it&#x27;s"), "it's");
    CHECK_STR("html &#0000039 (no ';')", run(tc_html_unescape, "&#0000039"), "'");
    CHECK_STR("html &nbsp; is U+00A0", run(tc_html_unescape, "a&nbsp;b"), "a\xC2\xA0" "b");
    CHECK_STR("html legacy &amp without ';'", run(tc_html_unescape, "&amp"), "&");
    CHECK_STR("html &ampx: longest prefix", run(tc_html_unescape, "&ampx"), "&x");
    CHECK_STR("html &AMP;&AMP", run(tc_html_unescape, "&AMP;&AMP"), "&&");
    CHECK_STR("html &notin;", run(tc_html_unescape, "&notin;"), "\xE2\x88\x89");
    CHECK_STR("html &notit; -> not + it;", run(tc_html_unescape, "&notit;"), "\xC2\xAC" "it;");
    CHECK_STR("html &frac34x", run(tc_html_unescape, "&frac34x"), "\xC2\xBE" "x");
    CHECK_STR("html prefix stops at non-ASCII", run(tc_html_unescape, "&not\xC3\xA9in;"),
              "\xC2\xAC\xC3\xA9in;");
    CHECK_STR("html longest name", run(tc_html_unescape, "&CounterClockwiseContourIntegral;"), "\xE2\x88\xB3");
    CHECK_STR("html &#0; -> U+FFFD", run(tc_html_unescape, "&#0;"), "\xEF\xBF\xBD");
    CHECK_STR("html &#x110000; -> U+FFFD", run(tc_html_unescape, "&#x110000;"), "\xEF\xBF\xBD");
    CHECK_STR("html huge number -> U+FFFD", run(tc_html_unescape, "&#99999999999999999999;"), "\xEF\xBF\xBD");
    CHECK_STR("html surrogate -> U+FFFD", run(tc_html_unescape, "&#xD800;"), "\xEF\xBF\xBD");
    CHECK_STR("html &#128; -> euro", run(tc_html_unescape, "&#128;"), "\xE2\x82\xAC");
    CHECK_STR("html &#129; stays U+0081", run(tc_html_unescape, "&#129;"), "\xC2\x81");
    CHECK_STR("html &#13; -> CR", run(tc_html_unescape, "&#13;"), "\r");
    CHECK_STR("html &#1; removed", run(tc_html_unescape, "a&#1;b"), "ab");
    CHECK_STR("html &#xFFFE; removed", run(tc_html_unescape, "a&#xFFFE;b"), "ab");
    CHECK_STR("html astral", run(tc_html_unescape, "&#x1F600;"), "\xF0\x9F\x98\x80");
    CHECK_STR("html &#X@ is no reference", run(tc_html_unescape, "&#X@"), "&#X@");
    CHECK_STR("html &#; and &; stay", run(tc_html_unescape, "&#; &; & x"), "&#; &; & x");
    CHECK_STR("html unknown names stay", run(tc_html_unescape, "a&b&c &zzz;"), "a&b&c &zzz;");
    CHECK_STR("html &&amp;;", run(tc_html_unescape, "&&amp;;"), "&&;");
    CHECK_STR("html no '&' copies", run(tc_html_unescape, "plain text"), "plain text");
    CHECK_STR("html NUL inside a name", run_n(tc_html_unescape, "&a\0b;", 5), "&a");
    CHECK("html NUL inside a name keeps its bytes", result.len == 5 && memcmp(result.s, "&a\0b;", 5) == 0);
}

static void test_tags(void)
{
    CHECK_STR("tags replaced by a space", run(tc_strip_tags, "a<b>c</d>e"), "a c e");
    CHECK_STR("tags <3 is no tag", run(tc_strip_tags, "i <3 u"), "i <3 u");
    CHECK_STR("tags comment", run(tc_strip_tags, "x<!-- y -->z"), "x z");
    CHECK_STR("tags '< b>' is no tag", run(tc_strip_tags, "< b>"), "< b>");
    CHECK_STR("tags nested '<' restarts", run(tc_strip_tags, "<a<b>"), "<a ");
    CHECK_STR("tags unclosed", run(tc_strip_tags, "a <b c"), "a <b c");
    CHECK_STR("tags </>", run(tc_strip_tags, "</>"), " ");
    CHECK_STR("tags across a newline", run(tc_strip_tags, "<a\nhref=x>t"), " t");
}

static void test_urls(void)
{
    CHECK_STR("urls http", run(tc_remove_urls, "see http://t.co/x now"), "see   now");
    CHECK_STR("urls HTTPS, punctuation kept in the run", run(tc_remove_urls, "HTTPS://t.co/x, ok"), "  ok");
    CHECK_STR("urls www", run(tc_remove_urls, "at WwW.a.b!"), "at  ");
    CHECK_STR("urls inside a word", run(tc_remove_urls, "xhttp://y z"), "x  z");
    CHECK_STR("urls wwww.", run(tc_remove_urls, "wwww.z"), "w ");
    CHECK_STR("urls ends at U+00A0", run(tc_remove_urls, "www.a\xC2\xA0" "b"), " \xC2\xA0" "b");
    CHECK_STR("urls not http:/ or bare www", run(tc_remove_urls, "http:/no www ftp://x"), "http:/no www ftp://x");
    CHECK_STR("urls prefix alone", run(tc_remove_urls, "http://"), " ");
}

static void test_mentions_hashtags(void)
{
    CHECK_STR("mentions", run(tc_remove_mentions, "@a_b1 hi @Jos\xC3\xA9!"), "  hi  !");
    CHECK_STR("mentions bare @", run(tc_remove_mentions, "@ @@x"), "@ @ ");
    CHECK_STR("mentions in an address", run(tc_remove_mentions, "mail@x.com"), "mail .com");
    CHECK_STR("mentions U+00BD is a word char", run(tc_remove_mentions, "@\xC2\xBD" "x"), " ");
    CHECK_STR("hashtags", run(tc_hashtags, "#tag ## #_x #\xC3\xA9t\xC3\xA9 #!"), "tag ## _x \xC3\xA9t\xC3\xA9 #!");
    CHECK_STR("hashtags ##tag", run(tc_hashtags, "##tag"), "#tag");
    CHECK_STR("hashtags at the end", run(tc_hashtags, "a#"), "a#");
}

static void test_controls_squeeze(void)
{
    static const char ctl[] = "a\0b\x1f" "c\x7f" "d\xC2\x85" "e\xC2\x9F" "f\xC2\xA0g\tz";
    CHECK_STR("controls C0, DEL, C1", run_n(tc_controls, ctl, sizeof ctl - 1), "a b c d e f\xC2\xA0g z");
    CHECK_STR("squeeze", run(tc_squeeze, "  a \t\n b  "), "a b");
    CHECK_STR("squeeze Unicode spaces", run(tc_squeeze, "\xE3\x80\x80 a\xC2\xA0\xE2\x80\x83" "b\x1c\xC2\x85" "c \n"),
              "a b c");
    CHECK_STR("squeeze U+200B is no space", run(tc_squeeze, "a\xE2\x80\x8B" "b"), "a\xE2\x80\x8B" "b");
    CHECK_STR("squeeze all space", run(tc_squeeze, " \t "), "");
}

static void test_repeats(void)
{
    CHECK_STR("repeats sooooo", repeats("sooooo", 2), "soo");
    CHECK_STR("repeats multibyte", repeats("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9 \xC2\xBD\xC2\xBD\xC2\xBD", 2),
              "\xC3\xA9\xC3\xA9 \xC2\xBD\xC2\xBD");
    CHECK_STR("repeats only word chars", repeats("!!!! ___ \xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 2),
              "!!!! __ \xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80");
    CHECK_STR("repeats case-sensitive", repeats("aaaBBBBAb", 2), "aaBBAb");
    CHECK_STR("repeats max 1", repeats("aabbbc", 1), "abc");
    CHECK_STR("repeats off", repeats("aaaa", 0), "aaaa");
}

static void test_lower(void)
{
    CHECK_STR("lower ASCII", run(tc_lower, "HeLLo 42"), "hello 42");
    CHECK_STR("lower E acute", run(tc_lower, "\xC3\x89" "COLE"), "\xC3\xA9" "cole");
    CHECK_STR("lower sigma per character", run(tc_lower, "\xCE\xA3\xCE\x91\xCE\xA3"), "\xCF\x83\xCE\xB1\xCF\x83");
    CHECK_STR("lower U+0130 as Python", run(tc_lower, "\xC4\xB0"), "i\xCC\x87");
    CHECK_STR("lower Cyrillic", run(tc_lower, "\xD0\x96"), "\xD0\xB6");
}

static void test_stopwords(void)
{
    char path[] = "/tmp/pipeclf-stopwords-XXXXXX";
    int fd = mkstemp(path);
    CHECK("stopwords temp file", fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fputs("# a comment\n\nthe\r\n  and \n#not\nwon't", f);
    fclose(f);
    stopword_set *s = stopwords_load(path);
    remove(path);
    CHECK("stopwords the", stopwords_contains(s, "the", 3));
    CHECK("stopwords CRLF and spaces trimmed", stopwords_contains(s, "and", 3));
    CHECK("stopwords last line without newline", stopwords_contains(s, "won't", 5));
    CHECK("stopwords comments skipped", !stopwords_contains(s, "#not", 4) && !stopwords_contains(s, "# a comment", 11));
    CHECK("stopwords no empty word", !stopwords_contains(s, "", 0));
    CHECK("stopwords prefix is not a word", !stopwords_contains(s, "th", 2));
    stopwords_free(s);

    stopword_set *en = stopwords_load("data/stopwords/english.txt");
    CHECK("stopwords english has i, the, wouldn't", stopwords_contains(en, "i", 1) && stopwords_contains(en, "the", 3) &&
                                                       stopwords_contains(en, "wouldn't", 8));
    CHECK("stopwords english lacks run", !stopwords_contains(en, "run", 3));
    stopwords_free(en);
}

static void test_drivers(void)
{
    strbuf out = {0};
    textclean_opts tweet = {.html = 1, .urls = 1, .mentions = 1, .hashtags = 1, .controls = 1,
                            .squeeze = 1, .max_repeat = 2};
    const char *in = "  &lt;b&gt;Sooooo HAPPY&lt;/b&gt; @user_1 see http://t.co/x #winning!!!\xC2\xA0\xC2\xA0 &amp;  ";
    textclean_normalize(&tweet, in, strlen(in), &out);
    CHECK_STR("normalize tweet preset", sb_str(&out), "Soo HAPPY see winning!!! &");

    sb_clear(&out);
    sb_adds(&out, "kept|");
    textclean_normalize(&tweet, " a  b ", 6, &out);
    CHECK_STR("normalize appends", sb_str(&out), "kept|a b");

    textclean_opts none = {0};
    sb_clear(&out);
    textclean_normalize(&none, "A  b", 4, &out);
    CHECK_STR("normalize with no step copies", sb_str(&out), "A  b");
    CHECK("no token steps", !textclean_has_token_steps(&none) && !textclean_has_token_steps(&tweet));
    sb_clear(&out);
    textclean_normalize(&tweet, "", 0, &out);
    CHECK_STR("normalize empty", sb_str(&out), "");

    textclean_opts alpha = {.alpha_only = 1};
    sb_clear(&out);
    const char *t = "don't stop_me now2day caf\xC3\xA9\xC2\xBDx";
    textclean_tokens(&alpha, t, strlen(t), &out);
    CHECK_STR("tokens alpha runs", sb_str(&out), "don t stop me now day caf\xC3\xA9 x");

    textclean_opts split = {.lower = 1};
    sb_clear(&out);
    t = " A\xC2\xA0" "B\tc ";
    textclean_tokens(&split, t, strlen(t), &out);
    CHECK_STR("tokens whitespace split, lowercase", sb_str(&out), "a b c");

    textclean_opts full = {.lower = 1, .alpha_only = 1};
    full.stopwords = stopwords_load("data/stopwords/english.txt");
    full.stemmer = sb_stemmer_new("english", "UTF_8");
    CHECK("tokens stemmer opened", full.stemmer != NULL);
    if (full.stemmer) {
        CHECK("token steps on", textclean_has_token_steps(&full));
        sb_clear(&out);
        textclean_tokens(&full, "running", 7, &out);
        CHECK_STR("stem running", sb_str(&out), "run");
        sb_clear(&out);
        textclean_tokens(&full, "generously", 10, &out);
        CHECK_STR("stem generously", sb_str(&out), "generous");
        sb_clear(&out);
        t = "The runners were RUNNING generously; it's caf\xC3\xA9-time 2day";
        textclean_tokens(&full, t, strlen(t), &out);
        CHECK_STR("tokens lower, alpha, stopwords, stem", sb_str(&out), "runner run generous caf\xC3\xA9 time day");
        sb_clear(&out);
        textclean_tokens(&full, "The, and a!", 11, &out);
        CHECK_STR("tokens all stopwords", sb_str(&out), "");
        sb_stemmer_delete(full.stemmer);
    }
    stopwords_free((stopword_set *)full.stopwords);
    sb_free(&out);
}

int main(void)
{
    test_html_unescape();
    test_tags();
    test_urls();
    test_mentions_hashtags();
    test_controls_squeeze();
    test_repeats();
    test_lower();
    test_stopwords();
    test_drivers();
    sb_free(&result);
    return check_exit();
}
