/*
 * cpu_gemm.c - single-precision GEMM for the CPU backend: OpenBLAS's cblas_sgemm when the build
 * found it (STRIKE_HAVE_OPENBLAS), else a cache-blocked C GEMM; plus a tiled parallel driver.
 *
 * Threading: OpenBLAS is told to run single-threaded (openblas_set_num_threads(1)) and our own
 * pool splits each GEMM into tiles, one cblas_sgemm per tile. One thread model for the whole
 * backend means BLAS threads never compete with ours for cores. The alternative
 * (SE_CPU_GEMM_BLAS, for measuring on a given machine): the big linear/conv GEMMs raise
 * OpenBLAS to the backend's thread count for one call and drop it back to 1 afterwards, so the
 * small per-thread GEMMs inside attention still run single-threaded.
 */
#include <string.h>

#include "cpu/cpu_internal.h"

#ifdef STRIKE_HAVE_OPENBLAS
#include <cblas.h>
#endif

const char *cpu_gemm_impl(void) {
#ifdef STRIKE_HAVE_OPENBLAS
    return "openblas";
#else
    return "builtin";
#endif
}

void cpu_gemm_init(void) {
#ifdef STRIKE_HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
}

/* Element (i, j) of op(X) for a row-major X with leading dimension ld. */
#define AT(X, trans, i, j, ld) ((trans) ? (X)[(int64_t)(j) * (ld) + (i)] : (X)[(int64_t)(i) * (ld) + (j)])

enum { BM = 64, BN = 128, BK = 128 };  /* panels: 32 KB + 64 KB on the stack */

/* The fallback: blocks of op(A) and op(B) are packed into contiguous panels, then an i-k-j loop
 * whose inner loop runs over contiguous memory and vectorises. */
void cpu_sgemm_builtin(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc) {
    float pa[BM * BK], pb[BK * BN];
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            memset(c, 0, (size_t)N * sizeof *c);
        else if (beta != 1.0f)
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
    }
    for (int64_t k0 = 0; k0 < K; k0 += BK) {
        int64_t kb = K - k0 < BK ? K - k0 : BK;
        for (int64_t j0 = 0; j0 < N; j0 += BN) {
            int64_t nb = N - j0 < BN ? N - j0 : BN;
            for (int64_t k = 0; k < kb; k++)
                for (int64_t j = 0; j < nb; j++) pb[k * nb + j] = AT(B, tb, k0 + k, j0 + j, ldb);
            for (int64_t i0 = 0; i0 < M; i0 += BM) {
                int64_t mb = M - i0 < BM ? M - i0 : BM;
                for (int64_t i = 0; i < mb; i++)
                    for (int64_t k = 0; k < kb; k++) pa[i * kb + k] = alpha * AT(A, ta, i0 + i, k0 + k, lda);
                for (int64_t i = 0; i < mb; i++) {
                    float *c = C + (i0 + i) * ldc + j0;
                    for (int64_t k = 0; k < kb; k++) {
                        float a = pa[i * kb + k];
                        const float *b = pb + k * nb;
                        for (int64_t j = 0; j < nb; j++) c[j] += a * b[j];
                    }
                }
            }
        }
    }
}

void cpu_sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
               const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
               int64_t ldc) {
    if (M <= 0 || N <= 0) return;
#ifdef STRIKE_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C,
                (blasint)ldc);
#else
    cpu_sgemm_builtin(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

typedef struct gemm_job {
    bool ta, tb;
    int64_t M, N, K, tm, tn, ntn; /* tile sizes and tiles per row of tiles */
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb, ldc;
    float *C;
    const float *bias_m, *bias_n; /* optional bias per row of C / per column of C */
} gemm_job;

static void gemm_tile(void *arg, int64_t begin, int64_t end, int tid) {
    const gemm_job *g = arg;
    for (int64_t t = begin; t < end; t++) {
        int64_t i0 = (t / g->ntn) * g->tm, j0 = (t % g->ntn) * g->tn;
        int64_t mb = g->M - i0 < g->tm ? g->M - i0 : g->tm;
        int64_t nb = g->N - j0 < g->tn ? g->N - j0 : g->tn;
        const float *a = g->ta ? g->A + i0 : g->A + i0 * g->lda;
        const float *b = g->tb ? g->B + j0 * g->ldb : g->B + j0;
        float *cb = g->C + i0 * g->ldc + j0, beta = g->beta;
        if (g->bias_m || g->bias_n) {
            for (int64_t i = 0; i < mb; i++) {
                float *row = cb + i * g->ldc;
                if (g->bias_n)
                    memcpy(row, g->bias_n + j0, (size_t)nb * sizeof *row);
                else
                    for (int64_t j = 0; j < nb; j++) row[j] = g->bias_m[i0 + i];
            }
            beta = 1.0f;
        }
        cpu_sgemm(g->ta, g->tb, mb, nb, g->K, g->alpha, a, g->lda, b, g->ldb, beta, cb, g->ldc);
    }
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Rounds a tile extent up to a multiple of 16 (the BLAS micro-kernels work in such blocks). */
static int64_t round16(int64_t x) { return (x + 15) / 16 * 16; }

/* Splits C into at most `threads` tiles (one per thread, so the op takes one tile's time) and
 * picks the grid that minimises that time under a simple model: a tile of tm x tn costs
 * K * (tm*tn + 16*tm + 16*tn), the extra terms standing for packing and edge overhead that make
 * thin tiles inefficient. Tile extents are multiples of 16. */
static void par_gemm(se_cpu *c, gemm_job *g) {
    int T = c->threads;
    int64_t M = g->M, N = g->N;
    g->tm = M, g->tn = N;
    if (T > 1 && M * N * g->K >= (int64_t)64 * 64 * 64) {
        double best = -1.0;
        for (int64_t mt = 1; mt <= T; mt++)
            for (int64_t nt = 1; mt * nt <= T; nt++) {
                int64_t tm = mt > 1 ? round16(ceil_div(M, mt)) : M;
                int64_t tn = nt > 1 ? round16(ceil_div(N, nt)) : N;
                if (tm > M) tm = M;
                if (tn > N) tn = N;
                double cost = (double)tm * (double)tn + 16.0 * (double)tm + 16.0 * (double)tn;
                if (best < 0 || cost < best) best = cost, g->tm = tm, g->tn = tn;
            }
    }
    g->ntn = ceil_div(N, g->tn);
    int64_t tiles = ceil_div(M, g->tm) * g->ntn;
    cpu_parallel_for(c, tiles, 1, gemm_tile, g);
}

void cpu_par_sgemm(se_cpu *c, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    gemm_job g = {transA, transB, M, N, K, 0, 0, 0, alpha, beta, A, B, lda, ldb, ldc, C, NULL, NULL};
    par_gemm(c, &g);
}

void cpu_par_sgemm_bias(se_cpu *c, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                        int64_t ldc, const float *bias_m, const float *bias_n) {
    if (M <= 0 || N <= 0) return;
    gemm_job g = {transA, transB, M, N, K, 0, 0, 0, 1.0f, 0.0f, A, B, lda, ldb, ldc, C, bias_m, bias_n};
    par_gemm(c, &g);
}

typedef struct bias_job {
    float *C;
    int64_t N, ldc;
    const float *bias_m, *bias_n;
} bias_job;

static void bias_rows(void *arg, int64_t r0, int64_t r1, int tid) {
    const bias_job *b = arg;
    for (int64_t i = r0; i < r1; i++) {
        float *row = b->C + i * b->ldc;
        if (b->bias_n)
            memcpy(row, b->bias_n, (size_t)b->N * sizeof *row);
        else
            for (int64_t j = 0; j < b->N; j++) row[j] = b->bias_m[i];
    }
}

void cpu_big_sgemm_bias(se_cpu *c, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                        int64_t ldc, const float *bias_m, const float *bias_n) {
#ifdef STRIKE_HAVE_OPENBLAS
    if (c->blas_threads && c->threads > 1 && M > 0 && N > 0) {
        float beta = 0.0f;
        if (bias_m || bias_n) {
            bias_job b = {C, N, ldc, bias_m, bias_n};
            cpu_parallel_for(c, M, 1 + 16384 / N, bias_rows, &b);
            beta = 1.0f;
        }
        openblas_set_num_threads(c->threads);
        cpu_sgemm(transA, transB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
        openblas_set_num_threads(1);
        return;
    }
#endif
    cpu_par_sgemm_bias(c, transA, transB, M, N, K, A, lda, B, ldb, C, ldc, bias_m, bias_n);
}
