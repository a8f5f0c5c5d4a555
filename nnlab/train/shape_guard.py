"""The shape guard: labels against the model's output, for each output, before the first step.

Two training examples go through the model (`forward`) and each output is paired with its
labels as Keras pairs them. The labels' shape per example must suit the output and the loss; where they do not,
training would either fail deep inside TensorFlow or, worse, broadcast and train the wrong problem without an
error. The rule differs for Keras' own losses, which reconcile a trailing axis of one, and for a hand-written
train_step, which gets no such help (`check_label_shape`). README's "Shape guard" section states the same rule.
"""

import warnings

import keras
import numpy as np

from nnlab import data as data_lib
from nnlab import structures
from nnlab.errors import NnlabError, first_line
from nnlab.results import console


def forward(model, x, source, where):
    """The model's outputs on a couple of training inputs `x`; one paragraph if it cannot take them."""
    try:
        return model(x, training=False)
    except Exception as error:
        inputs = getattr(model, "inputs", None)
        expected = getattr(model, "input_shape", None) if inputs else None
        named = " and names (a dict is matched to the inputs by name)" if isinstance(x, dict) else ""
        raise NnlabError(
            f"{where}: the model cannot take {source} inputs of shape {structures.describe(x)} "
            f"(model input shape {expected}; {first_line(error)}). Make the model's keras.Input "
            f"shape{named} match the data."
        ) from None


def check_fits_data(model, splits, config, where, custom_step=False, outputs=None):
    """Check the labels' shape and values suit the model's output and loss, for each output; before training.

    The output shape comes from a forward pass on two training examples (`outputs`, else run here), not
    `model.output_shape`, which subclassed models lack. Labels must match the output per example, except that
    Keras' built-in losses reconcile a trailing axis of size one ((N,) labels for (N, 1) outputs); a hand-written
    train_step gets no such help (see check_label_shape).
    """
    if outputs is None:
        outputs = forward(model, structures.take(splits.train[0], slice(None, 2)), splits.source, where)
    if not model.trainable_weights and console.say_once(
        ("no weights", where), f"nnlab: warning: {where}: {_no_weights(model)}"
    ):
        # Keras' train_step says the same in a warning of its own, with a source line: once is enough
        warnings.filterwarnings("ignore", message="The model does not have any trainable weights", category=UserWarning)
    labels = splits.train[1]
    pairs = label_pairs(model, outputs, labels, where)
    names = [name for name, _, _ in pairs]
    losses = losses_by_output(config.loss, names, where)
    weights = getattr(config, "loss_weights", None)  # only experiments that declare the field have it
    if weights is not None and not isinstance(weights, (int, float)):
        losses_by_output(weights, names, where, field="loss_weights", what="weight")
    for (name, output, path), loss in zip(pairs, losses, strict=True):
        output_shape = tuple(int(size) for size in output.shape[1:])
        y = np.asarray(structures.at(labels, path))
        integer = np.issubdtype(y.dtype, np.integer) or y.dtype == bool  # bools: class indices 0 and 1
        check_label_shape(tuple(y.shape[1:]), output_shape, loss, where, custom_step, integer, name)
        check_probabilities(output, loss, where, custom_step, name)
        if custom_step and integer and tuple(y.shape[1:]) != output_shape:  # the sparse pattern
            _check_class_indices(splits, path, output_shape[0], where, name)
        data_lib.check_labels(splits, loss, output_shape[-1] if output_shape else 1, path, name)


def losses_by_output(loss, names, where, field="loss", what="loss name"):
    """Each output's loss name, in the order of `names` (label_pairs'): `config.loss` is one name for every output,
    or, as Keras' compile takes it, a dict by output name or a tuple/list by position (a model with several
    outputs whose heads need different losses). `loss_weights` follows the same rule (`field`, `what`)."""
    if isinstance(loss, str):
        return [loss] * len(names)
    shown = ", ".join(names) if names != [""] else "one output"
    if names == [""] and len(loss) == 1:
        return list(loss.values() if isinstance(loss, dict) else loss)  # one output: Keras takes any one key
    if isinstance(loss, dict):
        if sorted(loss) != sorted(names):
            raise NnlabError(
                f"{where}: field '{field}' names the outputs {', '.join(sorted(loss))}, but the model has {shown}; "
                f"give one {what} per output name (or one for every output)."
            )
        return [loss[name] for name in names]
    if len(loss) != len(names):
        raise NnlabError(
            f"{where}: field '{field}' holds {len(loss)} values, but the model has {shown}; give one {what} per "
            f"output, in the outputs' order (or one for every output)."
        )
    return list(loss)


def _no_weights(model):
    """The warning for a model without trainable weights, naming tf.Variables Keras does not count as weights."""
    import tensorflow as tf

    loose = sorted(name for name, value in vars(model).items() if isinstance(value, tf.Variable))
    if not loose:
        return (
            "the model has no trainable weights, so training cannot change it; check build_model (frozen layers, "
            "trainable=False, or weights made outside Keras)."
        )
    return (
        f"the model has no Keras weights: {', '.join(loose)} are plain tf.Variables, which Keras 3 does not track, "
        f"so a train_step may still train them but model.keras will not hold them, --resume will not restore "
        f"them and Keras' own train_step cannot train them. Create them with self.add_weight(...) in the model."
    )


# Keras' crossentropies by name read the outputs as probabilities (from_logits=False).
PROBABILITY_LOSSES = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "categorical_focal_crossentropy",
    "binary_focal_crossentropy",
)
PROBABILITY_SLACK = 1e-6


def check_probabilities(output, loss, where, custom_step, name=""):
    """A crossentropy named by `config.loss` reads the outputs as probabilities. Logits (a last layer without
    softmax or sigmoid) are clipped and renormalised by it and train to chance without an error, so outputs
    outside [0, 1] on the sample forward pass stop the run; with a hand-written train_step, whose own loss may
    take logits (from_logits=True), only the validation and test losses are affected, so one warning says so."""
    if loss not in PROBABILITY_LOSSES:
        return
    values = np.asarray(keras.ops.convert_to_numpy(output), dtype=float)
    if not values.size or (values.min() >= -PROBABILITY_SLACK and values.max() <= 1 + PROBABILITY_SLACK):
        return
    of = f" of output {name!r}" if name else ""
    seen = f"the model's outputs{of} on two training examples range over [{values.min():.3g}, {values.max():.3g}]"
    last = "activation='sigmoid'" if "binary" in loss else "activation='softmax'"
    if custom_step:
        console.say_once(
            ("not probabilities", where, name),
            f"nnlab: warning: {where}: {seen}, so they are not probabilities, but val_loss and the test loss "
            f"use loss={loss}, which reads them as probabilities; your train_step's own loss is not affected. "
            f"For comparable numbers end the model with {last} (and take probabilities in train_step), or set "
            f"loss to a metric of your outputs.",
        )
        return
    raise NnlabError(
        f"{where}: {seen}, so they are not probabilities, but loss={loss} reads them as probabilities and would "
        f"clip them and train to chance without an error. End the model with {last} (Keras' crossentropy "
        f"losses by name take probabilities), or, to keep the logits as a tutorial's from_logits=True does, "
        f"define `def {loss}_from_logits(y_true, y_pred): return keras.losses.{loss}(y_true, y_pred, "
        f"from_logits=True)` in the module and set loss={loss}_from_logits."
    )


def label_pairs(model, outputs, labels, where):
    """[(output name, output, path to its labels in y)] for each of the model's outputs, paired as Keras pairs them:
    a dict of labels by output name, a list by position (a dict of outputs in the order of its sorted names)."""
    flat = keras.tree.flatten(outputs)
    if isinstance(outputs, dict):
        names = sorted(outputs)
    else:
        declared = list(getattr(model, "output_names", None) or [])
        names = declared if len(declared) == len(flat) else [f"output {index}" for index in range(len(flat))]
    if len(flat) == 1:
        if isinstance(labels, dict):
            raise NnlabError(
                f"{where}: the model has one output, but y is a dict ({structures.describe(labels)} per example); "
                f"a model with one output takes y as one array. Return the labels array itself in make_data."
            )
        paths = [path for path, _ in _paths(labels)]
        if len(paths) != 1:
            raise _mismatch(where, names, labels)
        return [("", flat[0], paths[0])]
    if isinstance(labels, dict):
        if sorted(labels) != sorted(names):  # a list of outputs names them in its own order
            raise _mismatch(where, names, labels)
        return [(name, output, (name,)) for name, output in zip(names, flat, strict=True)]
    if not isinstance(labels, (list, tuple)) or len(labels) != len(flat):
        raise _mismatch(where, names, labels)
    return [(name, output, (index,)) for index, (name, output) in enumerate(zip(names, flat, strict=True))]


def _paths(value, path=()):
    if isinstance(value, dict):
        return [pair for key in sorted(value) for pair in _paths(value[key], path + (key,))]
    if isinstance(value, (list, tuple)):
        return [pair for index, item in enumerate(value) for pair in _paths(item, path + (index,))]
    return [(path, value)]


def _mismatch(where, names, labels):
    return NnlabError(
        f"{where}: the model has {len(names)} output{'s' if len(names) != 1 else ''} ({', '.join(names)}) but y is "
        f"{structures.describe(labels)} per example; give y one array per output: a dict by output name or a list "
        f"in the outputs' order."
    )


def _check_class_indices(splits, path, classes, where, output):
    """Integer labels against K outputs in a hand-written step are class indices: they must lie in [0, K)."""
    for name, (_, y) in splits.items():
        y = np.asarray(structures.at(y, path))
        if y.min() < 0 or y.max() >= classes:
            of = f" of output {output!r}" if output else ""
            raise NnlabError(
                f"{where}: the {name} split's integer labels{of} range over [{y.min()}, {y.max()}], but the model "
                f"outputs {classes} values per example, so as class indices they must lie in [0, {classes - 1}]. "
                f"Fix the labels or widen the model's last layer."
            )


def check_label_shape(label_shape, output_shape, loss, where, custom_step, integer_labels=False, output=""):
    """Raise NnlabError when labels of `label_shape` per example cannot be meant for outputs of `output_shape`.

    With Keras' losses a trailing axis of one is fine (they reconcile it), and integer class labels suit a sparse
    loss. A hand-written train_step computes its loss itself, so only what cannot broadcast wrongly passes:
    equal shapes, and integer labels () or (1,) against an output (K,), K >= 2 (class indices for a sparse loss,
    as in TensorFlow's "Custom training: walkthrough"). () against (1,), either way round, would broadcast a batch
    of N to N x N; float labels () against K outputs are neither class indices nor one-hot.
    """
    if label_shape == output_shape:
        return
    sparse = "sparse_categorical" in loss
    classes = output_shape[-1] if output_shape else 1
    of = f" for output {output!r}" if output else ""
    shapes = f"labels of shape {label_shape} per example{of} but model outputs of shape {output_shape}"
    if custom_step:
        _check_hand_written(label_shape, output_shape, integer_labels, shapes, where)
        return
    if sparse and label_shape in ((), (1,)):
        return
    if classes == 1 and (label_shape + (1,) == output_shape or label_shape == output_shape + (1,)):
        return  # Keras' losses squeeze or expand a trailing axis of one
    if integer_labels and label_shape in ((), (1,)) and classes > 1 and not _keras_knows(loss):
        return  # a loss the module defines: integer labels against K outputs are class indices, as for its own step
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


def _keras_knows(loss):
    try:
        keras.losses.get(loss)
    except (ValueError, TypeError):
        return False
    return True


def _check_hand_written(label_shape, output_shape, integer_labels, shapes, where):
    """The shape guard's rule for a hand-written train_step (see check_label_shape)."""
    classes = output_shape[0] if len(output_shape) == 1 else 0
    if label_shape in ((), (1,)) and classes >= 2:
        if integer_labels:
            return  # class indices, for e.g. SparseCategoricalCrossentropy(from_logits=True)
        if label_shape == ():
            raise NnlabError(
                f"{where}: the data has {shapes}, and the labels are floats: neither class indices nor one-hot rows. "
                f"For {classes} classes give integer class indices (y.astype('int64'), for a sparse loss) or "
                f"one-hot rows of shape ({classes},) (keras.utils.to_categorical) in make_data; for {classes} "
                f"regression targets give the labels shape ({classes},) per example."
            )
    if {label_shape, output_shape} == {(), (1,)}:
        flat = "labels" if label_shape == () else "outputs"
        raise NnlabError(
            f"{where}: the data has {shapes}. train_step computes its loss by hand, so e.g. model(x) - y would "
            f"broadcast the flat {flat} against the (N, 1) ones (a batch of N becomes N x N) and train the wrong "
            f"problem. Give both the shape (N, 1): y.reshape(-1, 1) in make_data"
            + (" (or flatten the model's output)" if flat == "labels" else ", and an output of shape (N, 1)")
            + "."
        )
    raise NnlabError(
        f"{where}: the data has {shapes}. train_step computes its loss by hand, so e.g. model(x) - y would "
        f"broadcast (a batch of N becomes N x N) and train the wrong problem. Give the labels the output's shape "
        f"in make_data (e.g. y.reshape(-1, {', '.join(map(str, output_shape)) or '1'})), or change the model's "
        f"last layer to match the labels."
    )
