"""The history.csv columns a module adds: the extra values its `train_step` returns, and what `track(model)` records.

Both become columns beside nnlab's own, so their keys follow one rule, checked before the first epoch: a string
without a comma, quote or line break (each would break the CSV header), not starting with `val_`, and not a column
nnlab already writes (epoch, loss, the metrics, seconds, learning_rate; a sweep's trial_id and execution). Their
values must be numbers: one number each, never a string.

`track` is written as users write it: returning variables or tensors (`model.w`), or Python numbers computed
eagerly (`float(model.w.numpy())`, as TensorFlow's "Custom training: basics" does). nnlab traces it once before
training; if it traces, it runs inside the compiled loop. If tracing fails, or it returns any value fixed when
traced (a Python number, a constant), it runs eagerly after every epoch, and the loop compiles one epoch per call
(as it does under early stopping). Either way each value is rounded to float32, as the compiled route writes it,
so history.csv is the same.
"""

import numpy as np
import tensorflow as tf

from nnlab.errors import NnlabError, first_line
from nnlab.results import console

RESERVED = ("epoch", "loss", "seconds", "learning_rate", "trial_id", "execution")
FORBIDDEN_CHARACTERS = {",": "a comma", '"': "a quote", "'": "a quote", "\n": "a line break", "\r": "a line break"}


def check_names(keys, taken, where, hook):
    """Raise NnlabError unless every key of `keys` can be a history column beside the columns `taken`."""
    seen = set()
    for key in keys:
        problem = _name_problem(key, set(taken) | seen)
        if problem:
            raise NnlabError(
                f"{where}: {hook} returned the key {key!r}, which {problem}; each key becomes a column of "
                f"history.csv. Rename it, e.g. {_suggestion(key)!r}."
            )
        seen.add(key)


def step_outputs(result, where):
    """A train_step's result as {key: tensor}: the loss alone, or the dict it returned with numbers as tensors."""
    outputs = dict(result) if isinstance(result, dict) else {"loss": result}
    check_names([key for key in outputs if not isinstance(key, str)], (), where, "train_step")  # before nest sorts
    converted = {}
    for key, value in outputs.items():
        if not isinstance(value, (tf.Tensor, tf.Variable)) and not _is_number(value):
            raise NnlabError(
                f"{where}: train_step returned {_entry(key, outputs)} {_value_text(value)}, not a number; return "
                f"the batch's loss as a scalar tensor (or a dict of them with a 'loss' entry), e.g. "
                f"keras.ops.mean(...)."
            )
        value = tf.convert_to_tensor(value) if not isinstance(value, tf.Tensor) else value
        # A shape unknown when traced (a tf.numpy_function's result) is checked when the step runs instead.
        converted[key] = tf.reshape(value, []) if value.shape.rank is None else value
    return converted


def check_step_outputs(outputs, taken, where):
    """After tracing the step: a 'loss' and scalar numbers only, under keys that can be columns; the keys in order."""
    bad = [
        key
        for key, value in outputs.items()
        if not isinstance(value, tf.Tensor) or value.shape.rank != 0 or not _numeric(value.dtype)
    ]
    if "loss" not in outputs or bad:
        described = ", ".join(
            f"{key}: {getattr(value, 'shape', type(value).__name__)}"
            + (f" {value.dtype.name}" if isinstance(value, tf.Tensor) and not _numeric(value.dtype) else "")
            for key, value in outputs.items()
        )
        raise NnlabError(
            f"{where}: train_step must return the batch's loss as a scalar tensor (or a dict of numeric scalars "
            f"with a 'loss' entry); it returned {described}. Return e.g. keras.ops.mean(...)."
        )
    keys = ["loss"] + [key for key in outputs if key != "loss"]
    check_names(keys[1:], taken, where, "train_step")
    return keys


class Track:
    """The module's track(model): traced once, then run inside the compiled loop or, failing that, eagerly."""

    def __init__(self, track, model, where):
        self.track, self.model, self.where = track, model, where
        self.eager = False
        self.keys = []

    def prepare(self, taken):
        """Decide the route and check the keys against the columns `taken`; before training, nothing trains."""
        try:
            traced = tf.function(lambda: self.track(self.model), autograph=False).get_concrete_function()
            outputs, reason = traced.structured_outputs, None
        except NnlabError:
            raise
        except Exception as error:
            outputs, reason = None, f"{type(error).__name__}: {first_line(error)}"
        if reason is None:
            self._check_traced(outputs)
            if any(_fixed_when_traced(value) for value in outputs.values()):
                reason = "it returns values fixed when traced, such as Python numbers"
        if reason is not None:
            self.eager = True
            outputs = self.eager_values(epoch=None)
        self.keys = list(outputs)
        check_names(self.keys, taken, self.where, "track(model)")
        if reason is not None:  # said once its keys are known to be fine
            console.say_once(
                ("eager track", self.where),
                f"nnlab: {self.where}: track(model) cannot run inside the compiled loop ({reason}); nnlab calls it "
                f"after every epoch instead and compiles one epoch per call.",
            )
        return self.keys

    def graph_values(self):
        """{key: scalar tensor}, inside the compiled loop."""
        return {key: tf.reshape(value, []) for key, value in self.track(self.model).items()}

    def eager_values(self, epoch):
        """{key: float (float32-rounded)}, called after epoch `epoch` (None: the check before training)."""
        when = "before training" if epoch is None else f"after epoch {epoch}"
        try:
            values = self.track(self.model)
        except NnlabError:
            raise
        except Exception as error:
            raise NnlabError(
                f"{self.where}: track(model) raised {type(error).__name__} {when}: {first_line(error)}. Fix track."
            ) from None
        if not isinstance(values, dict):
            raise NnlabError(self._not_a_dict(values))
        if epoch is not None and list(values) != self.keys:
            raise NnlabError(
                f"{self.where}: track(model) returned the keys {list(values)} {when} but {self.keys} before "
                f"training; history.csv has one column per key, so return the same keys every epoch."
            )
        return {key: self._number(key, value, when) for key, value in values.items()}

    def _check_traced(self, outputs):
        if not isinstance(outputs, dict):
            raise NnlabError(self._not_a_dict(outputs))
        for key, value in outputs.items():
            if isinstance(value, tf.Tensor):
                ok = _numeric(value.dtype) and value.shape.num_elements() == 1
            else:
                ok = _is_number(value)
            if not ok:
                raise NnlabError(self._not_one_number(key, value))

    def _number(self, key, value, when):
        try:
            array = np.asarray(value)
        except Exception:
            array = None
        if array is None or array.size != 1 or not _numeric_array(array):
            raise NnlabError(self._not_one_number(key, value, when))
        return float(np.float32(array.reshape(())))  # the compiled route's tf.cast(value, tf.float32)

    def _not_a_dict(self, values):
        return (
            f"{self.where}: track(model) must return a dict of single numbers to record per epoch, e.g. "
            f"{{'w': model.w}} or {{'w': float(model.w.numpy())}}; it returned {_value_text(values)}."
        )

    def _not_one_number(self, key, value, when="when traced"):
        return (
            f"{self.where}: track(model) returned {key!r}: {_value_text(value)} {when}; each value must be one "
            f"number: a Python number, or an array, tensor or variable holding exactly one number."
        )


def _name_problem(key, taken):
    if not isinstance(key, str) or not key.strip():
        return "is not a non-empty string"
    for character, name in FORBIDDEN_CHARACTERS.items():
        if character in key:
            return f"holds {name}, which would break history.csv's header"
    if key.startswith("val_"):
        return "starts with val_, which nnlab keeps for the validation metrics"
    if key in RESERVED or key in taken:
        return f"is already a history column (nnlab writes {', '.join(sorted(set(RESERVED) | set(taken)))})"
    return None


def _suggestion(key):
    text = "".join(character for character in str(key) if character not in FORBIDDEN_CHARACTERS).strip() or "value"
    text = text[len("val_") :] if text.startswith("val_") else text
    return f"tracked_{text}"


def _entry(key, outputs):
    return f"{key!r}:" if len(outputs) > 1 or key != "loss" else "the loss as"


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating, np.bool_)) and not isinstance(value, str)


def _numeric_array(array):
    kind = array.dtype
    return (np.issubdtype(kind, np.number) or np.issubdtype(kind, np.bool_)) and not np.issubdtype(
        kind, np.complexfloating
    )


def _numeric(dtype):
    return dtype is not None and (dtype.is_floating or dtype.is_integer or dtype.is_bool) and not dtype.is_complex


def _fixed_when_traced(value):
    """A Python number, or a constant: what tracing froze, which a compiled loop would repeat every epoch."""
    return not isinstance(value, tf.Tensor) or value.op.type == "Const"


def _value_text(value):
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)} and dtype {getattr(dtype, 'name', dtype)}"
    text = repr(value)
    return text if len(text) <= 80 else f"a {type(value).__name__}"
