#!/usr/bin/env python3
"""make_clip_fixtures.py - tiny random CLIP text encoders and their reference outputs.

Builds, with the pinned transformers, random models of the real SDXL text-encoder architectures
at small widths, saved in the diffusers layout the engine loads (<name>/config.json +
<name>/model.safetensors, weights stored as fp16 to keep the files small; the reference runs in
fp32 on exactly those fp16-rounded weights):

  text_encoder     CLIPTextModel, quick_gelu, eos_token_id 2 (argmax pooling rule, as SDXL's);
                   transformers 5 saves it WITHOUT the "text_model." prefix that SDXL's real
                   text_encoder/ file has (the other two keep it), so both namings are covered
  text_encoder_2   CLIPTextModelWithProjection, gelu, text_projection, eos_token_id 2
  text_encoder_eos CLIPTextModelWithProjection, quick_gelu, eos_token_id 3 (not 2: the
                   "first position of eos_token_id" pooling rule of newer configs; its ids put 3
                   where argmax would pick something else, and leave one row without any 3)

For a batch of B=3 id rows of length 77 ([BOS] words [EOS] then padding: EOS padding for the
first encoder, id 0 for the others, as SDXL's two tokenizers do), it records in
tests/fixtures/clip/ (float32 little-endian, row-major):
  ids_1.i32, ids_2.i32, ids_3.i32            [3,77] ids for encoder 1 / 2 / eos
  <name>.hidden_m2.f32                       hidden_states[-2]   [3,77,hidden]
  text_encoder.hidden_m3.f32                 hidden_states[-3]   (clip_skip 1)
  <name>.pooled.f32                          pooled output (projected when the model has one)
  sdxl_ctx.f32, sdxl_pooled.f32              concat(enc1 h[-2], enc2 h[-2]) and enc2's pooled

Usage: /work/venv-ref/bin/python tests/reference/make_clip_fixtures.py
"""
import json
import os
import shutil

import numpy as np
import safetensors
import torch
import transformers
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

assert transformers.__version__ == "5.23.0", transformers.__version__
assert torch.__version__.startswith("2.15.0"), torch.__version__
assert safetensors.__version__ == "0.8.0", safetensors.__version__

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests/fixtures/clip")
VOCAB = 512
BOS, EOS = VOCAB - 2, VOCAB - 1
T = 77


def make(name, cls, seed, **kw):
    torch.manual_seed(seed)
    cfg = CLIPTextConfig(vocab_size=VOCAB, max_position_embeddings=T, bos_token_id=0, pad_token_id=1, **kw)
    model = cls(cfg).eval()
    # Larger-than-default random weights so every layer matters, then round to fp16.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 0.6 / p.shape[-1] ** 0.5 if "embedding" not in n else 0.5)
            elif n.endswith("weight"):
                p.uniform_(0.8, 1.2)
            else:
                p.normal_(0.0, 0.05)
        model.half()
        model.float()
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    model.half().save_pretrained(d, safe_serialization=True)
    model.float()
    with open(os.path.join(d, "config.json")) as f:
        saved = json.load(f)
    assert saved["eos_token_id"] == kw["eos_token_id"], saved
    return model


def ids_rows(pad):
    g = np.random.default_rng(7)
    rows = []
    for n_words in (5, 40, 75):  # short, medium, full (EOS at position 76)
        r = [BOS] + list(g.integers(2, VOCAB - 2, n_words)) + [EOS]
        r += [pad] * (T - len(r))
        rows.append(r)
    # Real ids never exceed EOS, so argmax finds the first EOS.
    return torch.tensor(rows, dtype=torch.int64)


def dump(name, t):
    a = t.detach().to(torch.float32).contiguous().numpy()
    a.astype("<f4").tofile(os.path.join(OUT, name))
    return a


def main():
    os.makedirs(OUT, exist_ok=True)
    enc1 = make("text_encoder", CLIPTextModel, 1, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                num_attention_heads=4, hidden_act="quick_gelu", layer_norm_eps=1e-5, eos_token_id=2,
                projection_dim=64)
    enc2 = make("text_encoder_2", CLIPTextModelWithProjection, 2, hidden_size=48, intermediate_size=128,
                num_hidden_layers=4, num_attention_heads=3, hidden_act="gelu", layer_norm_eps=1e-5,
                eos_token_id=2, projection_dim=40)
    enc3 = make("text_encoder_eos", CLIPTextModelWithProjection, 3, hidden_size=32, intermediate_size=64,
                num_hidden_layers=2, num_attention_heads=2, hidden_act="quick_gelu", layer_norm_eps=1e-6,
                eos_token_id=3, projection_dim=24)
    ids1 = ids_rows(EOS)
    ids2 = ids_rows(0)
    ids1.to(torch.int32).numpy().astype("<i4").tofile(os.path.join(OUT, "ids_1.i32"))
    ids2.to(torch.int32).numpy().astype("<i4").tofile(os.path.join(OUT, "ids_2.i32"))
    ids3 = ids2.clone()
    ids3[ids3 == 3] = 4
    ids3[0, 3] = 3
    ids3[2, 10] = 3
    ids3[2, 20] = 3  # row 1 has no 3: position 0
    ids3.to(torch.int32).numpy().astype("<i4").tofile(os.path.join(OUT, "ids_3.i32"))
    with torch.no_grad():
        o1 = enc1(ids1, output_hidden_states=True)
        o2 = enc2(ids2, output_hidden_states=True)
        o3 = enc3(ids3, output_hidden_states=True)
    assert len(o1.hidden_states) == 3 + 1 and len(o2.hidden_states) == 4 + 1
    h1 = dump("text_encoder.hidden_m2.f32", o1.hidden_states[-2])
    dump("text_encoder.hidden_m3.f32", o1.hidden_states[-3])
    dump("text_encoder.pooled.f32", o1.pooler_output)
    h2 = dump("text_encoder_2.hidden_m2.f32", o2.hidden_states[-2])
    p2 = dump("text_encoder_2.pooled.f32", o2.text_embeds)
    dump("text_encoder_eos.hidden_m2.f32", o3.hidden_states[-2])
    dump("text_encoder_eos.pooled.f32", o3.text_embeds)
    ctx = np.concatenate([h1, h2], axis=-1)
    ctx.astype("<f4").tofile(os.path.join(OUT, "sdxl_ctx.f32"))
    p2.astype("<f4").tofile(os.path.join(OUT, "sdxl_pooled.f32"))
    # Sanity: the pooling rules pick what they should.
    lh = getattr(enc1, "text_model", enc1).final_layer_norm(o1.hidden_states[-1])
    assert torch.allclose(o1.pooler_output[2], lh[2, 76])
    lh3 = getattr(enc3, "text_model", enc3).final_layer_norm(o3.hidden_states[-1])
    assert torch.allclose(o3.text_embeds[1], enc3.text_projection(lh3[1, 0]), atol=1e-6)
    assert torch.allclose(o3.text_embeds[2], enc3.text_projection(lh3[2, 10]), atol=1e-6)
    print("keys:", sorted(safetensors.safe_open(os.path.join(OUT, "text_encoder_2/model.safetensors"), "pt").keys())[:6])
    for root, _, files in os.walk(OUT):
        for f in sorted(files):
            print(os.path.relpath(os.path.join(root, f), OUT), os.path.getsize(os.path.join(root, f)))


if __name__ == "__main__":
    main()
