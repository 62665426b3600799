/*
 * test_core.c - status messages, dtype conversions and tensor views.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "test_util.h"

static void test_status(void) {
    for (int s = SE_OK; s <= SE_ERR_INTERNAL; s++) {
        const char *m = se_strerror((se_status)s);
        CHECK(m != NULL && strcmp(m, "unknown status") != 0);
    }
    se_status st = se_fail(SE_ERR_SHAPE, "tensor %s: expected [%d], got [%d]", "conv_in.weight", 4, 3);
    CHECK(st == SE_ERR_SHAPE);
    CHECK(strstr(se_last_error(), "conv_in.weight") != NULL);
}

static void test_conversions(void) {
    const float vals[] = {0.0f, 1.0f, -2.5f, 65504.0f, 1e-3f, 3.14159f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        float h = se_f16_to_f32(se_f32_to_f16(vals[i]));
        CHECK(fabsf(h - vals[i]) <= fabsf(vals[i]) * 1e-3f + 1e-7f);
        float b = se_bf16_to_f32(se_f32_to_bf16(vals[i]));
        CHECK(fabsf(b - vals[i]) <= fabsf(vals[i]) * 8e-3f + 1e-7f);
    }
    CHECK(se_f32_to_f16(1.0f) == 0x3C00);
    CHECK(se_f32_to_bf16(1.0f) == 0x3F80);
    /* Round to nearest even: 1 + 2^-11 is halfway between two f16 values and rounds down. */
    CHECK(se_f32_to_f16(1.0f + 1.0f / 2048.0f) == 0x3C00);
    CHECK(isinf(se_f16_to_f32(se_f32_to_f16(1e6f))));
}

static void test_views(void) {
    float data[2 * 3 * 4];
    for (int i = 0; i < 24; i++) data[i] = (float)i;
    se_tensor t = se_tensor_3d(SE_F32, 2, 3, 4, data);
    CHECK(se_tensor_numel(&t) == 24);
    CHECK(se_tensor_is_contiguous(&t));
    se_tensor tt = se_tensor_transpose(&t, 1, 2);
    CHECK(!se_tensor_is_contiguous(&tt));
    CHECK(tt.ne[1] == 4 && tt.ne[2] == 3);
    se_tensor s = se_tensor_slice(&t, 2, 1, 2);
    CHECK(s.ne[2] == 2 && ((float *)s.data)[0] == 1.0f);
    int64_t ne[2] = {6, 4};
    se_tensor r = se_tensor_reshape(&t, 2, ne);
    CHECK(r.ndim == 2 && r.ne[0] == 6 && r.nb[0] == 16);
    char buf[64];
    CHECK(strcmp(se_tensor_shape_str(&t, buf, sizeof buf), "[2,3,4]") == 0);
}

int main(void) {
    test_status();
    test_conversions();
    test_views();
    return test_report("engine_core");
}
