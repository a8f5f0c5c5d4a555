"""The linreg seed, PyTorch eager, run by `benchmarks/linreg_torch.py` in an interpreter that has torch.

torch is not an nnlab dependency, so it lives in a separate interpreter: $BENCH_TORCH_PYTHON, else
/tmp/torchenv/bin/python when it exists. Make one with
    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
"""

import json
import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "linreg_torch.py"
DEFAULT_TORCH_PYTHON = "/tmp/torchenv/bin/python"
HOW_TO = (
    "set BENCH_TORCH_PYTHON to a Python that has torch, or: python3 -m venv /tmp/torchenv && "
    "/tmp/torchenv/bin/pip install torch==2.13.0 numpy"
)


class Unavailable(Exception):
    """The PyTorch baseline cannot run here; the message says why and how to fix it."""


def torch_python():
    """The interpreter to run the PyTorch seed with; raises Unavailable when there is none."""
    named = os.environ.get("BENCH_TORCH_PYTHON")
    if named:
        if not os.access(named, os.X_OK):
            raise Unavailable(f"BENCH_TORCH_PYTHON={named} is not an executable; {HOW_TO}")
        return named
    if os.access(DEFAULT_TORCH_PYTHON, os.X_OK):
        return DEFAULT_TORCH_PYTHON
    raise Unavailable(f"no PyTorch interpreter (BENCH_TORCH_PYTHON unset, {DEFAULT_TORCH_PYTHON} absent); {HOW_TO}")


def train(steps=5_000, seed=0, threads=None, timeout=600):
    """Run linreg_torch.py; returns its JSON (seconds: the training loop alone, w, b, loss, torch, threads).

    threads: torch's thread count (OMP_NUM_THREADS); None keeps torch's default, one per core. On a loaded
    machine that default can be ten times slower than one thread (threads wait for each other's time slices).
    """
    command = [torch_python(), str(SCRIPT), "--steps", str(steps), "--seed", str(seed)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)} if threads else None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{' '.join(command)} took more than {timeout} s") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"{command[0]} {SCRIPT.name} failed ({last}); {HOW_TO}")
    return json.loads(lines[-1])
