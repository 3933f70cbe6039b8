/* textclean: the text-cleaning steps of csvclean. Each step reads valid
 * UTF-8 and appends its result to an output strbuf; textclean_normalize and
 * textclean_tokens chain the steps a textclean_opts selects. The semantics
 * are defined together with bench/ref_clean.py, the Python reference, and
 * the two are checked against each other by tests/ref/textclean_diff.py.
 *
 * Unicode classes follow Python's str methods: a word character is '_' or
 * str.isalnum(), a letter is str.isalpha(), whitespace is str.isspace().
 * Beyond Latin-1 they come from glibc's C.UTF-8 locale (never installed with
 * setlocale: the programs print numbers in the C locale); see ref_clean.py
 * for where glibc's classes and Python's differ. */
#ifndef PIPECLF_TEXTCLEAN_H
#define PIPECLF_TEXTCLEAN_H

#include <stddef.h>

#include "core/strbuf.h"

struct sb_stemmer;

/* A set of stopwords: one word per line, blank lines and lines starting
 * with '#' ignored, surrounding spaces/tabs/CR trimmed. Dies "cannot read
 * PATH" when the file cannot be opened. */
typedef struct stopword_set stopword_set;
stopword_set *stopwords_load(const char *path);
/* The words of a stopword file, in file order, by the same rules (an array of
 * *n malloc'd strings, itself malloc'd). */
char **stopwords_read(const char *path, size_t *n);
/* The file of a --stopwords argument: a list shipped in data/stopwords
 * ("english" -> data_dir() + /stopwords/english.txt, lib/core/datadir.h),
 * or else a path. Dies with a usage error naming where it looked. Malloc'd. */
char *stopwords_resolve(const char *name_or_path);
int stopwords_contains(const stopword_set *s, const char *w, size_t n);
void stopwords_free(stopword_set *s);

typedef struct textclean_opts {
    int html;       /* HTML unescape (exactly Python's html.unescape), then strip tags */
    int urls;       /* remove URLs */
    int mentions;   /* remove @mentions */
    int hashtags;   /* #word -> word */
    int controls;   /* control characters (category Cc) -> space */
    int squeeze;    /* whitespace runs -> one space, trimmed */
    int max_repeat; /* cap runs of one word character at this many; 0 = off */
    /* token steps, run after the above */
    int lower;
    int alpha_only;
    const stopword_set *stopwords; /* NULL = keep all */
    struct sb_stemmer *stemmer;    /* libstemmer, UTF_8; NULL = no stemming */
} textclean_opts;

/* The normalisation steps o enables, in this order: html unescape, tag
 * strip, urls, mentions, hashtags, controls, squeeze, max_repeat. */
void textclean_normalize(const textclean_opts *o, const char *in, size_t n, strbuf *out);

/* Whether o enables any token step (lower, alpha_only, stopwords, stemmer). */
int textclean_has_token_steps(const textclean_opts *o);
/* Token steps: lowercase, then tokens (alpha_only: maximal runs of letters;
 * otherwise split on whitespace), stopword removal, stemming; the tokens are
 * appended joined by single spaces. */
void textclean_tokens(const textclean_opts *o, const char *in, size_t n, strbuf *out);

/* The single steps (public for the unit tests). Each appends to out. */

/* Python's html.unescape: named references of html.entities.html5 (longest
 * prefix for the legacy names without ';'), numeric references with the
 * HTML5 replacement rules. */
void tc_html_unescape(const char *in, size_t n, strbuf *out);
/* '<' + (ASCII letter | '/' | '!') + anything but '<' and '>' + '>' -> ' ' */
void tc_strip_tags(const char *in, size_t n, strbuf *out);
/* "http://", "https://" or "www." (ASCII case-insensitive) and the rest of
 * its run of non-whitespace -> ' ' */
void tc_remove_urls(const char *in, size_t n, strbuf *out);
/* '@' + a run of word characters -> ' ' */
void tc_remove_mentions(const char *in, size_t n, strbuf *out);
/* a '#' followed by a word character is dropped */
void tc_hashtags(const char *in, size_t n, strbuf *out);
/* each character U+0000-U+001F, U+007F-U+009F -> ' ' */
void tc_controls(const char *in, size_t n, strbuf *out);
/* whitespace runs -> one ' ', leading and trailing whitespace dropped */
void tc_squeeze(const char *in, size_t n, strbuf *out);
/* runs of more than max identical word characters cut to max (max <= 0: copy) */
void tc_cap_repeats(const char *in, size_t n, int max, strbuf *out);
/* per-code-point lowercase (U+0130 becomes "i" + U+0307, as in Python) */
void tc_lower(const char *in, size_t n, strbuf *out);

#endif
