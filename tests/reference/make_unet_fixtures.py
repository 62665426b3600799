"""make_unet_fixtures.py - tiny random SDXL-architecture UNets and their diffusers outputs.

Regenerate (from the repository root, with the pinned reference venv; see common.py):

    /work/venv-ref/bin/python tests/reference/make_unet_fixtures.py

For each case below it builds a diffusers UNet2DConditionModel with the real SDXL block layout
(DownBlock2D, CrossAttnDownBlock2D x2 / CrossAttnUpBlock2D x2, UpBlock2D, UNetMidBlock2DCrossAttn,
text_time added conditioning, cos-first sinusoids, linear or conv projections) but tiny widths,
randomises every parameter (norm scales and biases too, so swapped gamma/beta would show), rounds
the weights to the storage dtype, and writes

    tests/fixtures/unet/<case>/unet/config.json                          (diffusers layout)
    tests/fixtures/unet/<case>/unet/diffusion_pytorch_model.safetensors  (F16 or BF16 weights)
    tests/fixtures/unet/<case>/io.safetensors                            (F32 inputs/outputs)

For the case in SGM_CASES it also writes sgm_single_file.safetensors: the same weights under the
original SGM / ComfyUI single-file names (model.diffusion_model.input_blocks...), plus a few
non-UNet tensors (an I64 text-encoder buffer, a VAE tensor) as an all-in-one checkpoint has; the
renaming is checked by converting back with diffusers' own convert_ldm_unet_checkpoint.

io.safetensors holds in.sample, in.timestep, in.encoder_hidden_states, in.text_embeds,
in.time_ids, out (the UNet output), and intermediates inter.<name> recorded with hooks:
temb (time_embedding), aug (add_embedding), conv_in, down.<i> (hidden state leaving down block
i), mid, up.<i>. The reference output is computed in fp32 from exactly the stored (rounded)
weights. Everything is deterministic (fixed seeds, deterministic torch on one thread).
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.check_versions(("torch", "diffusers", "safetensors"))

import torch  # noqa: E402
from diffusers import UNet2DConditionModel  # noqa: E402

SDXL_BLOCKS = dict(
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    mid_block_type="UNetMidBlock2DCrossAttn",
    addition_embed_type="text_time",
    flip_sin_to_cos=True,
    freq_shift=0,
    act_fn="silu",
    norm_eps=1e-5,
    in_channels=4,
    out_channels=4,
)

# name: (config, storage dtype, batch, latent h, latent w, pooled dim, seed)
CASES = {
    # SDXL-like: depths (1,1,2), 2/2/4 heads of 16, cross dim 40, 1024 px-style time_ids.
    "tiny": (
        dict(block_out_channels=(16, 32, 64), layers_per_block=2,
             transformer_layers_per_block=(1, 1, 2), attention_head_dim=(2, 2, 4),
             cross_attention_dim=40, norm_num_groups=8, addition_time_embed_dim=8,
             projection_class_embeddings_input_dim=24 + 6 * 8, use_linear_projection=True,
             sample_size=16),
        torch.float16, 1, 16, 16, 24, 1234),
    # batch 2, non-square latent, one resnet per down block, depths (1,2,1), 3 heads at 48.
    "b2_nonsquare": (
        dict(block_out_channels=(16, 32, 48), layers_per_block=1,
             transformer_layers_per_block=(1, 2, 1), attention_head_dim=(1, 2, 3),
             cross_attention_dim=24, norm_num_groups=8, addition_time_embed_dim=16,
             projection_class_embeddings_input_dim=32 + 6 * 16, use_linear_projection=True,
             sample_size=16),
        torch.float16, 2, 12, 20, 32, 99),
    # conv (1x1) proj_in/proj_out as in SD 1.x-style configs, BF16 weights, 3 heads of 16 at
    # level 1 and one head of 64 (SDXL's head width) at level 2.
    "convproj_bf16": (
        dict(block_out_channels=(16, 48, 64), layers_per_block=1,
             transformer_layers_per_block=(1, 1, 1), attention_head_dim=(2, 3, 1),
             cross_attention_dim=20, norm_num_groups=4, addition_time_embed_dim=4,
             projection_class_embeddings_input_dim=12 + 6 * 4, use_linear_projection=False,
             sample_size=8),
        torch.bfloat16, 1, 8, 12, 12, 7),
}


# Cases that also get an SGM-named single-file copy of their weights.
SGM_CASES = ("b2_nonsquare",)

RESNET_SGM = (("norm1.", "in_layers.0."), ("conv1.", "in_layers.2."),
              ("time_emb_proj.", "emb_layers.1."), ("norm2.", "out_layers.0."),
              ("conv2.", "out_layers.3."), ("conv_shortcut.", "skip_connection."))


def sgm_name(name, cfg):
    """diffusers UNet tensor name -> SGM single-file name (sdxl-lightning.md 3.2)."""
    fixed = {"time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
             "add_embedding.linear_1.": "label_emb.0.0.", "add_embedding.linear_2.": "label_emb.0.2.",
             "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2."}
    for d, s in fixed.items():
        if name.startswith(d):
            return "model.diffusion_model." + s + name[len(d):]
    L = cfg["layers_per_block"]
    p = name.split(".")

    def resnet(rest):
        for d, s in RESNET_SGM:
            if rest.startswith(d):
                return s + rest[len(d):]
        raise KeyError(name)

    rest = ".".join(p[4:])
    if p[0] == "down_blocks":
        i = int(p[1])
        if p[2] == "resnets":
            out = f"input_blocks.{(L + 1) * i + int(p[3]) + 1}.0." + resnet(rest)
        elif p[2] == "attentions":
            out = f"input_blocks.{(L + 1) * i + int(p[3]) + 1}.1." + rest
        else:  # downsamplers.0.conv.*
            out = f"input_blocks.{(L + 1) * (i + 1)}.0.op." + ".".join(p[5:])
    elif p[0] == "mid_block":
        k = {"resnets": 2 * int(p[2]), "attentions": 1}[p[1]]
        tail = ".".join(p[3:])
        out = f"middle_block.{k}." + (resnet(tail) if p[1] == "resnets" else tail)
    elif p[0] == "up_blocks":
        i = int(p[1])
        if p[2] == "resnets":
            out = f"output_blocks.{(L + 1) * i + int(p[3])}.0." + resnet(rest)
        elif p[2] == "attentions":
            out = f"output_blocks.{(L + 1) * i + int(p[3])}.1." + rest
        else:  # upsamplers.0.conv.*
            slot = 2 if cfg["up_block_types"][i] == "CrossAttnUpBlock2D" else 1
            out = f"output_blocks.{(L + 1) * i + L}.{slot}.conv." + ".".join(p[5:])
    else:
        raise KeyError(name)
    return "model.diffusion_model." + out


def write_sgm(model, path):
    """Saves model's weights under SGM names (plus non-UNet extras) and proves the renaming
    with diffusers' converter."""
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    cfg = dict(model.config)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sgm = {sgm_name(k, cfg): v for k, v in sd.items()}
    assert len(sgm) == len(sd)
    back = convert_ldm_unet_checkpoint(sgm, cfg)
    assert set(back) == set(sd), set(back) ^ set(sd)
    for k, v in sd.items():
        assert torch.equal(back[k], v), k
    sgm["conditioner.embedders.0.transformer.text_model.embeddings.position_ids"] = \
        torch.arange(77, dtype=torch.int64)[None]
    sgm["first_stage_model.decoder.conv_in.bias"] = torch.zeros(4, dtype=next(iter(sd.values())).dtype)
    common.save_tensors(path, sgm)


def randomise(model, gen):
    """Perturbs every parameter: 1-D ones (norm scales, biases) get noise around their init,
    matrices keep their default init scale but get fresh random values."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.add_(0.2 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / fan_in) ** 0.5)


def make_case(name, cfg, store_dtype, batch, h, w, pooled, seed):
    common.deterministic(seed)
    gen = torch.Generator().manual_seed(seed)
    model = UNet2DConditionModel(**SDXL_BLOCKS, **cfg).eval()
    randomise(model, gen)

    out_dir = os.path.join(common.fixtures_dir("unet"), name)
    shutil.rmtree(out_dir, ignore_errors=True)
    unet_dir = os.path.join(out_dir, "unet")
    # Round the weights to the storage dtype, save them, and compute with exactly those values.
    model.to(store_dtype)
    model.save_pretrained(unet_dir, safe_serialization=True)
    if name in SGM_CASES:
        write_sgm(model, os.path.join(out_dir, "sgm_single_file.safetensors"))
    model.to(torch.float32)

    ctx_dim = cfg["cross_attention_dim"]
    sample = torch.randn(batch, 4, h, w, generator=gen)
    timestep = torch.tensor([999.0, 250.5][:batch], dtype=torch.float32)
    ehs = torch.randn(batch, 77, ctx_dim, generator=gen)
    text_embeds = torch.randn(batch, pooled, generator=gen)
    px_h, px_w = 8 * h, 8 * w
    time_ids = torch.tensor([[px_h, px_w, 0, 0, px_h, px_w], [px_h, px_w, 16, 8, px_h, px_w]][:batch],
                            dtype=torch.float32)

    inter = {}

    def hook(key):
        def fn(_mod, _inp, out):
            inter[key] = (out[0] if isinstance(out, tuple) else out).detach().clone()
        return fn

    model.time_embedding.register_forward_hook(hook("temb"))
    model.add_embedding.register_forward_hook(hook("aug"))
    model.conv_in.register_forward_hook(hook("conv_in"))
    for i, b in enumerate(model.down_blocks):
        b.register_forward_hook(hook(f"down.{i}"))
    model.mid_block.register_forward_hook(hook("mid"))
    for i, b in enumerate(model.up_blocks):
        b.register_forward_hook(hook(f"up.{i}"))

    with torch.inference_mode():
        out = model(sample, timestep, encoder_hidden_states=ehs,
                    added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample

    tensors = {
        "in.sample": sample, "in.timestep": timestep, "in.encoder_hidden_states": ehs,
        "in.text_embeds": text_embeds, "in.time_ids": time_ids, "out": out,
    }
    for k, v in inter.items():
        tensors[f"inter.{k}"] = v.float()
    common.save_tensors(os.path.join(out_dir, "io.safetensors"), tensors)
    nparams = sum(p.numel() for p in model.parameters())
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out_dir) for f in fs)
    print(f"{name}: {nparams} params, {store_dtype}, batch {batch}, latent {h}x{w}, "
          f"out norm {out.norm():.4f}, {size / 1e6:.2f} MB")


def main():
    for name, args in CASES.items():
        make_case(name, *args)
    with open(os.path.join(common.fixtures_dir("unet"), "cases.json"), "w") as f:
        json.dump(sorted(CASES), f)
        f.write("\n")


if __name__ == "__main__":
    main()
