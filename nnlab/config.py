"""Typed experiment configs and `key=value` overrides.

An experiment's `Config` is a frozen dataclass subclassing `nnlab.Config`: every knob is a named, typed field
with a default. Overrides from the command line (`width=256`), from a saved config (`from=best_config.json`)
or from a sweep are converted to the field's type; an unknown key is an error that lists the valid ones.
"""

import dataclasses
import json
import math
import typing
from pathlib import Path

from nnlab.errors import NnlabError

MAX_SEED = 2**32 - 1
MAX_INT = 2**63 - 1  # TensorFlow holds counts as int64; a larger integer would overflow deep inside it
LR_SCHEDULES = ("constant", "cosine", "exponential", "plateau")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")


@dataclasses.dataclass(frozen=True)
class Config:
    """Fields every experiment has; experiments subclass this and add or re-default fields."""

    dataset: str = ""
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    loss: str = "mse"
    metrics: tuple[str, ...] = ()
    epochs: int = 1
    batch_size: int = 32
    validation_fraction: float = 0.1
    seed: int = 0
    data_seed: int = -1  # seed for make_data and the validation holdout; -1: seed. A sweep trial's re-run sets both
    limit_examples: int = 0  # use only the first N examples of each split (0: all); for quick checks
    # Early stopping and learning-rate schedules (nnlab.train.controls); the defaults train as before.
    patience: int = 0  # stop after this many epochs without improvement in `monitor` (0: never stop early)
    monitor: str = "val_loss"  # minimised if its name says loss/error/..., as a sweep's objective; else maximised
    restore_best_weights: bool = True  # with patience > 0: test, save and report the best epoch's weights
    lr_schedule: str = "constant"  # constant, cosine, exponential or plateau; the rate changes once per epoch
    warmup_epochs: int = 0  # the rate rises linearly to learning_rate over these first epochs
    min_learning_rate: float = 0.0  # cosine's end point, and plateau's floor
    lr_decay: float = 0.9  # exponential: the rate is multiplied by this each epoch
    lr_factor: float = 0.5  # plateau: the rate is multiplied by this after lr_patience epochs without improvement
    lr_patience: int = 2
    precision: str = "float32"  # or mixed_float16, mixed_bfloat16, auto (mixed_float16 on a capable GPU)
    class_weight: str = ""  # "", "balanced" or "0:1.0,1:5.0": weights on the training loss (train/class_weights.py)

    def check(self):
        """Raise NnlabError for values no experiment can train with; subclasses may add checks."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate}
        for name, value in positive.items():
            if not (value > 0 and math.isfinite(value)):
                raise NnlabError(
                    f"Config field '{name}' must be a positive number, got {value!r}; "
                    f"pass e.g. {name}={getattr(type(self), name)}."
                )
        if not 0 <= self.seed <= MAX_SEED:
            raise NnlabError(
                f"Config field 'seed' must be in [0, {MAX_SEED}] (NumPy's and TensorFlow's seed range), got "
                f"{self.seed}; pass e.g. seed=0."
            )
        if not -1 <= self.data_seed <= MAX_SEED:
            raise NnlabError(
                f"Config field 'data_seed' must be -1 (use seed) or a seed in [0, {MAX_SEED}], got {self.data_seed}."
            )
        if self.limit_examples < 0:
            raise NnlabError(f"Config field 'limit_examples' must be >= 0 (0 means all), got {self.limit_examples}.")
        if not 0 <= self.validation_fraction < 1:
            raise NnlabError(
                f"Config field 'validation_fraction' must be in [0, 1), got "
                f"{self.validation_fraction!r}; pass e.g. validation_fraction=0.1."
            )
        check_training_controls(self)
        class_weight_values(self.class_weight)


def class_weight_values(text):
    """None (off), "balanced", or {class index: weight} from the class_weight field; NnlabError if malformed."""
    text = text.strip()
    if not text:
        return None
    if text == "balanced":
        return text
    weights = {}
    for item in text.split(","):
        label, sep, weight = item.partition(":")
        try:
            label, weight = int(label.strip()), float(weight.strip())
        except ValueError:
            label = weight = None
        if not sep or label is None or label < 0 or label in weights or not (math.isfinite(weight) and weight >= 0):
            raise NnlabError(
                f"Config field 'class_weight' must be empty, balanced, or class:weight pairs with class indices "
                f"0, 1, ... (each once) and weights >= 0, got {text!r} (at {item.strip()!r}); pass e.g. "
                f"class_weight=balanced or class_weight=0:1.0,1:5.0."
            )
        weights[label] = weight
    return weights


def check_training_controls(config):
    """Raise NnlabError for early-stopping, schedule and precision fields no run can use (issue 14's knobs)."""

    def fail(field, problem, fix):
        raise NnlabError(f"Config field '{field}' {problem}, got {getattr(config, field)!r}; {fix}.")

    if config.patience < 0:
        fail("patience", "must be >= 0 (0 turns early stopping off)", "pass e.g. patience=3")
    if not config.monitor.strip():
        fail("monitor", "must name a logged metric", "pass e.g. monitor=val_loss or monitor=val_accuracy")
    if config.lr_schedule not in LR_SCHEDULES:
        fail("lr_schedule", f"must be one of {', '.join(LR_SCHEDULES)}", "pass e.g. lr_schedule=cosine")
    if config.precision not in PRECISIONS:
        fail("precision", f"must be one of {', '.join(PRECISIONS)}", "pass e.g. precision=mixed_bfloat16")
    if config.warmup_epochs < 0 or (config.warmup_epochs and config.warmup_epochs >= config.epochs):
        fail(
            "warmup_epochs",
            f"must be >= 0 and smaller than epochs ({config.epochs}), so that some epochs train at learning_rate",
            f"pass e.g. warmup_epochs={max(0, min(config.epochs - 1, 1))} or raise epochs",
        )
    if not (0 <= config.min_learning_rate and math.isfinite(config.min_learning_rate)):
        fail("min_learning_rate", "must be a finite number >= 0", "pass e.g. min_learning_rate=0")
    if config.lr_schedule == "cosine" and config.min_learning_rate >= config.learning_rate:
        fail(
            "min_learning_rate",
            f"must be below learning_rate ({config.learning_rate:g}) for a cosine schedule to fall",
            f"pass e.g. min_learning_rate={config.learning_rate / 100:g}",
        )
    if not (0 < config.lr_decay <= 1):
        fail("lr_decay", "must be in (0, 1]: exponential multiplies the rate by it", "pass e.g. lr_decay=0.9")
    if not (0 < config.lr_factor < 1):
        fail("lr_factor", "must be in (0, 1): plateau multiplies the rate by it", "pass e.g. lr_factor=0.5")
    if config.lr_patience < 0:
        fail("lr_patience", "must be >= 0", "pass e.g. lr_patience=2")


def field_types(config_class):
    """Map each field name of `config_class` to its resolved type (string annotations included)."""
    hints = typing.get_type_hints(config_class)
    return {field.name: hints[field.name] for field in dataclasses.fields(config_class)}


def to_dict(config):
    """The config as plain JSON-able values (tuples become lists)."""
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(config).items()
    }


def run_record(experiment_name, config, defaults):
    """What config.json holds for a run: the experiment, every field, and the fields that differ from the defaults."""
    return {"experiment": experiment_name, "config": to_dict(config), "overrides": changed_fields(config, defaults)}


def changed_fields(config, defaults):
    """Fields whose value differs from the experiment's defaults: what a user overrode, for config.json."""
    current, default = to_dict(config), to_dict(defaults)
    return {key: value for key, value in current.items() if default.get(key) != value}


def resolve(config_class, overrides=(), source="command line"):
    """Build a config from defaults plus overrides, converted and checked.

    Args:
      config_class: the experiment's `Config` dataclass.
      overrides: `key=value` strings, or a dict of already-typed values. The key `from` names a JSON file
        (a run's `config.json` or a sweep's `best_config.json`) whose values are applied first.
      source: where the overrides came from, for error messages.
    Returns:
      A frozen config instance that passed `check()`.
    """
    pairs = _split_pairs(overrides, source)
    values = {}
    if "from" in pairs:
        values.update(load_values(config_class, pairs.pop("from")))
    types = field_types(config_class)
    for key, value in pairs.items():
        _require_field(key, types, source)
        values[key] = convert(key, value, types[key], source)
    config = config_class(**values)
    config.check()
    return config


def load_values(config_class, path):
    """Typed values from a saved config JSON; accepts `{"config": {...}}` (best_config.json) or a flat dict."""
    wanted = "pass the path of a run's config.json or a sweep's best_config.json"
    if not str(path).strip():
        raise NnlabError(f"from= is empty; {wanted}, e.g. from=results/mnist/<run-id>/config.json.")
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise NnlabError(f"from={path}: no such file; {wanted}.") from None
    except IsADirectoryError:
        raise NnlabError(f"from={path} is a directory; {wanted} inside it.") from None
    except UnicodeDecodeError as error:
        raise NnlabError(
            f"from={path}: not a text file (the byte at offset {error.start} is not UTF-8), so not a saved config; "
            f"{wanted}."
        ) from None
    except OSError as error:
        raise NnlabError(f"from={path}: cannot be read ({error.strerror or error}); {wanted}.") from None
    except json.JSONDecodeError as error:
        raise NnlabError(
            f"from={path}: cannot read it as JSON ({error}); the file may be truncated — "
            f"re-create it or point from= at another config."
        ) from None
    data = data.get("config", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise NnlabError(f"from={path}: expected a JSON object of config fields, got {type(data).__name__}.")
    types = field_types(config_class)
    for key in data:
        _require_field(key, types, str(path))
    return {key: convert(key, value, types[key], str(path)) for key, value in data.items()}


def convert(name, value, field_type, source="command line"):
    """Convert `value` (a string from the command line, or a JSON value) to `field_type`."""
    try:
        return _convert(value, field_type)
    except OverflowError:
        raise NnlabError(
            f"{source}: field '{name}' is out of range, got {value!r}; integers must lie within +-{MAX_INT} (int64). "
            f"For example {name}={_example(field_type)}."
        ) from None
    except (TypeError, ValueError):
        raise NnlabError(
            f"{source}: field '{name}' expects {_type_name(field_type)}, got {value!r}; "
            f"for example {name}={_example(field_type)}."
        ) from None


def _convert(value, field_type):
    if typing.get_origin(field_type) is tuple:
        item_type = typing.get_args(field_type)[0]
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise TypeError(value)
        return tuple(
            _convert(item.strip() if isinstance(item, str) else item, item_type) for item in items if item != ""
        )
    if field_type is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if field_type is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        number = int(value)
        if abs(number) > MAX_INT:
            raise OverflowError(value)
        return number
    if field_type is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if field_type is str:
        if not isinstance(value, str):
            raise TypeError(value)
        return value
    raise TypeError(f"unsupported field type {field_type}")


def _split_pairs(overrides, source):
    if isinstance(overrides, dict):
        return dict(overrides)
    pairs = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise NnlabError(
                f"{source}: override {item!r} is not of the form key=value; "
                f"write e.g. epochs=1 or from=results/mnist/<run-id>/config.json."
            )
        if key.strip() == "from" and "from" in pairs:
            raise NnlabError(
                f"{source}: from= is given twice (from={pairs['from']} and {item}); a run starts from one saved "
                f"config: give from= once, and any field to change as key=value after it."
            )
        pairs[key.strip()] = value
    return pairs


def _require_field(key, types, source):
    if key not in types:
        raise NnlabError(
            f"{source}: unknown config field '{key}'. Valid fields: {', '.join(sorted(types))}"
            f" (and from=<config.json>)."
        )


def _type_name(field_type):
    if typing.get_origin(field_type) is tuple:
        return f"a comma-separated list of {_type_name(typing.get_args(field_type)[0])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        field_type, str(field_type)
    )


def _example(field_type):
    if typing.get_origin(field_type) is tuple:
        return "a,b"
    return {int: "3", float: "0.001", str: "name", bool: "true"}.get(field_type, "...")
