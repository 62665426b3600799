/*
 * unicode.h - the text normalisation of the reference CLIP tokenizer: UTF-8 decoding, NFC,
 * lowercase, and the \p{L} / \p{N} / \s classes of its pre-tokenisation pattern.
 *
 * Every function works on code points (uint32_t). The data behind them is read back from the
 * pinned reference (see unicode_tables.h), so the classes are exactly the reference's.
 */
#ifndef STRIKE_TEXT_UNICODE_H
#define STRIKE_TEXT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "text/unicode_tables.h"

/* UNI_LETTER, UNI_NUMBER, UNI_SPACE or 0 (other) for a code point. */
int uni_class(uint32_t cp);

/* Canonical combining class (0 for starters and unknown code points). */
int uni_ccc(uint32_t cp);

/* Lowercase of one code point into out[0..2]; returns the number of code points (1..3). */
int uni_lower(uint32_t cp, uint32_t out[3]);

/* Decode UTF-8 s[0..len) into cps (capacity >= len). Returns the number of code points, or -1
 * when the text is not valid UTF-8 (overlong forms, surrogates and values above U+10FFFF are
 * invalid); *bad_at is then the byte offset of the first bad sequence. */
long uni_utf8_decode(const char *s, size_t len, uint32_t *cps, size_t *bad_at);

/* Encode one code point as UTF-8 into out (4 bytes of room); returns the byte count. */
int uni_utf8_encode(uint32_t cp, unsigned char out[4]);

/* NFC of cps[0..n) into out; scratch and out need room for 4*n code points (the longest
 * canonical decomposition is 4). Returns the output length. */
size_t uni_nfc(const uint32_t *cps, size_t n, uint32_t *out, uint32_t *scratch);

#endif
