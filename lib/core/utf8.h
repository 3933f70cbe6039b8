/* utf8: strict UTF-8 decoding (no overlongs, no surrogates, max U+10FFFF),
 * validation and repair. */
#ifndef PIPECLF_UTF8_H
#define PIPECLF_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define UTF8_REPLACEMENT 0xFFFDu

/* Decodes the code point at s[0..n). Returns its length in bytes (1-4) and
 * stores it in *cp, or returns 0 if the bytes there are not valid UTF-8. */
int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
int utf8_encode(uint32_t cp, char *out);
/* Offset of the first invalid byte, or n if s[0..n) is valid. */
size_t utf8_invalid_offset(const char *s, size_t n);
/* Appends s[0..n) to b, each invalid byte replaced by U+FFFD. Returns the
 * number of replacements. */
size_t utf8_repair(strbuf *b, const char *s, size_t n);

#endif
