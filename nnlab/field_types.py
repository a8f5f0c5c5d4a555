"""The one rule for `Config` field types: which annotations a field may have, and how its values are read and written.

A field is one of
  - `str`, `int`, `float`, `bool`;
  - `tuple` or `list`, bare or `tuple[X, ...]` / `list[X]`, of those scalars;
  - `dict` or `dict[str, X]` of those scalars;
  - `Optional[...]` (or `... | None`) of any of these; a field whose default is None counts as Optional;
  - `Literal[...]` of strings or numbers.

The same conversion reads every value nnlab is given, so that `run`, `key=value` overrides, `from=<config.json>`
and sweep trials accept exactly the same set and round-trip it: on the command line a list is `a,b` (or a JSON
array), a dict is JSON and `none` sets an Optional field to None; from JSON each value keeps its JSON type. Items of
a bare tuple or list typed on the command line are read as numbers or booleans where they spell one, else strings.
"""

import dataclasses
import json
import re
import types
import typing

from nnlab.results import bounded

SCALARS = (str, int, float, bool)
MAX_INT = 2**63 - 1  # TensorFlow holds counts as int64; a larger integer would overflow deep inside it
RULE = (
    "str, int, float or bool; tuple or list (bare, or tuple[X, ...] / list[X]) of those; dict or dict[str, X] of "
    "those; Optional[...] of any of these; or Literal[...] of strings or numbers"
)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_SCALAR_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_SCALAR_PLURALS = {
    str: "strings",
    int: "integers",
    float: "numbers",
    bool: "true/false values",
    None: "numbers, strings or true/false values",
}
_SCALAR_EXAMPLES = {str: "name", int: "3", float: "0.001", bool: "true"}


class Unsupported(TypeError):
    """An annotation outside the rule."""


@dataclasses.dataclass(frozen=True)
class Kind:
    """What an annotation means to nnlab: `shape` is scalar, sequence, mapping or literal."""

    shape: str
    scalar: type | None = None  # the scalar, the items' or the values' type; None for a bare collection
    container: type | None = None  # tuple or list, for a sequence
    options: tuple = ()  # a Literal's values
    optional: bool = False


def kind_of(annotation):
    """The Kind of a field annotation; raises Unsupported for any annotation outside the rule."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if len(others) != 1 or len(others) == len(args):
            raise Unsupported(annotation)
        return dataclasses.replace(kind_of(others[0]), optional=True)
    if annotation in SCALARS:
        return Kind("scalar", scalar=annotation)
    if annotation in (tuple, list) or origin in (tuple, list):
        container = origin or annotation
        if not args:
            return Kind("sequence", container=container)
        wanted = 2 if container is tuple else 1
        if len(args) != wanted or args[0] not in SCALARS or (container is tuple and args[1] is not Ellipsis):
            raise Unsupported(annotation)
        return Kind("sequence", scalar=args[0], container=container)
    if annotation is dict or origin is dict:
        if not args:
            return Kind("mapping")
        if args[0] is not str or args[1] not in SCALARS:
            raise Unsupported(annotation)
        return Kind("mapping", scalar=args[1])
    if origin is typing.Literal:
        if not all(isinstance(arg, (str, int, float)) and not isinstance(arg, bool) for arg in args):
            raise Unsupported(annotation)
        return Kind("literal", options=args)
    raise Unsupported(annotation)


def effective(annotation, default):
    """The annotation nnlab converts by: Optional[annotation] when the default is None (`name: str = None`)."""
    try:
        optional = kind_of(annotation).optional
    except Unsupported:  # refused at load (nnlab.config.check_class); left as it is for that message
        return annotation
    return annotation | None if default is None and not optional else annotation


def within(annotation, base):
    """Whether every value a field of `annotation` holds is also a value of `base` (both inside the rule): what a
    subclass may re-declare a field of nnlab.Config as (`optimizer: Literal["adam", "sgd"]`, `metrics: list[str]`),
    since nnlab's own code reads that field as `base`."""
    kind, wanted = kind_of(annotation), kind_of(base)
    if kind.optional and not wanted.optional:
        return False
    if wanted.shape == "scalar":
        allowed = (int, float) if wanted.scalar is float else (wanted.scalar,)
        if kind.shape == "literal":
            return all(type(option) in allowed for option in kind.options)
        return kind.shape == "scalar" and kind.scalar in allowed
    if wanted.shape == "sequence":
        return kind.shape == "sequence" and kind.scalar in (None, wanted.scalar)
    return kind == wanted


def scalar_of(annotation):
    """The scalar type a scalar field holds, Optional or not (None for any other field): what a sweep range needs."""
    try:
        kind = kind_of(annotation)
    except Unsupported:
        return None
    return kind.scalar if kind.shape == "scalar" else None


def spelled(annotation):
    """How an annotation reads in an error message: `tuple[str, ...]`, `typing.Any`, `Config`."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def convert(value, annotation):
    """`value` (a command-line string, or a JSON/Python value) as `annotation` holds it.

    Raises TypeError or ValueError when it is not a value of that type, OverflowError for an integer beyond int64.
    """
    kind = kind_of(annotation)
    if kind.optional and (value is None or (isinstance(value, str) and value.strip().lower() == "none")):
        return None
    if kind.shape == "scalar":
        return _scalar(value, kind.scalar)
    if kind.shape == "sequence":
        items, typed = _sequence_items(value)
        return kind.container(_item(item, kind.scalar, typed) for item in items)
    if kind.shape == "mapping":
        mapping = bounded.loads(value, "a dict field") if isinstance(value, str) else value
        if not isinstance(mapping, dict) or not all(isinstance(key, str) for key in mapping):
            raise TypeError(value)
        return {key: _item(item, kind.scalar, typed=False) for key, item in mapping.items()}
    return _literal(value, kind.options)


def command_line(value):
    """`value` as a `key=value` override spells it, so that `convert` gives the same value back."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        plain = all(_plain_item(item) for item in value)
        return ",".join(command_line(item) for item in value) if plain else json.dumps(list(value))
    return str(value)


def type_name(annotation):
    """What a field expects, in words: "a comma-separated list of strings", "one of 'relu', 'tanh'"."""
    kind = kind_of(annotation)
    if kind.shape == "scalar":
        words = _SCALAR_NAMES[kind.scalar]
    elif kind.shape == "sequence":
        words = f"a comma-separated list of {_SCALAR_PLURALS[kind.scalar]}"
    elif kind.shape == "mapping":
        words = f"a JSON object of {_SCALAR_PLURALS[kind.scalar]}"
    else:
        words = "one of " + ", ".join(map(repr, kind.options))
    return f"{words}, or none" if kind.optional else words


def example(annotation):
    """A value of `annotation` as written on the command line, for error messages."""
    kind = kind_of(annotation)
    if kind.shape == "scalar":
        return _SCALAR_EXAMPLES[kind.scalar]
    if kind.shape == "sequence":
        return {int: "1,2", float: "0.1,0.2", bool: "true,false"}.get(kind.scalar, "a,b")
    if kind.shape == "mapping":
        return "'{\"a\": 1}'"
    return str(kind.options[0])


def _scalar(value, scalar):
    if scalar is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if scalar is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        if not isinstance(value, (int, float, str)):
            raise TypeError(value)
        number = int(value)
        if abs(number) > MAX_INT:
            raise OverflowError(value)
        return number
    if scalar is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(value)
        return float(value)
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _sequence_items(value):
    """The items of a list value, and whether they were typed as `a,b` (where "3" means a number)."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            items = bounded.loads(value, "a list field")
            if not isinstance(items, list):
                raise TypeError(value)
            return items, False
        return [item.strip() for item in value.split(",") if item.strip() != ""], True
    if isinstance(value, (list, tuple)):
        return value, False
    raise TypeError(value)


def _item(item, scalar, typed):
    """One item of a tuple, list or dict field: of `scalar`, or for a bare collection any scalar (`typed`: written as
    `a,b` on the command line, where "3" is a number)."""
    if scalar is not None:
        return _scalar(item, scalar)
    if typed:
        return _read_scalar(item)
    if not isinstance(item, (str, int, float)):  # bool is an int
        raise TypeError(item)
    if isinstance(item, int) and abs(item) > MAX_INT:
        raise OverflowError(item)
    return item


def _read_scalar(text):
    """A bare collection's item typed on the command line: a number or true/false where it spells one, else text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _NUMBER.fullmatch(text):
        number = float(text) if any(mark in text for mark in ".eE") else int(text)
        if isinstance(number, int) and abs(number) > MAX_INT:
            raise OverflowError(text)
        return number
    return text


def _plain_item(item):
    """Whether `item` survives the a,b spelling of a list unchanged."""
    if isinstance(item, (bool, int, float)):
        return True
    return (
        isinstance(item, str)
        and item == item.strip()
        and item != ""
        and "," not in item
        and not item.startswith("[")
        and item.lower() != "none"
        and _read_scalar(item) == item
    )


def _literal(value, options):
    for option in options:
        if type(value) is type(option) and value == option:
            return option
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for option in options:
            if not isinstance(option, str) and value == option:
                return option
    if isinstance(value, str):
        text = value.strip()
        for option in options:
            if isinstance(option, str) and text == option:
                return option
        if _NUMBER.fullmatch(text):
            return _literal(float(text), [option for option in options if not isinstance(option, str)])
    raise ValueError(value)
