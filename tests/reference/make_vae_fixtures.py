#!/usr/bin/env python3
"""make_vae_fixtures.py - records the VAE decoder fixtures in tests/fixtures/vae/.

A tiny random diffusers AutoencoderKL with the SDXL VAE's architecture (4 UpDecoderBlock2D
levels, layers_per_block 2, one-head mid attention, GroupNorm eps 1e-6) but small channels
(32, 32, 32, 64: the decoder's first level and mid block at 64, a 64 -> 32 width change with a
conv_shortcut, ~1.07 M parameters, kept small because formats/tiny_sgm.safetensors holds a
second copy of the decoder) and 16 groups (two channels per group at the first level), saved in the
diffusers layout (tiny/config.json + tiny/diffusion_pytorch_model.safetensors, weights in fp16
to keep the file small; the reference runs in fp32 on exactly those fp16 values). The file keeps
the decoder's tensors only (decoder.*, post_quant_conv.*): the engine is a decoder, nothing reads
the encoder, and dropping it (with the sizes above) keeps the engine fixtures under 28 MB.

For each case: random latents as the sampler leaves them, the decoder output of
vae.decode(latents / scaling_factor) (float32, [B,3,H,W]) and the 8-bit image from diffusers'
VaeImageProcessor.postprocess + numpy_to_pil ([B,H,W,3]).
Files: case_{name}.latents.f32, case_{name}.image.f32, case_{name}.rgb.u8 (raw little-endian),
cases.txt: "name B h w" per line.
Run: /work/venv-ref/bin/python tests/reference/make_vae_fixtures.py
"""
import os

import numpy as np
import torch
import diffusers
from diffusers import AutoencoderKL
from diffusers.image_processor import VaeImageProcessor
from safetensors.torch import load_file, save_file

assert torch.__version__.split("+")[0] == "2.15.0", torch.__version__
assert diffusers.__version__ == "0.42.1", diffusers.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "vae")
CASES = [("square", 1, 8, 8), ("nonsquare", 1, 6, 10), ("batch2", 2, 8, 8)]


def main():
    torch.manual_seed(0)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=[32, 32, 32, 64], layers_per_block=2, act_fn="silu",
        latent_channels=4, norm_num_groups=16, sample_size=64, scaling_factor=0.13025,
        force_upcast=True)
    # Randomise the norms too (they start at 1/0) so their affine part is exercised, then round
    # every weight to fp16 so the saved fp16 file holds exactly what the reference computes with.
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.2)
            elif name.endswith(".bias"):
                p.copy_(torch.randn_like(p) * 0.05)
            p.copy_(p.half().float())
    vae.eval()
    tiny = os.path.join(OUT, "tiny")
    os.makedirs(tiny, exist_ok=True)
    vae.to(torch.float16).save_pretrained(tiny, safe_serialization=True)
    wpath = os.path.join(tiny, "diffusion_pytorch_model.safetensors")
    sd = load_file(wpath)
    dec = {k: v for k, v in sd.items() if k.startswith(("decoder.", "post_quant_conv."))}
    assert dec and len(dec) < len(sd)
    save_file(dec, wpath, metadata={"format": "pt"})
    vae.to(torch.float32)
    proc = VaeImageProcessor(vae_scale_factor=8)
    lines = []
    g = torch.Generator("cpu").manual_seed(7)
    for name, b, h, w in CASES:
        latents = torch.randn((b, 4, h, w), generator=g, dtype=torch.float32)
        with torch.no_grad():
            image = vae.decode(latents / vae.config.scaling_factor, return_dict=False)[0]
        np_img = proc.postprocess(image, output_type="np")
        rgb = np.stack([np.asarray(p) for p in proc.numpy_to_pil(np_img)])
        assert rgb.dtype == np.uint8 and rgb.shape == (b, h * 8, w * 8, 3), rgb.shape
        latents.numpy().astype("<f4").tofile(os.path.join(OUT, f"case_{name}.latents.f32"))
        image.numpy().astype("<f4").tofile(os.path.join(OUT, f"case_{name}.image.f32"))
        rgb.tofile(os.path.join(OUT, f"case_{name}.rgb.u8"))
        lines.append(f"{name} {b} {h} {w}")
        print(name, "image range", float(image.min()), float(image.max()))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("# name B h w (latents [B,4,h,w] -> image [B,3,8h,8w]); see make_vae_fixtures.py\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
