"""Which devices a run trains on, and the tf.distribute strategy over them.

- one device: TensorFlow's default strategy;
- several GPUs: MirroredStrategy over them;
- NNLAB_CPU_DEVICES=N: N logical CPU devices with MirroredStrategy over them, to try several replicas on a machine
  without GPUs (each replica a slice of every batch, all on the same cores: correct, not faster);
- a TF_CONFIG naming several workers: MultiWorkerMirroredStrategy (nnlab.train.cluster, the "cluster" work).

`batch_size` is the global batch: every replica trains on an equal slice of it, so a config means the same math
on any device count; one that does not divide by the replica count is an error, raised before anything is written.
"""

import dataclasses
import os

from nnlab.errors import NnlabError
from nnlab.results.text import quoted

CPU_DEVICES = "NNLAB_CPU_DEVICES"
MAX_CPU_DEVICES = 256  # logical devices to simulate several; a larger count is a typo, and its list would not fit
DETERMINISTIC = "NNLAB_DETERMINISTIC"


@dataclasses.dataclass
class Setup:
    devices: dict
    strategy: object
    compile_options: dict
    deterministic: bool
    workers: int = 1

    @property
    def strategy_name(self):
        # TensorFlow's class behind tf.distribute.MultiWorkerMirroredStrategy is CollectiveAllReduceStrategy.
        return "MultiWorkerMirroredStrategy" if self.workers > 1 else type(self.strategy).__name__

    @property
    def replicas(self):
        return self.strategy.num_replicas_in_sync

    def describe(self, batch_size):
        """The distribution facts env.json records."""
        return {
            "strategy": self.strategy_name,
            "replicas": self.replicas,
            "workers": self.workers,
            "global_batch_size": batch_size,
            "per_replica_batch_size": batch_size // self.replicas,
        }


def requested_cpu_devices():
    """NNLAB_CPU_DEVICES as a count of logical CPU devices, or None when unset; checked without TensorFlow."""
    text = os.environ.get(CPU_DEVICES, "").strip()
    if not text:
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_CPU_DEVICES:
        raise NnlabError(
            f"environment variable {CPU_DEVICES}={quoted(text)} must be a whole number of logical CPU devices, from 1 "
            f"to {MAX_CPU_DEVICES} (e.g. {CPU_DEVICES}=2 trains with MirroredStrategy over two); unset it to train on "
            f"the plain CPU."
        )
    return count


def requested_determinism():
    """NNLAB_DETERMINISTIC as a bool: 1/true/yes/on or unset/0/false/no/off; anything else is refused, since a
    mistyped value silently left op determinism off."""
    text = os.environ.get(DETERMINISTIC, "").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise NnlabError(
        f"environment variable {DETERMINISTIC}={quoted(os.environ[DETERMINISTIC])} must be 1 (op determinism on, "
        f"for GPU runs that must repeat exactly) or 0; unset it to leave it off."
    )


def setup(seed):
    """Seed every generator, pick the distribution strategy and compile options for the visible devices."""
    import keras
    import tensorflow as tf

    from nnlab.train import cluster

    strategy = cluster.strategy_from_environment()  # first: a process must join its cluster before other TF work
    cpu_devices = requested_cpu_devices()
    if cpu_devices is not None and strategy is None:
        _split_cpu(tf, cpu_devices)
    keras.utils.set_random_seed(seed)
    gpus = tf.config.list_physical_devices("GPU")
    # CPU runs were bitwise reproducible without op determinism, which cost 55% per MNIST epoch here;
    # GPU kernels are not, so users who need bitwise GPU runs opt in.
    deterministic = requested_determinism()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    if strategy is None and cpu_devices is not None and cpu_devices > 1:
        strategy = _mirrored(tuple(f"/cpu:{index}" for index in range(cpu_devices)))
    elif strategy is None and len(gpus) > 1:
        strategy = _mirrored(None)
    elif strategy is None:
        strategy = tf.distribute.get_strategy()
    devices = {
        "gpus": [device.name for device in gpus],
        "gpu_details": [tf.config.experimental.get_device_details(device) for device in gpus],
        "cpus": [device.name for device in tf.config.list_physical_devices("CPU")],
        "logical_cpus": cpu_devices,
        "used": "GPU" if gpus else "CPU",
    }
    # The loop compiles its own steps (nnlab.train.loop); compile() gets nothing that would change them.
    member = cluster.membership()
    workers = member.size if member else 1
    return Setup(devices=devices, strategy=strategy, compile_options={}, deterministic=deterministic, workers=workers)


def check_batch_size(batch_size, replicas, where):
    """A global batch must split evenly over the replicas."""
    if batch_size % replicas:
        below, above = batch_size - batch_size % replicas, batch_size + replicas - batch_size % replicas
        raise NnlabError(
            f"{where}: field 'batch_size' is {batch_size}, the global batch, which must split evenly over the "
            f"{replicas} replicas this machine trains on; use a multiple of {replicas}, e.g. "
            f"batch_size={below or above} or batch_size={above}."
        )


_MIRRORED = {}


def _mirrored(device_names):
    """One MirroredStrategy per device set and process: each new one numbers its collective ops from the same
    start, and a second run in the process (a study's variants, sweep trials, tests) then clashed with the
    first's ops ("Shape mismatch in the collective instance")."""
    import tensorflow as tf

    if device_names not in _MIRRORED:
        _MIRRORED[device_names] = tf.distribute.MirroredStrategy(list(device_names) if device_names else None)
    return _MIRRORED[device_names]


def _split_cpu(tf, count):
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # TensorFlow already started in this process: fine if it has that many devices already
        have = len(tf.config.list_logical_devices("CPU"))
        if have != count:
            raise NnlabError(
                f"{CPU_DEVICES}={count} cannot take effect: TensorFlow already started in this process with "
                f"{have} CPU device(s) before nnlab could divide the CPU: something ran TensorFlow work first (an "
                f"experiment module computing with TensorFlow at import, or an earlier notebook cell). Move that "
                f"work into build_model or make_data, and set {CPU_DEVICES} before the process starts (e.g. "
                f"{CPU_DEVICES}={count} nnlab run ...)."
            ) from None
