/*
 * backend.c - thin wrappers over a backend's function table, and tensor upload/download.
 */
#include "core/backend.h"

#include "core/error.h"

se_status se_backend_alloc(se_backend *be, size_t bytes, void **out) {
    if (!be || !out) return se_fail(SE_ERR_INVALID_ARG, "se_backend_alloc: NULL backend or out");
    *out = NULL;
    return be->vt->alloc(be, bytes, out);
}

void se_backend_free(se_backend *be, void *ptr) {
    if (be && ptr) be->vt->free(be, ptr);
}

se_status se_backend_set(se_backend *be, void *dst, const void *host_src, size_t bytes) {
    if (!be) return se_fail(SE_ERR_INVALID_ARG, "se_backend_set: NULL backend");
    if (bytes == 0) return SE_OK;
    if (!dst || !host_src) return se_fail(SE_ERR_INVALID_ARG, "se_backend_set: NULL pointer");
    return be->vt->set(be, dst, host_src, bytes);
}

se_status se_backend_get(se_backend *be, void *host_dst, const void *src, size_t bytes) {
    if (!be) return se_fail(SE_ERR_INVALID_ARG, "se_backend_get: NULL backend");
    if (bytes == 0) return SE_OK;
    if (!host_dst || !src) return se_fail(SE_ERR_INVALID_ARG, "se_backend_get: NULL pointer");
    return be->vt->get(be, host_dst, src, bytes);
}

bool se_backend_supports(se_backend *be, const se_op *op) {
    return be && op && (unsigned)op->kind < SE_OP_COUNT && be->vt->supports_op(be, op);
}

se_status se_backend_compute(se_backend *be, const se_op *op) {
    if (!be || !op) return se_fail(SE_ERR_INVALID_ARG, "se_backend_compute: NULL backend or op");
    return be->vt->compute(be, op);
}

se_status se_backend_sync(se_backend *be) {
    if (!be) return se_fail(SE_ERR_INVALID_ARG, "se_backend_sync: NULL backend");
    return be->vt->sync(be);
}

const char *se_backend_name(const se_backend *be) { return be ? be->vt->name : "(null)"; }

void se_backend_destroy(se_backend **be) {
    if (!be || !*be) return;
    (*be)->vt->destroy(*be);
    *be = NULL;
}

/* Checks that t is contiguous, has data, and that bytes is exactly its size. */
static se_status check_transfer(const char *what, const se_tensor *t, size_t bytes) {
    char s[64];
    if (!t->data) return se_fail(SE_ERR_INVALID_ARG, "%s: tensor '%s' %s has no data", what, t->name,
                                 se_tensor_shape_str(t, s, sizeof s));
    if (!se_tensor_is_contiguous(t))
        return se_fail(SE_ERR_INVALID_ARG, "%s: tensor '%s' %s is not contiguous", what, t->name,
                       se_tensor_shape_str(t, s, sizeof s));
    if (bytes != se_tensor_nbytes(t))
        return se_fail(SE_ERR_SHAPE, "%s: tensor '%s' %s %s: expected %zu bytes, got %zu", what,
                       t->name, se_tensor_shape_str(t, s, sizeof s), se_dtype_name(t->dtype),
                       se_tensor_nbytes(t), bytes);
    return SE_OK;
}

se_status se_tensor_set_data(se_backend *be, se_tensor *t, const void *host, size_t bytes) {
    SE_TRY(check_transfer("se_tensor_set_data", t, bytes));
    return se_backend_set(be, t->data, host, bytes);
}

se_status se_tensor_get_data(se_backend *be, const se_tensor *t, void *host, size_t bytes) {
    SE_TRY(check_transfer("se_tensor_get_data", t, bytes));
    return se_backend_get(be, host, t->data, bytes);
}
