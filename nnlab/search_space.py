"""How an experiment declares what a sweep may vary: `SEARCH_SPACE = {"field": Float(...), ...}`.

Each entry names a config field and a range; `validate` checks it against the experiment's Config before any
trial runs, and `to_hyperparameters` maps it onto keras-tuner hyperparameters of the same name. keras-tuner stores
a Choice of booleans as 1/0; `shown` turns a bool field's value back into true/false for tables and reports.
"""

import dataclasses
import math
import numbers

from nnlab import config as config_lib
from nnlab import field_types
from nnlab.errors import NnlabError

# trials.csv's own columns (nnlab.sweeps.tables), beside one per swept field
TABLE_COLUMNS = (
    "trial_id",
    "status",
    "best_objective",
    "last_objective",
    "best_epoch",
    "epochs_run",
    "seconds",
    "executions",
    "group",
)


@dataclasses.dataclass(frozen=True)
class Float:
    """A real-valued field swept between min_value and max_value, both included.

    `log=True` samples evenly in log space, as learning rates want: `Float(1e-4, 1e-2, log=True)`. With a `step` the
    values are a grid: added each time (`Float(0.0, 0.5, step=0.1)`), or multiplied with `log=True`
    (`Float(1e-4, 1e-1, log=True, step=10)` gives 1e-4, 1e-3, 1e-2, 1e-1). The field must be a float in Config.
    """

    min_value: float
    max_value: float
    log: bool = False
    step: float = None  # with log=True a multiplicative step (10: 1e-4, 1e-3, ...)


@dataclasses.dataclass(frozen=True)
class Int:
    """An integer field swept from min_value to max_value, both included, in steps of `step`: `Int(16, 256, step=16)`.

    `log=True` samples evenly in log space (`Int(8, 512, log=True)`). The field must be an int in Config.
    """

    min_value: int
    max_value: int
    step: int = 1
    log: bool = False


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of a fixed list of values, all of the field's type: `Choice([64, 128, 256])`, `Choice(["adam", "sgd"])`.

    A grid search visits them in the order given; the other algorithms treat them as unordered.
    """

    values: list


@dataclasses.dataclass(frozen=True)
class Boolean:
    """True or False for a bool config field; trials.csv, the report and best_config.json show true/false."""


def describe(spec):
    """A JSON-able description: {"type": "float", "min_value": ..., ...}; sweep.json stores these."""
    kind = type(spec).__name__.lower()
    fields = {field.name: getattr(spec, field.name) for field in dataclasses.fields(spec)}
    if "values" in fields:
        fields["values"] = list(fields["values"])
    return {"type": kind, **fields}


def validate(space, config_class, where):
    """Raise NnlabError unless `space` is a non-empty {config field: Float | Int | Choice} with sound ranges."""
    if not isinstance(space, dict) or not space:
        raise NnlabError(
            f"{where}: SEARCH_SPACE must be a non-empty dict mapping config fields to search_space.Float/Int/Choice, "
            f'e.g. {{"learning_rate": search_space.Float(1e-4, 1e-2, log=True)}}.'
        )
    types = config_lib.field_types(config_class)
    for name, spec in space.items():
        at = f"{where}: SEARCH_SPACE['{name}']"
        if name not in types:
            raise NnlabError(f"{at} names no config field; sweepable fields: {', '.join(sorted(types))}.")
        if name in TABLE_COLUMNS:
            raise NnlabError(
                f"{at}: trials.csv has a column {name!r} of its own ({', '.join(TABLE_COLUMNS)}), which would hide the "
                f"swept values. Rename the Config field (e.g. my_{name}) to sweep it."
            )
        if isinstance(spec, (Float, Int)):
            _check_range(spec, types[name], at)
        elif isinstance(spec, Choice):
            _check_choice(name, spec, types[name], at)
        elif isinstance(spec, Boolean):
            if field_types.scalar_of(types[name]) is not bool:
                raise NnlabError(
                    f"{at} is Boolean() but the field holds {field_types.spelled(types[name])}; use Choice([...])."
                )
        else:
            raise NnlabError(
                f"{at} is {type(spec).__name__}; use search_space.Float(min, max, log=...), "
                f"search_space.Int(min, max), search_space.Choice([...]) or search_space.Boolean()."
            )


def _check_range(spec, field_type, at):
    kind = type(spec).__name__
    wanted = (float,) if kind == "Float" else (int,)
    if field_types.scalar_of(field_type) not in wanted:
        raise NnlabError(
            f"{at} is a {kind} range but the field holds {field_types.spelled(field_type)}; use Choice([...])."
        )
    bounds = (spec.min_value, spec.max_value)
    if not all(isinstance(value, numbers.Real) and not isinstance(value, bool) for value in bounds) or not all(
        math.isfinite(value) for value in bounds
    ):
        raise NnlabError(f"{at}: min_value and max_value must be finite numbers, got {bounds}.")
    if kind == "Int" and not all(float(value).is_integer() for value in bounds):
        raise NnlabError(f"{at}: an Int range needs whole-number bounds, got {bounds}.")
    if not spec.min_value < spec.max_value:
        raise NnlabError(
            f"{at}: min_value ({spec.min_value}) must be smaller than max_value ({spec.max_value}); "
            f"swap them, or pin the field with a plain override instead of sweeping it."
        )
    if spec.log and spec.min_value <= 0:
        raise NnlabError(
            f"{at}: a log-scale range needs min_value > 0, got {spec.min_value}; e.g. {kind}(1e-4, 1e-2, log=True)."
        )
    if spec.step is not None and not (isinstance(spec.step, numbers.Real) and spec.step > 0):
        raise NnlabError(f"{at}: step must be > 0, got {spec.step!r}.")
    if spec.log and spec.step is not None and spec.step <= 1:
        raise NnlabError(f"{at}: on a log scale the step multiplies, so it must be > 1, got {spec.step!r}.")


def _check_choice(name, spec, field_type, at):
    values = list(spec.values) if isinstance(spec.values, (list, tuple)) else None
    if not values:
        raise NnlabError(f"{at}: Choice needs a non-empty list of values, got {spec.values!r}.")
    if len(set(map(repr, values))) != len(values):
        raise NnlabError(f"{at}: Choice lists a value twice ({values}); list each value once.")
    for value in values:
        if isinstance(value, (list, tuple, dict)) or value is None:
            raise NnlabError(f"{at}: Choice values must be numbers, strings or booleans, got {value!r}.")
        converted = config_lib.convert(name, value, field_type, source=at)
        if converted != value or type(converted) is not type(value):
            raise NnlabError(
                f"{at}: value {value!r} is not a {field_types.spelled(field_type)}, the type of config field '{name}'; "
                f"write it as {converted!r}."
            )
    if len(set(map(type, values))) > 1:  # a Literal["a", 1, 2.5] field: keras-tuner gets the values as text
        for value in values:
            if config_lib.convert(name, str(value), field_type, source=at) != value:
                raise NnlabError(
                    f"{at}: Choice mixes types ({values}) and {value!r} does not read back from its text "
                    f"{str(value)!r}; keras-tuner's Choice holds values of one type, so nnlab passes mixed ones as "
                    f"text. Use values whose text is distinct (not both 1 and '1')."
                )


def boolean_fields(config_class):
    """Names of the config's bool fields, whose swept values are shown as true/false."""
    return [name for name, kind in config_lib.field_types(config_class).items() if field_types.scalar_of(kind) is bool]


def shown(value):
    """A bool (or keras-tuner's 1/0 for one) as JSON spells it: true or false."""
    return "true" if value in (True, 1, "True", "true", "1") else "false"


def pinned(space, overrides):
    """The space without fields the user fixed with a plain override (`width=128` sweeps only the rest)."""
    return {name: spec for name, spec in space.items() if name not in overrides}


def to_hyperparameters(space):
    """The keras-tuner HyperParameters for `space`, one per field, named by the field."""
    import keras_tuner

    hyperparameters = keras_tuner.HyperParameters()
    for name, spec in space.items():
        if isinstance(spec, Boolean):
            hyperparameters.Boolean(name)
        elif isinstance(spec, Choice):
            hyperparameters.Choice(name, _one_type(spec.values), ordered=False)
        else:
            make = hyperparameters.Float if isinstance(spec, Float) else hyperparameters.Int
            bounds = (
                (spec.min_value, spec.max_value)
                if isinstance(spec, Float)
                else map(int, (spec.min_value, spec.max_value))
            )
            make(name, *bounds, step=spec.step, sampling="log" if spec.log else "linear")
    return hyperparameters


def _one_type(values):
    """Choice values as keras-tuner takes them, all of one type: as given, or each as text where they mix types (a
    Literal["a", 1, 2.5] field's); a trial's config converts the text back to the field's value (`validate` checked
    that each one does)."""
    values = list(values)
    return values if len(set(map(type, values))) <= 1 else [str(value) for value in values]


def grid_size(hyperparameters):
    """How many value combinations a grid search visits (a Float without step counts 10 values, as keras-tuner)."""
    return math.prod(len(hp.values) for hp in hyperparameters.space)
