#!/usr/bin/env python3
"""make_pipeline_fixtures.py - records the end-to-end pipeline fixtures in tests/fixtures/pipeline/.

A tiny random StableDiffusionXLPipeline with SDXL's architecture in miniature: a 3-level UNet
(DownBlock2D, 2 x CrossAttn, text_time conditioning), CLIPTextModel (quick_gelu) and
CLIPTextModelWithProjection (gelu) with a small vocabulary, a 4-level VAE (8x upscale), and
EulerDiscreteScheduler(timestep_spacing="trailing"). Its two tokenizers share a hand-written
byte-level vocabulary (256 byte symbols, their "</w>" forms, a few merges, BOS/EOS); tokenizer/
pads with <|endoftext|>, tokenizer_2/ with "!" (as SDXL's). Weights are rounded to fp16 and
saved as fp16 in the diffusers layout (model/); the reference pipeline is then RELOADED from
that folder in float32, so it computes with exactly what the C engine reads.

Cases (guidance_scale=0, no CFG; one CPU torch.Generator per prompt, manual_seed(seed)):
  e4 (4 steps), e2, e8, s1 (1 step, prediction_type="sample"), nonsquare (64x96), batch2
  (two prompts, two generators), latents (given unit starting latents), bigseed (a seed above
  2^32: torch keeps the low 32 bits), long (a prompt over 77 tokens: truncated), philox (starting
  latents = A1111's philox randn for the seed, the C engine's `philox` noise mode).
Files: cases.txt (one line per job: case job B steps prediction H W seed latents-file|-|philox
prompt; "philox": the job uses philox noise),
case_<name>.rgb.u8 ([B,H,W,3], the uint8 the pipeline's PIL output gives),
case_<name>.image.f32 ([B,H,W,3], output_type="np"), case_<name>.latents.f32 (the final
latents before the VAE, [B,4,H/8,W/8]), case_<name>.start.f32 (given unit latents, "latents").
Model formats (same prompt, seed and steps as e4):
  sgm   the same model written as one SGM single-file checkpoint (model_sgm.safetensors, by
        make_format_fixtures.py --sgm-from); the images are rendered by diffusers'
        StableDiffusionXLPipeline.from_single_file(model_sgm.safetensors, config=model/, offline),
        an independent name mapping, and asserted to equal e4's (the C test also renders the
        diffusers folder and the SGM file and compares them). The two tiny text encoders have
        different widths (32 and 48): with equal widths diffusers' from_single_file mis-loads
        text_encoder_2 (docs/models.md).
  lora  the model with a small random LoRA (lora_peft.safetensors, PEFT / diffusers key style,
        UNet linear + conv targets and both text encoders) fused at strength LORA_STRENGTH by
        diffusers' load_lora_weights + fuse_lora (peft PEFT_VERSION); the fused weights are also
        checked against the numpy merge W + s * B @ A.
Run: /work/venv-ref/bin/python tests/reference/make_pipeline_fixtures.py
(needs `pip install peft==0.21.2` in the reference venv for the lora case)
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.check_versions(("torch", "diffusers", "transformers", "safetensors"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import (AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline,  # noqa: E402
                       UNet2DConditionModel)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402

OUT = common.fixtures_dir("pipeline")
MODEL = os.path.join(OUT, "model")
SGM = os.path.join(OUT, "model_sgm.safetensors")
LORA = os.path.join(OUT, "lora_peft.safetensors")
LORA_STRENGTH = 0.8
PEFT_VERSION = "0.21.2"
WORDS = ["a", "red", "cat", "dog", "on", "the", "blue", "sky", "photo", "of", "house", "tree"]

# name: (prompts, seeds, steps, prediction, H, W, given latents)
CASES = [
    ("e4", ["a red cat"], [42], 4, "epsilon", 64, 64, False),
    ("e2", ["a photo of a dog"], [7], 2, "epsilon", 64, 64, False),
    ("e8", ["blue sky"], [3], 8, "epsilon", 64, 64, False),
    ("s1", ["a red cat"], [42], 1, "sample", 64, 64, False),
    ("nonsquare", ["the house on the tree"], [11], 4, "epsilon", 64, 96, False),
    ("batch2", ["a red cat", "a blue dog!"], [1, 2], 4, "epsilon", 64, 64, False),
    ("latents", ["a photo of the sky"], [0], 4, "epsilon", 64, 64, True),
    ("bigseed", ["a red cat"], [2**40 + 77], 4, "epsilon", 64, 64, False),
    ("long", [" ".join(["a red cat on the tree"] * 16)], [5], 2, "epsilon", 64, 64, False),
    # philox: the starting latents are A1111's philox randn for the seed (numpy model, from
    # make_sampler_fixtures.py), given to diffusers as latents; the C engine draws them itself.
    ("philox", ["a blue house"], [1234], 4, "epsilon", 64, 64, "philox"),
]


def bytes_to_unicode():
    """GPT-2 / CLIP byte -> printable character table (in the order CLIP's vocab uses)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizer(d, pad):
    """vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json for a tiny vocab."""
    os.makedirs(d, exist_ok=True)
    chars = bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    for w in WORDS:  # merge each word left to right: "r e", "re d</w>"
        sym = list(w[:-1]) + [w[-1] + "</w>"]
        while len(sym) > 1:
            merges.append(f"{sym[0]} {sym[1]}")
            sym = [sym[0] + sym[1]] + sym[2:]
            if sym[0] not in vocab:
                vocab.append(sym[0])
    seen = set()
    merges = [m for m in merges if not (m in seen or seen.add(m))]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(d, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>", "pad_token": pad}
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(dict(special, tokenizer_class="CLIPTokenizer", model_max_length=77,
                       do_lower_case=True, clean_up_tokenization_spaces=False), f, indent=1)
    with open(os.path.join(d, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=1)
    return len(vocab)


def randomise(model, gen, scale=1.0):
    """Fresh random weights at about the default init scale; 1-D params perturbed."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel() if "embedding" not in name else 1
                s = scale * (1.0 / fan_in) ** 0.5 if "embedding" not in name else 0.5
                p.copy_(torch.randn(p.shape, generator=gen) * s)
            p.copy_(p.half().float())


def build_model():
    gen = torch.Generator().manual_seed(2026)
    shutil.rmtree(MODEL, ignore_errors=True)
    vocab = write_tokenizer(os.path.join(MODEL, "tokenizer"), "<|endoftext|>")
    write_tokenizer(os.path.join(MODEL, "tokenizer_2"), "!")
    common_clip = dict(vocab_size=vocab, max_position_embeddings=77, bos_token_id=vocab - 2,
                       eos_token_id=2, pad_token_id=1, num_attention_heads=2, num_hidden_layers=3,
                       intermediate_size=64, layer_norm_eps=1e-5)
    te1 = CLIPTextModel(CLIPTextConfig(hidden_size=32, hidden_act="quick_gelu", projection_dim=32,
                                       **common_clip)).eval()
    # te2 wider than te1 (48 vs 32), as in SDXL (768 vs 1280): with equal widths diffusers'
    # from_single_file cannot tell the encoders apart and mis-loads text_encoder_2
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=48, hidden_act="gelu",
                                                     projection_dim=48, **common_clip)).eval()
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2DCrossAttn", block_out_channels=(16, 32, 32),
        layers_per_block=2, transformer_layers_per_block=(1, 1, 1), attention_head_dim=(1, 2, 2),
        cross_attention_dim=32 + 48, norm_num_groups=8, addition_embed_type="text_time",
        addition_time_embed_dim=8, projection_class_embeddings_input_dim=48 + 6 * 8,
        use_linear_projection=True, flip_sin_to_cos=True, freq_shift=0, act_fn="silu").eval()
    vae = AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=[16, 16, 32, 32], layers_per_block=1, act_fn="silu",
        latent_channels=4, norm_num_groups=8, sample_size=64, scaling_factor=0.13025,
        force_upcast=True).eval()
    randomise(te1, gen)
    randomise(te2, gen)
    randomise(unet, gen, 0.8)
    randomise(vae, gen)
    sched = EulerDiscreteScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                                   beta_schedule="scaled_linear", timestep_spacing="trailing",
                                   prediction_type="epsilon", steps_offset=1)
    for name, m in (("unet", unet), ("vae", vae), ("text_encoder", te1), ("text_encoder_2", te2)):
        m.to(torch.float16).save_pretrained(os.path.join(MODEL, name), safe_serialization=True)
    sched.save_pretrained(os.path.join(MODEL, "scheduler"))
    with open(os.path.join(MODEL, "model_index.json"), "w") as f:
        json.dump({"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.42.1",
                   "force_zeros_for_empty_prompt": True,
                   "scheduler": ["diffusers", "EulerDiscreteScheduler"],
                   "text_encoder": ["transformers", "CLIPTextModel"],
                   "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
                   "tokenizer": ["transformers", "CLIPTokenizer"],
                   "tokenizer_2": ["transformers", "CLIPTokenizer"],
                   "unet": ["diffusers", "UNet2DConditionModel"],
                   "vae": ["diffusers", "AutoencoderKL"]}, f, indent=1)


def render(pipe, base_cfg, case, lines, save=True):
    """Renders one case with pipe; writes its files (save) and cases.txt lines; returns the uint8
    images [B,H,W,3]."""
    name, prompts, seeds, steps, pred, H, W, given = case
    pipe.scheduler = EulerDiscreteScheduler.from_config(base_cfg, prediction_type=pred,
                                                        timestep_spacing="trailing")
    B = len(prompts)
    gens = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    latents = None
    start_file = "-"
    if given == "philox":
        from make_sampler_fixtures import philox_randn
        n1 = 4 * (H // 8) * (W // 8)
        latents = torch.from_numpy(np.stack([philox_randn(s, 0, n1) for s in seeds])).reshape(B, 4, H // 8, W // 8)
        start_file = "philox"
    elif given:
        latents = torch.randn((B, 4, H // 8, W // 8), generator=torch.Generator().manual_seed(99))
        start_file = f"case_{name}.start.f32"
        latents.numpy().astype("<f4").tofile(os.path.join(OUT, start_file))
    final = {}

    def grab(p, i, t, kw):
        final["x"] = kw["latents"].detach().clone()
        return kw

    with torch.no_grad():
        img = pipe(prompt=prompts, height=H, width=W, num_inference_steps=steps,
                   guidance_scale=0.0, generator=gens, latents=latents, output_type="np",
                   callback_on_step_end=grab).images
    rgb = np.stack([np.asarray(p) for p in pipe.numpy_to_pil(img)])
    assert rgb.dtype == np.uint8 and rgb.shape == (B, H, W, 3), rgb.shape
    if save:
        img.astype("<f4").tofile(os.path.join(OUT, f"case_{name}.image.f32"))
        rgb.tofile(os.path.join(OUT, f"case_{name}.rgb.u8"))
        final["x"].numpy().astype("<f4").tofile(os.path.join(OUT, f"case_{name}.latents.f32"))
        for j in range(B):
            lines.append(f"{name} {j} {B} {steps} {pred} {H} {W} {seeds[j]} {start_file} {prompts[j]}")
    print(name, "mean", float(rgb.mean()), "saturated", float((rgb == 0).mean() + (rgb == 255).mean()))
    return rgb


def diff(a, b):
    """(max abs diff, PSNR dB) of two uint8 images."""
    d = np.abs(a.astype(np.int32) - b.astype(np.int32))
    mse = float((d.astype(np.float64) ** 2).mean())
    return int(d.max()), (float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse))


def sgm_case(base_cfg, e4, ref_rgb, lines):
    """The model as an SGM single file (formats' writer), loaded by diffusers' from_single_file."""
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "make_format_fixtures.py"), "--sgm-from",
                    MODEL, "--out", SGM], check=True)
    pipe = StableDiffusionXLPipeline.from_single_file(SGM, config=MODEL, local_files_only=True,
                                                      torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    rgb = render(pipe, base_cfg, ("sgm",) + e4[1:], lines)
    md, psnr = diff(rgb, ref_rgb)
    print(f"sgm: diffusers from_single_file vs the diffusers folder: max abs diff {md}, PSNR {psnr:.2f} dB")
    assert md <= 1, "from_single_file does not reproduce the folder's image"


# LoRA targets: (component, module name, rank)
LORA_TARGETS = [
    ("unet", "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q", 4),
    ("unet", "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k", 2),
    ("unet", "mid_block.attentions.0.transformer_blocks.0.ff.net.2", 4),
    ("unet", "up_blocks.0.attentions.1.proj_out", 2),
    ("unet", "up_blocks.1.attentions.2.transformer_blocks.0.attn1.to_out.0", 4),
    ("unet", "down_blocks.0.resnets.1.conv1", 2),
    ("unet", "up_blocks.2.resnets.0.conv2", 4),
    ("text_encoder", "encoder.layers.1.self_attn.v_proj", 4),
    ("text_encoder", "encoder.layers.2.mlp.fc1", 2),
    ("text_encoder_2", "encoder.layers.0.self_attn.q_proj", 4),
    ("text_encoder_2", "encoder.layers.2.mlp.fc2", 2),
]


def lora_case(base_cfg, e4, ref_rgb, lines):
    """A random PEFT-style LoRA fused by diffusers (load_lora_weights + fuse_lora)."""
    import peft
    assert peft.__version__.split("+")[0] == PEFT_VERSION, f"peft {peft.__version__}, pinned {PEFT_VERSION}"
    from safetensors.torch import save_file
    pipe = StableDiffusionXLPipeline.from_pretrained(MODEL, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    gen = torch.Generator().manual_seed(4321)
    nets = {"unet": pipe.unet, "text_encoder": pipe.text_encoder, "text_encoder_2": pipe.text_encoder_2}
    sd, expect = {}, {}
    names = {}
    for comp, mod, rank in LORA_TARGETS:
        # transformers 5 names CLIPTextModel's modules without "text_model." but
        # CLIPTextModelWithProjection's with it: key the LoRA by the module's real path
        mods = dict(nets[comp].named_modules())
        mod = mod if mod in mods else "text_model." + mod
        names[(comp, mod)] = mods[mod]
        w = mods[mod].weight.detach().clone()
        if w.ndim == 4:
            a = torch.randn((rank, w.shape[1], w.shape[2], w.shape[3]), generator=gen) * 0.15
            b = torch.randn((w.shape[0], rank, 1, 1), generator=gen) * 0.15
        else:
            a = torch.randn((rank, w.shape[1]), generator=gen) * 0.15
            b = torch.randn((w.shape[0], rank), generator=gen) * 0.15
        a, b = a.half(), b.half()
        sd[f"{comp}.{mod}.lora_A.weight"] = a
        sd[f"{comp}.{mod}.lora_B.weight"] = b
        # numpy merge (PEFT: no alpha, scale = strength)
        a32, b32 = a.float().numpy(), b.float().numpy()
        delta = (b32.reshape(b32.shape[0], -1) @ a32.reshape(rank, -1)).reshape(w.shape)
        expect[(comp, mod)] = w.numpy() + LORA_STRENGTH * delta
    save_file({k: v.contiguous() for k, v in sd.items()}, LORA)
    pipe.load_lora_weights(LORA)
    pipe.fuse_lora(components=["unet", "text_encoder", "text_encoder_2"], lora_scale=LORA_STRENGTH)
    pipe.unload_lora_weights()  # fused weights stay; the adapters go
    worst = 0.0
    for (comp, mod), want in expect.items():
        got = names[(comp, mod)].weight.detach().numpy()
        worst = max(worst, float(np.abs(got - want).max() / (np.abs(want).max() + 1e-12)))
    print(f"lora: diffusers fuse_lora vs numpy merge: max rel err {worst:.3g}")
    assert worst < 1e-5
    rgb = render(pipe, base_cfg, ("lora",) + e4[1:], lines)
    md, _ = diff(rgb, ref_rgb)
    print(f"lora: max abs diff from the model without LoRA {md}")
    assert md > 8, "the LoRA changes nothing visible"


def main():
    common.deterministic(0)
    build_model()
    pipe = StableDiffusionXLPipeline.from_pretrained(MODEL, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    base_cfg = dict(pipe.scheduler.config)
    lines = []
    out = {}
    for case in CASES:
        out[case[0]] = render(pipe, base_cfg, case, lines)
    e4 = next(c for c in CASES if c[0] == "e4")
    sgm_case(base_cfg, e4, out["e4"], lines)
    lora_case(base_cfg, e4, out["e4"], lines)
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("# case job B steps prediction H W seed start-latents prompt; see make_pipeline_fixtures.py\n")
        f.write("\n".join(lines) + "\n")
    sizes = [os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs]
    print(f"fixtures/pipeline: {sum(sizes)} bytes, largest file {max(sizes)}")
    assert max(sizes) < 8 << 20 and sum(sizes) < 10 << 20


if __name__ == "__main__":
    main()
