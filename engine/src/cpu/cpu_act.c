/*
 * cpu_act.c - activations: SiLU, GELU (exact, with erf), quick-GELU (x * sigmoid(1.702 x)) and
 * GEGLU (first half times GELU of the second half). Fast: spread over threads, with the
 * vectorisable exp and erf of cpu_internal.h (errors ~1e-7).
 */
#include "cpu/cpu_internal.h"

static float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
static float quick_gelu(float x) { return x / (1.0f + expf(-1.702f * x)); }
static float quick_gelu_fast(float x) { return x / (1.0f + cpu_expf(-1.702f * x)); }

/* Applies the op to rows [r0, r1) (rows of the output's last dim); fast selects the
 * vectorisable exp for SiLU and quick-GELU. */
static CPU_INLINE void act_rows_impl(const se_op *op, int64_t r0, int64_t r1, bool fast) {
    const float *x = op->src[0]->data;
    float *y = op->dst->data;
    int64_t n = op->dst->ne[op->dst->ndim - 1];
    if (op->dst->ndim == 0) n = 1;
    switch (op->kind) {
    case SE_OP_SILU:
        if (fast)
            for (int64_t i = r0 * n; i < r1 * n; i++) y[i] = cpu_silu_fast(x[i]);
        else
            for (int64_t i = r0 * n; i < r1 * n; i++) y[i] = cpu_silu(x[i]);
        break;
    case SE_OP_GELU:
        if (fast)
            for (int64_t i = r0 * n; i < r1 * n; i++) y[i] = cpu_gelu_fast(x[i]);
        else
            for (int64_t i = r0 * n; i < r1 * n; i++) y[i] = gelu_erf(x[i]);
        break;
    case SE_OP_QUICK_GELU:
        if (fast)
            for (int64_t i = r0 * n; i < r1 * n; i++) y[i] = quick_gelu_fast(x[i]);
        else
            for (int64_t i = r0 * n; i < r1 * n; i++) y[i] = quick_gelu(x[i]);
        break;
    case SE_OP_GEGLU:
        for (int64_t r = r0; r < r1; r++) {
            const float *a = x + r * 2 * n, *g = a + n;
            float *o = y + r * n;
            if (fast)
                for (int64_t i = 0; i < n; i++) o[i] = a[i] * cpu_gelu_fast(g[i]);
            else
                for (int64_t i = 0; i < n; i++) o[i] = a[i] * gelu_erf(g[i]);
        }
        break;
    default: break;
    }
}
CPU_MULTIVERSION(act_rows, (const se_op *op, int64_t r0, int64_t r1, bool fast), (op, r0, r1, fast))

static int64_t act_rows_total(const se_op *op) {
    int64_t n = op->dst->ndim ? op->dst->ne[op->dst->ndim - 1] : 1;
    return n ? se_tensor_numel(op->dst) / n : 0;
}

se_status cpu_act_naive(const se_op *op) {
    act_rows(op, 0, act_rows_total(op), false);
    return SE_OK;
}

static void act_task(void *arg, int64_t b, int64_t e, int tid) { act_rows(arg, b, e, true); }

se_status cpu_act_fast(se_cpu *c, const se_op *op) {
    int64_t rows = act_rows_total(op);
    int64_t n = op->dst->ndim ? op->dst->ne[op->dst->ndim - 1] : 1;
    int64_t grain = n > 0 ? (16384 + n - 1) / n : rows;
    cpu_parallel_for(c, rows, grain, act_task, (void *)op);
    return SE_OK;
}
