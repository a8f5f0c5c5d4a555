"""XLA's compiled programs kept on disk, so that a sweep whose group program was compiled before starts without it.

Compiling the group program with XLA takes about 3 s of CPU on the 2-core machine (README, "Where the time goes"):
for an 8-trial MNIST sweep, as long as training a group for several epochs. TensorFlow can keep each executable it
compiles in a directory (TF_XLA_FLAGS=--tf_xla_persistent_cache_directory), under a fingerprint of the program, and load
it the next time a process compiles the same program: the same model structure, data shapes, batch size and K. nnlab
points it at $NNLAB_CACHE/xla/<machine>, where <machine> hashes TensorFlow's version, the CPU's model and instruction
sets and the GPUs, so that a home directory shared by different machines never hands one of them code compiled for
another. A loaded program computes exactly what a freshly compiled one does.

NNLAB_XLA_CACHE=0 turns it off, and a TF_XLA_FLAGS that names its own cache directory is left alone. TensorFlow reads
the flag when a process first compiles with XLA, so `enable()` runs before a sweep's first compilation.
"""

import hashlib
import os
import platform
from pathlib import Path

SWITCH = "NNLAB_XLA_CACHE"
FLAG = "--tf_xla_persistent_cache_directory"


def directory():
    """This machine's cache directory: $NNLAB_CACHE (else $XDG_CACHE_HOME/nnlab, ~/.cache/nnlab) / xla / <machine>."""
    base = os.environ.get("NNLAB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nnlab"
    return Path(base) / "xla" / machine_key()


def machine_key():
    """A short hash of what compiled code depends on: TensorFlow's version, the CPU and its flags, the GPUs."""
    import tensorflow as tf

    from nnlab.train import system_gpus

    cpu = ""
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
        cpu = "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))
    except OSError:
        cpu = platform.processor()
    facts = [tf.__version__, platform.machine(), cpu, *system_gpus.listed()]
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]


def enable():
    """Point TensorFlow's persistent XLA cache at directory(), unless turned off or already set; returns the path, or
    None when nothing was set (off, set by the user, or the directory cannot be made)."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if os.environ.get(SWITCH, "1") == "0" or FLAG in flags:
        return None
    path = directory()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only or full cache: compile every time, as without the cache
    os.environ["TF_XLA_FLAGS"] = f"{flags} {FLAG}={path}".strip()
    return path


def clear():
    """Empty the cache directory TF_XLA_FLAGS names (a damaged entry stops every program that loads it); True when
    there was one."""
    flags = os.environ.get("TF_XLA_FLAGS", "").split()
    paths = [flag.split("=", 1)[1] for flag in flags if flag.startswith(f"{FLAG}=")]
    if not paths or not Path(paths[-1]).is_dir():
        return False
    for entry in Path(paths[-1]).iterdir():
        if entry.is_file():
            entry.unlink(missing_ok=True)
    return True
