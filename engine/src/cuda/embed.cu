/*
 * embed.cu - GATHER (embedding rows by I32 id) and TIMESTEP_EMBEDDING on the GPU.
 *
 * GATHER never reads outside the table: an id outside [0, V) writes zeros and records the first
 * bad position in a device flag; the launcher waits for the flag (one small copy and a stream
 * sync: gather runs once per prompt) and returns SE_ERR_INVALID_ARG naming the id and position.
 */
#include "cuda/cuda_internal.h"

namespace {

__global__ void gather_k(const void *tab, int tdt, const int32_t *ids, void *y, int ydt,
                         int64_t n, int64_t V, int64_t D, int64_t *bad) {
    SE_GRID_STRIDE(i, n) {
        int64_t r = i / D, j = i - r * D;
        int32_t id = ids[r];
        if (id < 0 || id >= V) {
            atomicMin((unsigned long long *)bad, (unsigned long long)r);
            se_st(y, ydt, i, 0.0f);
        } else {
            se_st(y, ydt, i, se_ld(tab, tdt, (int64_t)id * D + j));
        }
    }
}

/* diffusers get_timestep_embedding: exponent and argument in fp32 as diffusers does (the same
 * operations in the same order as the CPU backend), exp and sin/cos in fp64 then rounded, so the
 * two backends agree to the last bit or two. nlmp = (float)-ln(max_period), den = half - shift. */
__global__ void tstep_k(const float *t, void *y, int ydt, int64_t B, int64_t dim, int flip,
                        float nlmp, float den) {
    int64_t half = dim / 2, n = B * dim;
    SE_GRID_STRIDE(i, n) {
        int64_t b = i / dim, k = i - b * dim, j = k < half ? k : k - half;
        float ex = __fdiv_rn(__fmul_rn(nlmp, (float)j), den);
        float arg = __fmul_rn(t[b], (float)exp((double)ex));
        bool first = k < half;           /* first half: sin (cos when flipped) */
        float v = (first != (flip != 0)) ? (float)sin((double)arg) : (float)cos((double)arg);
        se_st(y, ydt, i, v);
    }
}

se_status do_gather(se_cuda *c, const se_op *op) {
    const se_tensor *tab = op->src[0], *ids = op->src[1];
    se_tensor *y = op->dst;
    int64_t V = tab->ne[0], D = tab->ne[1], N = se_tensor_numel(ids);
    if (se_tensor_numel(y) != N * D)
        return se_fail(SE_ERR_SHAPE, "cuda gather: dst '%s' is not [%lld,%lld]", y->name,
                       (long long)N, (long long)D);
    int64_t *bad = nullptr, hbad = INT64_MAX;
    SE_TRY(se_cuda_scratch(c, "gather", sizeof *bad, (void **)&bad));
    se_status st = SE_OK;
    cudaError_t e = cudaMemcpyAsync(bad, &hbad, sizeof hbad, cudaMemcpyHostToDevice, c->stream);
    if (e == cudaSuccess) {
        gather_k<<<se_cuda_blocks(N * D), 256, 0, c->stream>>>(
            tab->data, tab->dtype, (const int32_t *)ids->data, y->data, y->dtype, N * D, V, D, bad);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpyAsync(&hbad, bad, sizeof hbad, cudaMemcpyDeviceToHost, c->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    se_cuda_scratch_free(c, bad);
    if (e != cudaSuccess) return se_cuda_fail("gather", "gather kernel and id check", __FILE__, __LINE__, e);
    if (hbad != INT64_MAX) {
        int32_t id = 0;
        SE_CU("gather", cudaMemcpy(&id, (const int32_t *)ids->data + hbad, sizeof id,
                                   cudaMemcpyDeviceToHost));
        st = se_fail(SE_ERR_INVALID_ARG, "cuda gather: ids '%s'[%lld] = %d is outside the table "
                     "'%s' [0, %lld)", ids->name, (long long)hbad, (int)id, tab->name, (long long)V);
    }
    return st;
}

se_status do_tstep(se_cuda *c, const se_op *op) {
    const se_tensor *t = op->src[0];
    se_tensor *y = op->dst;
    int64_t B = se_tensor_numel(t), dim = y->ne[1];
    if (y->ne[0] != B || dim % 2 != 0)
        return se_fail(SE_ERR_SHAPE, "cuda timestep_embedding: dst '%s' is not [%lld, even dim]",
                       y->name, (long long)B);
    double maxp = op->f[1] > 0 ? (double)op->f[1] : 10000.0;
    float den = (float)((double)(dim / 2) - (double)op->f[0]);
    if (!(den > 0.0f))
        return se_fail(SE_ERR_INVALID_ARG, "cuda timestep_embedding: half dim %lld minus the "
                       "frequency shift %g is not positive", (long long)(dim / 2), (double)op->f[0]);
    tstep_k<<<se_cuda_blocks(B * dim), 256, 0, c->stream>>>((const float *)t->data, y->data,
                                                            y->dtype, B, dim, op->i[0],
                                                            (float)-log(maxp), den);
    SE_CU_LAUNCH("timestep_embedding");
    return SE_OK;
}

}  // namespace

extern "C" se_status se_cuda_embed(se_cuda *c, const se_op *op) {
    if (op->kind == SE_OP_GATHER) return do_gather(c, op);
    return do_tstep(c, op);
}
