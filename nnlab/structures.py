"""x and y as Keras' `fit` takes them: one array, a tuple or list of arrays, or a dict of arrays (NumPy only).

A model with several inputs takes x as a list/tuple (by position) or a dict (by input name); a model with several
outputs takes y likewise. Every array ("leaf") holds one row per example. Python lists are read as Keras reads
them: a list or tuple that holds arrays is several inputs, and nested lists of plain numbers are one array.

`convert` never raises: what it cannot convert (ragged lists, a tf.data.Dataset, a generator) is left as given,
and nnlab.data.check refuses it with one paragraph naming the split. Everything else here works on what
`convert` returns, so the whole training path handles one array and a structure of arrays alike.
"""

import numpy as np


def convert(value):
    """`value` with every leaf a NumPy array: lists of numbers become one array, lists of arrays stay a list."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, dict):
        return {key: convert(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        if any(_holds_arrays(item) for item in value):
            return type(value)(convert(item) for item in value)
        return _array_or_as_given(value)
    if hasattr(value, "__array__") and not _is_dataset(value):  # tensors, pandas, NumPy scalars
        return _array_or_as_given(value)
    return value


def is_array(value):
    return isinstance(value, np.ndarray)


def is_structured(value):
    """True for a tuple, list or dict of arrays (several inputs or outputs), False for one array (or for a list of
    numbers that `convert` could not make one, such as ragged rows: a leaf that nnlab.data.check refuses)."""
    return isinstance(value, dict) or (isinstance(value, (list, tuple)) and any(map(_holds_arrays, value)))


def leaves(value, name="x"):
    """[(name, leaf)] in a fixed order (dict keys sorted, as Keras and tf.nest order them): x, x[0], x['age']."""
    if isinstance(value, dict):
        return [pair for key in sorted(value, key=str) for pair in leaves(value[key], f"{name}[{key!r}]")]
    if is_structured(value):
        return [pair for index, item in enumerate(value) for pair in leaves(item, f"{name}[{index}]")]
    return [(name, value)]


def at(value, path):
    """The part of `value` at `path`, a sequence of dict keys and list positions (() is `value` itself)."""
    for step in path:
        value = value[step]
    return value


def map_arrays(function, value):
    """`value` with `function` applied to every leaf, keeping its dicts, lists and tuples."""
    if isinstance(value, dict):
        return {key: map_arrays(function, item) for key, item in value.items()}
    if is_structured(value):
        return type(value)(map_arrays(function, item) for item in value)
    return function(value)


def take(value, index):
    """The examples `index` (a slice or an index array) of every leaf."""
    return map_arrays(lambda array: array[index], value)


def count(value):
    """How many examples `value` holds: the length of its first leaf."""
    return len(leaves(value)[0][1])


def layout(value):
    """A hashable description of the structure and each leaf's shape per example, to compare splits."""
    return tuple((name, tuple(np.shape(leaf)[1:])) for name, leaf in leaves(value))


def describe(value):
    """Shapes per example for messages: '(28, 28)' for one array, "{'a': (3,), 'b': (2,)}" for a dict."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {describe(item)}" for key, item in value.items()) + "}"
    if is_structured(value):
        inner = ", ".join(describe(item) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return str(tuple(np.shape(value)[1:]))


def _holds_arrays(item):
    """Whether a list element makes its list a structure: an array with an examples axis, a dict, or a list of them."""
    if isinstance(item, dict):
        return True
    if isinstance(item, (list, tuple)):
        return any(_holds_arrays(inner) for inner in item)
    shape = getattr(item, "shape", None)
    return shape is not None and not isinstance(item, np.generic) and len(tuple(shape)) >= 1


def _array_or_as_given(value):
    """np.asarray(value), unless that fails or makes an object array (ragged lists): then `value` itself."""
    try:
        array = np.asarray(value)
        if array.dtype == object and non_numeric_columns(value) == []:
            array = value.to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError):
        return value
    return value if array.dtype == object else array


def non_numeric_columns(value):
    """For a pandas DataFrame or Series, the names of its columns that hold no numbers (text, objects); None for
    anything else.

    NumPy reads a frame that mixes bool or nullable (Int64, with <NA>) columns with others as objects, where Keras'
    `fit` casts a frame with a float column to floats; such a frame (no non-numeric column) becomes float64 here,
    <NA> becoming NaN, which nnlab.data.check refuses as it does any NaN.
    """
    if not type(value).__module__.startswith("pandas"):
        return None
    from pandas.api import types

    dtypes = getattr(value, "dtypes", None)
    if dtypes is None:
        return None
    items = dtypes.items() if hasattr(dtypes, "items") else [(getattr(value, "name", None), dtypes)]
    return [name for name, dtype in items if not types.is_numeric_dtype(dtype)]


def _is_dataset(value):
    return type(value).__module__.startswith("tensorflow") and hasattr(value, "element_spec")
