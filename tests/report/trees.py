"""Results trees written by hand for the report's tests (no training), and a listing of a tree's contents.

The files are the ones nnlab writes (history.csv through nnlab.results.history.to_csv), so a test can add one
hostile thing to an otherwise ordinary tree.
"""

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from nnlab.results import history

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f6ec9b0000000049454e44ae426082"
)


def write(path, data):
    """Write `data` (bytes, text, or a dict/list as JSON) to `path`, making its folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def run(run_dir, overrides=None, epochs=3, status="done", figure=True):
    """A finished (or `status`) run as nnlab writes one: config, status, env, metrics, history, a figure."""
    overrides = overrides or {}
    write(run_dir / "config.json", {"config": {"epochs": epochs, "seed": 0, **overrides}, "overrides": overrides})
    write(run_dir / "status.json", {"status": status, "message": "", "updated": "2026-11-30T12:00:00+00:00"})
    write(run_dir / "env.json", {"seed": 0, "python": "3.11", "devices": {"used": "CPU"}})
    rows = [{"epoch": epoch, "loss": 1.0 / (epoch + 1), "val_loss": 1.2 / (epoch + 1)} for epoch in range(epochs)]
    write(run_dir / "history.csv", history.to_csv(rows))
    write(run_dir / "metrics.json", {"final": rows[-1], "train_seconds": 1.5, "epochs_run": epochs})
    if figure:
        write(run_dir / "figure.png", PNG)
    return run_dir


def sparse(path, size):
    """A file of `size` bytes that takes no room on disk (its bytes are zeros)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        stream.truncate(size)
    return path


def listing(root):
    """{relative path: what it is} for everything under `root`, links not followed: a file's SHA-256 and mode, a
    link's target, a directory's mode. Two listings are equal when nothing was written, deleted or changed."""
    root = Path(root)
    found = {}
    for folder, directories, files in os.walk(root, followlinks=False):
        for name in directories + files:
            path = Path(folder) / name
            info = path.lstat()
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256()
                with open(path, "rb") as stream:
                    for chunk in iter(lambda: stream.read(1 << 20), b""):
                        digest.update(chunk)
                found[key] = ("file", digest.hexdigest(), stat.S_IMODE(info.st_mode))
            else:
                found[key] = ("other", stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode))
    return found


def nnlab_command():
    """The installed `nnlab` command (the console script beside this Python), else `python -m nnlab.cli`."""
    script = Path(sys.executable).with_name("nnlab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nnlab.cli"]


def report_command(results, timeout=120):
    """Run the real `nnlab --results <results> report`; the CompletedProcess."""
    return subprocess.run(
        [*nnlab_command(), "--results", str(results), "report"], capture_output=True, text=True, timeout=timeout
    )
