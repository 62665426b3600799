/*
 * unet_sgm.c - the SGM / ComfyUI single-file name of a diffusers UNet tensor, for
 * se_unet_new_from_single_file (unet.c). The name mapping itself lives in ONE place,
 * io/sgm_names.c (generic over block counts, checked against diffusers' own conversion for all
 * 1680 SDXL UNet names by engine_formats_names); this is a thin caller adding the prefix.
 */
#include <stdio.h>
#include <string.h>

#include "io/sgm_names.h"
#include "model/unet.h"

bool se_unet_sgm_name(const se_unet_config *c, const char *name, char *out, size_t cap) {
    const size_t np = strlen(SE_UNET_SGM_PREFIX);
    if (!c || !name || !out || cap <= np) return false;
    memcpy(out, SE_UNET_SGM_PREFIX, np);
    return se_sgm_unet_from_diffusers(c, name, out + np, cap - np);
}
