/*
 * ops.h - typed entry points for every op: check shapes and dtypes, fill an se_op, run it on the
 * backend. Model code calls only these. Semantics of each op: op.h. Each returns SE_OK, or
 * SE_ERR_SHAPE / SE_ERR_DTYPE / SE_ERR_UNSUPPORTED with se_last_error() naming the op and the
 * tensors (by name and shape).
 */
#ifndef STRIKE_ENGINE_OPS_H
#define STRIKE_ENGINE_OPS_H

#include "core/backend.h"

se_status se_conv2d(se_backend *be, const se_tensor *x, const se_tensor *w, const se_tensor *b,
                    int stride, int pad, se_tensor *y);
se_status se_linear(se_backend *be, const se_tensor *x, const se_tensor *w, const se_tensor *b,
                    se_tensor *y);
se_status se_group_norm(se_backend *be, const se_tensor *x, const se_tensor *gamma,
                        const se_tensor *beta, int groups, float eps, int fuse_silu, se_tensor *y);
se_status se_layer_norm(se_backend *be, const se_tensor *x, const se_tensor *gamma,
                        const se_tensor *beta, float eps, se_tensor *y);
se_status se_silu(se_backend *be, const se_tensor *x, se_tensor *y);
se_status se_gelu(se_backend *be, const se_tensor *x, se_tensor *y);
se_status se_quick_gelu(se_backend *be, const se_tensor *x, se_tensor *y);
se_status se_geglu(se_backend *be, const se_tensor *x, se_tensor *y);
se_status se_softmax(se_backend *be, const se_tensor *x, float scale, se_tensor *y);
se_status se_attention(se_backend *be, const se_tensor *q, const se_tensor *k, const se_tensor *v,
                       int heads, int causal, float scale, se_tensor *y);
se_status se_upsample_nearest2x(se_backend *be, const se_tensor *x, se_tensor *y);
se_status se_concat(se_backend *be, const se_tensor *a, const se_tensor *b, int dim, se_tensor *y);
se_status se_add(se_backend *be, const se_tensor *a, const se_tensor *b, se_tensor *y);
se_status se_scale_add(se_backend *be, const se_tensor *a, float alpha, const se_tensor *b,
                       float beta, se_tensor *y);
/* perm may be NULL (identity). */
se_status se_copy(se_backend *be, const se_tensor *x, const int *perm, se_tensor *y);
se_status se_gather(se_backend *be, const se_tensor *table, const se_tensor *ids, se_tensor *y);
se_status se_timestep_embedding(se_backend *be, const se_tensor *t, int flip_sin_to_cos,
                                float downscale_freq_shift, float max_period, se_tensor *y);

#endif
