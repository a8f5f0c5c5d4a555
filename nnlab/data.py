"""Train/validation/test splits as NumPy arrays, and the checks that catch bad data before TensorFlow does."""

import dataclasses

import numpy as np

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
    cut = lambda pair: None if pair is None else (pair[0][:limit], pair[1][:limit])
    return dataclasses.replace(
        splits, train=cut(splits.train), validation=cut(splits.validation), test=cut(splits.test)
    )


def with_validation(splits, fraction, seed):
    """Hold out a seeded random `fraction` of train as validation, unless the data came with one."""
    if splits.validation is not None or fraction == 0:
        return splits
    x, y = splits.train
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    if n_val >= len(x):
        raise NnlabError(
            f"{splits.source}: {len(x)} training examples are too few to hold out "
            f"validation_fraction={fraction}; use more data or validation_fraction=0."
        )
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return dataclasses.replace(splits, train=(x[train], y[train]), validation=(x[val], y[val]))


def check(splits):
    """Raise NnlabError for empty splits, mismatched lengths, NaN/inf or inconsistent shapes."""
    shapes = set()
    for name, (x, y) in splits.items():
        x, y = np.asarray(x), np.asarray(y)
        where = f"{splits.source}, {name} split"
        if len(x) == 0:
            raise NnlabError(
                f"{where} is empty; every split needs at least one example. Check the data source or the split sizes."
            )
        if len(x) != len(y):
            raise NnlabError(f"{where}: {len(x)} inputs but {len(y)} labels; they must pair one to one.")
        for label, array in (("inputs", x), ("labels", y)):
            if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
                raise NnlabError(
                    f"{where}: {label} have dtype {array.dtype}; nnlab trains on numeric arrays "
                    f"only. Convert them to numbers first."
                )
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                bad = int(np.size(array) - np.isfinite(array).sum())
                raise NnlabError(
                    f"{where}: {label} contain {bad} NaN or infinite values; clean or impute them before training."
                )
        shapes.add(x.shape[1:])
    if len(shapes) > 1:
        raise NnlabError(
            f"{splits.source}: the splits' inputs have different shapes per example "
            f"({', '.join(map(str, sorted(shapes)))}); every split must share one shape."
        )


def check_labels(splits, loss, num_outputs):
    """Labels must suit the loss: class indices in [0, outputs) for sparse CE, {0, 1} for binary CE."""
    for name, (_, y) in splits.items():
        y = np.asarray(y)
        where = f"{splits.source}, {name} split"
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
