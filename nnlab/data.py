"""Train/validation/test splits as NumPy arrays, and the checks that catch bad data before TensorFlow does.

A split is (x, y). x is one array, a tuple or list of arrays (a model's inputs by position) or a dict of arrays
(by input name); y is one array, or a matching structure for a model with several outputs (nnlab.structures).
Python lists are converted when the Splits are made; what cannot train (ragged lists, complex numbers, a scalar,
a third item, a tf.data.Dataset) is refused by `check` with one paragraph naming the split.
"""

import dataclasses
import inspect

import numpy as np

from nnlab import structures
from nnlab.errors import NnlabError


@dataclasses.dataclass
class Splits:
    """Arrays for each split; `validation` and `test` may be None.

    `validation` None means: hold out `config.validation_fraction` of `train` (see `with_validation`).
    """

    train: tuple
    validation: tuple = None
    test: tuple = None
    source: str = "data"  # named in error messages: the dataset or the module that made the arrays

    def __post_init__(self):
        for name in ("train", "validation", "test"):
            pair = getattr(self, name)
            if isinstance(pair, (tuple, list)) and len(pair) == 2:
                converted = (structures.convert(pair[0]), structures.convert(pair[1]))
                if isinstance(pair, list) or any(new is not old for new, old in zip(converted, pair, strict=True)):
                    setattr(self, name, converted)

    def items(self):
        """(name, (x, y)) for each split that exists."""
        return [
            (name, pair)
            for name, pair in (("train", self.train), ("validation", self.validation), ("test", self.test))
            if pair is not None
        ]


def limited(splits, limit):
    """Keep the first `limit` examples of each split (0: keep all)."""
    if not limit:
        return splits
    cut = lambda pair: None if pair is None else tuple(structures.take(part, slice(None, limit)) for part in pair)  # noqa: E731
    return dataclasses.replace(
        splits, train=cut(splits.train), validation=cut(splits.validation), test=cut(splits.test)
    )


def with_validation(splits, fraction, seed):
    """Hold out a seeded random `fraction` of train as validation, unless the data came with one."""
    if splits.validation is not None or fraction == 0:
        return splits
    x, y = splits.train
    count = structures.count(x)
    order = np.random.default_rng(seed).permutation(count)
    n_val = max(1, int(round(count * fraction)))
    if n_val >= count:
        raise NnlabError(
            f"{splits.source}: {count} training examples are too few to hold out "
            f"validation_fraction={fraction}; use more data or validation_fraction=0."
        )
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    pick = lambda index: tuple(structures.take(part, index) for part in (x, y))  # noqa: E731
    return dataclasses.replace(splits, train=pick(train), validation=pick(val))


def check(splits):
    """Raise NnlabError for splits nnlab cannot train on: not (x, y), empty, mismatched lengths, arrays that are not
    numeric (ragged, object, complex, text), a scalar x, NaN/inf, or inputs shaped differently between splits."""
    layouts = {}
    for name, pair in splits.items():
        where = f"{splits.source}, {name} split"
        x, y = _pair(pair, where)
        arrays = [("inputs", leaf, path) for path, leaf in structures.leaves(x)]
        arrays += [("labels", leaf, path) for path, leaf in structures.leaves(y, "y")]
        for part, label in ((x, "x"), (y, "y")):
            if not structures.leaves(part):
                raise NnlabError(
                    f"{where}: {label} is an empty {type(part).__name__}; it must hold at least one array."
                )
        for label, leaf, path in arrays:
            _check_leaf(leaf, _named(label, path, x if label == "inputs" else y), where)
        counts = {path: len(leaf) for _, leaf, path in arrays}
        if counts[arrays[0][2]] == 0:
            raise NnlabError(
                f"{where} is empty; every split needs at least one example. Check the data source or the split sizes."
            )
        _check_lengths(x, y, counts, where)
        for label, leaf, path in arrays:
            _check_finite(leaf, _named(label, path, x if label == "inputs" else y), where)
        layouts[name] = (structures.layout(x), [path for path, _ in structures.leaves(y, "y")])
    _check_same_arrays(splits.source, layouts)


def check_labels(splits, loss, num_outputs, path=(), output=""):
    """Labels must suit the loss: class indices in [0, outputs) for sparse CE, {0, 1} for binary CE.

    Args:
      path: where in y the labels of this output are (a model with several outputs: one call per output).
      output: that output's name, for the message.
    """
    for name, (_, y) in splits.items():
        y = np.asarray(structures.at(y, path))
        where = f"{splits.source}, {name} split" + (f", labels of output {output!r}" if output else "")
        if "sparse_categorical" in loss:
            if not np.all(np.mod(y, 1) == 0):
                raise NnlabError(
                    f"{where}: loss '{loss}' needs integer class labels, but some labels are not "
                    f"whole numbers (e.g. {y[np.mod(y, 1) != 0][0]!r}); pass class indices."
                )
            if y.min() < 0 or y.max() >= num_outputs:
                raise NnlabError(
                    f"{where}: labels range over [{y.min():g}, {y.max():g}] but the model has "
                    f"{num_outputs} outputs, so loss '{loss}' needs labels in [0, {num_outputs - 1}]. "
                    f"Fix the labels or widen the model's last layer."
                )
        elif "binary" in loss and (y.min() < 0 or y.max() > 1):
            raise NnlabError(
                f"{where}: loss '{loss}' needs labels in [0, 1], got [{y.min():g}, {y.max():g}]; "
                f"encode the two classes as 0 and 1."
            )


def _pair(pair, where):
    """(x, y) of a split, or one paragraph saying why this is not one."""
    if _is_stream(pair):
        raise NnlabError(_stream_message(pair, where))
    if not isinstance(pair, (tuple, list)):
        raise NnlabError(
            f"{where} is {type(pair).__name__}, not a pair (x, y); make_data returns "
            f"Splits(train=(x, y), ...) with x and y arrays."
        )
    if len(pair) == 3:
        raise NnlabError(
            f"{where} has three items, (x, y, sample_weight) as Keras' fit takes them; nnlab takes (x, y) only, "
            f"per-example weights are out of scope. Return (x, y); to weight classes set class_weight=balanced or "
            f"class_weight=0:1.0,1:5.0."
        )
    if len(pair) != 2:
        raise NnlabError(f"{where} has {len(pair)} items; a split is a pair (x, y).")
    for part in pair:
        if _is_stream(part):
            raise NnlabError(_stream_message(part, where))
        _check_keys(part, where)
    return pair


def _check_same_arrays(source, layouts):
    """Every split must hold the same arrays, inputs of the same shapes per example."""
    inputs = {name: layout for name, (layout, _) in layouts.items()}
    if len(set(inputs.values())) > 1:
        if all(len(layout) == 1 for layout in inputs.values()):  # one array each: the shapes say it all
            detail = ", ".join(map(str, sorted({layout[0][1] for layout in inputs.values()})))
        else:
            detail = "; ".join(f"{name}: {_layout_text(layout)}" for name, layout in inputs.items())
        raise NnlabError(
            f"{source}: the splits' inputs have different shapes per example ({detail}); every split must share "
            f"one shape."
        )
    labels = {name: paths for name, (_, paths) in layouts.items()}
    if len({tuple(paths) for paths in labels.values()}) > 1:
        detail = "; ".join(f"{name}: {', '.join(paths)}" for name, paths in labels.items())
        raise NnlabError(f"{source}: the splits' labels are made of different arrays ({detail}); make them match.")


def _check_keys(part, where):
    """Dicts of arrays are matched to the model's input and output names, which are strings."""
    if isinstance(part, dict):
        odd = [key for key in part if not isinstance(key, str)]
        if odd:
            raise NnlabError(
                f"{where}: a dict of arrays has the key {odd[0]!r}; its keys must be the model's input (or output) "
                f"names, as strings."
            )
    if isinstance(part, (dict, list, tuple)):
        for item in part.values() if isinstance(part, dict) else part:
            _check_keys(item, where)


def _check_leaf(leaf, named, where):
    """One array of a split: an array of numbers with an examples axis."""
    if _is_stream(leaf):
        raise NnlabError(_stream_message(leaf, where))
    if isinstance(leaf, (list, tuple)):
        raise NnlabError(
            f"{where}: {named} are ragged (rows of different lengths), which make no array. Pad them to one length "
            f"in make_data (keras.utils.pad_sequences) or give each length its own array; ragged data is out of scope."
        )
    text = structures.non_numeric_columns(leaf)
    if text:
        what = (
            f"a DataFrame whose columns {', '.join(map(repr, text[:5]))}{', ...' if len(text) > 5 else ''} hold no "
            f"numbers"
            if hasattr(leaf, "columns")
            else f"a Series of {leaf.dtype} values, not numbers"
        )
        raise NnlabError(
            f"{where}: {named} are {what}; nnlab trains on numbers only. Encode them in make_data: class names as "
            f"integers (pd.factorize(series)[0]), text columns as one-hot columns (pd.get_dummies(frame, "
            f"columns=[...])), or drop them."
        )
    if not isinstance(leaf, np.ndarray):
        raise NnlabError(
            f"{where}: {named} are a {type(leaf).__name__}, not an array; pass NumPy arrays (or lists of numbers)."
        )
    if leaf.ndim == 0:
        raise NnlabError(
            f"{where}: {named} are a single number, not one value per example; give them an examples axis in "
            f"make_data, e.g. np.full(n, value) or np.asarray(values).reshape(-1, 1)."
        )
    if leaf.dtype == object:
        raise NnlabError(
            f"{where}: {named} have dtype object (ragged rows or mixed Python objects); nnlab trains on numeric "
            f"arrays of one shape. Pad ragged rows to one length (keras.utils.pad_sequences) or convert to numbers."
        )
    if np.issubdtype(leaf.dtype, np.complexfloating):
        raise NnlabError(
            f"{where}: {named} are complex numbers, whose imaginary part Keras' layers would silently drop. Pass "
            f"the real and imaginary parts as features instead, e.g. np.stack([x.real, x.imag], axis=-1)."
        )
    if not (np.issubdtype(leaf.dtype, np.number) or leaf.dtype == bool):
        raise NnlabError(
            f"{where}: {named} have dtype {leaf.dtype}; nnlab trains on numeric "
            f"arrays only. Convert them to numbers first."
        )


def _check_lengths(x, y, counts, where):
    x_paths = [path for path, _ in structures.leaves(x)]
    first_x = x_paths[0]
    for path, count in counts.items():
        if count == counts[first_x]:
            continue
        if path in x_paths or structures.is_structured(y):
            raise NnlabError(
                f"{where}: {first_x} holds {counts[first_x]} examples but {path} holds {count}; every array of a "
                f"split must hold one row per example."
            )
        raise NnlabError(f"{where}: {counts[first_x]} inputs but {count} labels; they must pair one to one.")


def _check_finite(leaf, named, where):
    if np.issubdtype(leaf.dtype, np.floating) and not np.isfinite(leaf).all():
        bad = int(np.size(leaf) - np.isfinite(leaf).sum())
        raise NnlabError(
            f"{where}: {named} contain {bad} NaN or infinite values; clean or impute them before training."
        )


def _named(label, path, part):
    """'inputs' for one array, "inputs x['age']" for one array of several."""
    return f"{label} {path}" if structures.is_structured(part) else label


def _layout_text(layout):
    return ", ".join(f"{name} {shape}" for name, shape in layout)


def _is_stream(value):
    """A tf.data.Dataset, a generator or another iterator: data nnlab would have to pull, not arrays it holds."""
    return (
        inspect.isgenerator(value)
        or (type(value).__module__.startswith("tensorflow") and hasattr(value, "element_spec"))
        or (hasattr(value, "__next__") and not isinstance(value, np.ndarray))
    )


def _stream_message(value, where):
    return (
        f"{where} is a {type(value).__name__}; nnlab trains on arrays held in memory, and tf.data datasets, "
        f"generators and iterators are out of scope. Turn it into arrays in make_data (for a small tf.data "
        f"dataset: x, y = map(np.concatenate, zip(*dataset.as_numpy_iterator())))."
    )
