"""Facts about where and how a run happened, for env.json: versions, devices, seed, git state, command."""

import platform
import subprocess
import sys


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


def collect(seed, devices, strategy_name, compile_options, deterministic):
    """The env.json record for a run about to start."""
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
    }
