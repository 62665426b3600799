"""make_format_fixtures.py - single-file (SGM) checkpoint and LoRA fixtures for engine_formats_*.

Run with the reference venv:  /work/venv-ref/bin/python tests/reference/make_format_fixtures.py

Inputs (already in the tree, made by the other reference scripts): the tiny diffusers UNet
(tests/fixtures/unet/tiny/unet), the tiny VAE (tests/fixtures/vae/tiny), the tiny CLIP-L and bigG
text encoders (tests/fixtures/clip/text_encoder, text_encoder_2). All have the real SDXL
architecture at toy sizes.

Writes tests/fixtures/formats/:
  tiny_sgm.safetensors   the four networks as ONE single-file checkpoint in the original SGM
                         naming (model.diffusion_model.*, conditioner.embedders.0/1.*,
                         first_stage_model.*; VAE decoder + post_quant_conv only, to stay small),
                         written with this script's OWN diffusers->SGM mapping. Checked
                         independently of that mapping and of the C code: diffusers'
                         UNet2DConditionModel.from_single_file (local config, offline) and its
                         single_file_utils converters (convert_ldm_vae_checkpoint,
                         convert_ldm_clip_checkpoint, convert_open_clip_checkpoint) must give back
                         tensors identical to the original diffusers models (asserted here).
  lora_kohya_sgm.safetensors    a random LoRA, kohya keys with SGM UNet names (lora_unet_input_
                                blocks_4_1_...), lora_te1_/lora_te2_ text-encoder keys, alpha
  lora_kohya_diff.safetensors   the same LoRA with kohya keys in diffusers names
                                (lora_unet_down_blocks_1_attentions_0_...)
  lora_peft.safetensors         another random LoRA in PEFT style (unet.X.lora_A/lora_B.weight,
                                text_encoder(_2).X...), no alpha (scale = strength)
  lora_ref.safetensors          reference merged weights (fp32) of every targeted tensor:
                                "kohya.<diffusers component>.<name>" (strength 0.8) and
                                "peft.<component>.<name>" (strength 1.0), and "kohya.unet_out" /
                                "peft.unet_out": the tiny UNet's output on the inputs of
                                tests/fixtures/unet/tiny/io.safetensors with the merged weights.
The merge reference is this script's numpy implementation of the kohya rule
(W += strength * alpha/rank * up @ down in fp32; conv: up[o,r] @ down[r, i*kh*kw] reshaped),
cross-checked against diffusers (UNet2DConditionModel.load_lora_adapter + fuse_lora) for the PEFT
file's UNet part when the peft package is installed (it is not in the reference venv: printed).
The SGM-named kohya keys are checked independently: diffusers' lora_state_dict (its kohya and SGM
block conversion) must map both kohya files to identical modules, alphas and values (asserted).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402

common.check_versions(("torch", "diffusers", "transformers", "safetensors"))

import torch  # noqa: E402
from safetensors.numpy import load_file as np_load  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

FIX = os.path.join(common.REPO_ROOT, "tests", "fixtures")
UNET_DIR = os.path.join(FIX, "unet", "tiny", "unet")
VAE_DIR = os.path.join(FIX, "vae", "tiny")
TE1_DIR = os.path.join(FIX, "clip", "text_encoder")
TE2_DIR = os.path.join(FIX, "clip", "text_encoder_2")
OUT = common.fixtures_dir("formats")


def only_file(d, names):
    for n in names:
        p = os.path.join(d, n)
        if os.path.exists(p):
            return p
    raise SystemExit(f"no weights in {d}")


# ------------------------------------------------------------- our own diffusers -> SGM mapping


def unet_block_table(cfg):
    """[(sgm_prefix, diffusers_prefix, is_resnet)] for a diffusers UNet config."""
    nb = len(cfg["block_out_channels"])
    lpb = cfg["layers_per_block"]
    layers = lpb if isinstance(lpb, list) else [lpb] * nb
    down_attn = [t.startswith("CrossAttn") for t in cfg["down_block_types"]]
    up_attn = [t.startswith("CrossAttn") for t in cfg["up_block_types"]]
    t = [("time_embed.0", "time_embedding.linear_1", False),
         ("time_embed.2", "time_embedding.linear_2", False),
         ("label_emb.0.0", "add_embedding.linear_1", False),
         ("label_emb.0.2", "add_embedding.linear_2", False),
         ("input_blocks.0.0", "conv_in", False),
         ("out.0", "conv_norm_out", False), ("out.2", "conv_out", False),
         ("middle_block.0", "mid_block.resnets.0", True),
         ("middle_block.1", "mid_block.attentions.0", False),
         ("middle_block.2", "mid_block.resnets.1", True)]
    k = 1
    for i in range(nb):
        for j in range(layers[i]):
            t.append((f"input_blocks.{k}.0", f"down_blocks.{i}.resnets.{j}", True))
            if down_attn[i]:
                t.append((f"input_blocks.{k}.1", f"down_blocks.{i}.attentions.{j}", False))
            k += 1
        if i < nb - 1:
            t.append((f"input_blocks.{k}.0.op", f"down_blocks.{i}.downsamplers.0.conv", False))
            k += 1
    k = 0
    for i in range(nb):
        nl = layers[nb - 1 - i] + 1
        for j in range(nl):
            t.append((f"output_blocks.{k}.0", f"up_blocks.{i}.resnets.{j}", True))
            if up_attn[i]:
                t.append((f"output_blocks.{k}.1", f"up_blocks.{i}.attentions.{j}", False))
            if j == nl - 1 and i < nb - 1:
                slot = 2 if up_attn[i] else 1
                t.append((f"output_blocks.{k}.{slot}.conv", f"up_blocks.{i}.upsamplers.0.conv", False))
            k += 1
    return t


RESNET = [("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("emb_layers.1", "time_emb_proj"),
          ("out_layers.0", "norm2"), ("out_layers.3", "conv2"), ("skip_connection", "conv_shortcut")]


def unet_to_sgm(name, table):
    best = None
    for sgm, diff, rn in table:
        if name.startswith(diff + ".") and (best is None or len(diff) > len(best[1])):
            best = (sgm, diff, rn)
    assert best, name
    sgm, diff, rn = best
    rest = name[len(diff) + 1:]
    if rn:
        for a, b in RESNET:
            if rest.startswith(b + "."):
                rest = a + rest[len(b):]
                break
        else:
            raise AssertionError(name)
    return sgm + "." + rest


def vae_to_sgm(name, nup):
    """diffusers VAE decoder name -> SGM name and whether it becomes a 1x1 conv kernel."""
    n = name
    conv = False
    if n.startswith("decoder.up_blocks."):
        parts = n.split(".")
        i = int(parts[2])
        rest = ".".join(parts[3:])
        rest = rest.replace("resnets.", "block.").replace("upsamplers.0.conv", "upsample.conv")
        n = f"decoder.up.{nup - 1 - i}.{rest}"
    n = n.replace("mid_block.resnets.0", "mid.block_1").replace("mid_block.resnets.1", "mid.block_2")
    for a, b in [("attentions.0.group_norm", "attn_1.norm"), ("attentions.0.to_q", "attn_1.q"),
                 ("attentions.0.to_k", "attn_1.k"), ("attentions.0.to_v", "attn_1.v"),
                 ("attentions.0.to_out.0", "attn_1.proj_out")]:
        if ("mid_block." + a) in n:
            n = n.replace("mid_block." + a, "mid." + b)
            conv = b != "attn_1.norm" and n.endswith(".weight")
    n = n.replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out")
    return n, conv


def bigg_to_sgm(sd):
    """HF CLIPTextModelWithProjection state dict -> open_clip names (fused in_proj, P transposed)."""
    out = {}
    nl = 1 + max(int(k.split(".")[3]) for k in sd if k.startswith("text_model.encoder.layers."))
    for l in range(nl):
        p = f"text_model.encoder.layers.{l}."
        q = f"transformer.resblocks.{l}."
        for kind in ("weight", "bias"):
            out[q + f"attn.in_proj_{kind}"] = torch.cat(
                [sd[p + f"self_attn.{x}_proj.{kind}"] for x in "qkv"], 0)
            for a, b in [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
                         ("self_attn.out_proj", "attn.out_proj"), ("mlp.fc1", "mlp.c_fc"),
                         ("mlp.fc2", "mlp.c_proj")]:
                out[q + f"{b}.{kind}"] = sd[p + f"{a}.{kind}"]
    out["token_embedding.weight"] = sd["text_model.embeddings.token_embedding.weight"]
    out["positional_embedding"] = sd["text_model.embeddings.position_embedding.weight"]
    out["ln_final.weight"] = sd["text_model.final_layer_norm.weight"]
    out["ln_final.bias"] = sd["text_model.final_layer_norm.bias"]
    out["text_projection"] = sd["text_projection.weight"].T.contiguous()
    out["logit_scale"] = torch.tensor(4.6052, dtype=sd["text_projection.weight"].dtype)
    return out


def main():
    import diffusers
    from diffusers import UNet2DConditionModel
    from diffusers.loaders import single_file_utils as sfu

    unet_cfg = json.load(open(os.path.join(UNET_DIR, "config.json")))
    vae_cfg = json.load(open(os.path.join(VAE_DIR, "config.json")))
    unet_sd = load_file(only_file(UNET_DIR, ["diffusion_pytorch_model.safetensors"]))
    vae_sd = load_file(only_file(VAE_DIR, ["diffusion_pytorch_model.safetensors"]))
    te1_sd = load_file(only_file(TE1_DIR, ["model.safetensors"]))
    # the CLIP-L fixture file has no "text_model." prefix; SGM files (and kohya keys) always do
    te1_sd = {(k if k.startswith("text_model.") else "text_model." + k): v for k, v in te1_sd.items()}
    te2_sd = load_file(only_file(TE2_DIR, ["model.safetensors"]))

    table = unet_block_table(unet_cfg)
    nup = len(vae_cfg["block_out_channels"])
    sgm = {}
    for k, v in unet_sd.items():
        sgm["model.diffusion_model." + unet_to_sgm(k, table)] = v
    for k, v in te1_sd.items():
        sgm["conditioner.embedders.0.transformer." + k] = v
    for k, v in bigg_to_sgm(te2_sd).items():
        sgm["conditioner.embedders.1.model." + k] = v
    for k, v in vae_sd.items():
        if not (k.startswith("decoder.") or k.startswith("post_quant_conv.")):
            continue
        n, conv = vae_to_sgm(k, nup)
        sgm["first_stage_model." + n] = v[:, :, None, None].contiguous() if conv else v
    assert len([k for k in sgm if k.startswith("model.diffusion_model.")]) == len(unet_sd)
    sgm_path = os.path.join(OUT, "tiny_sgm.safetensors")
    save_file({k: v.contiguous() for k, v in sgm.items()}, sgm_path)
    print(f"wrote {sgm_path}: {len(sgm)} tensors, {os.path.getsize(sgm_path)} bytes")

    # ---- independent check: diffusers' own single-file loaders give the original tensors back
    ck = load_file(sgm_path)
    u = UNet2DConditionModel.from_single_file(sgm_path, config=UNET_DIR, local_files_only=True,
                                              torch_dtype=torch.float16)
    got = u.state_dict()
    assert set(got) == set(unet_sd), set(got) ^ set(unet_sd)
    for k, v in unet_sd.items():
        assert torch.equal(got[k], v), k
    vae_conv = sfu.convert_ldm_vae_checkpoint(ck, vae_cfg)
    want = {k: v for k, v in vae_sd.items() if k.startswith("decoder.") or k.startswith("post_quant_conv.")}
    got = {k: v for k, v in vae_conv.items() if k in want}
    assert set(got) == set(want), set(got) ^ set(want)
    for k, v in want.items():
        assert torch.equal(got[k].reshape(v.shape), v), k
    te1_conv = sfu.convert_ldm_clip_checkpoint(ck, remove_prefix="conditioner.embedders.0.transformer.")
    for k, v in te1_sd.items():
        assert torch.equal(te1_conv[k], v), k
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection
    m2 = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(TE2_DIR))
    te2_conv = sfu.convert_open_clip_checkpoint(m2, ck, prefix="conditioner.embedders.1.model.")
    for k, v in te2_sd.items():
        if "position_ids" in k:
            continue
        assert k in te2_conv, k
        assert torch.equal(te2_conv[k], v), k
    print(f"diffusers {diffusers.__version__} single-file loaders reproduce all "
          f"{len(unet_sd)} UNet, {len(want)} VAE, {len(te1_sd)} CLIP-L, {len(te2_sd)} bigG tensors")

    make_loras(unet_cfg, table, unet_sd, te1_sd, te2_sd)
    sdxl_unet_names()


def sdxl_unet_names():
    """sdxl_unet_names.txt: "diffusers_name sgm_name" for all 1680 tensors of the real SDXL UNet
    (built on the meta device: names only). The SGM names come from this script's mapping and are
    checked tensor by tensor against diffusers' convert_ldm_unet_checkpoint."""
    from diffusers import UNet2DConditionModel
    from diffusers.loaders import single_file_utils as sfu
    cfg = dict(sample_size=128, in_channels=4, out_channels=4, block_out_channels=[320, 640, 1280],
               layers_per_block=2,
               down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
               up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
               transformer_layers_per_block=[1, 2, 10], attention_head_dim=[5, 10, 20],
               cross_attention_dim=2048, use_linear_projection=True, addition_embed_type="text_time",
               addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
    with torch.device("meta"):
        u = UNet2DConditionModel(**cfg)
    names = list(u.state_dict().keys())
    assert len(names) == 1680, len(names)
    table = unet_block_table(dict(u.config))
    sgm = [unet_to_sgm(k, table) for k in names]
    ck = {"model.diffusion_model." + s: torch.tensor([float(i)]) for i, s in enumerate(sgm)}
    conv = sfu.convert_ldm_unet_checkpoint(ck, dict(u.config))
    assert set(conv) == set(names)
    for i, k in enumerate(names):
        assert int(conv[k][0]) == i, k
    path = os.path.join(OUT, "sdxl_unet_names.txt")
    with open(path, "w") as f:
        for k, s in zip(names, sgm):
            f.write(f"{k} {s}\n")
    print(f"wrote {path}: 1680 SDXL UNet names, SGM names checked against convert_ldm_unet_checkpoint")


# ------------------------------------------------------------------------------------- LoRA

UNET_TARGETS = [
    "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight",
    "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight",
    "down_blocks.2.attentions.1.transformer_blocks.1.attn1.to_out.0.weight",
    "down_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj.weight",
    "mid_block.attentions.0.proj_in.weight",
    "up_blocks.0.attentions.2.transformer_blocks.0.attn2.to_v.weight",
    "up_blocks.1.attentions.1.proj_out.weight",
    "down_blocks.0.resnets.1.conv1.weight",          # 3x3 conv
    "up_blocks.2.resnets.0.conv_shortcut.weight",    # 1x1 conv
    "up_blocks.1.upsamplers.0.conv.weight",
    "mid_block.resnets.0.time_emb_proj.weight",
]
TE1_TARGETS = ["text_model.encoder.layers.0.self_attn.q_proj.weight",
               "text_model.encoder.layers.1.mlp.fc1.weight"]
TE2_TARGETS = ["text_model.encoder.layers.2.self_attn.v_proj.weight",
               "text_model.encoder.layers.0.mlp.fc2.weight"]


def rand_lora(rng, w, rank):
    """Random (down, up) for weight w: down [r, in(, kh, kw)], up [out, r(, 1, 1)]."""
    shape = w.shape
    if len(shape) == 4:
        down = rng.standard_normal((rank, shape[1], shape[2], shape[3])).astype(np.float32) * 0.3
        up = rng.standard_normal((shape[0], rank, 1, 1)).astype(np.float32) * 0.3
    else:
        down = rng.standard_normal((rank, shape[1])).astype(np.float32) * 0.3
        up = rng.standard_normal((shape[0], rank)).astype(np.float32) * 0.3
    return down, up


def merge(w, down, up, scale):
    """The reference merge in fp32: W + scale * up @ down (convs through the flattened kernel)."""
    w = w.astype(np.float32)
    d2 = down.reshape(down.shape[0], -1)
    u2 = up.reshape(up.shape[0], -1)
    return (w.reshape(w.shape[0], -1) + scale * (u2 @ d2)).reshape(w.shape)


def kohya_key(name):
    return name[: -len(".weight")].replace(".", "_")


def make_loras(unet_cfg, table, unet_sd, te1_sd, te2_sd):
    rng = np.random.default_rng(1234)
    comps = [("unet", "lora_unet_", "unet.", UNET_TARGETS, unet_sd),
             ("te1", "lora_te1_", "text_encoder.", TE1_TARGETS, te1_sd),
             ("te2", "lora_te2_", "text_encoder_2.", TE2_TARGETS, te2_sd)]
    kohya_sgm, kohya_diff, peft, ref = {}, {}, {}, {}
    merged = {"kohya": {}, "peft": {}}
    strength_k, strength_p = 0.8, 1.0
    for comp, kpre, ppre, targets, sd in comps:
        for idx, name in enumerate(targets):
            w = sd[name].float().numpy()
            rank = 4 if idx % 2 == 0 else 2
            down, up = rand_lora(rng, w, rank)
            alpha = np.float32(2.0 if idx % 3 else 3.0)
            if comp == "unet":
                sgm_name = unet_to_sgm(name, table)
                ks = kpre + kohya_key(sgm_name)
            else:
                ks = kpre + kohya_key(name)
            kd = kpre + kohya_key(name)
            for dct, key in ((kohya_sgm, ks), (kohya_diff, kd)):
                dct[key + ".lora_down.weight"] = torch.from_numpy(down).half()
                dct[key + ".lora_up.weight"] = torch.from_numpy(up).half()
                dct[key + ".alpha"] = torch.tensor(alpha)
            d16 = torch.from_numpy(down).half().float().numpy()
            u16 = torch.from_numpy(up).half().float().numpy()
            mk = merge(w, d16, u16, strength_k * float(alpha) / rank)
            ref[f"kohya.{comp}.{name}"] = torch.from_numpy(mk)
            merged["kohya"][(comp, name)] = mk
            # PEFT: a different random pair, no alpha
            down, up = rand_lora(rng, w, rank)
            base = name[: -len(".weight")]
            peft[ppre + base + ".lora_A.weight"] = torch.from_numpy(down).half()
            peft[ppre + base + ".lora_B.weight"] = torch.from_numpy(up).half()
            d16 = torch.from_numpy(down).half().float().numpy()
            u16 = torch.from_numpy(up).half().float().numpy()
            mp = merge(w, d16, u16, strength_p)
            ref[f"peft.{comp}.{name}"] = torch.from_numpy(mp)
            merged["peft"][(comp, name)] = mp
    save_file(kohya_sgm, os.path.join(OUT, "lora_kohya_sgm.safetensors"))
    save_file(kohya_diff, os.path.join(OUT, "lora_kohya_diff.safetensors"))
    save_file(peft, os.path.join(OUT, "lora_peft.safetensors"))

    # UNet outputs with the merged weights (fp32 model), on the tiny UNet fixture's inputs
    from diffusers import UNet2DConditionModel
    io = load_file(os.path.join(FIX, "unet", "tiny", "io.safetensors"))
    for style in ("kohya", "peft"):
        m = UNet2DConditionModel.from_pretrained(UNET_DIR, torch_dtype=torch.float32)
        sd = m.state_dict()
        for (comp, name), val in merged[style].items():
            if comp == "unet":
                sd[name] = torch.from_numpy(val)
        m.load_state_dict(sd)
        m.eval()
        with torch.no_grad():
            out = m(io["in.sample"], io["in.timestep"], encoder_hidden_states=io["in.encoder_hidden_states"],
                    added_cond_kwargs={"text_embeds": io["in.text_embeds"], "time_ids": io["in.time_ids"]}).sample
        ref[f"{style}.unet_out"] = out.contiguous()
    save_file(ref, os.path.join(OUT, "lora_ref.safetensors"))

    # independent check of the SGM-named kohya keys: diffusers' own kohya/SGM conversion
    # (lora_state_dict, _maybe_map_sgm_blocks_to_diffusers) maps both kohya files to the same
    # modules, alphas and values
    from types import SimpleNamespace
    from diffusers import StableDiffusionXLPipeline
    ucfg = SimpleNamespace(layers_per_block=unet_cfg["layers_per_block"])
    a = StableDiffusionXLPipeline.lora_state_dict(os.path.join(OUT, "lora_kohya_sgm.safetensors"), unet_config=ucfg)
    b = StableDiffusionXLPipeline.lora_state_dict(os.path.join(OUT, "lora_kohya_diff.safetensors"), unet_config=ucfg)
    assert set(a[0]) == set(b[0]) and all(torch.equal(a[0][k], b[0][k]) for k in a[0]) and a[1] == b[1]
    print(f"diffusers lora_state_dict maps the SGM-named and diffusers-named kohya files identically "
          f"({len(a[0])} tensors)")

    # cross-check of the numpy merge against diffusers' own PEFT loading + fuse (UNet part)
    try:
        m = UNet2DConditionModel.from_pretrained(UNET_DIR, torch_dtype=torch.float32)
        unet_peft = {k: v.float() for k, v in peft.items() if k.startswith("unet.")}
        m.load_lora_adapter(unet_peft, prefix="unet", adapter_name="t")
        m.fuse_lora(lora_scale=1.0)
        sd = m.state_dict()
        worst = 0.0
        for (comp, name), val in merged["peft"].items():
            if comp != "unet":
                continue
            g = sd[name.replace(".weight", ".base_layer.weight")] if name.replace(".weight", ".base_layer.weight") in sd else sd[name]
            worst = max(worst, float(np.abs(g.numpy() - val).max() / (np.abs(val).max() + 1e-12)))
        print(f"diffusers load_lora_adapter+fuse_lora vs numpy merge (PEFT UNet): max rel err {worst:.3g}")
        assert worst < 1e-6
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001
        print(f"diffusers PEFT cross-check not available: {type(e).__name__}: {e}")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"fixtures/formats: {total} bytes")


def write_sgm_from_folder(folder, out_path):
    """Writes the diffusers SDXL folder's four networks as one SGM single-file checkpoint (VAE
    encoder included), with this script's mapping. For other fixtures (e.g. the pipeline's):
        make_format_fixtures.py --sgm-from tests/fixtures/pipeline/model --out X.safetensors"""
    def weights(sub, names):
        return load_file(only_file(os.path.join(folder, sub), names))
    ucfg = json.load(open(os.path.join(folder, "unet", "config.json")))
    vcfg = json.load(open(os.path.join(folder, "vae", "config.json")))
    table = unet_block_table(ucfg)
    nup = len(vcfg["block_out_channels"])
    sgm = {}
    for k, v in weights("unet", ["diffusion_pytorch_model.safetensors",
                                 "diffusion_pytorch_model.fp16.safetensors"]).items():
        sgm["model.diffusion_model." + unet_to_sgm(k, table)] = v
    for k, v in weights("text_encoder", ["model.safetensors", "model.fp16.safetensors"]).items():
        k = k if k.startswith("text_model.") else "text_model." + k
        sgm["conditioner.embedders.0.transformer." + k] = v
    te2 = weights("text_encoder_2", ["model.safetensors", "model.fp16.safetensors"])
    te2 = {(k if k.startswith("text_model.") or k.startswith("text_projection") else "text_model." + k): v
           for k, v in te2.items()}
    for k, v in bigg_to_sgm(te2).items():
        sgm["conditioner.embedders.1.model." + k] = v
    for k, v in weights("vae", ["diffusion_pytorch_model.safetensors",
                                "diffusion_pytorch_model.fp16.safetensors"]).items():
        if k.startswith("encoder."):
            import re
            n = re.sub(r"down_blocks\.(\d+)\.resnets\.", r"down.\1.block.", k)
            n = re.sub(r"down_blocks\.(\d+)\.downsamplers\.0\.conv", r"down.\1.downsample.conv", n)
            n, conv = vae_to_sgm(n, nup)
        else:
            n, conv = vae_to_sgm(k, nup)
        sgm["first_stage_model." + n] = v[:, :, None, None].contiguous() if conv else v
    save_file({k: v.contiguous() for k, v in sgm.items()}, out_path)
    print(f"wrote {out_path}: {len(sgm)} tensors")


if __name__ == "__main__":
    common.deterministic(0)
    if len(sys.argv) == 5 and sys.argv[1] == "--sgm-from" and sys.argv[3] == "--out":
        write_sgm_from_folder(sys.argv[2], sys.argv[4])
    else:
        main()
