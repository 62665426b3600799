/*
 * op_names.c - the op name table, checked against SE_OP_COUNT at compile time.
 */
#include "core/op.h"

static const char *const g_op_names[] = {
    [SE_OP_CONV2D] = "conv2d",
    [SE_OP_LINEAR] = "linear",
    [SE_OP_GROUP_NORM] = "group_norm",
    [SE_OP_LAYER_NORM] = "layer_norm",
    [SE_OP_SILU] = "silu",
    [SE_OP_GELU] = "gelu",
    [SE_OP_QUICK_GELU] = "quick_gelu",
    [SE_OP_GEGLU] = "geglu",
    [SE_OP_SOFTMAX] = "softmax",
    [SE_OP_ATTENTION] = "attention",
    [SE_OP_UPSAMPLE_NEAREST2X] = "upsample_nearest2x",
    [SE_OP_CONCAT] = "concat",
    [SE_OP_ADD] = "add",
    [SE_OP_SCALE_ADD] = "scale_add",
    [SE_OP_COPY] = "copy",
    [SE_OP_GATHER] = "gather",
    [SE_OP_TIMESTEP_EMBEDDING] = "timestep_embedding",
};
_Static_assert(sizeof g_op_names / sizeof g_op_names[0] == SE_OP_COUNT, "op name table out of date");

const char *se_op_name(se_op_kind k) {
    return (unsigned)k < SE_OP_COUNT && g_op_names[k] ? g_op_names[k] : "?";
}
