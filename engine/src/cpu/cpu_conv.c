/*
 * cpu_conv.c - 2D convolution (NCHW, kernels 1x1 and 3x3, stride 1 or 2, zero padding).
 *
 * Naive: direct loops with double accumulation. Fast: see cpu_conv2d_fast below.
 */
#include "cpu/cpu_internal.h"

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

se_status cpu_conv2d_fast(se_cpu *c, const se_op *op) { return cpu_conv2d_naive(op); }
