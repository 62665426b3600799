/*
 * engine_lightning.h - the Lightning engine (engine/include/strike/engine.h) behind the worker's
 * engine interface: --engine cpu | cuda.
 */
#ifndef STRIKE_WORKER_ENGINE_LIGHTNING_H
#define STRIKE_WORKER_ENGINE_LIGHTNING_H

#include <stddef.h>

#include "engine_iface.h"

/* kind: "cpu" or "cuda". Options ("key=value,..."):
 *   model=[NAME:]PATH  a diffusers SDXL folder served under NAME (default: the folder's last
 *                      component); repeat for several models. Jobs naming another model fail
 *                      with SF_ERR_MODEL; a job with an empty model name uses the first one.
 *   models=FILE        every model of a models config (docs/models.md "Model specs"): jobs
 *                      naming one load it from its spec (base folder, UNet file or SGM
 *                      checkpoint, LoRA, VAE, prediction); a job whose steps the model does not
 *                      list fails with SF_ERR_INVALID_STEPS naming the model and its steps
 *                      With neither model= nor models=: $STRIKE_MODELS, else
 *                      /etc/strike/models.json when it exists (as strike-render).
 *   unet.NAME=FILE     a Lightning UNet file (sdxl_lightning_4step_unet.safetensors) used over
 *                      NAME's folder (its unet/config.json); after model=NAME:PATH
 *   prediction.NAME=epsilon|sample   (sample for the 1-step x0 UNet; default: the folder's
 *                      scheduler config)
 *   threads=N          CPU threads (0 = all cores; default 0)
 *   device=N           CUDA device (default 0; the worker's --gpu N sets it too, not both)
 *   noise=cpu|philox|cpu-default   initial noise (default cpu)
 *   max_batch=N        jobs per engine batch (default 4)
 * Models are loaded at the first job that needs them and kept loaded; a model that fails to
 * load fails its jobs with the loader's message (missing/mismatched file or tensor), and is
 * retried at the next batch. gpu >= 0 (--gpu) selects the CUDA device. With kind "cuda" the
 * engine is created (device checked: "no CUDA device ..." / "built without CUDA") before the
 * options are required to name a model, and reports the GPU's name and memory in
 * base.device_name / device_memory; kind "cpu" reports "cpu". */
sw_engine *sw_engine_lightning_create(const char *kind, const char *options, int gpu, char *err,
                                      size_t errlen);

#endif
