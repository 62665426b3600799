"""common.py - shared helpers for the reference scripts in tests/reference/.

Every script that makes fixtures imports this first and calls check_versions(), so fixtures are
only ever made with the pinned reference stack (a different torch/diffusers could change the
numbers the C tests compare against). Run the scripts with the reference venv:

    /work/venv-ref/bin/python tests/reference/<script>.py

Helpers: check_versions(), deterministic(seed), fixtures_dir(area), save_tensors(path, dict).
"""
import os
import sys

# The reference stack the fixtures were made with (pip install these exact versions).
PINNED = {
    "torch": "2.15.0",
    "diffusers": "0.42.1",
    "transformers": "5.23.0",
    "safetensors": "0.8.0",
}

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def check_versions(packages=("torch", "diffusers", "safetensors")):
    """Exits with a message unless each named package has its pinned version."""
    import importlib

    bad = []
    for name in packages:
        mod = importlib.import_module(name)
        got = getattr(mod, "__version__", "?").split("+")[0]
        if got != PINNED[name]:
            bad.append(f"{name} {got} (pinned {PINNED[name]})")
    if bad:
        sys.exit("reference versions differ from the pins: " + ", ".join(bad))


def deterministic(seed):
    """Seeds torch and makes CPU math single-threaded and deterministic."""
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def fixtures_dir(area):
    """tests/fixtures/<area>, created if needed."""
    d = os.path.join(REPO_ROOT, "tests", "fixtures", area)
    os.makedirs(d, exist_ok=True)
    return d


def save_tensors(path, tensors):
    """Saves a name -> tensor dict as safetensors (contiguous CPU copies)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, path)
