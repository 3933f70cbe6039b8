/* textclean_steps: runs one lib/text/textclean step over many texts, for
 * tests/ref/textclean_diff.py (which builds it against the library).
 * Usage: textclean_steps STEP [STOPWORDS] < texts > results
 * Texts and results are each a 4-byte little-endian length and the bytes. STEP is one of unescape tags urls
 * mentions hashtags controls squeeze repeats lower alpha split normalize
 * tokens; normalize is the tweet preset's normalisation, tokens its token
 * steps (STOPWORDS needed). */
#include "core/common.h"
#include "core/strbuf.h"
#include "text/textclean.h"

#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    prog_init("textclean_steps");
    if (argc < 2) die_usage("usage: textclean_steps STEP [STOPWORDS]");
    const char *step = argv[1];
    textclean_opts tweet = {.html = 1, .urls = 1, .mentions = 1, .hashtags = 1, .controls = 1,
                            .squeeze = 1, .max_repeat = 2};
    textclean_opts tokens = {.lower = 1, .alpha_only = 1};
    textclean_opts alpha = {.alpha_only = 1}, split = {0};
    if (strcmp(step, "tokens") == 0) {
        if (argc < 3) die_usage("tokens needs a stopword file");
        tokens.stopwords = stopwords_load(argv[2]);
        tokens.stemmer = sb_stemmer_new("english", "UTF_8");
        if (!tokens.stemmer) die("no english stemmer");
    }

    strbuf out = {0};
    char *text = NULL;
    unsigned char len[4];
    while (fread(len, 1, 4, stdin) == 4) {
        size_t n = len[0] | (size_t)len[1] << 8 | (size_t)len[2] << 16 | (size_t)len[3] << 24;
        text = xrealloc(text, n + 1);
        if (fread(text, 1, n, stdin) != n) die("short input");
        text[n] = '\0';
        sb_clear(&out);
        if (strcmp(step, "unescape") == 0) tc_html_unescape(text, n, &out);
        else if (strcmp(step, "tags") == 0) tc_strip_tags(text, n, &out);
        else if (strcmp(step, "urls") == 0) tc_remove_urls(text, n, &out);
        else if (strcmp(step, "mentions") == 0) tc_remove_mentions(text, n, &out);
        else if (strcmp(step, "hashtags") == 0) tc_hashtags(text, n, &out);
        else if (strcmp(step, "controls") == 0) tc_controls(text, n, &out);
        else if (strcmp(step, "squeeze") == 0) tc_squeeze(text, n, &out);
        else if (strcmp(step, "repeats") == 0) tc_cap_repeats(text, n, 2, &out);
        else if (strcmp(step, "lower") == 0) tc_lower(text, n, &out);
        else if (strcmp(step, "alpha") == 0) textclean_tokens(&alpha, text, n, &out);
        else if (strcmp(step, "split") == 0) textclean_tokens(&split, text, n, &out);
        else if (strcmp(step, "normalize") == 0) textclean_normalize(&tweet, text, n, &out);
        else if (strcmp(step, "tokens") == 0) textclean_tokens(&tokens, text, n, &out);
        else die_usage("unknown step %s", step);
        for (int k = 0; k < 4; k++) len[k] = (unsigned char)(out.len >> (8 * k));
        fwrite(len, 1, 4, stdout);
        fwrite(sb_str(&out), 1, out.len, stdout);
    }
    free(text);
    sb_free(&out);
    if (tokens.stemmer) sb_stemmer_delete(tokens.stemmer);
    stopwords_free((stopword_set *)tokens.stopwords);
    return 0;
}
