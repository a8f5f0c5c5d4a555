"""Named data sets: `config.dataset = "mnist"` loads `nnlab/datasets/mnist.py`'s `load(config)`.

Each loader returns an `nnlab.data.Splits`; a new data set is a new module here exposing `load(config)` and
`FORMAT`, a `Format` that says what the arrays look like (`nnlab list --data` prints them; a test checks them
against the loaded arrays), so that an author can pick the loss and the model's input without reading the loader.
"""

import dataclasses
import importlib
import pkgutil

from nnlab.errors import NnlabError


@dataclasses.dataclass(frozen=True)
class Format:
    """What one example of a named data set is, and how the data is split."""

    input_shape: tuple  # per example
    input_dtype: str
    inputs: str  # what the numbers are
    label_dtype: str
    labels: str  # the label format, and the loss it suits
    splits: str


def formats():
    """{name: Format} for every named data set (importing a loader module reads no data)."""
    return {name: importlib.import_module(f"nnlab.datasets.{name}").FORMAT for name in names()}


def names():
    """Data sets nnlab can load by name."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def load(name, config):
    """Load data set `name` for `config`."""
    if name not in names():
        raise NnlabError(
            f"Config field 'dataset' is {name!r}, which nnlab does not know. Known data sets: "
            f"{', '.join(names())}; or define make_data(config) in the experiment module."
        )
    return importlib.import_module(f"nnlab.datasets.{name}").load(config)
