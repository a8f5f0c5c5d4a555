"""Which experiments train as groups, which trials share a program, how many at once (K), and whether XLA compiles it.

Every choice here is a fixed function of the experiment, the config and the device kind, never of timing, so a sweep
makes the same groups on every run and machine of a kind.
"""

import json
import math
import os
import shutil
import subprocess

import numpy as np

from nnlab import config as config_lib
from nnlab.errors import first_line

# Fields in which trials of one group may differ: per-trial learning rate, momentum, schedule and early stopping.
# (seed differs by construction: each trial has its own.)
PER_TRIAL_FIELDS = (
    "learning_rate",
    "momentum",
    "lr_schedule",
    "warmup_epochs",
    "min_learning_rate",
    "lr_decay",
    "lr_factor",
    "lr_patience",
    "patience",
    "seed",
)
OVERRIDDEN_STEPS = ("train_step", "test_step", "compute_loss", "compute_metrics")

# K on a CPU: a trial-step's CPU time falls as K grows while per-step fixed costs are shared, until the K trials'
# weights and optimizer state outgrow the caches. Measured on the 2-core CPU machine (README, "Where the time goes":
# MNIST MLPs of 25k-200k parameters, batch 32 and 128) the best K sat near CPU_WORK_PER_STEP multiply-adds per step
# (K x parameters x batch_size): K 16 for 25k parameters, 8 for 51k, 4 for 102k, 2 for 204k at batch 32. K is that
# work divided by one trial's, between 2 (a group still shares one trace and one gc) and CPU_MAX_SLOTS.
CPU_WORK_PER_STEP = 1.3e7
CPU_MAX_SLOTS = 16
# K on a GPU: as many trials as fit in GPU_MEMORY_SHARE of its memory at BYTES_PER_PARAMETER per parameter per example
# of the batch beyond the first few (weights, gradients, two moments and update temporaries, 4 bytes each, plus an
# activation allowance that grows with the batch), at most GPU_MAX_SLOTS. No GPU was available to measure this.
GPU_MEMORY_SHARE = 0.25
GPU_MAX_SLOTS = 64
# XLA: the group program compiles once per structure, in a second or two; it gains per step, so it is used when the
# group trains at least this many steps (epochs x batches per epoch), on a CPU and on a GPU.
XLA_MIN_STEPS = 500


def first_failed_rule(experiment, config, model, splits, replicas):
    """The first rule the experiment fails, as a phrase for vectorize.reason; "" when it can train as groups.

    Args:
      experiment: the loaded experiment module.
      config: the sweep's base config.
      model: a model prepared from it (nnlab.train.modeling.prepare), under the sweep's strategy.
      splits: the sweep's data.
      replicas: the strategy's replica count.
    """
    import keras

    from nnlab.train import batches, loop, precision
    from nnlab.train.vectorized.updates import for_optimizer

    for hook in ("train_step", "track"):
        if experiment.optional(hook) is not None:
            return f"the module defines {hook}, which a group program does not run"
    base = keras.Model
    for method in OVERRIDDEN_STEPS:
        if getattr(type(model), method, None) is not getattr(base, method):
            return f"the model class {type(model).__name__} overrides {method}"
    x, y = splits.train
    if not isinstance(x, np.ndarray):
        return "the inputs x are not a single array"
    if not isinstance(y, np.ndarray):
        return "the labels y are not a single array"
    outputs = model(x[:2], training=False)
    if not hasattr(outputs, "shape"):
        return f"the model has {len(outputs)} outputs"
    if getattr(config, "class_weight", ""):
        return f"class_weight is set ({config.class_weight!r})"
    policy = precision.resolve(config.precision)
    if policy != "float32":
        return f"precision={config.precision} resolves to {policy}, not float32"
    if replicas != 1:
        return f"it trains on {replicas} replicas, and a group program runs on one device"
    if config.optimizer not in ("adam", "sgd") or for_optimizer(model.optimizer) is None:
        return f"optimizer={config.optimizer}: groups train adam or sgd at Keras' defaults"
    if not model.trainable_variables:
        return "the model has no trainable weights"
    sample = batches.tensors((x[:2], y[:2]))
    loop.build_metrics(model, *sample)
    problem = _stateless_metrics_problem(model, config, *sample)
    if problem:
        return problem
    sparse = _sparse_gradients(model, *sample) if isinstance(model.optimizer, keras.optimizers.Adam) else []
    if sparse:
        return (
            f"the gradient of {sparse[0]} is sparse (an Embedding's rows), which Keras' Adam updates otherwise than "
            f"the group's dense update"
        )
    return ""


def _sparse_gradients(model, x, y):
    """The paths of the variables whose gradient is a tf.IndexedSlices (an Embedding, a gather of weights).

    Keras' Adam squares such a gradient's rows before adding up repeated indices (v gets the sum of squares), which
    is what a trial alone (and `fit`) computes; the group program sees the summed, dense gradient and would square
    the sum, training another trial. SGD, momentum included, is linear in the gradient and agrees either way.
    """
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y_pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
    gradients = tape.gradient(loss, model.trainable_variables)
    pairs = zip(model.trainable_variables, gradients, strict=True)
    return [variable.path for variable, gradient in pairs if isinstance(gradient, tf.IndexedSlices)]


def _stateless_metrics_problem(model, config, x, y):
    """Why the compiled metrics cannot be computed through Keras' stateless metric API (their stateless results must
    equal their stateful ones on a sample), or ""."""
    import tensorflow as tf

    metrics = model._compile_metrics
    if metrics is None:
        return ""
    y_pred = model(x, training=False)
    try:
        values = metrics.stateless_update_state([variable.value for variable in metrics.variables], y, y_pred)
        stateless = tf.nest.flatten(metrics.stateless_result(values))
        metrics.reset_state()
        metrics.update_state(y, y_pred)
        stateful = tf.nest.flatten(metrics.result())
        metrics.reset_state()
        agree = len(stateless) == len(stateful) and all(
            np.allclose(np.asarray(a), np.asarray(b), equal_nan=True) for a, b in zip(stateless, stateful, strict=True)
        )
    except Exception as error:  # a metric whose update keeps state outside its variables, or fails without them
        metrics.reset_state()
        return f"the metrics {', '.join(config.metrics)} fail through Keras' stateless API ({first_line(error)})"
    if not agree:
        return f"the metrics {', '.join(config.metrics)} give other results through Keras' stateless API"
    return ""


def group_key(config):
    """Trials share a program only when their configs agree in every field but PER_TRIAL_FIELDS: this is that part."""
    values = config_lib.to_dict(config)
    return json.dumps({key: value for key, value in values.items() if key not in PER_TRIAL_FIELDS}, sort_keys=True)


def parameter_count(model):
    return int(sum(np.prod(variable.shape) for variable in model.trainable_variables))


def auto_slots(device, parameters, batch_size, gpu_memory_bytes=None):
    """K for vectorize=auto: (K, the rule as one line for sweep.json). A fixed function of the device kind, the
    model's parameter count and batch_size (and, on a GPU, its total memory); nothing is timed."""
    work = max(1, parameters * batch_size)
    if device == "GPU" and gpu_memory_bytes:
        per_trial = 4 * parameters * (6 + batch_size)
        slots = max(1, min(GPU_MAX_SLOTS, int(GPU_MEMORY_SHARE * gpu_memory_bytes // per_trial)))
        rule = (
            f"GPU: trials whose weights, gradients, moments and activations (4 x parameters x (6 + batch_size) "
            f"bytes = {per_trial / 2**20:.1f} MiB each) fit in {GPU_MEMORY_SHARE:g} of its "
            f"{gpu_memory_bytes / 2**30:.1f} GiB, at most {GPU_MAX_SLOTS}: {slots}"
        )
        return slots, rule
    slots = max(2, min(CPU_MAX_SLOTS, round(CPU_WORK_PER_STEP / work)))
    rule = (
        f"CPU: {CPU_WORK_PER_STEP:.3g} multiply-adds per step / ({parameters:,} parameters x batch_size {batch_size}), "
        f"between 2 and {CPU_MAX_SLOTS}: {slots}"
    )
    return slots, rule


def uses_xla(steps):
    """Whether the group program is XLA-compiled: when it trains enough steps to repay the compilation."""
    return steps >= XLA_MIN_STEPS


def steps_of(config, train_examples):
    """The steps one trial of `config` trains: epochs x batches per epoch."""
    return config.epochs * math.ceil(train_examples / min(config.batch_size, max(1, train_examples)))


def gpu_memory_bytes():
    """Total memory of the first GPU this process sees (CUDA_VISIBLE_DEVICES respected), from nvidia-smi; or None."""
    command = shutil.which("nvidia-smi")
    if not command:
        return None
    try:
        output = subprocess.run(
            [command, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sizes = [line.strip() for line in output.stdout.splitlines() if line.strip()]
    visible = [part.strip() for part in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if part.strip()]
    index = int(visible[0]) if visible and visible[0].isdigit() else 0
    try:
        return int(float(sizes[index]) * 2**20)
    except (IndexError, ValueError):
        return None
