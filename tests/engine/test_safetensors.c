/*
 * test_safetensors.c - the safetensors reader, the weight set and config.json getters.
 *
 * Writes small safetensors files into a temporary folder (built byte by byte here, so each bad
 * case is exactly the corruption named) and checks that good files load with the right values
 * and that every bad file is a clear SE_ERR_FORMAT naming the file and the tensor, never a crash.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend_cpu.h"
#include "core/error.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "test_util.h"

static char g_dir[256];

/* Writes [u64 hlen][header][data] to dir/name; hlen_override != 0 replaces the length field. */
static const char *write_st(const char *name, const char *header, const void *data, size_t dlen,
                            uint64_t hlen_override) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    uint64_t n = hlen_override ? hlen_override : strlen(header);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(n >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (dlen) fwrite(data, 1, dlen, f);
    fclose(f);
    return path;
}

/* Opens path expecting failure `want`; checks the message mentions each of the given words. */
static void expect_fail(const char *path, se_status want, const char *w1, const char *w2) {
    se_st_file *f = NULL;
    se_status st = se_st_open(path, &f);
    const char *msg = se_last_error();
    CHECK_MSG(st == want, "%s: status %d (%s), want %d", path, st, msg, want);
    CHECK(f == NULL);
    CHECK_MSG(strstr(msg, path) != NULL, "message lacks the file name: %s", msg);
    if (w1) CHECK_MSG(strstr(msg, w1) != NULL, "message lacks \"%s\": %s", w1, msg);
    if (w2) CHECK_MSG(strstr(msg, w2) != NULL, "message lacks \"%s\": %s", w2, msg);
    printf("  expected error: %s\n", msg);
    se_st_close(&f);
}

/* The good file: F32 [2,3], F16 [4], BF16 [2,2], I64 [3], an F32 scalar, metadata. */
static const char *make_good(void) {
    static unsigned char data[24 + 8 + 8 + 24 + 4];
    float a[6] = {1, -2, 3.5f, 0.25f, 100, -0.125f};
    memcpy(data, a, 24);
    for (int i = 0; i < 4; i++) {
        uint16_t h = se_f32_to_f16((float)i * 0.5f - 1.0f);
        memcpy(data + 24 + 2 * i, &h, 2);
    }
    for (int i = 0; i < 4; i++) {
        uint16_t h = se_f32_to_bf16((float)(i + 1) * 2.0f);
        memcpy(data + 32 + 2 * i, &h, 2);
    }
    int64_t ids[3] = {0, 1, 2};
    memcpy(data + 40, ids, 24);
    float s = 7.0f;
    memcpy(data + 64, &s, 4);
    return write_st("good.safetensors",
                    "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                    "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                    "\"c\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[32,40]},"
                    "\"ids\":{\"dtype\":\"I64\",\"shape\":[1,3],\"data_offsets\":[40,64]},"
                    "\"alpha\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[64,68]}}   ",
                    data, sizeof data, 0);
}

static void test_good(se_backend *be) {
    const char *path = make_good();
    se_st_file *f = NULL;
    se_status st = se_st_open(path, &f);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (st != SE_OK) return;
    CHECK(se_st_count(f) == 5);
    const se_st_tensor *a = se_st_find(f, "a"), *b = se_st_find(f, "b"), *c = se_st_find(f, "c");
    const se_st_tensor *ids = se_st_find(f, "ids"), *al = se_st_find(f, "alpha");
    CHECK(a && b && c && ids && al);
    CHECK(se_st_find(f, "__metadata__") == NULL);
    CHECK(se_st_find(f, "zz") == NULL);
    if (!(a && b && c && ids && al)) goto done;
    CHECK(a->loadable && a->dtype == SE_F32 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3);
    CHECK(b->loadable && b->dtype == SE_F16 && b->numel == 4);
    CHECK(c->loadable && c->dtype == SE_BF16);
    CHECK(!ids->loadable && strcmp(ids->dtype_name, "I64") == 0);
    CHECK(al->ndim == 0 && al->numel == 1);
    float buf[6];
    CHECK(se_st_read_host(f, b, SE_F32, buf, sizeof buf) == SE_OK);
    CHECK(buf[0] == -1.0f && buf[1] == -0.5f && buf[2] == 0.0f && buf[3] == 0.5f);
    CHECK(se_st_read_host(f, c, SE_F32, buf, sizeof buf) == SE_OK);
    CHECK(buf[0] == 2.0f && buf[3] == 8.0f);
    CHECK(se_st_read_host(f, ids, SE_F32, buf, sizeof buf) == SE_ERR_DTYPE);
    CHECK(se_st_read_host(f, a, SE_F32, buf, 8) == SE_ERR_INVALID_ARG);
    CHECK(se_st_read_host(f, al, SE_F32, buf, sizeof buf) == SE_OK && buf[0] == 7.0f);

    /* Weight set: declare, load, look up, values converted to F32. */
    se_weights *w = NULL;
    CHECK(se_weights_new("toy", &w) == SE_OK);
    int ha = -1, hb = -1, hc = -1, ha2 = -1;
    CHECK(se_weights_require(w, "a", 2, (int64_t[]){2, 3}, &ha) == SE_OK);
    CHECK(se_weights_requiref(w, &hb, 1, (int64_t[]){4}, "%s", "b") == SE_OK);
    CHECK(se_weights_require(w, "c", 2, (int64_t[]){2, 2}, &hc) == SE_OK);
    CHECK(se_weights_require(w, "a", 2, (int64_t[]){2, 3}, &ha2) == SE_OK && ha2 == ha);
    CHECK(se_weights_require(w, "a", 2, (int64_t[]){3, 2}, &ha2) == SE_ERR_SHAPE);
    st = se_weights_load(w, f, be);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (st == SE_OK) {
        float got[6];
        CHECK(se_tensor_get_data(be, se_weights_at(w, ha), got, sizeof got) == SE_OK);
        CHECK(got[2] == 3.5f && got[5] == -0.125f);
        CHECK(se_tensor_get_data(be, se_weights_at(w, hb), got, 16) == SE_OK);
        CHECK(got[0] == -1.0f && got[3] == 0.5f);
        CHECK(se_weights_get(w, "c") == se_weights_at(w, hc));
        CHECK(se_weights_at(w, hc)->dtype == be->weight_dtype);
        CHECK(se_weights_bytes(w) >= 6 * 4 + 4 * 4 + 4 * 4);
        CHECK(se_weights_numel(w) == 14);
    }
    se_weights_destroy(&w);
    CHECK(w == NULL);

    /* Missing tensor and wrong shape name the tensor, expected and got. */
    CHECK(se_weights_new("toy", &w) == SE_OK);
    int h;
    CHECK(se_weights_require(w, "a", 2, (int64_t[]){2, 4}, &h) == SE_OK);
    st = se_weights_load(w, f, be);
    CHECK(st == SE_ERR_SHAPE);
    CHECK_MSG(strstr(se_last_error(), "toy: tensor a: expected [2,4], got [2,3]") != NULL, "%s",
              se_last_error());
    se_weights_destroy(&w);
    CHECK(se_weights_new("toy", &w) == SE_OK);
    CHECK(se_weights_require(w, "missing.weight", 1, (int64_t[]){4}, &h) == SE_OK);
    st = se_weights_load(w, f, be);
    CHECK(st == SE_ERR_MISSING_TENSOR);
    CHECK_MSG(strstr(se_last_error(), "missing tensor missing.weight in") && strstr(se_last_error(), path),
              "%s", se_last_error());
    se_weights_destroy(&w);
    /* I64 declared as a weight is a dtype error, not garbage. */
    CHECK(se_weights_new("toy", &w) == SE_OK);
    CHECK(se_weights_require(w, "ids", 2, (int64_t[]){1, 3}, &h) == SE_OK);
    CHECK(se_weights_load(w, f, be) == SE_ERR_DTYPE);
    se_weights_destroy(&w);
    /* Random weights: deterministic for a seed, norm scales 1. */
    CHECK(se_weights_new("rnd", &w) == SE_OK);
    CHECK(se_weights_require(w, "l.weight", 2, (int64_t[]){3, 4}, &ha) == SE_OK);
    CHECK(se_weights_require(w, "n.weight", 1, (int64_t[]){4}, &hb) == SE_OK);
    CHECK(se_weights_load_random(w, be, 42) == SE_OK);
    float r1[12], r2[4];
    CHECK(se_tensor_get_data(be, se_weights_at(w, ha), r1, sizeof r1) == SE_OK);
    CHECK(se_tensor_get_data(be, se_weights_at(w, hb), r2, sizeof r2) == SE_OK);
    CHECK(r2[0] == 1.0f && r2[3] == 1.0f);
    int inrange = 1, distinct = 0;
    for (int i = 0; i < 12; i++) {
        inrange &= r1[i] >= -0.5f && r1[i] <= 0.5f;
        distinct += i > 0 && r1[i] != r1[i - 1];
    }
    CHECK(inrange && distinct > 8);
    se_weights_destroy(&w);
done:
    se_st_close(&f);
    CHECK(f == NULL);
    se_st_close(&f); /* harmless twice */
}

static void test_bad(void) {
    unsigned char data[64] = {0};
    const char *ok_hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    const char *p;

    /* Tiny file: not even the length field. */
    {
        char path[512];
        snprintf(path, sizeof path, "%s/tiny.safetensors", g_dir);
        FILE *f = fopen(path, "wb");
        fwrite("abc", 1, 3, f);
        fclose(f);
        expect_fail(path, SE_ERR_FORMAT, "truncated", NULL);
    }
    /* Truncated data: the header promises 16 bytes, the file has 8. */
    p = write_st("truncated.safetensors", ok_hdr, data, 8, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "outside");
    /* Header length larger than the file. */
    p = write_st("hlen.safetensors", ok_hdr, data, 16, 4096);
    expect_fail(p, SE_ERR_FORMAT, "header length 4096", NULL);
    /* Header length beyond the 100 MB cap (and the file). */
    p = write_st("hlen_huge.safetensors", ok_hdr, data, 16, (uint64_t)1 << 62);
    expect_fail(p, SE_ERR_FORMAT, "header length", NULL);
    /* Bad JSON. */
    p = write_st("badjson.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "bad JSON", NULL);
    p = write_st("notobj.safetensors", "[1,2,3]", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "not a JSON object", NULL);
    /* Offset outside the file. */
    p = write_st("offset.safetensors",
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "outside");
    p = write_st("offset_rev.safetensors",
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "data_offsets");
    p = write_st("offset_neg.safetensors",
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-16,0]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", NULL);
    /* Overlapping offsets. */
    p = write_st("overlap.safetensors",
                 "{\"u\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                 "\"v\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", data, 32, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor v", "overlap tensor u");
    /* Wrong byte size for the shape. */
    p = write_st("size.safetensors",
                 "{\"w\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "needs 8");
    /* Unknown dtype. */
    p = write_st("dtype.safetensors",
                 "{\"w\":{\"dtype\":\"F17\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "unknown dtype");
    /* Duplicate key. */
    p = write_st("dup.safetensors",
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "duplicate", "w");
    /* Negative and overflowing shapes, missing fields, too many dims. */
    p = write_st("negshape.safetensors",
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "shape");
    p = write_st("bigshape.safetensors",
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                 "\"data_offsets\":[0,16]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "too large");
    p = write_st("nooff.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "data_offsets");
    p = write_st("ndims.safetensors",
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,4],\"data_offsets\":[0,16]}}",
                 data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", "dims");
    p = write_st("entry.safetensors", "{\"w\":[1,2]}", data, 16, 0);
    expect_fail(p, SE_ERR_FORMAT, "tensor w", NULL);
    /* A file that does not exist is an I/O error naming it. */
    char nope[512];
    snprintf(nope, sizeof nope, "%s/nope.safetensors", g_dir);
    expect_fail(nope, SE_ERR_IO, "cannot open", NULL);
    /* Empty tensors are fine and overlap nothing. */
    p = write_st("empty.safetensors",
                 "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                 "\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, 16, 0);
    se_st_file *f = NULL;
    CHECK_MSG(se_st_open(p, &f) == SE_OK, "%s", se_last_error());
    se_st_close(&f);
}

static void test_config(void) {
    se_config *c = NULL;
    const char *txt = "{\"a\": 3, \"f\": 1e-5, \"r\": 2.0, \"b\": true, \"n\": null, \"s\": \"silu\","
                      " \"arr\": [1, 2, 10], \"one\": 5, \"sa\": [\"X\", \"Y\"], \"bad\": [1, \"x\"]}";
    CHECK(se_config_parse("cfg.json", txt, &c) == SE_OK);
    if (!c) return;
    int64_t v;
    double d;
    bool b;
    const char *s;
    int64_t arr[4];
    size_t n;
    CHECK(se_config_int(c, "a", 0, &v) == SE_OK && v == 3);
    CHECK(se_config_int(c, "r", 0, &v) == SE_OK && v == 2);
    CHECK(se_config_int(c, "zz", 7, &v) == SE_OK && v == 7);
    CHECK(se_config_int(c, "n", 9, &v) == SE_OK && v == 9);
    CHECK(se_config_int(c, "zz", SE_CONFIG_REQUIRED, &v) == SE_ERR_CONFIG);
    CHECK_MSG(strstr(se_last_error(), "cfg.json") && strstr(se_last_error(), "\"zz\""), "%s",
              se_last_error());
    CHECK(se_config_int(c, "f", 0, &v) == SE_ERR_CONFIG);
    CHECK(se_config_int(c, "s", 0, &v) == SE_ERR_CONFIG);
    CHECK_MSG(strstr(se_last_error(), "expected an integer, got a string"), "%s", se_last_error());
    CHECK(se_config_float(c, "f", true, 0, &d) == SE_OK && d == 1e-5);
    CHECK(se_config_float(c, "a", true, 0, &d) == SE_OK && d == 3.0);
    CHECK(se_config_float(c, "zz", false, 0.5, &d) == SE_OK && d == 0.5);
    CHECK(se_config_bool(c, "b", true, false, &b) == SE_OK && b);
    CHECK(se_config_bool(c, "a", true, false, &b) == SE_ERR_CONFIG);
    CHECK(se_config_string(c, "s", NULL, &s) == SE_OK && strcmp(s, "silu") == 0);
    CHECK(se_config_string(c, "n", "dflt", &s) == SE_OK && strcmp(s, "dflt") == 0);
    CHECK(se_config_int_array(c, "arr", true, 4, arr, &n, 0) == SE_OK && n == 3 && arr[2] == 10);
    CHECK(se_config_int_array(c, "arr", true, 2, arr, &n, 0) == SE_ERR_CONFIG);
    CHECK(se_config_int_array(c, "one", true, 4, arr, &n, 3) == SE_OK && n == 3 && arr[2] == 5);
    CHECK(se_config_int_array(c, "one", true, 4, arr, &n, 0) == SE_ERR_CONFIG);
    CHECK(se_config_int_array(c, "bad", true, 4, arr, &n, 0) == SE_ERR_CONFIG);
    CHECK_MSG(strstr(se_last_error(), "\"bad\"[1]"), "%s", se_last_error());
    CHECK(se_config_int_array(c, "zz", false, 4, arr, &n, 0) == SE_OK && n == 0);
    const char *sa[4];
    CHECK(se_config_string_array(c, "sa", 4, sa, &n) == SE_OK && n == 2 && strcmp(sa[1], "Y") == 0);
    CHECK(se_config_string_array(c, "arr", 4, sa, &n) == SE_ERR_CONFIG);
    se_config_close(&c);
    CHECK(c == NULL);
    CHECK(se_config_parse("x.json", "{\"a\":1,\"a\":2}", &c) == SE_ERR_CONFIG);
    CHECK(se_config_parse("x.json", "[1]", &c) == SE_ERR_CONFIG);
    CHECK(se_config_open("/nonexistent/config.json", &c) == SE_ERR_IO);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/strike-st-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    se_cpu_params cp;
    se_cpu_params_init(&cp);
    cp.naive = true;
    cp.threads = 1;
    se_backend *be = NULL;
    if (se_backend_cpu_new(&cp, &be) != SE_OK) {
        fprintf(stderr, "cpu backend: %s\n", se_last_error());
        return 1;
    }
    test_good(be);
    test_bad();
    test_config();
    se_backend_destroy(&be);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_report("engine_safetensors");
}
