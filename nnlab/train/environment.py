"""Facts about where and how a run happened, for env.json: versions, devices, seed, git state, command."""

import hashlib
import platform
import subprocess
import sys
from pathlib import Path


def git_state(directory="."):
    """(commit, dirty) of the repository at `directory`, or (None, None) outside a git checkout."""

    def git(*args):
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None, None
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())
        return head.stdout.strip(), dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def experiment_state(module_path):
    """SHA-256 of the experiment module's source, and whether its repository's HEAD holds exactly that source.

    `git_dirty` describes the checkout nnlab runs in; an experiment file outside it, untracked or edited, is not
    in the recorded commit, so the commit alone cannot reproduce the run.
    """
    path = Path(module_path).resolve()
    state = {"experiment_file": str(path), "experiment_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}

    def git(*args):
        return subprocess.run(["git", *args], cwd=path.parent, capture_output=True, text=True, timeout=10)

    try:
        top, head = git("rev-parse", "--show-toplevel"), git("rev-parse", "HEAD")
        tracked = git("ls-files", "--error-unmatch", "--", path.name).returncode == 0
        changed = git("status", "--porcelain", "--", path.name).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        top = head = None
    in_repository = top is not None and top.returncode == 0 and head.returncode == 0
    state["experiment_repository"] = top.stdout.strip() if in_repository else None
    state["experiment_commit"] = head.stdout.strip() if in_repository else None
    state["experiment_tracked"] = bool(in_repository and tracked and not changed)
    return state


def collect(seed, devices, strategy_name, compile_options, deterministic, module_path=None):
    """The env.json record for a run about to start; with `module_path`, the experiment module's state too."""
    import keras
    import numpy
    import tensorflow as tf

    commit, dirty = git_state()
    return {
        "seed": seed,
        "deterministic_ops": deterministic,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "hostname": platform.node(),
        "devices": devices,
        "strategy": strategy_name,
        "compile_options": compile_options,
        "git_commit": commit,
        "git_dirty": dirty,
        "command": sys.argv,
        **(experiment_state(module_path) if module_path is not None else {}),
    }
