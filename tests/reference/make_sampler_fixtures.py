#!/usr/bin/env python3
"""make_sampler_fixtures.py - records the sampler fixtures in tests/fixtures/sampler/.

Reference: the pinned diffusers EulerDiscreteScheduler(timestep_spacing="trailing") on torch's
CPU, torch.randn with CPU generators (under both of torch's CPU normal kernels, selected with
ATEN_CPU_CAPABILITY), and a numpy re-implementation of A1111's rng_philox.py algorithm (no GPU
was available to record real torch CUDA randn; see docs/sampler.md).

Files (all little-endian float32, no header; n = element count):
  train_sigmas.f32            the 1000 training sigmas
  schedule_N{N}.f32           timesteps[N], sigmas[N+1], init_noise_sigma
  euler_{pred}_N{N}.f32       noise[n], then per step: x_in[n], model_out[n], x_after[n]
                              (n = EULER_SHAPE product; pred = epsilon | sample)
  randn_{mode}_s{seed}_n{n}.f32   torch.randn(n) for that seed (mode cpu = AVX2 kernel,
                              cpu-default = portable kernel); listed in randn.txt
  philox_s{seed}_o{offset}_n{n}.f32   A1111 philox randn; listed in randn.txt
  randn.txt                   one case per line: mode seed offset n file
Run: /work/venv-ref/bin/python tests/reference/make_sampler_fixtures.py
"""
import os
import subprocess
import sys

import numpy as np
import torch
import diffusers

assert torch.__version__.split("+")[0] == "2.15.0", torch.__version__
assert diffusers.__version__ == "0.42.1", diffusers.__version__
assert np.__version__ is not None

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "sampler")
EULER_SHAPE = (2, 4, 8, 8)
SCHEDULE_STEPS = [1, 2, 3, 4, 6, 8, 10, 16, 25, 50]
EULER_STEPS = [1, 2, 4, 8]
SEEDS = [0, 42, 2**32 - 1, 2**32 + 42, 2**63 - 1, 2**64 - 1]
SMALL_N = [1, 2, 3, 15, 16, 17, 100, 1000]
BIG_N = [4 * 64 * 64, 4 * 128 * 128]
BIG_SEEDS = [0, 42]


def save(name, *arrays):
    data = np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in arrays])
    data.astype("<f4").tofile(os.path.join(OUT, name))


def scheduler(prediction_type="epsilon"):
    return diffusers.EulerDiscreteScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        prediction_type=prediction_type, timestep_spacing="trailing", steps_offset=1,
        interpolation_type="linear", use_karras_sigmas=False)


def make_schedule():
    s = scheduler()
    train = ((1 - s.alphas_cumprod) / s.alphas_cumprod) ** 0.5
    save("train_sigmas.f32", train.numpy())
    for n in SCHEDULE_STEPS:
        s.set_timesteps(n)
        assert len(s.timesteps) == n
        save(f"schedule_N{n}.f32", s.timesteps.numpy(), s.sigmas.numpy(),
             np.array([float(s.init_noise_sigma)], dtype=np.float32))


def make_euler():
    for pred in ["epsilon", "sample"]:
        for n in EULER_STEPS:
            s = scheduler(pred)
            s.set_timesteps(n)
            g = torch.Generator("cpu").manual_seed(1000 + n)
            noise = torch.randn(EULER_SHAPE, generator=g, dtype=torch.float32)
            latents = noise * s.init_noise_sigma
            parts = [noise.numpy()]
            gm = torch.Generator("cpu").manual_seed(2000 + n)
            for t in s.timesteps:
                x_in = s.scale_model_input(latents, t)
                out = torch.randn(EULER_SHAPE, generator=gm, dtype=torch.float32)
                if pred == "sample":
                    out = out * 0.5  # an x0-like output
                latents = s.step(out, t, latents, return_dict=False)[0]
                parts += [x_in.numpy(), out.numpy(), latents.numpy()]
            save(f"euler_{pred}_N{n}.f32", *parts)


def randn_child(mode):
    """Runs in a child process whose ATEN_CPU_CAPABILITY selects torch's normal kernel."""
    cases = []
    for seed in SEEDS:
        for n in SMALL_N + (BIG_N if seed in BIG_SEEDS else []):
            if mode == "cpu-default" and n > 1000 and seed != 42:
                continue
            g = torch.Generator("cpu").manual_seed(seed)
            x = torch.randn(n, generator=g, dtype=torch.float32)
            name = f"randn_{mode}_s{seed}_n{n}.f32"
            save(name, x.numpy())
            cases.append(f"{mode} {seed} 0 {n} {name}")
    print("\n".join(cases))


# ---- A1111 rng_philox.py algorithm, re-implemented from its description (numpy, float64) ----
PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)


def philox4x32_10(ctr, key):
    """ctr: 4 uint64 arrays holding 32-bit words; key: 2 python ints. Returns 4 word arrays."""
    c = [np.asarray(w, dtype=np.uint64) for w in ctr]
    k0, k1 = key
    mask = np.uint64(0xFFFFFFFF)
    for r in range(10):
        p0 = c[0] * np.uint64(PHILOX_M[0])
        p1 = c[2] * np.uint64(PHILOX_M[1])
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & mask,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & mask]
        if r < 9:
            k0 = (k0 + PHILOX_W[0]) & 0xFFFFFFFF
            k1 = (k1 + PHILOX_W[1]) & 0xFFFFFFFF
    return c


def philox_randn(seed, offset, n):
    idx = np.arange(n, dtype=np.uint64)
    zero = np.zeros(n, dtype=np.uint64)
    c = philox4x32_10([zero + np.uint64(offset), zero, idx, zero],
                      (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF))
    cu = np.float64(np.float32(2.3283064e-10))
    cv = np.float64(np.float32(2.3283064e-10 * 6.2831855))
    u = c[0].astype(np.float64) * cu + cu / 2
    v = c[1].astype(np.float64) * cv + cv / 2
    return (np.sqrt(-2.0 * np.log(u)) * np.sin(v)).astype(np.float32)


def make_philox():
    # Known-answer check of the block function (Random123 kat_vectors, philox4x32 10 rounds).
    kat = philox4x32_10([np.uint64(0x243f6a88), np.uint64(0x85a308d3), np.uint64(0x13198a2e),
                         np.uint64(0x03707344)], (0xa4093822, 0x299f31d0))
    assert [int(w) for w in kat] == [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1], kat
    cases = []
    for seed in [0, 42, 2**32 - 1, 2**63 - 1, 2**64 - 1]:
        for offset, n in [(0, 16), (0, 100), (0, 16384), (1, 100)]:
            name = f"philox_s{seed}_o{offset}_n{n}.f32"
            save(name, philox_randn(seed, offset, n))
            cases.append(f"philox {seed} {offset} {n} {name}")
    return cases


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--randn-child":
        randn_child(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    make_schedule()
    make_euler()
    lines = []
    for mode, cap in [("cpu", "avx2"), ("cpu-default", "default")]:
        env = dict(os.environ, ATEN_CPU_CAPABILITY=cap)
        res = subprocess.run([sys.executable, os.path.abspath(__file__), "--randn-child", mode],
                             env=env, check=True, capture_output=True, text=True)
        lines += res.stdout.split()
    # re-join the 5-field lines
    words = lines
    lines = [" ".join(words[i:i + 5]) for i in range(0, len(words), 5)]
    lines += make_philox()
    with open(os.path.join(OUT, "randn.txt"), "w") as f:
        f.write("# mode seed offset n file (see make_sampler_fixtures.py)\n")
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} randn cases to {OUT}")


if __name__ == "__main__":
    main()
