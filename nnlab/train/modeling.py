"""Build and compile an experiment's model, and check it against the data before any training."""

import inspect

import keras
import numpy as np

from nnlab import data as data_lib
from nnlab.errors import NnlabError
from nnlab.train import fused_adam


def build(experiment, config):
    """Call the module's build_model(config); user errors name the module."""
    try:
        model = experiment.module.build_model(config)
    except Exception as error:
        raise NnlabError(
            f"{experiment.path}: build_model(config) raised {type(error).__name__}: "
            f"{_first_line(error)}. Check the model definition and the config fields it uses."
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
    with setup.strategy.scope():
        model = build(experiment, config)
        compile_model(model, config, setup.compile_options, where)
    check_fits_data(model, splits, config, where)
    return model


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


def check_fits_data(model, splits, config, where):
    """Run two training examples through the model and check the labels suit the loss and output size."""
    x_train = np.asarray(splits.train[0])
    try:
        model(x_train[:2], training=False)
    except Exception as error:
        expected = getattr(model, "input_shape", None) if model.inputs else None
        raise NnlabError(
            f"{where}: the model cannot take {splits.source} inputs of shape {x_train.shape[1:]} "
            f"(model input shape {expected}; {_first_line(error)}). Make the model's keras.Input "
            f"shape match the data."
        ) from None
    data_lib.check_labels(splits, config.loss, int(model.output_shape[-1]))


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
