/*
 * op.h - the engine's op set: one enum, one descriptor, one name table.
 *
 * An op reads src[0..] and writes dst, which the caller has allocated with the right shape and
 * dtype. Model code never builds se_op by hand: it calls the typed helpers in ops.h, which check
 * shapes, fill the descriptor and hand it to the backend. A backend implements compute(op) and
 * says which ops/dtypes it supports; tests/test_backend_ops.c runs every op on every backend.
 *
 * Semantics (shapes outermost first, see tensor.h; every src is contiguous unless noted):
 *   CONV2D      src0 x [B,Cin,H,W], src1 w [Cout,Cin,kh,kw], src2 bias [Cout] or NULL;
 *               i[0]=stride, i[1]=padding (both dims) -> dst [B,Cout,Ho,Wo],
 *               Ho = (H + 2p - kh)/s + 1. kh,kw in {1,3}; stride in {1,2}; 0 <= padding <= kh.
 *   LINEAR      src0 x [..., K] (leading dims flattened to M), src1 w [N,K] (PyTorch layout),
 *               src2 bias [N] or NULL -> dst [..., N]. dst = x w^T + b.
 *   GROUP_NORM  src0 x [B,C,...], src1 gamma [C], src2 beta [C]; i[0]=groups, i[1]=fuse SiLU
 *               (0/1), f[0]=eps -> dst same shape. Statistics over (C/groups, spatial) per batch.
 *   LAYER_NORM  src0 x [..., D], src1 gamma [D], src2 beta [D]; f[0]=eps -> dst same shape.
 *   SILU, GELU (exact erf), QUICK_GELU (x*sigmoid(1.702x)): elementwise, dst same shape;
 *               dst may be src0 (in place).
 *   GEGLU       src0 x [..., 2n] -> dst [..., n] = x[..., :n] * gelu_erf(x[..., n:]).
 *   SOFTMAX     src0 x [..., n]; f[0]=scale -> dst = softmax(scale * x) over the last dim.
 *   ATTENTION   src0 q [B,Nq,H*D], src1 k [B,Nk,H*D], src2 v [B,Nk,H*D]; i[0]=heads H,
 *               i[1]=causal (0/1; key j > query i masked; needs Nq == Nk), f[0]=scale
 *               -> dst [B,Nq,H*D]. Head h uses features [h*D, (h+1)*D).
 *   UPSAMPLE_NEAREST2X  src0 [B,C,H,W] -> dst [B,C,2H,2W].
 *   CONCAT      src0 a, src1 b (same shape but dim i[0]) -> dst, concatenated along dim i[0].
 *   ADD         src0 a, src1 b -> dst = a + b. b broadcasts to a by NumPy rules (right-aligned;
 *               each dim of b equal to a's or 1), e.g. a [B,C,H,W] + b [B,C,1,1]. dst may be a.
 *   SCALE_ADD   src0 a, src1 b (same shape); f[0]=alpha, f[1]=beta -> dst = alpha*a + beta*b.
 *               src1 may be NULL: dst = alpha*a. dst may alias a or b. (Sampler arithmetic.)
 *   COPY        src0 x (any strides, any of F32/F16/BF16) -> dst contiguous, same shape as the
 *               permuted x, dtype of dst (converts). i[0..3]=perm: dst.ne[d] = x.ne[perm[d]].
 *               Identity perm = contiguous copy / dtype conversion.
 *   GATHER      src0 table [V,D], src1 ids I32 [N] -> dst [N,D] = table[ids]. An id outside
 *               [0,V) is an error (SE_ERR_INVALID_ARG), never a read out of bounds.
 *               ids may also have 2 or 3 dims: dst is then ids' shape + [D] ([B,77] -> [B,77,D]).
 *   TIMESTEP_EMBEDDING  src0 t F32 [B] -> dst [B,dim] with dim = dst.ne[1] (even);
 *               i[0]=flip_sin_to_cos, f[0]=downscale_freq_shift, f[1]=max_period (10000).
 *               half = dim/2, freq_j = exp(-ln(max_period) * j / (half - shift)),
 *               out = [sin(t f), cos(t f)], or [cos, sin] when flipped (diffusers get_timestep_embedding).
 */
#ifndef STRIKE_ENGINE_OP_H
#define STRIKE_ENGINE_OP_H

#include "core/tensor.h"

typedef enum se_op_kind {
    SE_OP_CONV2D = 0,
    SE_OP_LINEAR,
    SE_OP_GROUP_NORM,
    SE_OP_LAYER_NORM,
    SE_OP_SILU,
    SE_OP_GELU,
    SE_OP_QUICK_GELU,
    SE_OP_GEGLU,
    SE_OP_SOFTMAX,
    SE_OP_ATTENTION,
    SE_OP_UPSAMPLE_NEAREST2X,
    SE_OP_CONCAT,
    SE_OP_ADD,
    SE_OP_SCALE_ADD,
    SE_OP_COPY,
    SE_OP_GATHER,
    SE_OP_TIMESTEP_EMBEDDING,
    SE_OP_COUNT
} se_op_kind;

#define SE_OP_MAX_SRC 4

typedef struct se_op {
    se_op_kind kind;
    const se_tensor *src[SE_OP_MAX_SRC];  /* unused entries are NULL */
    se_tensor *dst;
    int32_t i[8];                         /* integer params, per kind (see above) */
    float f[4];                           /* float params, per kind (see above) */
} se_op;

/* "conv2d", "linear", ... (table checked against SE_OP_COUNT at compile time). */
const char *se_op_name(se_op_kind k);

#endif
