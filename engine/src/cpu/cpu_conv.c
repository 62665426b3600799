/*
 * cpu_conv.c - 2D convolution (NCHW, kernels 1x1 and 3x3, stride 1 or 2, zero padding).
 *
 * Naive: direct loops with double accumulation.
 * Fast: convolution as GEMM. Per image, y[Cout, P] = w[Cout, Cin*kh*kw] x col[Cin*kh*kw, P]
 * where P is output pixels. A 1x1 stride-1 conv needs no col matrix (the input is it). Otherwise
 * col is built (im2col) one strip of output rows at a time in the backend's shared scratch,
 * bounded at CONV_SCRATCH_BYTES, so memory stays flat for any image size. Both the im2col and
 * the GEMM are split over the thread pool; each GEMM tile writes its block of bias first and
 * accumulates onto it.
 */
#include <string.h>

#include "cpu/cpu_internal.h"

#define CONV_SCRATCH_BYTES ((size_t)32 << 20)

se_status cpu_conv2d_naive(const se_op *op) {
    const se_tensor *xt = op->src[0], *wt = op->src[1], *bt = op->src[2];
    const float *x = xt->data, *w = wt->data, *bias = bt ? bt->data : NULL;
    float *y = op->dst->data;
    int64_t B = xt->ne[0], Ci = xt->ne[1], H = xt->ne[2], W = xt->ne[3];
    int64_t Co = wt->ne[0], KH = wt->ne[2], KW = wt->ne[3];
    int64_t Ho = op->dst->ne[2], Wo = op->dst->ne[3];
    int s = op->i[0], p = op->i[1];
    for (int64_t b = 0; b < B; b++)
        for (int64_t co = 0; co < Co; co++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int64_t ci = 0; ci < Ci; ci++)
                        for (int64_t kh = 0; kh < KH; kh++) {
                            int64_t ih = oh * s - p + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int64_t kw = 0; kw < KW; kw++) {
                                int64_t iw = ow * s - p + kw;
                                if (iw < 0 || iw >= W) continue;
                                acc += (double)x[((b * Ci + ci) * H + ih) * W + iw] *
                                       (double)w[((co * Ci + ci) * KH + kh) * KW + kw];
                            }
                        }
                    y[((b * Co + co) * Ho + oh) * Wo + ow] = (float)acc;
                }
    return SE_OK;
}

typedef struct im2col_job {
    const float *x;        /* one image [Cin, H, W] */
    float *col;            /* [Cin*KH*KW, npix] */
    int64_t H, W, Wo, KH, KW, s, p;
    int64_t oh0, npix;     /* strip: output pixels [oh0*Wo, oh0*Wo + npix) */
} im2col_job;

/* Fills col rows [r0, r1); row r = (ci, kh, kw) holds the input pixel each output pixel of the
 * strip reads through that kernel tap (0 outside the image). */
static void im2col_rows(void *arg, int64_t r0, int64_t r1, int tid) {
    const im2col_job *j = arg;
    int64_t taps = j->KH * j->KW;
    for (int64_t r = r0; r < r1; r++) {
        int64_t ci = r / taps, kh = (r % taps) / j->KW, kw = r % j->KW;
        const float *xp = j->x + ci * j->H * j->W;
        float *dst = j->col + r * j->npix;
        for (int64_t q = 0; q < j->npix;) {
            int64_t oh = j->oh0 + (q / j->Wo), ow0 = q % j->Wo;
            int64_t n = j->Wo - ow0 < j->npix - q ? j->Wo - ow0 : j->npix - q;  /* rest of this row */
            int64_t ih = oh * j->s - j->p + kh;
            float *d = dst + q;
            if (ih < 0 || ih >= j->H) {
                memset(d, 0, (size_t)n * sizeof *d);
            } else {
                const float *row = xp + ih * j->W;
                if (j->s == 1) {
                    /* iw = ow0 + t - p + kw is inside [0, W) for t in [lo, hi): zeros, a copy, zeros */
                    int64_t off = ow0 - j->p + kw;
                    int64_t lo = off < 0 ? -off : 0, hi = j->W - off < n ? j->W - off : n;
                    if (hi < lo) hi = lo;
                    if (lo > n) lo = hi = n;
                    memset(d, 0, (size_t)lo * sizeof *d);
                    if (hi > lo) memcpy(d + lo, row + off + lo, (size_t)(hi - lo) * sizeof *d);
                    memset(d + hi, 0, (size_t)(n - hi) * sizeof *d);
                } else {
                    for (int64_t t = 0; t < n; t++) {
                        int64_t iw = (ow0 + t) * j->s - j->p + kw;
                        d[t] = (iw >= 0 && iw < j->W) ? row[iw] : 0.0f;
                    }
                }
            }
            q += n;
        }
    }
}

se_status cpu_conv2d_fast(se_cpu *c, const se_op *op) {
    const se_tensor *xt = op->src[0], *wt = op->src[1], *bt = op->src[2];
    const float *x = xt->data, *w = wt->data, *bias = bt ? bt->data : NULL;
    float *y = op->dst->data;
    int64_t B = xt->ne[0], Ci = xt->ne[1], H = xt->ne[2], W = xt->ne[3];
    int64_t Co = wt->ne[0], KH = wt->ne[2], KW = wt->ne[3];
    int64_t Ho = op->dst->ne[2], Wo = op->dst->ne[3], P = Ho * Wo, K = Ci * KH * KW;
    int s = op->i[0], p = op->i[1];
    if (P == 0 || Co == 0) return SE_OK;
    bool direct = KH == 1 && KW == 1 && s == 1 && p == 0;
    /* strip height: as many output rows as fit the scratch bound (at least one) */
    int64_t rows = Ho;
    if (!direct) {
        int64_t fit = (int64_t)(CONV_SCRATCH_BYTES / sizeof(float)) / (K * Wo);
        rows = fit < 1 ? 1 : fit > Ho ? Ho : fit;
        SE_TRY(cpu_shared_reserve(c, (size_t)(K * rows * Wo)));
    }
    for (int64_t b = 0; b < B; b++) {
        const float *xb = x + b * Ci * H * W;
        float *yb = y + b * Co * P;
        if (direct) {
            cpu_big_sgemm_bias(c, false, false, Co, P, K, w, K, xb, P, yb, P, bias, NULL);
            continue;
        }
        for (int64_t oh0 = 0; oh0 < Ho; oh0 += rows) {
            int64_t nr = Ho - oh0 < rows ? Ho - oh0 : rows, npix = nr * Wo;
            im2col_job j = {xb, c->shared, H, W, Wo, KH, KW, s, p, oh0, npix};
            cpu_parallel_for(c, K, 1 + 8192 / npix, im2col_rows, &j);
            cpu_big_sgemm_bias(c, false, false, Co, npix, K, w, K, c->shared, npix, yb + oh0 * Wo,
                               P, bias, NULL);
        }
    }
    return SE_OK;
}
