"""Build and compile an experiment's model, and check it against the data before any training."""

import inspect

import keras
import numpy as np

from nnlab import data as data_lib
from nnlab.errors import NnlabError, first_line
from nnlab.train import fused_adam, precision


def build(experiment, config, train=None):
    """Call the module's build_model(config), or build_model(config, train) when it takes the training split.

    The second argument is the training split's (x, y), never validation or test, so a preprocessing layer such
    as keras.layers.Normalization can adapt() to it without seeing held-out data; its adapted state is part of
    the model's weights and is saved with it.
    """
    arguments = (
        (config, train) if train is not None and takes_arguments(experiment.module.build_model, 2) else (config,)
    )
    try:
        model = experiment.module.build_model(*arguments)
    except Exception as error:
        raise NnlabError(
            f"{experiment.path}: build_model(config) raised {type(error).__name__}: "
            f"{first_line(error)}. Check the model definition and the config fields it uses."
        ) from None
    if not isinstance(model, keras.Model):
        raise NnlabError(
            f"{experiment.path}: build_model(config) returned {type(model).__name__}, not a Keras "
            f"model; return e.g. keras.Sequential([...])."
        )
    return model


def prepare(experiment, config, splits, setup):
    """The experiment's model, built and compiled under the setup's strategy and checked against the data."""
    where = str(experiment.path)
    with setup.strategy.scope(), precision.policy(config, experiment):
        model = build(experiment, config, splits.train)
        model = precision.float32_output(model, np.asarray(splits.train[0][:2]), where)
        compile_model(model, config, setup.compile_options, where)
    check_fits_data(model, splits, config, where, custom_step=experiment.optional("train_step") is not None)
    return model


def takes_arguments(function, count):
    """Whether `function` accepts `count` positional arguments: optional hook arguments, e.g. train_step's config."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False
    parameters = list(signature.parameters.values())
    if any(parameter.kind is parameter.VAR_POSITIONAL for parameter in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= count


def make_optimizer(config, where="config"):
    """The optimizer named by config.optimizer at config.learning_rate (and config.momentum, if it has one).

    Adam gets TensorFlow's fused update (nnlab.train.fused_adam): the same formula in one kernel per variable.
    """
    settings = {"learning_rate": config.learning_rate}
    try:
        optimizer = keras.optimizers.get({"class_name": config.optimizer, "config": settings})
    except (ValueError, TypeError):
        raise NnlabError(
            f"{where}: field 'optimizer' is {config.optimizer!r}, which Keras does not know; use "
            f"one of adam, sgd, rmsprop, adamw, adagrad, nadam."
        ) from None
    momentum = getattr(config, "momentum", 0.0)  # only experiments that declare the field have it
    if not momentum:
        return fused_adam.fuse(optimizer)
    if "momentum" not in inspect.signature(type(optimizer)).parameters:
        raise NnlabError(
            f"{where}: field 'momentum' is {momentum!r}, but optimizer {config.optimizer!r} has no momentum "
            f"setting; use optimizer=sgd or optimizer=rmsprop, or momentum=0."
        )
    try:
        return type(optimizer)(**settings, momentum=momentum)
    except ValueError as error:
        raise NnlabError(f"{where}: field 'momentum' is {momentum!r}: {error} Pass e.g. momentum=0.9.") from None


def compile_model(model, config, compile_options, where="config"):
    """Compile with the config's optimizer, loss and metrics, each checked by name first."""
    for field, getter, names in (
        ("loss", keras.losses.get, [config.loss]),
        ("metrics", keras.metrics.get, list(config.metrics)),
    ):
        for name in names:
            if name in ("accuracy", "acc"):
                continue  # resolved by compile() to the right accuracy for the loss
            try:
                getter(name)
            except (ValueError, TypeError):
                raise NnlabError(
                    f"{where}: field '{field}' names {name!r}, which Keras does not know; use a "
                    f"keras.{field if field == 'metrics' else 'losses'} name such as "
                    f"{'accuracy' if field == 'metrics' else 'mse'}."
                ) from None
    model.compile(
        optimizer=make_optimizer(config, where), loss=config.loss, metrics=list(config.metrics), **compile_options
    )
    return model


def check_fits_data(model, splits, config, where, custom_step=False):
    """Run two training examples through the model; check the labels' shape and values suit its output and loss.

    The output shape comes from that forward pass, not `model.output_shape`, which subclassed models lack. Labels
    must match the output per example, except that Keras' built-in losses reconcile a trailing axis of size one
    ((N,) labels for (N, 1) outputs); a hand-written train_step gets no such help: `model(x) - y` with (N, 1)
    outputs and (N,) labels broadcasts to (N, N) and trains the wrong problem without an error.
    """
    x_train = np.asarray(splits.train[0])
    try:
        outputs = model(x_train[:2], training=False)
    except Exception as error:
        inputs = getattr(model, "inputs", None)
        expected = getattr(model, "input_shape", None) if inputs else None
        raise NnlabError(
            f"{where}: the model cannot take {splits.source} inputs of shape {x_train.shape[1:]} "
            f"(model input shape {expected}; {first_line(error)}). Make the model's keras.Input "
            f"shape match the data."
        ) from None
    if not hasattr(outputs, "shape"):  # several outputs (a dict or list): Keras matches them to the labels itself
        return
    output_shape = tuple(int(size) for size in outputs.shape[1:])
    label_shape = tuple(np.shape(splits.train[1])[1:])
    check_label_shape(label_shape, output_shape, config.loss, where, custom_step)
    data_lib.check_labels(splits, config.loss, output_shape[-1] if output_shape else 1)


def check_label_shape(label_shape, output_shape, loss, where, custom_step):
    """Raise NnlabError when labels of `label_shape` per example cannot be meant for outputs of `output_shape`."""
    if label_shape == output_shape:
        return
    sparse = "sparse_categorical" in loss
    classes = output_shape[-1] if output_shape else 1
    if not custom_step:
        if sparse and label_shape in ((), (1,)):
            return
        if classes == 1 and (label_shape + (1,) == output_shape or label_shape == output_shape + (1,)):
            return  # Keras' losses squeeze or expand a trailing axis of one
    shapes = f"labels of shape {label_shape} per example but model outputs of shape {output_shape}"
    if custom_step:
        raise NnlabError(
            f"{where}: the data has {shapes}. train_step computes its loss by hand, so e.g. model(x) - y would "
            f"broadcast (a batch of N becomes N x N) and train the wrong problem. Give the labels the output's shape "
            f"in make_data (e.g. y.reshape(-1, {', '.join(map(str, output_shape)) or '1'})), or change the model's "
            f"last layer to match the labels."
        )
    if label_shape in ((), (1,)) and classes > 1:
        fix = (
            "use loss=sparse_categorical_crossentropy, which takes integer class labels as they are, or one-hot "
            "encode the labels in make_data (keras.utils.to_categorical)"
            if "categorical" in loss or "crossentropy" in loss
            else f"loss '{loss}' would compare each label with all {classes} outputs; for class labels use "
            f"loss=sparse_categorical_crossentropy, or give the model one output per label"
        )
        raise NnlabError(f"{where}: the data has {shapes}, which look like class indices for {classes} classes; {fix}.")
    raise NnlabError(
        f"{where}: the data has {shapes}, and loss '{loss}' needs them to match. Change the model's last layer "
        f"or reshape the labels in make_data so that both have the same shape per example."
    )
