/*
 * test_unet_graph.c - the pipeline's UNet step graphs (engine/src/pipeline/unet_graph.c):
 *
 *   (no argument)  engine_unet_graph, CPU: the LRU (hits, least-recently-used eviction, drop by
 *                  model, capacity clamp); STRIKE_CUDA_GRAPH parsing and where it applies; then
 *                  the whole state machine inside the real pipeline on the CPU backend with
 *                  stand-in capture calls (a "graph" that replays by running the recorded
 *                  forward): images byte-identical to an engine without graphs, the warm-up
 *                  step, replays, a cache hit across renders, a new capture after another
 *                  batch size grew the UNet's arenas, eviction, model unload, and the eager
 *                  fallback (with its one warning) when begin, end or launch fails: jobs never
 *                  fail, images unchanged, no graph leaked.
 *   --cuda         engine_cuda_graph (label cuda): the tiny pipeline fixture cases on the CUDA
 *                  backend with STRIKE_CUDA_GRAPH=1 and =0, F32 and BF16: identical bytes, both
 *                  against the reference (F32: max diff <= 2 and PSNR >= 50 dB; BF16: PSNR >= 35
 *                  dB), graphs really replayed with no fallback, two batch sizes (recapture after
 *                  the arenas grew, then pure replay) and more shapes than cache slots
 *                  (evictions). "SKIPPED: no CUDA device: ..." without a device.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend_cuda.h"
#include "core/error.h"
#include "pipeline/engine_internal.h"
#include "pipeline/unet_graph.h"
#include "strike/engine.h"
#include "fixture_util.h"
#include "pipeline_cases.h"
#include "test_util.h"

#define FIX STRIKE_FIXTURES_DIR "/pipeline/"

/* ======================== LRU ======================== */

static int g_freed[16], g_nfreed;
static void note_free(void *user, void *val) {
    (void)user;
    if (g_nfreed < 16) g_freed[g_nfreed++] = (int)(intptr_t)val;
}

static void check_lru(void) {
    se_graph_lru l;
    int m1, m2, u;
    se_graph_key a = {&m1, &u, 1, 8, 8}, b = {&m1, &u, 2, 8, 8}, c = {&m1, &u, 1, 8, 12},
                 d = {&m2, &u, 1, 8, 8};
    void *ev = (void *)1;
    se_graph_lru_init(&l, 2);
    CHECK(se_graph_lru_get(&l, &a) == NULL);
    se_graph_lru_put(&l, &a, (void *)10, &ev);
    CHECK(ev == NULL);
    se_graph_lru_put(&l, &b, (void *)20, &ev);
    CHECK(ev == NULL && l.n == 2);
    CHECK(se_graph_lru_get(&l, &a) == (void *)10);   /* a is now the most recent */
    se_graph_lru_put(&l, &c, (void *)30, &ev);
    CHECK(ev == (void *)20);                          /* b was the least recently used */
    CHECK(se_graph_lru_get(&l, &b) == NULL);
    CHECK(se_graph_lru_get(&l, &c) == (void *)30);
    se_graph_lru_put(&l, &d, (void *)40, &ev);
    CHECK(ev == (void *)10);
    /* every key field matters */
    se_graph_key k = d;
    k.unet = &m1;
    CHECK(se_graph_lru_get(&l, &k) == NULL);
    k = d, k.B = 3;
    CHECK(se_graph_lru_get(&l, &k) == NULL);
    k = d, k.h = 16;
    CHECK(se_graph_lru_get(&l, &k) == NULL);
    CHECK(se_graph_lru_get(&l, &d) == (void *)40);
    /* drop by model */
    g_nfreed = 0;
    se_graph_lru_drop(&l, &m1, note_free, NULL);
    CHECK(g_nfreed == 1 && g_freed[0] == 30 && l.n == 1);
    CHECK(se_graph_lru_get(&l, &d) == (void *)40);
    se_graph_lru_drop(&l, NULL, note_free, NULL);
    CHECK(g_nfreed == 2 && g_freed[1] == 40 && l.n == 0);
    /* capacity clamps */
    se_graph_lru_init(&l, 0);
    CHECK(l.cap == 1);
    se_graph_lru_init(&l, 99);
    CHECK(l.cap == SE_UNET_GRAPH_SLOTS);
    for (int i = 0; i < 10; i++) {
        se_graph_key ki = {&m1, &u, i + 1, 8, 8};
        se_graph_lru_put(&l, &ki, (void *)(intptr_t)(100 + i), &ev);
        CHECK(ev == (i < SE_UNET_GRAPH_SLOTS ? NULL : (void *)(intptr_t)(100 + i - SE_UNET_GRAPH_SLOTS)));
    }
}

/* ======================== STRIKE_CUDA_GRAPH ======================== */

static void check_env(void) {
    int on = -1;
    unsetenv("STRIKE_CUDA_GRAPH");
    CHECK(se_unet_graph_env(&on) == SE_OK && on == 1);
    setenv("STRIKE_CUDA_GRAPH", "0", 1);
    CHECK(se_unet_graph_env(&on) == SE_OK && on == 0);
    setenv("STRIKE_CUDA_GRAPH", "1", 1);
    CHECK(se_unet_graph_env(&on) == SE_OK && on == 1);
    setenv("STRIKE_CUDA_GRAPH", "yes", 1);
    CHECK(se_unet_graph_env(&on) == SE_ERR_INVALID_ARG);
    CHECK(strstr(se_last_error(), "STRIKE_CUDA_GRAPH") && strstr(se_last_error(), "yes"));
    /* a bad value is refused for the cuda backend (before any device is looked for), and the
     * CPU backend neither reads it nor gets graphs */
    se_engine_params p;
    se_engine_params_init(&p);
    p.backend = SE_BACKEND_CUDA;
    se_engine *e = NULL;
    CHECK(se_engine_new(&p, &e) == SE_ERR_INVALID_ARG && e == NULL);
    p.backend = SE_BACKEND_CPU;
    p.threads = 1;
    CHECK(se_engine_new(&p, &e) == SE_OK && e && e->graphs == NULL);
    se_engine_destroy(&e);
    setenv("STRIKE_CUDA_GRAPH", "1", 1);
    CHECK(se_engine_new(&p, &e) == SE_OK && e && e->graphs == NULL);
    se_engine_destroy(&e);
    unsetenv("STRIKE_CUDA_GRAPH");
}

/* ======================== rendering helpers ======================== */

static se_model *load(se_engine *e, int sample_pred) {
    se_model_desc d;
    se_model_desc_init(&d);
    d.base_dir = FIX "model";
    d.name = sample_pred ? "tiny-x0" : "tiny-eps";
    d.prediction = sample_pred ? SE_MODEL_PRED_SAMPLE : SE_MODEL_PRED_EPSILON;
    se_model *m = NULL;
    se_status st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_OK, "load: %s", se_last_error());
    return m;
}

/* A render: a fixture case by name, or (H, W) jobs of the given batch with no reference. */
typedef struct render_spec {
    const char *fixture;    /* a cases.txt case, or NULL */
    int B, H, W;            /* when fixture is NULL */
    int sample_pred;        /* the x0 model (case s1) */
} render_spec;

/* Renders spec on e with model m; returns the images (malloc'd, *bytes their size), and the
 * reference images of a fixture case in *ref (NULL otherwise). */
static uint8_t *render(se_engine *e, se_model *m, const render_spec *sp, size_t *bytes,
                       uint8_t **ref) {
    pipeline_job fj[MAXJ];
    int n;
    *ref = NULL;
    *bytes = 0;
    if (sp->fixture) {
        n = pipeline_case_read(FIX "cases.txt", sp->fixture, fj);
        CHECK_MSG(n > 0, "case %s", sp->fixture);
        if (n <= 0) return NULL;
    } else {
        n = sp->B;
        for (int i = 0; i < n; i++) {
            memset(&fj[i], 0, sizeof fj[i]);
            fj[i].steps = 2;
            fj[i].H = sp->H;
            fj[i].W = sp->W;
            fj[i].seed = 100 + (unsigned long long)i;
            snprintf(fj[i].start, sizeof fj[i].start, "-");
            snprintf(fj[i].prompt, sizeof fj[i].prompt, "a red cat number %d", i);
        }
    }
    const size_t img = (size_t)fj[0].H * (size_t)fj[0].W * 3;
    const size_t nlat = (size_t)4 * (size_t)(fj[0].H / 8) * (size_t)(fj[0].W / 8);
    const int philox = strcmp(fj[0].start, "philox") == 0;
    const int given = !philox && strcmp(fj[0].start, "-") != 0;
    float *start = NULL;
    if (given) {
        start = fixture_read_in(FIX, fj[0].start, nlat * 4 * (size_t)n);
        CHECK(start != NULL);
    }
    if (sp->fixture) {
        char fn[128];
        snprintf(fn, sizeof fn, "case_%s.rgb.u8", sp->fixture);
        *ref = fixture_read_in(FIX, fn, img * (size_t)n);
        CHECK(*ref != NULL);
    }
    uint8_t *out = calloc(img * (size_t)n, 1);
    se_job jobs[MAXJ];
    se_job_result res[MAXJ];
    for (int i = 0; i < n; i++)
        pipeline_job_fill(&fj[i], philox, start ? start + (size_t)i * nlat : NULL,
                          out + (size_t)i * img, &jobs[i]);
    se_status st = se_engine_render(e, m, jobs, (size_t)n, res, NULL, NULL);
    CHECK_MSG(st == SE_OK, "render: %s", se_last_error());
    for (int i = 0; i < n; i++) CHECK_MSG(res[i].status == SE_OK, "job %d: %s", i, res[i].error);
    free(start);
    *bytes = img * (size_t)n;
    return out;
}

/* got against the reference: F32 max abs diff <= 2 and PSNR >= 50 dB, else PSNR >= 35 dB. */
static void against_ref(const char *what, const uint8_t *got, const uint8_t *ref, size_t n, int f32) {
    int maxd = 0;
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)got[i] - (int)ref[i]);
        maxd = d > maxd ? d : maxd;
        se += (double)d * d;
    }
    double psnr = se == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / (se / (double)n));
    if (f32)
        CHECK_MSG(maxd <= 2 && psnr >= 50.0, "%s: max diff %d, PSNR %.2f", what, maxd, psnr);
    else
        CHECK_MSG(psnr >= 35.0, "%s: PSNR %.2f < 35 dB", what, psnr);
}

/* Renders the same spec on both engines (graphs and not): identical bytes, and both against
 * the reference for fixture cases. */
static void same_images(se_engine *eg, se_model *mg, se_engine *ee, se_model *me,
                        const render_spec *sp, int f32) {
    size_t n1, n2;
    uint8_t *r1, *r2;
    uint8_t *a = render(eg, mg, sp, &n1, &r1), *b = render(ee, me, sp, &n2, &r2);
    char what[96];
    if (sp->fixture) snprintf(what, sizeof what, "case %s", sp->fixture);
    else snprintf(what, sizeof what, "%d jobs %dx%d", sp->B, sp->H, sp->W);
    CHECK_MSG(a && b && n1 == n2 && n1 > 0 && memcmp(a, b, n1) == 0,
              "%s: images with and without graphs differ", what);
    if (r1 && a) against_ref(what, a, r1, n1, f32);
    if (r2 && b) against_ref(what, b, r2, n2, f32);
    printf("%s: %s\n", what, a && b && n1 == n2 && memcmp(a, b, n1) == 0 ? "identical" : "DIFFERENT");
    free(a), free(b), free(r1), free(r2);
}

static se_unet_graph_stats stats(se_engine *e) {
    se_unet_graph_stats s;
    se_unet_graphs_stats(e->graphs, &s);
    return s;
}

/* ======================== CPU: stand-in capture calls ======================== */

typedef struct fake {
    int fail;               /* 0: none, 1: begin fails, 2: end fails, 3: launch fails */
    int capturing, live;    /* a capture is open; graphs alive */
    int begins, launches;
    se_unet *pu;            /* what begin was told */
    se_unet_graph_io pio;
} fake;
typedef struct fake_graph {
    se_unet *u;
    se_unet_graph_io io;
} fake_graph;

static se_status fake_begin(void *user, se_backend *be, se_unet *u, const se_unet_graph_io *io) {
    (void)be;
    fake *f = user;
    f->begins++;
    CHECK(!f->capturing);
    if (f->fail == 1) return se_fail(SE_ERR_CUDA, "fake capture begin failed");
    f->capturing = 1;
    f->pu = u;
    f->pio = *io;
    return SE_OK;
}

static se_status fake_end(void *user, se_backend *be, void **graph) {
    (void)be;
    fake *f = user;
    *graph = NULL;
    CHECK(f->capturing);
    f->capturing = 0;
    if (f->fail == 2) return se_fail(SE_ERR_CUDA, "fake instantiate failed");
    fake_graph *g = malloc(sizeof *g);
    if (!g) return se_fail(SE_ERR_NOMEM, "fake");
    g->u = f->pu;
    g->io = f->pio;
    f->live++;
    *graph = g;
    return SE_OK;
}

/* The replay: the recorded forward run again on the recorded tensors. */
static se_status fake_launch(void *user, se_backend *be, void *graph) {
    (void)be;
    fake *f = user;
    fake_graph *g = graph;
    CHECK(!f->capturing);
    f->launches++;
    if (f->fail == 3) return se_fail(SE_ERR_CUDA, "fake launch failed");
    return se_unet_forward(g->u, &g->io.sample, &g->io.timestep, &g->io.ctx, &g->io.pooled,
                           &g->io.time_ids, &g->io.out);
}

static void fake_destroy(void *user, void *graph) {
    fake *f = user;
    if (graph) f->live--;
    free(graph);
}

static se_engine *cpu_engine(void) {
    se_engine_params p;
    se_engine_params_init(&p);
    p.threads = 2;
    se_engine *e = NULL;
    CHECK(se_engine_new(&p, &e) == SE_OK);
    return e;
}

/* A CPU engine whose pipeline uses the graph cache with the stand-in calls. */
static se_engine *fake_engine(fake *f, int cap) {
    se_engine *e = cpu_engine();
    se_unet_graph_ops ops = {fake_begin, fake_end, fake_launch, fake_destroy, f};
    if (e) CHECK(se_unet_graphs_new(e->be, &ops, cap, &e->graphs) == SE_OK);
    return e;
}

static void check_cpu_state_machine(void) {
    fake f = {0};
    se_engine *eg = fake_engine(&f, 2), *ee = cpu_engine();
    if (!eg || !ee) return;
    se_model *mg = load(eg, 0), *me = load(ee, 0);
    if (!mg || !me) return;

    /* e4: 1 job, 4 steps: warm-up step eager + capture, then 3 replays */
    render_spec e4 = {.fixture = "e4"}, b2 = {.fixture = "batch2"};
    same_images(eg, mg, ee, me, &e4, 1);
    se_unet_graph_stats s = stats(eg);
    CHECK_MSG(s.captures == 1 && s.eager == 1 && s.replays == 3 && s.entries == 1,
              "captures %llu eager %llu replays %llu entries %d", s.captures, s.eager, s.replays, s.entries);
    CHECK(f.begins == 1 && f.launches == 3 && f.live == 1);
    /* the same shape again: pure replay from the cache */
    same_images(eg, mg, ee, me, &e4, 1);
    s = stats(eg);
    CHECK(s.captures == 1 && s.replays == 7 && s.eager == 1);
    /* batch 2 grows the UNet's arenas: its own entry and capture */
    same_images(eg, mg, ee, me, &b2, 1);
    s = stats(eg);
    CHECK(s.captures == 2 && s.entries == 2 && s.recaptures == 0);
    /* batch 1 again: its graph recorded the old arenas -> captured again */
    same_images(eg, mg, ee, me, &e4, 1);
    s = stats(eg);
    CHECK_MSG(s.recaptures == 1 && s.captures == 3, "recaptures %llu captures %llu", s.recaptures, s.captures);
    /* batch 2 again: nothing moved since its capture -> replays only */
    unsigned long long caps = s.captures;
    same_images(eg, mg, ee, me, &b2, 1);
    s = stats(eg);
    CHECK(s.captures == caps && s.recaptures == 1);
    /* a third shape in a cache of 2: eviction (and the evicted graph is freed) */
    render_spec ns = {.fixture = "nonsquare"};
    same_images(eg, mg, ee, me, &ns, 1);
    s = stats(eg);
    CHECK(s.evictions == 1 && s.entries == 2 && f.live == 2);
    /* several batches of different sizes in one render call (max_batch 4: a batch of 4, then 1) */
    render_spec five = {.fixture = NULL, .B = 5, .H = 64, .W = 64};
    same_images(eg, mg, ee, me, &five, 1);
    /* a second model in the same engine: its own entries; unloading it drops them */
    se_model *xg = load(eg, 1), *xe = load(ee, 1);
    render_spec s1 = {.fixture = "s1", .sample_pred = 1};
    if (xg && xe) same_images(eg, xg, ee, xe, &s1, 1);
    int before = stats(eg).entries;
    se_engine_unload_model(eg, &xg);
    se_engine_unload_model(ee, &xe);
    CHECK(stats(eg).entries == before - 1);
    CHECK(stats(eg).fallbacks == 0 && stats(eg).last_error[0] == '\0');
    se_engine_destroy(&eg);
    CHECK_MSG(f.live == 0, "%d graphs left after the engine", f.live);

    /* failures at each point: the jobs still succeed with the same images, eagerly */
    for (int mode = 1; mode <= 3; mode++) {
        fake ff = {0};
        ff.fail = mode;
        se_engine *ef = fake_engine(&ff, 4);
        se_model *mf = ef ? load(ef, 0) : NULL;
        if (!mf) break;
        same_images(ef, mf, ee, me, &e4, 1);
        same_images(ef, mf, ee, me, &e4, 1);
        s = stats(ef);
        printf("failure mode %d: %s\n", mode, s.last_error);
        CHECK_MSG(s.fallbacks == 1 && s.last_error[0] != '\0', "mode %d: fallbacks %llu", mode, s.fallbacks);
        CHECK(strstr(s.last_error, "fake") != NULL);
        CHECK(s.captures == (mode == 3 ? 1u : 0u));
        /* after the fallback the entry runs eagerly: no more capture attempts or launches */
        CHECK_MSG(ff.begins == 1 && ff.launches == (mode == 3 ? 1 : 0), "mode %d: begins %d launches %d",
                  mode, ff.begins, ff.launches);
        CHECK(s.eager == 8 && s.replays == 0);
        se_engine_destroy(&ef);
        CHECK(ff.live == 0 && !ff.capturing);
    }
    se_engine_destroy(&ee);
}

/* ======================== --cuda ======================== */

static se_engine *cuda_engine(int graphs, se_compute_dtype dt) {
    setenv("STRIKE_CUDA_GRAPH", graphs ? "1" : "0", 1);
    se_engine_params p;
    se_engine_params_init(&p);
    p.backend = SE_BACKEND_CUDA;
    p.dtype = dt;
    se_engine *e = NULL;
    se_status st = se_engine_new(&p, &e);
    unsetenv("STRIKE_CUDA_GRAPH");
    if (st == SE_ERR_NO_DEVICE || (st == SE_ERR_UNSUPPORTED && se_cuda_device_count() == 0)) {
        const char *m = se_last_error(), *pre = "no CUDA device (";
        char why[512];
        const int wrapped = strncmp(m, pre, strlen(pre)) == 0;
        snprintf(why, sizeof why, "%s", wrapped ? m + strlen(pre) : m);
        size_t len = strlen(why);
        if (wrapped && len && why[len - 1] == ')') why[len - 1] = '\0';
        printf("SKIPPED: no CUDA device: %s\n", why);
        exit(77);
    }
    CHECK_MSG(st == SE_OK, "cuda engine: %s", se_last_error());
    if (e) CHECK(graphs ? e->graphs != NULL : e->graphs == NULL);
    return e;
}

static void check_cuda(se_compute_dtype dt) {
    const int f32 = dt == SE_COMPUTE_F32;
    se_engine *eg = cuda_engine(1, dt), *ee = cuda_engine(0, dt);
    if (!eg || !ee) return;
    se_model *mg = load(eg, 0), *me = load(ee, 0);
    if (!mg || !me) return;
    static const char *cases[] = {"e4", "e2", "nonsquare", "latents", "philox", "long"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        render_spec sp = {.fixture = cases[i]};
        same_images(eg, mg, ee, me, &sp, f32);
    }
    se_unet_graph_stats s = stats(eg);
    CHECK_MSG(s.fallbacks == 0, "graph failure: %s", s.last_error);
    CHECK(s.captures >= 2 && s.replays > 0);
    /* two batch sizes: batch 2 grows the arenas, batch 1 is captured again, batch 2 replays */
    render_spec e4 = {.fixture = "e4"}, b2 = {.fixture = "batch2"};
    same_images(eg, mg, ee, me, &b2, f32);
    same_images(eg, mg, ee, me, &e4, f32);
    s = stats(eg);
    CHECK_MSG(s.recaptures >= 1, "recaptures %llu", s.recaptures);
    unsigned long long caps = s.captures, reps = s.replays;
    same_images(eg, mg, ee, me, &b2, f32);
    s = stats(eg);
    CHECK_MSG(s.captures == caps && s.replays == reps + 4, "captures %llu->%llu replays %llu->%llu",
              caps, s.captures, reps, s.replays);
    /* more shapes than slots: evictions, images still identical */
    static const int shapes[][3] = {{1, 96, 64}, {1, 96, 96}, {1, 128, 64}, {3, 64, 64}, {1, 64, 128}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        render_spec sp = {.B = shapes[i][0], .H = shapes[i][1], .W = shapes[i][2]};
        same_images(eg, mg, ee, me, &sp, f32);
    }
    s = stats(eg);
    CHECK(s.evictions >= 1 && s.entries == SE_UNET_GRAPH_SLOTS);
    /* the x0 model: its own entries, dropped at unload */
    se_model *xg = load(eg, 1), *xe = load(ee, 1);
    render_spec s1 = {.fixture = "s1", .sample_pred = 1};
    if (xg && xe) same_images(eg, xg, ee, xe, &s1, f32);
    se_engine_unload_model(eg, &xg);
    se_engine_unload_model(ee, &xe);
    s = stats(eg);
    CHECK_MSG(s.fallbacks == 0, "graph failure: %s", s.last_error);
    printf("%s: captures %llu replays %llu eager %llu recaptures %llu evictions %llu\n",
           f32 ? "f32" : "bf16", s.captures, s.replays, s.eager, s.recaptures, s.evictions);
    se_engine_destroy(&eg);
    se_engine_destroy(&ee);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--cuda") == 0) {
        check_cuda(SE_COMPUTE_F32);
        check_cuda(SE_COMPUTE_BF16);
        return test_report("engine_cuda_graph");
    }
    check_lru();
    check_env();
    check_cpu_state_machine();
    return test_report("engine_unet_graph");
}
