"""Typed experiment configs and `key=value` overrides.

An experiment's `Config` is a frozen dataclass subclassing `nnlab.Config`: every knob is a named, typed field
with a default. Overrides from the command line (`width=256`), from a saved config (`from=best_config.json`)
or from a sweep are converted to the field's type; an unknown key is an error that lists the valid ones.
"""

import dataclasses
import inspect
import math
import types
import typing
from pathlib import Path

from nnlab import field_types as field_types_lib
from nnlab.errors import NnlabError, first_line
from nnlab.results import bounded, limits, text
from nnlab.results.text import quoted

MAX_SEED = 2**32 - 1
MAX_INT = field_types_lib.MAX_INT
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
    """Map each field name of `config_class` to the type its values are converted to (nnlab.field_types): the
    resolved annotation (string annotations included), made Optional where the default is None."""
    hints = typing.get_type_hints(config_class)
    return {
        field.name: field_types_lib.effective(hints[field.name], field.default)
        for field in dataclasses.fields(config_class)
    }


def check_class(config_class, where):
    """Raise NnlabError unless `config_class` is itself a dataclass that keeps every field it sets, and every field
    follows the type rule (nnlab.field_types), so that run, overrides, from= and sweep trials take the same values."""
    try:
        hints = typing.get_type_hints(config_class)
    except Exception as error:  # an annotation naming something the module does not define
        raise NnlabError(
            f"{where}: the annotations of class {config_class.__name__} cannot be resolved "
            f"({type(error).__name__}: {first_line(error)}); import or define what they name."
        ) from None
    lost = _lost_fields(config_class)
    if "__dataclass_fields__" not in vars(config_class):
        held = f"its fields {', '.join(lost)} would be lost" if lost else "any field it declares would be lost"
        raise NnlabError(
            f"{where}: class {config_class.__name__} is not itself decorated with @dataclasses.dataclass(frozen=True) "
            f"(a subclass does not inherit the decorator), so {held} and nnlab would train with the fields of the "
            f"class above it. Put @dataclasses.dataclass(frozen=True) on the line above `class "
            f"{config_class.__name__}`."
        )
    if lost:
        name = lost[0]
        raise NnlabError(
            f"{where}: class {config_class.__name__} sets {', '.join(lost)} without a type annotation, so the "
            f"dataclass keeps the inherited default and the value written there is lost. Annotate it: "
            f"`{name}: {field_types_lib.spelled(hints[name])} = {getattr(config_class, name)!r}`."
        )
    for field in dataclasses.fields(config_class):
        if callable(getattr(Config, field.name, None)):
            raise NnlabError(
                f"{where}: Config field '{field.name}' hides nnlab.Config.{field.name}(), which nnlab calls; rename "
                f"the field (e.g. my_{field.name})."
            )
    bad = []
    for field in dataclasses.fields(config_class):
        try:
            field_types_lib.kind_of(hints[field.name])
        except field_types_lib.Unsupported:
            bad.append(f"'{field.name}' ({field_types_lib.spelled(hints[field.name])})")
    if bad:
        raise NnlabError(
            f"{where}: Config field{'s' if len(bad) > 1 else ''} {', '.join(bad)} ha{'ve' if len(bad) > 1 else 's'} a "
            f"type nnlab cannot read from the command line, config.json or a sweep. A field is {field_types_lib.RULE}. "
            f"Change the annotation (e.g. tuple[int, ...] for several numbers, a JSON-able dict[str, float]), or keep "
            f"the value outside Config."
        )
    _check_base_fields(config_class, hints, where)


# Base fields nnlab also reads in other forms: a loss per output (by name or by position) and metrics per output, as
# Keras' compile takes them for a model with several outputs.
OTHER_FORMS = {
    "loss": (tuple[str, ...], dict[str, str]),
    "metrics": (dict[str, str],),
}


def _check_base_fields(config_class, hints, where):
    """Raise NnlabError for a field of nnlab.Config re-declared with a type nnlab's own code cannot read it as
    (`epochs: str`): a narrower one (`optimizer: Literal["adam", "sgd"]`), or a form in OTHER_FORMS, is fine."""
    base = typing.get_type_hints(Config)
    for name, annotation in base.items():
        forms = (annotation, *OTHER_FORMS.get(name, ()))
        if hints[name] != annotation and not any(field_types_lib.within(hints[name], form) for form in forms):
            raise NnlabError(
                f"{where}: Config field '{name}' is declared {field_types_lib.spelled(hints[name])}, but it is a "
                f"field of nnlab.Config that nnlab itself reads as {field_types_lib.spelled(annotation)}. Keep its "
                f"type when you change its default (`{name}: {field_types_lib.spelled(annotation)} = "
                f"{getattr(Config, name)!r}`), or name your own field differently."
            )


def check_defaults(config_class, where):
    """Raise NnlabError unless every default converts to itself, as from config.json: a default outside its field's
    type would train in a run and then fail in a sweep trial or in `from=` of that run's own config.json."""
    defaults, types = to_dict(config_class()), field_types(config_class)
    for name, value in defaults.items():
        try:
            field_types_lib.convert(value, types[name])
        except (TypeError, ValueError, OverflowError):
            raise NnlabError(
                f"{where}: the default of Config field '{name}', {quoted(value)}, is not {_type_name(types[name])}; "
                f"give the field a default of its type (a field that may be None is annotated Optional[...])."
            ) from None


def _lost_fields(config_class):
    """Names a Config class (or an undecorated class between it and nnlab.Config) sets that its dataclass drops: all
    of an undecorated class's own fields, and any field re-defaulted without an annotation."""
    fields = {field.name for field in dataclasses.fields(config_class)}
    lost = []
    for klass in config_class.__mro__:
        if klass is Config or not issubclass(klass, Config):
            break
        own, annotated = vars(klass), inspect.get_annotations(klass)
        decorated = "__dataclass_fields__" in own
        assigned = [
            name
            for name, value in own.items()
            if name in fields and name not in annotated and not callable(value) and not _slot(value)
        ]
        declared = [name for name, kind in annotated.items() if "ClassVar" not in str(kind)]  # not fields anyway
        lost += ([] if decorated else declared) + assigned
    return list(dict.fromkeys(lost))


def _slot(value):
    """Whether a class attribute is the slot `@dataclass(slots=True)` makes for a field: not a value set there."""
    return isinstance(value, types.MemberDescriptorType)


def to_dict(config):
    """The config as plain JSON values: tuples become lists, and a non-finite float its name ("nan", "inf", "-inf").

    JSON has no NaN or infinity (nnlab writes them as null), and null would not convert back to a float field;
    the name does, so config.json -> from= gives the same config back.
    """
    return {key: _json_value(value) for key, value in dataclasses.asdict(config).items()}


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return value


def run_record(experiment_name, config, defaults):
    """What config.json holds for a run: the experiment, every field, and the fields that differ from the defaults."""
    return {"experiment": experiment_name, "config": to_dict(config), "overrides": changed_fields(config, defaults)}


def changed_fields(config, defaults):
    """Fields whose value differs from the experiment's defaults: what a user overrode, for config.json."""
    current, default = to_dict(config), to_dict(defaults)
    return {key: value for key, value in current.items() if default.get(key) != value}


def resolve(config_class, overrides=(), source="command line", experiment=None):
    """Build a config from defaults plus overrides, converted and checked.

    Args:
      config_class: the experiment's `Config` dataclass.
      overrides: `key=value` strings, or a dict of already-typed values. The key `from` names a JSON file
        (a run's `config.json` or a sweep's `best_config.json`) whose values are applied first.
      source: where the overrides came from, for error messages.
      experiment: the experiment's name; a `from=` file recorded for another experiment is then refused.
    Returns:
      A frozen config instance that passed `check()`.
    """
    pairs = split_pairs(overrides, source)
    values = {}
    if "from" in pairs:
        values.update(load_values(config_class, pairs.pop("from"), experiment))
    types = field_types(config_class)
    for key, value in pairs.items():
        _require_field(key, types, source)
        values[key] = convert(key, value, types[key], source)
    config = _built(config_class, values, source)
    _checked(config)
    return config


def _built(config_class, values, source):
    """`config_class(**values)`. A field declared `dataclasses.field(init=False)` is the class's to compute, so it is
    not passed: config.json records it (and a sweep's trial values carry it), and such a value is taken when it is the
    one the class computes, and refused otherwise (an override that would be lost)."""
    computed = {field.name for field in dataclasses.fields(config_class) if not field.init}
    given = {key: values.pop(key) for key in list(values) if key in computed}
    try:
        config = config_class(**values)
    except Exception as error:  # the class's own __post_init__ refusing the values: its verdict, not a bug
        raise NnlabError(
            f"{_defined_in(config_class)}: Config refused the values from {source}: {type(error).__name__}: "
            f"{first_line(error)}. Change the values it names, or fix the class."
        ) from None
    for key, value in given.items():
        if _json_value(value) != _json_value(getattr(config, key)):
            raise NnlabError(
                f"{source}: Config field '{key}' is declared dataclasses.field(init=False), so the class sets it and "
                f"it cannot be given: it is {quoted(getattr(config, key))} here, not {quoted(value)}. Set the fields "
                f"it is computed from, or make it an ordinary field with a default."
            )
    return config


def _checked(config):
    """Run nnlab's own checks, then the config's `check()`; a plain exception from an experiment's own check is its
    verdict on the values, so it becomes one paragraph naming the file, not a traceback. nnlab's checks run first
    whether or not an experiment's `check()` calls super().check(): without them batch_size=0 or seed=-1 would end
    in a traceback, and lr_schedule=bogus would train silently with a constant rate."""
    Config.check(config)
    try:
        config.check()
    except NnlabError:
        raise
    except Exception as error:
        raise NnlabError(
            f"{_defined_in(type(config))}: Config.check() refused the config: {type(error).__name__}: "
            f"{first_line(error)}. Change the values it names, or fix the check."
        ) from None


def _defined_in(config_class):
    """The file an experiment's Config class is written in (its module's name if that is unknown)."""
    return inspect.getsourcefile(config_class) or config_class.__module__


def load_values(config_class, path, experiment=None):
    """Typed values from a saved config JSON; accepts `{"config": {...}}` (best_config.json) or a flat dict.

    The file is read within nnlab.results.bounded's limits: a FIFO, /dev/zero, a huge or deeply nested file or a
    5,000-digit integer is one paragraph, not a hang, an exhausted memory or a traceback. A record whose
    `experiment` entry names another experiment than `experiment` is refused (one without the entry is taken).
    """
    wanted = "pass the path of a run's config.json or a sweep's best_config.json"
    if not str(path).strip():
        raise NnlabError(f"from= is empty; {wanted}, e.g. from=results/mnist/<run-id>/config.json.")
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(path)
        raw = bounded.read_bytes(path, limits.JSON_MAX_BYTES)
        data = bounded.loads(raw.decode("utf-8"), where=str(path))
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
    except bounded.Unreadable as error:  # not a regular file, too large, too deep, not JSON
        raise NnlabError(
            f"from={path}: cannot read it as JSON ({error}); {wanted}, a JSON file as nnlab writes it (this one "
            f"may be truncated, or not a saved config at all)."
        ) from None
    if isinstance(data, dict) and experiment is not None and "experiment" in data and data["experiment"] != experiment:
        recorded = data["experiment"]
        raise NnlabError(
            f"from={path} is a config of experiment {text.quoted(recorded)}, not of {text.quoted(experiment)}; "
            f"re-run it with `nnlab run {recorded if isinstance(recorded, str) else '<name>'} from={path}`, or "
            f"point from= at a config of {experiment}."
        )
    data = data.get("config", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise NnlabError(f"from={path}: expected a JSON object of config fields, got {type(data).__name__}.")
    types = field_types(config_class)
    for key in data:
        _require_field(key, types, str(path))
    return {key: convert(key, value, types[key], str(path)) for key, value in data.items()}


def convert(name, value, field_type, source="command line"):
    """Convert `value` (a string from the command line, or a JSON value) to `field_type` (nnlab.field_types)."""
    try:
        return field_types_lib.convert(value, field_type)
    except OverflowError:
        raise NnlabError(
            f"{source}: field '{name}' is out of range, got {quoted(value)}; integers must lie within +-{MAX_INT} "
            f"(int64). For example {name}={_example(field_type)}."
        ) from None
    except (TypeError, ValueError):
        raise NnlabError(
            f"{source}: field '{name}' expects {_type_name(field_type)}, got {quoted(value)}; "
            f"for example {name}={_example(field_type)}."
        ) from None


def command_line_value(value):
    """A config value as a `key=value` override spells it (`a,b`, JSON for a dict, `none`), converting back to it."""
    return field_types_lib.command_line(value)


def split_pairs(overrides, source, example="epochs=1 or from=results/mnist/<run-id>/config.json"):
    """`key=value` strings as a dict; a dict is taken as it is.

    Raises:
      NnlabError: an item is not key=value, or a key is given twice (which would otherwise let the last one win
        in silence).
    """
    if isinstance(overrides, dict):
        return dict(overrides)
    pairs = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise NnlabError(
                f"{source}: override {text.quoted(item)} is not of the form key=value; write e.g. {example}."
            )
        if key == "from" and "from" in pairs:
            raise NnlabError(
                f"{source}: from= is given twice (from={pairs['from']} and {item}); a run starts from one saved "
                f"config: give from= once, and any field to change as key=value after it."
            )
        if key in pairs:
            raise NnlabError(
                f"{source}: {key}= is given twice ({key}={text.clip(pairs[key], limits.ERROR_VALUE_CHARS)} and "
                f"{text.clip(item, limits.ERROR_VALUE_CHARS)}); give each setting once."
            )
        pairs[key] = value
    return pairs


def _require_field(key, types, source):
    if key not in types:
        raise NnlabError(
            f"{source}: unknown config field {text.quoted(key)}. Valid fields: {', '.join(sorted(types))}"
            f" (and from=<config.json>)."
        )


def _type_name(field_type):
    return field_types_lib.type_name(field_type)


def _example(field_type):
    return field_types_lib.example(field_type)
