/*
 * unicode.c - UTF-8 decoding, NFC, lowercase and character classes for the CLIP tokenizer,
 * matching the pinned reference (transformers 5.23.0 / tokenizers 0.23.3) code point for code
 * point. The tables come from unicode_tables.c; Hangul syllables are handled algorithmically.
 */
#include "text/unicode.h"

#include <stddef.h>
#include <string.h>

/* Hangul syllable constants (Unicode chapter 3.12). */
enum {
    HANGUL_SBASE = 0xAC00,
    HANGUL_LBASE = 0x1100,
    HANGUL_VBASE = 0x1161,
    HANGUL_TBASE = 0x11A7,
    HANGUL_LCOUNT = 19,
    HANGUL_VCOUNT = 21,
    HANGUL_TCOUNT = 28,
    HANGUL_NCOUNT = HANGUL_VCOUNT * HANGUL_TCOUNT,
    HANGUL_SCOUNT = HANGUL_LCOUNT * HANGUL_NCOUNT,
};

/* Binary search of a range table; returns the value or 0. */
static int range_lookup(const uni_range *t, unsigned n, uint32_t cp) {
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (cp < t[mid].lo)
            hi = mid;
        else if (cp > t[mid].hi)
            lo = mid + 1;
        else
            return t[mid].val;
    }
    return 0;
}

/* Index of the first entry whose key is >= cp in a table sorted by that key, where every entry
 * is `stride` bytes and starts with its uint32_t key (uni_map.from, uni_decomp.cp); n if none. */
static unsigned key_lower_bound(const void *table, unsigned n, size_t stride, uint32_t cp) {
    const unsigned char *base = table;
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        uint32_t key;
        memcpy(&key, base + (size_t)mid * stride, sizeof key);
        if (key < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
_Static_assert(offsetof(uni_map, from) == 0 && offsetof(uni_decomp, cp) == 0,
               "key_lower_bound reads the key at offset 0");

int uni_class(uint32_t cp) {
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return UNI_LETTER;
        if (cp >= '0' && cp <= '9') return UNI_NUMBER;
        if (cp == ' ' || (cp >= 9 && cp <= 13)) return UNI_SPACE;
        return 0;
    }
    return range_lookup(uni_class_ranges, uni_class_count, cp);
}

int uni_ccc(uint32_t cp) {
    if (cp < 0x300) return 0;
    return range_lookup(uni_ccc_ranges, uni_ccc_count, cp);
}

int uni_lower(uint32_t cp, uint32_t out[3]) {
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    unsigned lo = key_lower_bound(uni_lower_map, uni_lower_count, sizeof uni_lower_map[0], cp);
    if (lo < uni_lower_count && uni_lower_map[lo].from == cp) {
        out[0] = uni_lower_map[lo].to;
        return 1;
    }
    for (unsigned i = 0; i < uni_lower_multi_count; i++) {
        if (uni_lower_multi[i].from == cp) {
            int n = 0;
            for (int k = 0; k < 3 && uni_lower_multi[i].to[k]; k++) out[n++] = uni_lower_multi[i].to[k];
            return n;
        }
    }
    out[0] = cp;
    return 1;
}

long uni_utf8_decode(const char *s, size_t len, uint32_t *cps, size_t *bad_at) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    long n = 0;
    while (i < len) {
        uint32_t c = p[i];
        if (c < 0x80) {
            cps[n++] = c;
            i++;
            continue;
        }
        int extra;
        uint32_t min;
        if ((c & 0xE0) == 0xC0) {
            extra = 1, c &= 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, c &= 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, c &= 0x07, min = 0x10000;
        } else {
            goto bad;
        }
        if ((size_t)extra >= len - i) goto bad; /* truncated sequence */
        for (int k = 1; k <= extra; k++) {
            if ((p[i + (size_t)k] & 0xC0) != 0x80) goto bad;
            c = (c << 6) | (p[i + (size_t)k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000)) goto bad;
        cps[n++] = c;
        i += (size_t)extra + 1;
    }
    return n;
bad:
    if (bad_at) *bad_at = i;
    return -1;
}

int uni_utf8_encode(uint32_t cp, unsigned char out[4]) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Full canonical decomposition of cp into out (room for 4); returns the count. */
static int decompose(uint32_t cp, uint32_t *out) {
    if (cp < 0xC0) {
        out[0] = cp;
        return 1;
    }
    if (cp >= HANGUL_SBASE && cp < HANGUL_SBASE + HANGUL_SCOUNT) {
        uint32_t s = cp - HANGUL_SBASE;
        out[0] = HANGUL_LBASE + s / HANGUL_NCOUNT;
        out[1] = HANGUL_VBASE + (s % HANGUL_NCOUNT) / HANGUL_TCOUNT;
        if (s % HANGUL_TCOUNT == 0) return 2;
        out[2] = HANGUL_TBASE + s % HANGUL_TCOUNT;
        return 3;
    }
    unsigned lo = key_lower_bound(uni_decomp_table, uni_decomp_count, sizeof uni_decomp_table[0], cp);
    if (lo < uni_decomp_count && uni_decomp_table[lo].cp == cp) {
        const uni_decomp *d = &uni_decomp_table[lo];
        for (int k = 0; k < d->n; k++) out[k] = d->to[k];
        return d->n;
    }
    out[0] = cp;
    return 1;
}

/* The primary composite of a + b, or 0 when they do not compose. */
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= HANGUL_LBASE && a < HANGUL_LBASE + HANGUL_LCOUNT && b >= HANGUL_VBASE &&
        b < HANGUL_VBASE + HANGUL_VCOUNT)
        return HANGUL_SBASE + ((a - HANGUL_LBASE) * HANGUL_VCOUNT + (b - HANGUL_VBASE)) * HANGUL_TCOUNT;
    if (a >= HANGUL_SBASE && a < HANGUL_SBASE + HANGUL_SCOUNT && (a - HANGUL_SBASE) % HANGUL_TCOUNT == 0 &&
        b > HANGUL_TBASE && b < HANGUL_TBASE + HANGUL_TCOUNT)
        return a + (b - HANGUL_TBASE);
    unsigned lo = 0, hi = uni_compose_count;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const uni_pair *p = &uni_compose_table[mid];
        if (p->a < a || (p->a == a && p->b < b))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < uni_compose_count && uni_compose_table[lo].a == a && uni_compose_table[lo].b == b)
        return uni_compose_table[lo].c;
    return 0;
}

size_t uni_nfc(const uint32_t *cps, size_t n, uint32_t *out, uint32_t *scratch) {
    /* 1. Full canonical decomposition. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += (size_t)decompose(cps[i], scratch + m);
    /* 2. Canonical ordering: stable sort of every run of non-starters by combining class
     *    (insertion sort for short runs, a counting sort through `out` for long ones, so a
     *    hostile prompt of many marks stays linear). */
    for (size_t i = 0; i < m;) {
        if (uni_ccc(scratch[i]) == 0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < m && uni_ccc(scratch[j]) != 0) j++;
        size_t run = j - i;
        if (run <= 16) {
            for (size_t a = i + 1; a < j; a++) {
                uint32_t c = scratch[a];
                int k = uni_ccc(c);
                size_t b = a;
                while (b > i && uni_ccc(scratch[b - 1]) > k) {
                    scratch[b] = scratch[b - 1];
                    b--;
                }
                scratch[b] = c;
            }
        } else {
            size_t count[257] = {0};
            for (size_t a = i; a < j; a++) count[uni_ccc(scratch[a]) + 1]++;
            for (int k = 1; k < 257; k++) count[k] += count[k - 1];
            for (size_t a = i; a < j; a++) out[count[uni_ccc(scratch[a])]++] = scratch[a];
            memcpy(scratch + i, out, run * sizeof *out);
        }
        i = j;
    }
    /* 3. Canonical composition: each character joins the last starter unless blocked. */
    size_t o = 0;
    long starter = -1;
    int last_ccc = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t c = scratch[i];
        int k = uni_ccc(c);
        if (starter >= 0) {
            int adjacent = (size_t)starter == o - 1;
            if (adjacent || (last_ccc != 0 && last_ccc < k)) {
                uint32_t comp = compose(out[starter], c);
                if (comp) {
                    out[starter] = comp;
                    continue;
                }
            }
        }
        if (k == 0) starter = (long)o;
        out[o++] = c;
        last_ccc = k;
    }
    return o;
}
