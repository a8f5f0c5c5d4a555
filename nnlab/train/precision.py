"""Mixed precision from `config.precision`: float32 (the default), mixed_float16, mixed_bfloat16 or auto.

Keras' dtype policy is global state read when layers are made, so it is set only while the model is built and
compiled (`policy`), then put back: the next run, trial or notebook cell starts from float32 again.

What nnlab does about the output: it casts. A last layer that computes in float16 or bfloat16 is switched to
compute in float32 (its variables are float32 under any mixed policy already), as Keras' mixed-precision guide
advises, so the softmax, the loss and the metrics are float32; the model keeps its layers, so hooks that read
model.layers[-1] still find theirs. That works for Sequential and functional models; a subclassed model whose
output is not float32 stops with one paragraph, because nnlab cannot tell which of its layers is the last.

Hand-written train_steps: mixed_float16 needs loss scaling, which a step written for float32 does not do (its
gradients would be unscaled by a LossScaleOptimizer and come out wrong), so it is refused with one paragraph;
mixed_bfloat16 has float32's range, needs no scaling and works unchanged.
"""

import contextlib

from nnlab.errors import NnlabError
from nnlab.results import console

MIXED = ("mixed_float16", "mixed_bfloat16")


def resolve(requested):
    """The policy `requested` means here: `auto` is mixed_float16 on GPUs of compute capability 7.0 or more
    (tensor cores), float32 anywhere else."""
    if requested != "auto":
        return requested
    return "mixed_float16" if _capable_gpus() else "float32"


def describe(requested):
    """The record for env.json: what was asked for and what it resolved to on this machine."""
    return {"requested": requested, "policy": resolve(requested)}


def check(experiment, config):
    """The policy name for this config here; NnlabError for a combination that cannot train (see the docstring)."""
    name = resolve(config.precision)
    if name == "mixed_float16" and experiment.optional("train_step") is not None:
        asked = "" if config.precision == name else f" (precision={config.precision} resolved to it on this GPU)"
        raise NnlabError(
            f"{experiment.path}: precision=mixed_float16{asked} needs loss scaling, which the module's hand-written "
            f"train_step does not do (its float16 gradients would underflow or be mis-scaled). Use "
            f"precision=mixed_bfloat16, which needs no scaling, or precision=float32."
        )
    return name


@contextlib.contextmanager
def policy(config, experiment):
    """Build and compile under the config's policy; yields its name. Refuses what cannot work (see the docstring)."""
    import keras

    name = check(experiment, config)
    if name == "mixed_float16" and not _gpus():
        console.say_once(
            ("float16 on a CPU",),
            "nnlab: warning: precision=mixed_float16 on a CPU: float16 math is emulated there and will be slow; "
            "use float32 or mixed_bfloat16 on a CPU.",
        )
    previous = keras.mixed_precision.global_policy()
    if previous.name not in ("float32", name):  # the module set it (at import): nnlab's policy replaces it
        console.say_once(
            ("global policy", experiment.path, previous.name),
            f"nnlab: warning: {experiment.path}: Keras' global dtype policy is {previous.name} (set outside nnlab, "
            f"e.g. by the module at import), but nnlab builds the model under Config's precision, {name}; "
            + (
                f"set precision={previous.name} in Config if that is what the model should train in."
                if previous.name in MIXED
                else f"Config's precision takes {', '.join(MIXED)}, float32 or auto."
            ),
        )
    keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_output(model, sample, where):
    """`model` with its outputs in float32: its output layers made to compute in float32 if they did not.

    Args:
      model: the experiment's model, built under a mixed policy.
      sample: a couple of training inputs: the output's dtype is read from a forward pass.
      where: the experiment's path, for the error.
    """
    import keras

    if model.dtype_policy.name not in MIXED:
        return model  # float32 throughout: nothing to do, and no forward pass
    try:
        if _all_float32(_output_dtypes(model, sample)):
            return model  # the module already made its last layer float32
    except Exception:
        return model  # the model does not fit the data: shape_guard.forward says so in its own words
    for layer in _output_layers(model):
        layer.dtype_policy = keras.DTypePolicy("float32")  # its variables already are; now its math too
    if not _all_float32(_output_dtypes(model, sample)):
        raise NnlabError(
            f"{where}: under precision={model.dtype_policy.name} the model's output is not float32, and nnlab "
            f"cannot find its last layer (a subclassed model). Give that layer dtype='float32' (e.g. "
            f"layers.Dense(10, activation='softmax', dtype='float32')), or use precision=float32."
        )
    return model


def _output_layers(model):
    """The layers that produce a Sequential or functional model's outputs; [] for a subclassed model."""
    import keras

    if isinstance(model, keras.Sequential):
        return model.layers[-1:]
    if not _has_symbolic_outputs(model):
        return []
    return [output._keras_history.operation for output in keras.tree.flatten(model.outputs)]


def _output_dtypes(model, sample):
    import keras

    outputs = model(sample, training=False)
    return [keras.backend.standardize_dtype(output.dtype) for output in keras.tree.flatten(outputs)]


def _has_symbolic_outputs(model):
    try:
        return bool(model.outputs)
    except (AttributeError, ValueError):
        return False


def _all_float32(dtypes):
    return all(dtype == "float32" for dtype in dtypes)


def _gpus():
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def _capable_gpus():
    import tensorflow as tf

    capable = []
    for gpu in _gpus():
        details = tf.config.experimental.get_device_details(gpu)
        if tuple(details.get("compute_capability", (0, 0))) >= (7, 0):
            capable.append(gpu)
    return capable
