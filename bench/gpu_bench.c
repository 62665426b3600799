/*
 * gpu_bench.c - the CUDA backend's benchmark (run by bench/gpu.sh): times the ops that make up
 * an SDXL UNet step and VAE decode at their real 1024x1024 shapes (bf16 GEMMs, 3x3 convs,
 * attention on both paths, group norm + SiLU) and one fp32 GEMM (TF32 off), through the backend
 * interface exactly as model code calls it. Inputs are a fixed pseudo-random pattern uploaded
 * once per buffer (values do not change the work done).
 *
 * Then the full SDXL configuration at 1024x1024 in bf16 with random weights (se_unet_new_random,
 * se_vae_new_random): one UNet step and one VAE decode at batch 1, and the 4-step image (4 x
 * UNet + Euler update, then the VAE decode; text encoders excluded) at batch 1 and batch 8,
 * each image timed eagerly and with the UNet step replayed as a CUDA graph (image_eager_ms=,
 * image_graph_ms=; the summary uses the graph time, as the engine's pipeline uses graphs by
 * default, and says so with summary_uses_graph=1). On
 * the GPU the random weights are generated on the device (se_cuda_fill_uniform installed as
 * io/weights.h's generator: a Philox kernel writing bf16 in place, same uniform ranges as the
 * host path), so no full-size weights are ever built on the host; --smoke-cpu keeps the host
 * path. startup_s= is the pipeline's start-up: backend creation + UNet and VAE weights, synced.
 *
 * Output: one key=value line per case, then the summary line of issue 6 as the last line:
 *   gpu= ms_per_image_b1= images_per_s_b8= unet_step_ms= vae_decode_ms= tflops_b8= peak_mem_gb=
 * with `na` for anything that failed (the reason goes to stderr). peak_mem_gb is the high-water
 * mark of device memory in use from the CUDA pool over the pipeline runs (weights included, and
 * the conv weight cache's packed copies, printed as conv_wcache_mb=). The op timings of conv
 * run on cached weights after the first call, as the models do.
 *
 *   strike_gpu_bench [--quick]     --quick: fewer op cases and no batch 8
 *   strike_gpu_bench --smoke-cpu   the pipeline harness on the CPU backend with the tiny fixture
 *                                  configs (checks the harness on machines without a GPU)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backend_cpu.h"
#include "core/backend_cuda.h"
#include "core/error.h"
#include "core/ops.h"
#include "cuda/cuda_info.h"
#include "io/weights.h"
#include "model/unet.h"
#include "model/vae.h"

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


/* ---- the SDXL pipeline: 4 UNet steps + Euler updates + VAE decode, random weights ---- */

/* A backend tensor of dtype dt with uniform values in [lo, hi) (host generated, uploaded). */
static se_status rand_tensor(se_backend *be, se_dtype dt, int nd, const int64_t *ne, float lo,
                             float hi, uint32_t *seed, const char *name, se_tensor *t) {
    *t = se_tensor_make(dt, nd, ne, NULL, name);
    size_t n = (size_t)se_tensor_numel(t);
    float *h = malloc(n * sizeof *h);
    void *c = malloc(n * 4);
    if (!h || !c) {
        free(h), free(c);
        return se_fail(SE_ERR_NOMEM, "gpu_bench: no host memory for %s", name);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        h[i] = lo + (hi - lo) * (float)(*seed >> 8) / 16777216.0f;
    }
    se_convert_host(dt, c, SE_F32, h, n);
    se_status st = se_backend_alloc(be, se_tensor_nbytes(t), &t->data);
    if (st == SE_OK) st = se_tensor_set_data(be, t, c, se_tensor_nbytes(t));
    free(h), free(c);
    return st;
}

/* The number of NaN/inf values in t (read back as F32), -1 when it cannot be read. */
static long long nonfinite(se_backend *be, const se_tensor *t) {
    size_t n = (size_t)se_tensor_numel(t);
    void *raw = malloc(se_tensor_nbytes(t));
    float *f = malloc(n * sizeof *f);
    long long bad = -1;
    if (raw && f && se_tensor_get_data(be, t, raw, se_tensor_nbytes(t)) == SE_OK) {
        se_convert_host(SE_F32, f, t->dtype, raw, n);
        bad = 0;
        for (size_t i = 0; i < n; i++) bad += !isfinite(f[i]);
    }
    free(raw);
    free(f);
    return bad;
}

typedef struct pipe_io {
    int64_t B, h;
    se_tensor x, ts, ctx, te, ti, eps, z, img;
    se_cuda_graph *graph;   /* the UNet step captured on these tensors (unet_graph), or NULL */
    int use_graph;          /* unet_step replays graph instead of running the UNet eagerly */
} pipe_io;

static void pipe_free(se_backend *be, pipe_io *p) {
    (void)se_backend_sync(be);   /* no replay may still read what is freed below */
    se_cuda_graph_destroy(&p->graph);
    se_tensor *ts[] = {&p->x, &p->ts, &p->ctx, &p->te, &p->ti, &p->eps, &p->z, &p->img};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        se_backend_free(be, ts[i]->data);
        ts[i]->data = NULL;
    }
}

/* Inputs for batch B at latent size h x h, in the backend's activation dtype. */
static se_status pipe_alloc(se_backend *be, const se_unet_config *uc, const se_vae_config *vc,
                            int up, int64_t B, int64_t h, pipe_io *p) {
    memset(p, 0, sizeof *p);
    p->B = B, p->h = h;
    se_dtype dt = be->act_dtype;
    uint32_t seed = 11;
    int64_t lat[4] = {B, uc->in_channels, h, h}, out[4] = {B, uc->out_channels, h, h};
    int64_t z[4] = {B, vc->latent_channels, h, h}, img[4] = {B, vc->out_channels, h * up, h * up};
    int64_t ctx[3] = {B, 77, uc->cross_attention_dim}, tsn[1] = {B};
    int64_t te[2] = {B, uc->add_text_time ? uc->projection_dim - 6 * uc->addition_time_embed_dim : 1};
    int64_t ti[2] = {B, 6};
    SE_TRY(rand_tensor(be, dt, 4, lat, -1, 1, &seed, "latents", &p->x));
    SE_TRY(rand_tensor(be, SE_F32, 1, tsn, 999, 999, &seed, "timestep", &p->ts));
    SE_TRY(rand_tensor(be, dt, 3, ctx, -1, 1, &seed, "ctx", &p->ctx));
    SE_TRY(rand_tensor(be, dt, 2, te, -1, 1, &seed, "text_embeds", &p->te));
    SE_TRY(rand_tensor(be, dt, 2, ti, (float)(h * up), (float)(h * up), &seed, "time_ids", &p->ti));
    SE_TRY(rand_tensor(be, dt, 4, out, 0, 0, &seed, "eps", &p->eps));
    SE_TRY(rand_tensor(be, dt, 4, z, 0, 0, &seed, "z", &p->z));
    SE_TRY(rand_tensor(be, dt, 4, img, 0, 0, &seed, "image", &p->img));
    return SE_OK;
}

/* One UNet step: a replay of the captured graph when p->use_graph (as the engine's pipeline
 * does by default, docs/pipeline.md), else the eager forward. */
static se_status unet_step(se_backend *be, se_unet *u, pipe_io *p) {
    if (p->use_graph && p->graph) return se_cuda_graph_launch(be, p->graph);
    return se_unet_forward(u, &p->x, &p->ts, &p->ctx, &p->te, &p->ti, &p->eps);
}

static se_status vae_step(se_backend *be, se_vae *v, pipe_io *p) {
    const se_vae_config *vc = se_vae_get_config(v);
    SE_TRY(se_scale_add(be, &p->x, (float)(1.0 / vc->scaling_factor), NULL, 0.0f, &p->z));
    return se_vae_decode(v, &p->z, &p->img);
}

/* The whole image: steps x (timestep upload, UNet, Euler update) then the VAE decode. */
static se_status full_pipeline(se_backend *be, se_unet *u, se_vae *v, pipe_io *p, int steps) {
    static const float t4[4] = {999, 749, 499, 249};
    float *ts = malloc((size_t)p->B * sizeof *ts);
    if (!ts) return se_fail(SE_ERR_NOMEM, "gpu_bench: no host memory");
    se_status st = SE_OK;
    for (int s = 0; s < steps && st == SE_OK; s++) {
        for (int64_t b = 0; b < p->B; b++) ts[b] = t4[s % 4];
        st = se_tensor_set_data(be, &p->ts, ts, (size_t)p->B * sizeof *ts);
        if (st == SE_OK) st = unet_step(be, u, p);
        if (st == SE_OK) st = se_scale_add(be, &p->x, 1.0f, &p->eps, -0.25f, &p->x);
    }
    free(ts);
    if (st == SE_OK) st = vae_step(be, v, p);
    return st;
}

typedef enum { RUN_UNET, RUN_VAE, RUN_FULL } run_kind;

/* Best of `runs` timed runs after `warmup` untimed ones, in ms (negative on failure). */
static double time_run(se_backend *be, se_unet *u, se_vae *v, pipe_io *p, run_kind k, int warmup,
                       int runs) {
    double best = 1e30;
    for (int r = 0; r < warmup + runs; r++) {
        double t0 = now_s();
        se_status st = k == RUN_UNET ? unet_step(be, u, p)
                       : k == RUN_VAE ? vae_step(be, v, p)
                                      : full_pipeline(be, u, v, p, 4);
        if (st == SE_OK) st = se_backend_sync(be);
        if (st != SE_OK) {
            fprintf(stderr, "gpu_bench: pipeline (B=%lld, %s): %s (%s)\n", (long long)p->B,
                    k == RUN_UNET ? "unet" : k == RUN_VAE ? "vae" : "full", se_strerror(st),
                    se_last_error());
            return -1;
        }
        double ms = (now_s() - t0) * 1e3;
        if (r >= warmup && ms < best) best = ms;
    }
    return best;
}

/* One UNet step captured as a CUDA graph on p's tensors and replayed (the model code ran
 * uncaptured before at this batch size, so its arenas exist and will not move). Prints
 * unet_step_graph_ms, or why the capture failed; on success the graph stays in p->graph for the
 * image runs. */
static void unet_graph(se_backend *be, se_unet *u, pipe_io *p) {
    se_cuda_graph *g = NULL;
    p->use_graph = 0;
    se_status st = se_cuda_capture_begin(be);
    if (st == SE_OK) {
        se_status fst = unet_step(be, u, p);
        st = se_cuda_capture_end(be, &g);
        if (fst != SE_OK) {
            se_cuda_graph_destroy(&g);
            st = fst;
        }
    }
    double best = -1;
    for (int r = 0; st == SE_OK && r < 4; r++) {
        double t0 = now_s();
        st = se_cuda_graph_launch(be, g);
        if (st == SE_OK) st = se_backend_sync(be);
        double ms = (now_s() - t0) * 1e3;
        if (r > 0 && (best < 0 || ms < best)) best = ms;
    }
    if (st == SE_OK) p->graph = g;
    else se_cuda_graph_destroy(&g);
    if (st != SE_OK) {
        fprintf(stderr, "gpu_bench: UNet step as a CUDA graph: %s (%s)\n", se_strerror(st),
                se_last_error());
        printf("pipeline_b%lld unet_step_graph_ms=na\n", (long long)p->B);
    } else {
        printf("pipeline_b%lld unet_step_graph_ms=%.1f\n", (long long)p->B, best);
    }
    fflush(stdout);
}

static void fmt(char *buf, size_t cap, double v, const char *f) {
    if (v < 0) snprintf(buf, cap, "na");
    else snprintf(buf, cap, f, v);
}

/* Runs the SDXL measurements on be; fills the summary values (negative = not measured). */
typedef struct summary {
    double ms_b1, ips_b8, unet_ms, vae_ms, tflops_b8, peak_gb;
} summary;

/* t_backend: seconds the backend's creation took (part of the start-up). */
static void bench_pipeline(se_backend *be, const se_unet_config *uc, const se_vae_config *vc,
                           int64_t h, int with_b8, double t_backend, summary *sm) {
    sm->ms_b1 = sm->ips_b8 = sm->unet_ms = sm->vae_ms = sm->tflops_b8 = sm->peak_gb = -1;
    se_unet *u = NULL;
    se_vae *v = NULL;
    /* On the GPU: weights generated in place by a kernel; on the CPU: the host path. */
    const int on_device = strcmp(se_backend_name(be), "cuda") == 0;
    se_weights_random_fn prev = se_weights_set_random_fill(on_device ? se_cuda_fill_uniform : NULL);
    double t0 = now_s();
    se_status st = se_unet_new_random(uc, be, 1, &u);
    if (st == SE_OK) st = se_vae_new_random(vc, be, 2, &v);
    if (st == SE_OK) st = se_backend_sync(be);
    se_weights_set_random_fill(prev);
    if (st != SE_OK) {
        fprintf(stderr, "gpu_bench: random UNet/VAE: %s (%s)\n", se_strerror(st), se_last_error());
        se_unet_destroy(&u);
        return;
    }
    const double tw = now_s() - t0;
    printf("pipeline_weights_s=%.2f weights_made_on=%s unet_params=%lld unet_weights_gb=%.2f "
           "weight_dtype=%s\n", tw, on_device ? "device" : "host",
           (long long)se_weights_numel(se_unet_weights(u)), se_weights_bytes(se_unet_weights(u)) / 1e9,
           se_dtype_name(be->weight_dtype));
    printf("startup_s=%.2f\n", t_backend + tw);
    fflush(stdout);
    int up = se_vae_upscale(v);
    pipe_io p;
    if (pipe_alloc(be, uc, vc, up, 1, h, &p) == SE_OK) {
        sm->unet_ms = time_run(be, u, v, &p, RUN_UNET, 1, 3);
        if (sm->unet_ms >= 0 && on_device) unet_graph(be, u, &p);
        if (sm->unet_ms >= 0) sm->vae_ms = time_run(be, u, v, &p, RUN_VAE, 1, 2);
        /* The image: eagerly, then with the UNet steps replayed as a graph (what the engine
         * does by default); the summary takes the graph time when there is one. */
        double eager_ms = sm->vae_ms >= 0 ? time_run(be, u, v, &p, RUN_FULL, 0, 2) : -1, graph_ms = -1;
        if (eager_ms >= 0 && p.graph) {
            p.use_graph = 1;
            graph_ms = time_run(be, u, v, &p, RUN_FULL, 0, 2);
            p.use_graph = 0;
        }
        sm->ms_b1 = graph_ms >= 0 ? graph_ms : eager_ms;
        printf("pipeline_b1 image_eager_ms=%.1f image_graph_ms=%.1f summary_uses_graph=%d\n",
               eager_ms, graph_ms, graph_ms >= 0);
        if (sm->ms_b1 >= 0) {
            /* The random weights must keep activations finite (bf16 VAE: no NaN/inf). */
            long long nu = nonfinite(be, &p.eps), nv = nonfinite(be, &p.img);
            printf("pipeline_b1 nonfinite_unet_out=%lld nonfinite_vae_out=%lld\n", nu, nv);
            if (nu || nv)
                fprintf(stderr, "gpu_bench: non-finite outputs with random weights (unet %lld, "
                        "vae %lld values; -1: could not read)\n", nu, nv);
        }
        printf("pipeline_b1 unet_step_ms=%.1f vae_decode_ms=%.1f image_ms=%.1f\n", sm->unet_ms,
               sm->vae_ms, sm->ms_b1);
        fflush(stdout);
    } else {
        fprintf(stderr, "gpu_bench: inputs B=1: %s\n", se_last_error());
    }
    pipe_free(be, &p);
    if (with_b8 && sm->ms_b1 >= 0 && pipe_alloc(be, uc, vc, up, 8, h, &p) == SE_OK) {
        double u8 = time_run(be, u, v, &p, RUN_UNET, 1, 1);
        if (u8 >= 0 && on_device) unet_graph(be, u, &p);
        double ms8 = u8 >= 0 ? time_run(be, u, v, &p, RUN_FULL, 1, 1) : -1, ms8g = -1;
        if (ms8 >= 0 && p.graph) {
            p.use_graph = 1;
            ms8g = time_run(be, u, v, &p, RUN_FULL, 0, 1);
            p.use_graph = 0;
        }
        printf("pipeline_b8 image8_eager_ms=%.1f image8_graph_ms=%.1f summary_uses_graph=%d\n",
               ms8, ms8g, ms8g >= 0);
        if (ms8g >= 0) ms8 = ms8g;
        if (ms8 > 0) {
            sm->ips_b8 = 8.0 / (ms8 * 1e-3);
            /* sdxl-lightning.md section 6: 6.761 TFLOP per UNet step, 10.470 per VAE decode
             * at 1024 px (only meaningful for the full SDXL configuration). */
            sm->tflops_b8 = 8.0 * (4 * 6.761 + 10.470) / (ms8 * 1e-3);
        }
        printf("pipeline_b8 unet_step_ms=%.1f image8_ms=%.1f\n", u8, ms8);
        fflush(stdout);
    }
    pipe_free(be, &p);
    se_vae_destroy(&v);
    se_unet_destroy(&u);
}

/* --smoke-cpu: the pipeline harness on the CPU backend with the tiny fixture configs, so the
 * code path is exercised on machines without a GPU. */
static int smoke_cpu(void) {
    se_cpu_params cp;
    se_cpu_params_init(&cp);
    se_backend *be = NULL;
    const double tb0 = now_s();
    if (se_backend_cpu_new(&cp, &be) != SE_OK) die("cpu backend", SE_ERR_INTERNAL);
    const double t_backend = now_s() - tb0;
    se_unet_config uc;
    se_vae_config vc;
    se_status st = se_unet_config_load(STRIKE_FIXTURES_DIR "/unet/tiny/unet/config.json", &uc);
    if (st == SE_OK) st = se_vae_config_load(STRIKE_FIXTURES_DIR "/vae/tiny/config.json", &vc);
    if (st != SE_OK) die("tiny configs", st);
    summary sm;
    bench_pipeline(be, &uc, &vc, 16, 1, t_backend, &sm);
    se_backend_destroy(&be);
    printf("smoke_cpu unet_step_ms=%.2f vae_decode_ms=%.2f ms_per_image_b1=%.2f images_per_s_b8=%.2f\n",
           sm.unet_ms, sm.vae_ms, sm.ms_b1, sm.ips_b8);
    return sm.ms_b1 > 0 && sm.ips_b8 > 0 ? 0 : 1;
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
    if (argc > 1 && strcmp(argv[1], "--smoke-cpu") == 0) return smoke_cpu();
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
        printf("bench_pool_used_peak_gb=%.2f bench_pool_reserved_peak_gb=%.2f\n",
               after.pool_used_peak / 1e9, after.pool_reserved_peak / 1e9);
    se_backend_destroy(&g_be);

    /* The fused attention kernels: WMMA for head dim 64, mma.sync (attention_flash512.cu) for the
     * VAE's head of 512 where the GPU has the shared memory for it, else fp32 FMA. */
    setenv("STRIKE_CUDA_ATTENTION", "flash", 1);
    g_be = make_backend(bf);
    bench_attention(bf, 8, 1024, 1024, 20, 64, "unet32_self");
    bench_attention(bf, 8, 4096, 4096, 10, 64, "unet64_self");
    if (!quick) bench_attention(bf, 1, 4096, 4096, 1, 512, "vae_mid_quarter");
    se_backend_destroy(&g_be);
    unsetenv("STRIKE_CUDA_ATTENTION");

    /* The checking path: fp32 GEMM with TF32 off. */
    g_be = make_backend(SE_F32);
    bench_linear(SE_F32, 4096, 4096, 4096, "fp32_no_tf32");
    se_backend_destroy(&g_be);

    /* The full SDXL configuration at 1024x1024 in bf16: 4-step images at batch 1 and 8. */
    summary sm;
    const double tb0 = now_s();
    g_be = make_backend(bf);
    const double t_backend = now_s() - tb0;
    st = se_cuda_reset_peak(g_be);
    if (st != SE_OK) die("reset peak", st);
    se_unet_config uc;
    se_vae_config vc;
    se_unet_config_sdxl(&uc);
    se_vae_config_sdxl(&vc);
    bench_pipeline(g_be, &uc, &vc, 128, !quick, t_backend, &sm);
    if (se_cuda_backend_info(g_be, &after) == SE_OK) {
        sm.peak_gb = after.pool_used_peak / 1e9;
        printf("conv_wcache_mb=%.0f conv_wcache_entries=%zu conv_wcache_hits=%llu "
               "conv_wcache_misses=%llu\n", after.conv_wcache_bytes / 1048576.0,
               after.conv_wcache_entries, after.conv_wcache_hits, after.conv_wcache_misses);
    }
    se_backend_destroy(&g_be);
    char a[32], b[32], c[32], d[32], e[32], f[32];
    fmt(a, sizeof a, sm.ms_b1, "%.1f");
    fmt(b, sizeof b, sm.ips_b8, "%.2f");
    fmt(c, sizeof c, sm.unet_ms, "%.1f");
    fmt(d, sizeof d, sm.vae_ms, "%.1f");
    fmt(e, sizeof e, sm.tflops_b8, "%.0f");
    fmt(f, sizeof f, sm.ms_b1 >= 0 ? sm.peak_gb : -1, "%.1f");
    printf("gpu=%s ms_per_image_b1=%s images_per_s_b8=%s unet_step_ms=%s vae_decode_ms=%s "
           "tflops_b8=%s peak_mem_gb=%s\n", gpu, a, b, c, d, e, f);
    return 0;
}
