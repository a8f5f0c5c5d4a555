"""Build and compile an experiment's model, and check it against the data before any training."""

import inspect

import keras
import numpy as np

from nnlab import structures
from nnlab.errors import NnlabError, first_line
from nnlab.results import console
from nnlab.train import class_weights, figures, fused_adam, precision
from nnlab.train.shape_guard import check_fits_data, check_label_shape, forward  # noqa: F401 (check_*: old home)


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
        hint = (
            " A pandas DataFrame or Series from make_data reaches build_model as its NumPy values, columns in order: "
            "index them by position (train[0][:, 2]), or give x as dict(df) to index them by name."
            if len(arguments) == 2 and isinstance(error, IndexError)
            else ""
        )
        raise NnlabError(
            f"{experiment.path}: build_model({'config, train' if len(arguments) == 2 else 'config'}) raised "
            f"{type(error).__name__}: {first_line(error)}. Check the model definition and the config fields it "
            f"uses.{hint}"
        ) from None
    if not isinstance(model, keras.Model):
        raise NnlabError(
            f"{experiment.path}: build_model(config) returned {type(model).__name__}, not a Keras "
            f"model; return e.g. keras.Sequential([...])."
        )
    _warn_own_compile(model, config, experiment.path)
    return model


def _warn_own_compile(model, config, where):
    """One warning line when build_model compiled the model with another loss, optimizer or learning rate than the
    config's (a keras-tuner build(hp) ported as it was): nnlab compiles every model from Config, so those settings
    would be replaced in silence."""
    if not getattr(model, "compiled", False):
        return
    differences = []
    theirs, ours = _loss_identity(model.loss), _loss_identity(config.loss)
    if theirs and ours and theirs != ours:
        differences.append(f"loss {theirs[0]}{' (from_logits=True)' if theirs[1] else ''} becomes {config.loss}")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        name = type(optimizer).__name__
        if name.lower() != str(config.optimizer).lower():
            differences.append(f"optimizer {name} becomes {config.optimizer}")
        rate = optimizer.learning_rate
        if isinstance(rate, keras.Variable) and not np.isclose(float(rate.numpy()), config.learning_rate, rtol=1e-6):
            differences.append(f"learning rate {float(rate.numpy()):g} becomes {config.learning_rate:g}")
    if differences:
        console.say_once(
            ("compiled", where),
            f"nnlab: warning: {where}: build_model returned a compiled model, and nnlab compiles every model from "
            f"Config: {'; '.join(differences)}. Set those fields in Config (or let build_model return the model "
            f"uncompiled) so that Config says what trains.",
        )


def _loss_identity(loss):
    """(function name, from_logits) of one loss given as a name, a function or a Keras Loss; None for anything else
    (per-output losses, names Keras does not know): those are not compared."""
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except (ValueError, TypeError):
            return None
    function = getattr(loss, "fn", loss)
    if not callable(function):
        return None
    settings = loss.get_config() if isinstance(loss, keras.losses.Loss) else {}
    return getattr(function, "__name__", type(function).__name__), bool(settings.get("from_logits", False))


def prepare(experiment, config, splits, setup):
    """The experiment's model, built and compiled under the setup's strategy and checked against the data."""
    where = str(experiment.path)
    custom_step = experiment.optional("train_step") is not None
    figures.check_data(experiment, splits)  # a figure that needs x as one array, before anything trains
    with setup.strategy.scope(), precision.policy(config, experiment):
        model = build(experiment, config, splits.train)
        sample = structures.take(splits.train[0], slice(None, 2))
        model = precision.float32_output(model, sample, where)
        outputs = forward(model, sample, splits.source, where)  # its structure decides how metrics are compiled
        compile_model(model, config, setup.compile_options, where, outputs, module=experiment.module)
    check_fits_data(model, splits, config, where, custom_step=custom_step, outputs=outputs)
    class_weights.sample_weights(config, splits.train, custom_step, where, outputs=_width(outputs))  # refusals
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


def compile_model(model, config, compile_options, where="config", outputs=None, module=None):
    """Compile with the config's optimizer, loss and metrics, each checked by name first.

    A model with several outputs (`outputs`, a forward pass's result, is a list or dict of them) gets the loss and
    every metric on each output, as Keras names them in history.csv: loss, <output>_loss, <output>_<metric>.
    A name Keras does not know may name a function, or a keras.losses.Loss / keras.metrics.Metric class, defined in
    the experiment `module` (Keras' guide's `custom_mean_squared_error`): compile gets that function or an instance.
    """
    loss = lambda name: _resolve(name, "loss", keras.losses.get, keras.losses.Loss, module, where)  # noqa: E731
    metric = lambda name: _resolve(name, "metrics", keras.metrics.get, keras.metrics.Metric, module, where)  # noqa: E731
    if isinstance(config.loss, str):
        losses = loss(config.loss)
    elif isinstance(config.loss, dict):  # one name per output, by output name or position (see shape_guard)
        losses = {name: loss(value) for name, value in config.loss.items()}
    else:
        losses = [loss(name) for name in config.loss]
    if isinstance(config.metrics, dict):  # one metric per output, by output name, as compile takes them
        metrics = {name: [metric(value)] for name, value in config.metrics.items()}
        _check_metric_outputs(metrics, model, outputs, where)
    else:
        metrics = [metric(name) for name in config.metrics]
        if outputs is not None and len(keras.tree.flatten(outputs)) > 1 and metrics:
            names = list(config.metrics)  # Keras wants one list each, of its own objects
            metrics = keras.tree.map_structure(lambda _: [metric(name) for name in names], outputs)
    weights = getattr(config, "loss_weights", None)  # only experiments that declare the field have it
    if weights is not None and not isinstance(weights, (int, float)):
        weights = dict(weights) if isinstance(weights, dict) else list(weights)
    model.compile(
        optimizer=make_optimizer(config, where), loss=losses, loss_weights=weights, metrics=metrics, **compile_options
    )
    return model


def _resolve(name, field, getter, base, module, where):
    """`name` itself when Keras knows it; else the experiment module's function of that name, or an instance of its
    `base` subclass of that name; else one paragraph."""
    if name in ("accuracy", "acc"):
        return name  # resolved by compile() to the right accuracy for the loss
    try:
        getter(name)
        return name
    except (ValueError, TypeError):
        pass
    own = getattr(module, name, None) if module is not None and name.isidentifier() else None
    if isinstance(own, type) and issubclass(own, base):
        try:
            return own()
        except Exception as error:
            raise NnlabError(
                f"{where}: field '{field}' names the class {name}, which could not be made without arguments "
                f"({type(error).__name__}: {first_line(error)}); give its arguments defaults."
            ) from None
    if callable(own) and not isinstance(own, type):
        return own
    raise NnlabError(
        f"{where}: field '{field}' names {name!r}, which Keras does not know; use a "
        f"keras.{field if field == 'metrics' else 'losses'} name such as "
        f"{'accuracy' if field == 'metrics' else 'mse'}, or the name of a function (or "
        f"keras.{'metrics.Metric' if field == 'metrics' else 'losses.Loss'} class) defined in the module."
    )


def _check_metric_outputs(metrics, model, outputs, where):
    """A dict of metrics names outputs: each key must be one of the model's output names."""
    names = sorted(outputs) if isinstance(outputs, dict) else list(getattr(model, "output_names", None) or [])
    unknown = sorted(set(metrics) - set(names))
    if unknown:
        raise NnlabError(
            f"{where}: field 'metrics' names the output {unknown[0]!r}, but the model's outputs are "
            f"{', '.join(names) or 'unnamed'}; key the metrics by output name, or give a tuple of names for every "
            f"output."
        )


def _width(outputs):
    """The first output's width per example: what class_weight's class indices are checked against."""
    return int(np.prod(keras.tree.flatten(outputs)[0].shape[1:]))
