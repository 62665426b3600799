/*
 * single_file.h - single-file checkpoints and diffusers-named weight views.
 *
 * A view (se_sf_view) is one network's tensors under DIFFUSERS / transformers names, each backed
 * by a tensor of an open safetensors file plus a transform (rename, q/k/v row split, transpose,
 * 1x1-kernel squeeze; sgm_names.h), or by an fp32 buffer the view owns, plus any low-rank updates
 * (LoRA modules, lora.h) added in fp32 whenever the tensor is read. The existing networks
 * (unet.c, clip.c, vae.c) load from a safetensors PATH, so a view is handed to them by
 * materialising it: se_sf_view_materialize() writes a diffusers-named
 * safetensors image into an anonymous in-memory file (memfd; an unlinked temporary file where
 * memfd is missing) and returns "/proc/self/fd/N", which se_unet_new_from_files(),
 * se_clip_load_files() and se_vae_new_from_files() open like any file. The image costs the
 * component's size in RAM until se_sf_image_close(); copies of untouched tensors are plain
 * memcpy (no dtype change), merged ones are computed one at a time and written in the view's
 * merge dtype.
 *
 *   se_st_file *f; SE_TRY(se_st_open("sdxl_lightning_4step.safetensors", &f));
 *   unsigned styles = se_sf_detect(f);                   // SE_SF_STYLE_* bits
 *   se_sf_view *v; SE_TRY(se_sf_view_new(f, SE_SF_UNET, &unet_cfg, &v));
 *   se_sf_image img; SE_TRY(se_sf_view_materialize(v, &img));
 *   SE_TRY(se_unet_new_from_files(cfg_path, img.path, be, &unet));
 *   se_sf_image_close(&img); se_sf_view_destroy(&v); se_st_close(&f);
 *
 * Errors name the file and tensor: an SGM key of a component that maps to nothing is
 * SE_ERR_FORMAT ("...: unknown SGM UNet tensor X"), a fused in_proj whose rows do not split in
 * three is SE_ERR_SHAPE. Missing tensors and wrong shapes are reported by the network's own load
 * (weights.c) with the diffusers name.
 *
 * Most callers need only se_sf_load_desc() (a pipeline model description) or
 * se_sf_load_networks() (explicit sources), at the end of this header.
 */
#ifndef STRIKE_ENGINE_SINGLE_FILE_H
#define STRIKE_ENGINE_SINGLE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "io/sgm_names.h"
#include "model/clip.h"
#include "model/vae.h"
#include "model/unet.h"

/* Naming styles found in a file (bits; a file may have several). */
enum {
    SE_SF_STYLE_SGM_UNET = 1u << 0,      /* model.diffusion_model.* */
    SE_SF_STYLE_DIFFUSERS_UNET = 1u << 1, /* down_blocks.* at the top level */
    SE_SF_STYLE_SGM_CLIP_L = 1u << 2,    /* conditioner.embedders.0.* */
    SE_SF_STYLE_SGM_CLIP_G = 1u << 3,    /* conditioner.embedders.1.* */
    SE_SF_STYLE_SGM_VAE = 1u << 4,       /* first_stage_model.* */
};

/* The networks of an SDXL checkpoint. */
typedef enum se_sf_component {
    SE_SF_UNET = 0,
    SE_SF_CLIP_L,
    SE_SF_CLIP_G,
    SE_SF_VAE,
} se_sf_component;

typedef struct se_sf_view se_sf_view;

/* Which styles f contains (0: none known). */
unsigned se_sf_detect(const se_st_file *f);
/* "sgm-unet+sgm-clip-l+..." for messages (buf returned). */
const char *se_sf_styles_str(unsigned styles, char *buf, size_t cap);

/* The component c of an SGM single file, renamed to diffusers. ucfg is needed for SE_SF_UNET
 * (the block layout; NULL = SDXL base). SE_ERR_MISSING_TENSOR if the file has no tensor of c,
 * SE_ERR_FORMAT for an unknown key under c's prefix. f must outlive the view. */
se_status se_sf_view_new(const se_st_file *f, se_sf_component c, const se_unet_config *ucfg,
                         se_sf_view **out);
/* Every loadable tensor of f whose name starts with strip (or all, strip = "" or NULL), with
 * strip removed: a diffusers file seen as a view (to merge a LoRA into it). */
se_status se_sf_view_identity(const se_st_file *f, const char *strip, se_sf_view **out);
void se_sf_view_destroy(se_sf_view **v);

size_t se_sf_view_count(const se_sf_view *v);
const char *se_sf_view_name(const se_sf_view *v, size_t i);
/* Shape of entry i (ndim returned; ne gets up to SE_ST_MAX_DIMS extents). */
int se_sf_view_shape(const se_sf_view *v, size_t i, int64_t *ne);
int64_t se_sf_view_numel(const se_sf_view *v, size_t i);
/* Index of the entry called name, or -1. */
long se_sf_view_find(const se_sf_view *v, const char *name);
/* Entry i as fp32 into dst (numel floats), transforms applied. */
se_status se_sf_view_read_f32(const se_sf_view *v, size_t i, float *dst, size_t n);
/* Replaces entry i's data by a copy of src (numel fp32 values); it is then written in the view's
 * merge dtype (default F32; se_sf_view_set_merge_dtype). */
se_status se_sf_view_set_f32(se_sf_view *v, size_t i, const float *src, size_t n);
void se_sf_view_set_merge_dtype(se_sf_view *v, se_dtype dt);
/* Adds a low-rank update to entry i: W += scale * up @ down (fp32), applied whenever the entry
 * is read or materialised, so a LoRA costs no memory until then. up [out, r(,1,1)] and down
 * [r, in(,kh,kw)] are records of f, which must stay open as long as the view (se_sf_view_adopt). */
se_status se_sf_view_add_delta(se_sf_view *v, size_t i, const se_st_file *f,
                               const se_st_tensor *up, const se_st_tensor *down, float scale);
/* The view takes f and closes it when destroyed (on failure f is closed at once). */
se_status se_sf_view_adopt(se_sf_view *v, se_st_file *f);

/* A materialised view: an open anonymous file and the path that opens it. */
typedef struct se_sf_image {
    int fd;              /* -1 when closed */
    char path[64];       /* "/proc/self/fd/N" */
    uint64_t bytes;      /* file size */
} se_sf_image;

/* Writes the view as a safetensors image (see above). */
se_status se_sf_view_materialize(const se_sf_view *v, se_sf_image *img);
void se_sf_image_close(se_sf_image *img);

/* ------------------------------------------------------------------------------------------
 * Loading an SDXL model's networks from mixed sources (the plug-in point for the pipeline's
 * se_model_load when a model has a single-file checkpoint and/or a LoRA):
 * each network's weights come from its *_file (diffusers / transformers names) when given, else
 * from the checkpoint's SGM tensors. Files load directly and an SGM UNet loads through
 * se_unet_new_from_single_file (name mapping, no copy); the SGM text encoders and VAE (which
 * need q/k/v splits, a transpose and kernel squeezes) go through a materialised view of their
 * source tensors (one network's image at a time, freed once it is loaded). With a LoRA, the
 * UNet and both text encoders are also views that carry the LoRA's updates; each network loads
 * as above, then every updated tensor is computed in fp32 from its source (W + scale * up @
 * down), converted to the weight's dtype and written over the loaded tensor, one tensor at a
 * time: the merge holds one tensor's buffers (fp32 result, a fused source it is split from,
 * a converted copy, the LoRA factors), never a copy of the network, and the weights are the
 * same bytes a materialised merged image would load (se_sf_load_stats records this).
 * ------------------------------------------------------------------------------------------ */
typedef struct se_sf_sources {
    const char *checkpoint;              /* SGM single-file checkpoint, or NULL */
    const char *unet_config, *unet_file; /* config.json (required); weights or NULL */
    const char *te1_config, *te1_file;   /* CLIP-L */
    const char *te2_config, *te2_file;   /* bigG */
    const char *vae_config, *vae_file;   /* VAE */
    const char *lora;                    /* LoRA file or NULL */
    float lora_strength;                 /* its multiplier */
    struct se_sf_load_stats *stats;      /* optional: what the load cost (below) */
    bool check_only;                     /* images (SGM text encoders, VAE, a non-uniform
                                          * UNet) get their header only, no weight bytes: for a
                                          * backend that stops every load at its weights'
                                          * allocation (se_sf_check_desc) */
} se_sf_sources;

/* What se_sf_load_networks held in host memory besides the networks' own weights (tests check
 * the LoRA merge's bound with it: merged_image_bytes is 0 since the merge happens after loading,
 * merge_scratch_peak is one tensor's buffers). */
typedef struct se_sf_load_stats {
    int merged;                  /* tensors written with LoRA updates */
    int merged_unused;           /* LoRA-targeted tensors the network does not declare (skipped) */
    uint64_t image_bytes;        /* largest weight image (memfd) materialised */
    uint64_t merged_image_bytes; /* bytes of images that carried LoRA-merged tensors */
    size_t merge_scratch_peak;   /* most host bytes the merge allocated at once (buffers) */
} se_sf_load_stats;

/* Loads the four networks (any out pointer may be NULL to skip that network; a LoRA then must
 * not target it). On failure nothing is returned and the message names the part, file and tensor. */
se_status se_sf_load_networks(const se_sf_sources *s, se_backend *be, se_unet **unet,
                              se_clip **te1, se_clip **te2, se_vae **vae);

/* The pipeline's plug-in point: loads the four networks of a model description (strike/engine.h
 * se_model_desc) that has a checkpoint_file and/or a lora_file, resolving each part like
 * se_model_load does: configs from base_dir (vae_dir's config when given); weights from the most
 * specific source: unet_file, else the checkpoint's UNet if it has one, else base_dir/unet/;
 * text encoders from the checkpoint if it has them, else base_dir/text_encoder{,_2}/; the VAE
 * from vae_dir, else the checkpoint, else base_dir/vae/ (model.safetensors or
 * model.fp16.safetensors, diffusion_pytorch_model(.fp16).safetensors). lora_file is merged at
 * lora_strength into the UNet and text encoders. se_model_load calls it as
 *   if (d->checkpoint_file || d->lora_file)
 *       st = se_sf_load_desc(d, be, &m->unet, &m->enc1, &m->enc2, &m->vae);
 * and keeps loading tokenizers and the scheduler from base_dir itself. */
se_status se_sf_load_desc(const se_model_desc *d, se_backend *be, se_unet **unet, se_clip **te1,
                          se_clip **te2, se_vae **vae);
/* The same sources and checks as se_sf_load_desc, for se_model_check: each network that loads
 * through an image of SGM tensors gets an image with the header only (names, dtypes, shapes,
 * offsets; the data section is a hole), so checking a checkpoint copies no weights. Only for a
 * backend that refuses the weights' allocation (the loaders check every name and shape before
 * it and read no data before it); with another backend the networks would load zeros. */
se_status se_sf_check_desc(const se_model_desc *d, se_backend *be, se_unet **unet, se_clip **te1,
                           se_clip **te2, se_vae **vae);
/* Tensor data bytes this process has written into weight images (memfd) so far: tests check
 * that se_model_check writes none. */
uint64_t se_sf_image_data_bytes(void);

#endif
