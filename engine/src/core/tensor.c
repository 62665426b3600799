/*
 * tensor.c - tensor descriptions, views and host-side dtype conversions.
 */
#include "core/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

/* dtype facts, indexed by se_dtype. */
static const struct {
    size_t size;
    const char *name;
} g_dtypes[] = {
    [SE_F32] = {4, "F32"},
    [SE_F16] = {2, "F16"},
    [SE_BF16] = {2, "BF16"},
    [SE_I32] = {4, "I32"},
};
_Static_assert(sizeof g_dtypes / sizeof g_dtypes[0] == SE_DTYPE_COUNT, "dtype table out of date");

size_t se_dtype_size(se_dtype dt) { return (unsigned)dt < SE_DTYPE_COUNT ? g_dtypes[dt].size : 0; }

const char *se_dtype_name(se_dtype dt) {
    return (unsigned)dt < SE_DTYPE_COUNT ? g_dtypes[dt].name : "?";
}

se_tensor se_tensor_make(se_dtype dt, int ndim, const int64_t *ne, void *data, const char *name) {
    se_tensor t;
    memset(&t, 0, sizeof t);
    SE_ASSERT(ndim >= 0 && ndim <= SE_MAX_DIMS);
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < SE_MAX_DIMS; i++) t.ne[i] = i < ndim ? ne[i] : 1;
    int64_t stride = (int64_t)se_dtype_size(dt);
    for (int i = SE_MAX_DIMS - 1; i >= 0; i--) {
        t.nb[i] = stride;
        stride *= t.ne[i];
    }
    t.data = data;
    if (name) snprintf(t.name, sizeof t.name, "%s", name);
    return t;
}

se_tensor se_tensor_1d(se_dtype dt, int64_t n0, void *data) {
    int64_t ne[1] = {n0};
    return se_tensor_make(dt, 1, ne, data, NULL);
}
se_tensor se_tensor_2d(se_dtype dt, int64_t n0, int64_t n1, void *data) {
    int64_t ne[2] = {n0, n1};
    return se_tensor_make(dt, 2, ne, data, NULL);
}
se_tensor se_tensor_3d(se_dtype dt, int64_t n0, int64_t n1, int64_t n2, void *data) {
    int64_t ne[3] = {n0, n1, n2};
    return se_tensor_make(dt, 3, ne, data, NULL);
}
se_tensor se_tensor_4d(se_dtype dt, int64_t n0, int64_t n1, int64_t n2, int64_t n3, void *data) {
    int64_t ne[4] = {n0, n1, n2, n3};
    return se_tensor_make(dt, 4, ne, data, NULL);
}

int64_t se_tensor_numel(const se_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->ne[i];
    return n;
}

size_t se_tensor_nbytes(const se_tensor *t) {
    return (size_t)se_tensor_numel(t) * se_dtype_size(t->dtype);
}

bool se_tensor_is_contiguous(const se_tensor *t) {
    int64_t stride = (int64_t)se_dtype_size(t->dtype);
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->ne[i] != 1 && t->nb[i] != stride) return false;
        stride *= t->ne[i];
    }
    return true;
}

bool se_tensor_same_shape(const se_tensor *a, const se_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->ne[i] != b->ne[i]) return false;
    return true;
}

const char *se_tensor_shape_str(const se_tensor *t, char *buf, size_t cap) {
    size_t off = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, "[");
    for (int i = 0; i < t->ndim; i++)
        off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, "%s%lld", i ? "," : "",
                                (long long)t->ne[i]);
    snprintf(buf + (off < cap ? off : cap - 1), off < cap ? cap - off : 1, "]");
    return buf;
}

void se_tensor_set_name(se_tensor *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
}

se_tensor se_tensor_reshape(const se_tensor *t, int ndim, const int64_t *ne) {
    SE_ASSERT(se_tensor_is_contiguous(t));
    se_tensor r = se_tensor_make(t->dtype, ndim, ne, t->data, t->name);
    SE_ASSERT(se_tensor_numel(&r) == se_tensor_numel(t));
    return r;
}

se_tensor se_tensor_transpose(const se_tensor *t, int d0, int d1) {
    SE_ASSERT(d0 >= 0 && d0 < t->ndim && d1 >= 0 && d1 < t->ndim);
    se_tensor r = *t;
    r.ne[d0] = t->ne[d1];
    r.ne[d1] = t->ne[d0];
    r.nb[d0] = t->nb[d1];
    r.nb[d1] = t->nb[d0];
    return r;
}

se_tensor se_tensor_slice(const se_tensor *t, int d, int64_t begin, int64_t len) {
    SE_ASSERT(d >= 0 && d < t->ndim && begin >= 0 && len >= 0 && begin + len <= t->ne[d]);
    se_tensor r = *t;
    r.ne[d] = len;
    r.data = (char *)t->data + begin * t->nb[d];
    return r;
}

/* ---- host dtype conversions (IEEE binary16 and bfloat16, round to nearest even) ---- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t se_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xFFu;
    uint32_t man = x & 0x7FFFFFu;
    if (exp == 0xFF) return (uint16_t)(sign | 0x7C00u | (man ? 0x200u : 0)); /* inf / nan */
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 0x1F) return (uint16_t)(sign | 0x7C00u); /* overflow -> inf */
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign; /* underflow -> signed zero */
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* may carry into exponent: correct */
    return (uint16_t)h;
}

float se_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000u | (man << 13));
    return bits_f32(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

uint16_t se_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7F800000u) == 0x7F800000u && (x & 0x7FFFFFu)) return (uint16_t)((x >> 16) | 0x40u);
    uint32_t lsb = (x >> 16) & 1u;
    x += 0x7FFFu + lsb;
    return (uint16_t)(x >> 16);
}

float se_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

void se_convert_host(se_dtype dst_dt, void *dst, se_dtype src_dt, const void *src, size_t n) {
    if (dst_dt == src_dt) {
        memcpy(dst, src, n * se_dtype_size(src_dt));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v;
        switch (src_dt) {
        case SE_F32: memcpy(&v, (const char *)src + 4 * i, 4); break;
        case SE_F16: { uint16_t h; memcpy(&h, (const char *)src + 2 * i, 2); v = se_f16_to_f32(h); break; }
        case SE_BF16: { uint16_t h; memcpy(&h, (const char *)src + 2 * i, 2); v = se_bf16_to_f32(h); break; }
        case SE_I32: { int32_t k; memcpy(&k, (const char *)src + 4 * i, 4); v = (float)k; break; }
        case SE_DTYPE_COUNT: default: SE_ASSERT(!"bad source dtype"); return;
        }
        switch (dst_dt) {
        case SE_F32: memcpy((char *)dst + 4 * i, &v, 4); break;
        case SE_F16: { uint16_t h = se_f32_to_f16(v); memcpy((char *)dst + 2 * i, &h, 2); break; }
        case SE_BF16: { uint16_t h = se_f32_to_bf16(v); memcpy((char *)dst + 2 * i, &h, 2); break; }
        case SE_I32: { int32_t k = (int32_t)v; memcpy((char *)dst + 4 * i, &k, 4); break; }
        case SE_DTYPE_COUNT: default: SE_ASSERT(!"bad destination dtype"); return;
        }
    }
}
