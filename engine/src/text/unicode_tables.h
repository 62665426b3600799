/*
 * unicode_tables.h - the Unicode data tables the tokenizer needs (generated into
 * unicode_tables.c by tests/reference/gen_unicode_tables.py from the pinned reference).
 *
 * All tables are sorted by their first field so lookups are binary searches.
 */
#ifndef STRIKE_TEXT_UNICODE_TABLES_H
#define STRIKE_TEXT_UNICODE_TABLES_H

#include <stdint.h>

/* A run of code points [lo, hi] sharing one value (a class flag or a combining class). */
typedef struct uni_range {
    uint32_t lo, hi;
    uint8_t val;
} uni_range;

/* A one-to-one mapping (lowercase). */
typedef struct uni_map {
    uint32_t from, to;
} uni_map;

/* A one-to-many lowercase mapping (up to 3 code points, zero-filled). */
typedef struct uni_multi {
    uint32_t from;
    uint32_t to[3];
} uni_multi;

/* A full canonical decomposition (1..4 code points). */
typedef struct uni_decomp {
    uint32_t cp;
    uint8_t n;
    uint32_t to[4];
} uni_decomp;

/* A canonical composition: a + b -> c. */
typedef struct uni_pair {
    uint32_t a, b, c;
} uni_pair;

/* Class flags in uni_class_ranges (code points not listed are "other"). */
enum { UNI_LETTER = 1, UNI_NUMBER = 2, UNI_SPACE = 4 };

extern const uni_range uni_class_ranges[];
extern const unsigned uni_class_count;
extern const uni_map uni_lower_map[];
extern const unsigned uni_lower_count;
extern const uni_multi uni_lower_multi[];
extern const unsigned uni_lower_multi_count;
extern const uni_range uni_ccc_ranges[];
extern const unsigned uni_ccc_count;
extern const uni_decomp uni_decomp_table[];
extern const unsigned uni_decomp_count;
extern const uni_pair uni_compose_table[];
extern const unsigned uni_compose_count;

#endif
