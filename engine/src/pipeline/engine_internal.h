/*
 * engine_internal.h - the engine object's layout, shared by engine.c and render.c.
 */
#ifndef STRIKE_PIPELINE_ENGINE_INTERNAL_H
#define STRIKE_PIPELINE_ENGINE_INTERNAL_H

#include "core/backend.h"
#include "pipeline/model.h"
#include "pipeline/unet_graph.h"
#include "strike/engine.h"

struct se_engine {
    se_engine_params p;   /* as created */
    se_backend *be;       /* the one backend every model of this engine lives on */
    se_model *models;     /* loaded models (freed with the engine) */
    se_unet_graphs *graphs;  /* UNet step graphs (cuda backend, STRIKE_CUDA_GRAPH != 0), else NULL */
};

#endif
