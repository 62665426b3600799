#!/usr/bin/env python3
"""gpu_philox.py - writes torch.randn on a CUDA device for a few seeds and sizes, so that
engine_cuda_philox (tests/engine/test_cuda_philox.c) can compare the engine's `philox` noise mode
with real PyTorch CUDA noise (run by bench/gpu.sh on the GPU machine; no network needed).

    python3 bench/gpu_philox.py OUTDIR

OUTDIR/index.txt: a header line
    # torch=<version> device=<name> sms=<SM count> max_threads_per_sm=<n>
then one line per case: "<seed> <n> <file>", file = n float32 values (little-endian) of
torch.randn((n,), generator=torch.Generator("cuda").manual_seed(seed), device="cuda"), each
from a fresh generator (offset 0, as the engine draws one job's noise). Exit status 3 when torch
or a CUDA device is missing (gpu.sh then reports philox_vs_torch=na).
"""
import os
import sys


def main():
    if len(sys.argv) != 2:
        print("usage: gpu_philox.py OUTDIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
        print(f"gpu_philox.py: no torch: {e}", file=sys.stderr)
        return 3
    if not torch.cuda.is_available():
        print("gpu_philox.py: torch sees no CUDA device", file=sys.stderr)
        return 3
    os.makedirs(out, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    sms = props.multi_processor_count
    mt = getattr(props, "max_threads_per_multi_processor", 2048)
    seeds = [0, 1, 42, 4294967295, 4294967338, 9223372036854775807, 18446744073709551615]
    # 1, 3, 16, 100, 1000, SD 1.5 / SDXL-512 latent (4x64x64), SDXL-1024 latent (4x128x128),
    # and one tensor past SMs x max threads (there torch's element order depends on the GPU).
    sizes = [1, 3, 16, 100, 1000, 4 * 64 * 64, 4 * 128 * 128, sms * mt + 4096]
    lines = [f"# torch={torch.__version__} device={props.name.replace(' ', '_')} sms={sms} "
             f"max_threads_per_sm={mt}"]
    for seed in seeds:
        for n in sizes:
            if n > 100000 and seed not in (0, 42):
                continue
            g = torch.Generator(device="cuda")
            g.manual_seed(seed)
            x = torch.randn((n,), generator=g, device="cuda", dtype=torch.float32)
            name = f"randn_cuda_s{seed}_n{n}.f32"
            x.cpu().numpy().astype("<f4").tofile(os.path.join(out, name))
            lines.append(f"{seed} {n} {name}")
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"gpu_philox.py: {len(lines) - 1} cases in {out} ({props.name}, torch {torch.__version__})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
