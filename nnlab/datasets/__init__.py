"""Named data sets: `config.dataset = "mnist"` loads `nnlab/datasets/mnist.py`'s `load(config)`.

Each loader returns an `nnlab.data.Splits`; a new data set is a new module here exposing `load(config)`.
"""

import importlib
import pkgutil

from nnlab.errors import NnlabError


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
