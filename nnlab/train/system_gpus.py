"""The NVIDIA GPUs the operating system shows, read without TensorFlow.

Plain `tensorflow` on Linux trains on the CPU without a word when CUDA's libraries are missing, although the
machine has a GPU. Comparing what the system shows with what TensorFlow sees turns that silent slowdown into one
line at the start of a run. Also used to give each sweep worker its own GPU. Standard library only.
"""

import shutil
import subprocess
from pathlib import Path

PROC_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the NVIDIA driver has found


def listed(nvidia_smi=None, proc_gpus=PROC_GPUS):
    """Names of the GPUs the system shows, in CUDA's order ([] when it shows none).

    Args:
      nvidia_smi: path of nvidia-smi; default: the one found on PATH.
      proc_gpus: the driver's folder of GPUs, read when nvidia-smi is missing or fails.
    """
    command = nvidia_smi or shutil.which("nvidia-smi")
    if command:
        try:
            output = subprocess.run([command, "-L"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            output = None
        if output is not None and output.returncode == 0:
            names = [line.strip() for line in output.stdout.splitlines() if line.startswith("GPU ")]
            if names:
                return names  # "GPU 0: NVIDIA H100 (UUID: ...)"
    try:
        return [f"GPU at PCI {path.name}" for path in sorted(Path(proc_gpus).iterdir())]
    except OSError:
        return []


def unseen_warning(tensorflow_gpu_count, system_gpus):
    """One line when the system shows GPUs that TensorFlow does not see, else None."""
    if not system_gpus or tensorflow_gpu_count:
        return None
    return (
        f"the system shows {len(system_gpus)} GPU(s) ({system_gpus[0]}) but TensorFlow sees none, so this run "
        f"trains on the CPU; install TensorFlow's CUDA libraries: `make install GPU=1` or "
        f"`pip install 'tensorflow[and-cuda]'`."
    )
