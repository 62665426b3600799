/*
 * gpu_bench.c - the CUDA backend's benchmark (run by bench/gpu.sh): times the ops that make up
 * an SDXL UNet step and VAE decode at their real 1024x1024 shapes (bf16 GEMMs, 3x3 convs,
 * attention on both paths, group norm + SiLU) and one fp32 GEMM (TF32 off), through the backend
 * interface exactly as model code calls it. Inputs are a fixed pseudo-random pattern uploaded
 * once per buffer (values do not change the work done).
 *
 * Output: one key=value line per case, then the summary line of issue 6 as the last line. The
 * full-pipeline values (ms_per_image_b1, images_per_s_b8, unet_step_ms, vae_decode_ms,
 * tflops_b8, peak_mem_gb) are `na` until the UNet and VAE exist on the CUDA backend.
 *
 *   strike_gpu_bench [--quick]     --quick: fewer cases (a smoke run)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backend_cuda.h"
#include "core/error.h"
#include "cuda/cuda_info.h"

static se_backend *g_be;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, se_status st) {
    fprintf(stderr, "gpu_bench: %s: %s (%s)\n", what, se_strerror(st), se_last_error());
    exit(1);
}

/* A device tensor filled with a repeating pseudo-random pattern in [-1, 1). */
static se_tensor dev(se_dtype dt, int nd, const int64_t *ne, const char *name) {
    enum { PAT = 1 << 20 };
    static float *pat;
    static void *conv;
    static se_dtype conv_dt = SE_DTYPE_COUNT;
    if (!pat) {
        pat = malloc(PAT * sizeof *pat);
        conv = malloc(PAT * 4);
        uint64_t r = 88172645463325252ull;
        for (int i = 0; i < PAT; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            pat[i] = (float)((r >> 40) * (1.0 / 8388608.0)) - 1.0f;
        }
    }
    if (conv_dt != dt) {
        se_convert_host(dt, conv, SE_F32, pat, PAT);
        conv_dt = dt;
    }
    se_tensor t = se_tensor_make(dt, nd, ne, NULL, name);
    size_t bytes = se_tensor_nbytes(&t), chunk = (size_t)PAT * se_dtype_size(dt);
    void *p = NULL;
    se_status st = se_backend_alloc(g_be, bytes, &p);
    if (st != SE_OK) die(name, st);
    for (size_t off = 0; off < bytes; off += chunk) {
        st = se_backend_set(g_be, (char *)p + off, conv, bytes - off < chunk ? bytes - off : chunk);
        if (st != SE_OK) die(name, st);
    }
    t.data = p;
    return t;
}

static void drop(se_tensor *t) {
    se_backend_free(g_be, t->data);
    t->data = NULL;
}

/* Runs op until at least 0.25 s (and 3 runs) have passed after one warm-up; returns ms per run. */
static double time_op(const se_op *op) {
    se_status st = se_backend_compute(g_be, op);
    if (st == SE_OK) st = se_backend_sync(g_be);
    if (st != SE_OK) die(se_op_name(op->kind), st);
    int n = 0;
    double t0 = now_s(), t;
    do {
        st = se_backend_compute(g_be, op);
        if (st != SE_OK) die(se_op_name(op->kind), st);
        n++;
        if (n % 2 == 0 || n < 3) {
            st = se_backend_sync(g_be);
            if (st != SE_OK) die("sync", st);
        }
        t = now_s() - t0;
    } while (n < 3 || t < 0.25);
    st = se_backend_sync(g_be);
    if (st != SE_OK) die("sync", st);
    return (now_s() - t0) * 1e3 / n;
}

static void report(const char *bench, const char *shape, se_dtype dt, double ms, double flops) {
    printf("bench=%s shape=%s dtype=%s ms=%.3f tflops=%.1f\n", bench, shape, se_dtype_name(dt), ms,
           flops / (ms * 1e-3) / 1e12);
    fflush(stdout);
}

static void bench_linear(se_dtype dt, int64_t M, int64_t K, int64_t N, const char *what) {
    int64_t ex[2] = {M, K}, ew[2] = {N, K}, eb[1] = {N}, ey[2] = {M, N};
    se_tensor x = dev(dt, 2, ex, "x"), w = dev(dt, 2, ew, "w"), b = dev(dt, 1, eb, "b"), y = dev(dt, 2, ey, "y");
    se_op op = {.kind = SE_OP_LINEAR, .src = {&x, &w, &b}, .dst = &y};
    char shape[128];
    snprintf(shape, sizeof shape, "%s_M%lld_K%lld_N%lld", what, (long long)M, (long long)K, (long long)N);
    report("linear", shape, dt, time_op(&op), 2.0 * M * N * K);
    drop(&x), drop(&w), drop(&b), drop(&y);
}

static void bench_conv(se_dtype dt, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int k,
                       const char *what) {
    int p = k / 2;
    int64_t ex[4] = {B, Cin, H, H}, ew[4] = {Cout, Cin, k, k}, eb[1] = {Cout}, ey[4] = {B, Cout, H, H};
    se_tensor x = dev(dt, 4, ex, "x"), w = dev(dt, 4, ew, "w"), b = dev(dt, 1, eb, "b"), y = dev(dt, 4, ey, "y");
    se_op op = {.kind = SE_OP_CONV2D, .src = {&x, &w, &b}, .dst = &y, .i = {1, p}};
    char shape[128];
    snprintf(shape, sizeof shape, "%s_b%lld_c%lld-%lld_%lldx%lld_k%d", what, (long long)B,
             (long long)Cin, (long long)Cout, (long long)H, (long long)H, k);
    report("conv2d", shape, dt, time_op(&op), 2.0 * B * Cout * Cin * k * k * H * H);
    drop(&x), drop(&w), drop(&b), drop(&y);
}

static void bench_attention(se_dtype dt, int64_t B, int64_t Nq, int64_t Nk, int64_t H, int64_t D,
                            const char *what) {
    int64_t eq[3] = {B, Nq, H * D}, ek[3] = {B, Nk, H * D};
    se_tensor q = dev(dt, 3, eq, "q"), k = dev(dt, 3, ek, "k"), v = dev(dt, 3, ek, "v"), y = dev(dt, 3, eq, "y");
    se_op op = {.kind = SE_OP_ATTENTION, .src = {&q, &k, &v}, .dst = &y, .i = {(int)H, 0},
                .f = {1.0f / sqrtf((float)D)}};
    const char *path = getenv("STRIKE_CUDA_ATTENTION");
    char shape[160];
    snprintf(shape, sizeof shape, "%s_%s_b%lld_q%lld_k%lld_h%lld_d%lld", what,
             path && *path ? path : "gemm", (long long)B, (long long)Nq, (long long)Nk, (long long)H,
             (long long)D);
    report("attention", shape, dt, time_op(&op), 4.0 * B * H * Nq * Nk * D);
    drop(&q), drop(&k), drop(&v), drop(&y);
}

static void bench_group_norm(se_dtype dt, int64_t B, int64_t C, int64_t H, const char *what) {
    int64_t ex[4] = {B, C, H, H}, ec[1] = {C};
    se_tensor x = dev(dt, 4, ex, "x"), g = dev(dt, 1, ec, "g"), b = dev(dt, 1, ec, "b"), y = dev(dt, 4, ex, "y");
    se_op op = {.kind = SE_OP_GROUP_NORM, .src = {&x, &g, &b}, .dst = &y, .i = {32, 1}, .f = {1e-5f}};
    double ms = time_op(&op), bytes = 3.0 * se_tensor_nbytes(&x);   /* read twice, write once */
    printf("bench=group_norm_silu shape=%s_b%lld_c%lld_%lldx%lld dtype=%s ms=%.3f gbps=%.0f\n", what,
           (long long)B, (long long)C, (long long)H, (long long)H, se_dtype_name(dt), ms,
           bytes / (ms * 1e-3) / 1e9);
    fflush(stdout);
    drop(&x), drop(&g), drop(&b), drop(&y);
}

static se_backend *make_backend(se_dtype dt) {
    se_cuda_params cp;
    se_cuda_params_init(&cp);
    cp.compute_dtype = dt;
    se_backend *be = NULL;
    se_status st = se_backend_cuda_new(&cp, &be);
    if (st != SE_OK) die("se_backend_cuda_new", st);
    return be;
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (se_cuda_device_count() <= 0) {
        se_backend *be = NULL;
        se_cuda_params cp;
        se_cuda_params_init(&cp);
        (void)se_backend_cuda_new(&cp, &be);
        fprintf(stderr, "gpu_bench: %s\n", se_last_error());
        printf("gpu=none ms_per_image_b1=na images_per_s_b8=na unet_step_ms=na vae_decode_ms=na "
               "tflops_b8=na peak_mem_gb=na\n");
        return 1;
    }
    const se_dtype bf = SE_BF16;
    g_be = make_backend(bf);
    se_cuda_info info;
    se_status st = se_cuda_backend_info(g_be, &info);
    if (st != SE_OK) die("info", st);
    char gpu[256];
    snprintf(gpu, sizeof gpu, "%s", info.name);
    for (char *c = gpu; *c; c++)
        if (*c == ' ' || *c == '=') *c = '_';
    printf("device=%s sm=%d%d mem_gb=%.1f\n", gpu, info.sm_major, info.sm_minor,
           info.total_mem / 1e9);

    /* UNet 1024 px: the 32x32 level (1280 ch, 1024 tokens, 20 heads) is 67% of the FLOPs. */
    bench_linear(bf, 8 * 1024, 1280, 1280, "unet32_proj_b8");
    bench_linear(bf, 8 * 1024, 1280, 10240, "unet32_ff_up_b8");
    bench_linear(bf, 8 * 1024, 5120, 1280, "unet32_ff_down_b8");
    bench_linear(bf, 1024, 1280, 1280, "unet32_proj_b1");
    bench_conv(bf, 8, 1280, 1280, 32, 3, "unet32_b8");
    bench_conv(bf, 1, 1280, 1280, 32, 3, "unet32_b1");
    bench_attention(bf, 8, 1024, 1024, 20, 64, "unet32_self");
    bench_attention(bf, 8, 4096, 4096, 10, 64, "unet64_self");
    if (!quick) {
        bench_linear(bf, 8 * 4096, 640, 640, "unet64_proj_b8");
        bench_linear(bf, 8 * 4096, 640, 5120, "unet64_ff_up_b8");
        bench_conv(bf, 8, 640, 640, 64, 3, "unet64_b8");
        bench_conv(bf, 8, 320, 320, 128, 3, "unet128_b8");
        bench_conv(bf, 8, 640, 1280, 32, 1, "unet32_skip1x1_b8");
        bench_attention(bf, 8, 4096, 77, 10, 64, "unet64_cross");
        bench_group_norm(bf, 8, 640, 64, "unet64");
        /* VAE decoder 1024 px (batch 1): 512 ch at 128/256, 256 ch at 512, 128 ch at 1024. */
        bench_conv(bf, 1, 512, 512, 128, 3, "vae128");
        bench_conv(bf, 1, 512, 512, 256, 3, "vae256");
        bench_conv(bf, 1, 256, 256, 512, 3, "vae512");
        bench_conv(bf, 1, 128, 128, 1024, 3, "vae1024");
        bench_group_norm(bf, 1, 128, 1024, "vae1024");
        bench_attention(bf, 1, 16384, 16384, 1, 512, "vae_mid");
    }
    se_cuda_info after;
    if (se_cuda_backend_info(g_be, &after) == SE_OK)
        printf("bench_pool_peak_gb=%.2f\n", after.pool_reserved_peak / 1e9);
    se_backend_destroy(&g_be);

    /* The fused attention kernel (fp32 FMA; a reference for the tensor-core version). */
    setenv("STRIKE_CUDA_ATTENTION", "flash", 1);
    g_be = make_backend(bf);
    bench_attention(bf, 8, 1024, 1024, 20, 64, "unet32_self");
    if (!quick) bench_attention(bf, 1, 4096, 4096, 1, 512, "vae_mid_quarter");
    se_backend_destroy(&g_be);
    unsetenv("STRIKE_CUDA_ATTENTION");

    /* The checking path: fp32 GEMM with TF32 off. */
    g_be = make_backend(SE_F32);
    bench_linear(SE_F32, 4096, 4096, 4096, "fp32_no_tf32");
    se_backend_destroy(&g_be);

    /* The full SDXL pipeline (UNet steps, VAE decode) is not on the CUDA backend yet. */
    printf("gpu=%s ms_per_image_b1=na images_per_s_b8=na unet_step_ms=na vae_decode_ms=na "
           "tflops_b8=na peak_mem_gb=na\n", gpu);
    return 0;
}
