"""unet_torch.py - the PyTorch side of bench/engine_cpu.sh: one SDXL UNet forward on the CPU.

Builds diffusers' UNet2DConditionModel with the SDXL base 1.0 configuration and random weights
(diffusers' default init; no download), fp32, and times the forward at the given latent size
under torch.inference_mode with the given thread count. Prints key=value lines:
torch_unet_s (fastest timed run), torch_peak_rss_mb (whole process), and with --profile one
extra profiled run whose top ops by self CPU time print as torch_op_<name>_s.

    python bench/unet_torch.py --threads 2 --size 64 --batch 1 --warmup 1 --runs 1
"""
import argparse
import resource
import sys
import time

import torch
from diffusers import UNet2DConditionModel

SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    mid_block_type="UNetMidBlock2DCrossAttn",
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20),
    cross_attention_dim=2048, use_linear_projection=True, norm_num_groups=32, norm_eps=1e-5,
    flip_sin_to_cos=True, freq_shift=0, act_fn="silu",
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816, upcast_attention=False,
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="one extra run under torch.profiler")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = UNet2DConditionModel(**SDXL_UNET).eval().float()
    n = sum(p.numel() for p in model.parameters())
    print(f"random SDXL UNet: {n} params, {time.perf_counter() - t0:.1f} s to build", file=sys.stderr)
    b, s = a.batch, a.size
    x = torch.randn(b, 4, s, s)
    t = torch.full((b,), 950.0)
    ctx = torch.randn(b, 77, 2048)
    te = torch.randn(b, 1280)
    ti = torch.tensor([[8.0 * s, 8.0 * s, 0, 0, 8.0 * s, 8.0 * s]] * b)
    best = float("inf")
    with torch.inference_mode():
        for r in range(a.warmup + a.runs):
            t1 = time.perf_counter()
            out = model(x, t, encoder_hidden_states=ctx,
                        added_cond_kwargs={"text_embeds": te, "time_ids": ti}).sample
            dt = time.perf_counter() - t1
            kind = "warm-up" if r < a.warmup else "timed"
            print(f"{kind} run {r}: {dt:.3f} s", file=sys.stderr)
            if r >= a.warmup:
                best = min(best, dt)
        if a.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                model(x, t, encoder_hidden_states=ctx,
                      added_cond_kwargs={"text_embeds": te, "time_ids": ti})
            ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
            total = sum(e.self_cpu_time_total for e in ops) or 1
            for e in ops[:12]:
                name = e.key.replace("aten::", "").replace(" ", "_")
                print(f"torch_op_{name}_s={e.self_cpu_time_total / 1e6:.3f} "
                      f"torch_op_{name}_pct={100.0 * e.self_cpu_time_total / total:.1f} "
                      f"torch_op_{name}_calls={e.count}")
    print(f"out[0,0,0,:4] = {out[0, 0, 0, :4].tolist()}", file=sys.stderr)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch_unet_s={best:.3f} torch_peak_rss_mb={rss:.0f} torch_threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
