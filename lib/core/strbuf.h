/* strbuf: a growable byte string, always NUL-terminated. */
#ifndef PIPECLF_STRBUF_H
#define PIPECLF_STRBUF_H

#include <stddef.h>
#include <stdio.h>

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

void sb_reserve(strbuf *b, size_t extra);
void sb_addn(strbuf *b, const char *s, size_t n);
void sb_adds(strbuf *b, const char *s);
void sb_addc(strbuf *b, char c);
/* printf onto the end */
void sb_addf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Everything left in f onto the end (the file loaders' one read loop).
 * Returns 0, or -1 on a read error (errno says which; the bytes read so
 * far stay). b->s is set even for an empty stream. */
int sb_read_stream(strbuf *b, FILE *f);
void sb_clear(strbuf *b);
void sb_free(strbuf *b);

static inline const char *sb_str(const strbuf *b) { return b->s ? b->s : ""; }

#endif
