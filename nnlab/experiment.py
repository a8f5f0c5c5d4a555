"""Find and load experiment modules by name: `experiments/<name>.py`, registered nowhere else.

The contract an experiment module meets (see experiments/mnist.py):
  - `Config`: a dataclass subclassing `nnlab.Config` — every knob, typed, with a default.
  - `build_model(config)` or `build_model(config, train)`: returns a Keras model, Sequential, functional or
    subclassed. With a second parameter it receives the training split's (x, y) (never validation or test), so a
    `layers.Normalization()` can `adapt(train[0])`; the adapted state is saved with the model.
  - optional `make_data(config)`: returns an `nnlab.data.Splits` of any data, synthetic or real (if it gives no
    validation split, `config.validation_fraction` of train is held out with `config.seed`); otherwise the runner
    loads `config.dataset` from `nnlab.datasets` (`nnlab list --data` shows each set's shapes and labels).
  - optional `SEARCH_SPACE`: which fields a sweep may vary, and over what (`nnlab.search_space`).
  - optional `train_step(model, optimizer, x, y)` or `train_step(model, optimizer, x, y, config)`: a
    hand-written GradientTape step, when the loop is the lesson. Its labels must have the model output's shape
    (checked on a sample batch before training: (N,) labels against (N, 1) outputs would broadcast).
  - optional `track(model)`: extra per-epoch history columns (e.g. w and b of a line fit), for custom loops.
  - optional `summarize(job)`: extra entries for metrics.json (e.g. the least-squares answer beside w and b).
    Runs after the model is saved; if it fails, the run stays done and metrics.json lists the error under
    `errors` (the command exits non-zero).
  - optional `FIGURES`: names of extra figures from `nnlab.train.figures` to draw after training.
  - optional `VARIANTS`: {variant name: config overrides} makes the run a study (nnlab.train.study): one model per
    variant, trained from the same seed into one run directory with one combined figure.
A module may import helper modules beside it (`from _common import Shared`), as it could when run as a script.
"""

import contextlib
import dataclasses
import gc
import importlib.util
import inspect
import logging
import os
import sys
from pathlib import Path

from nnlab import config as config_lib
from nnlab import data as data_lib
from nnlab import datasets
from nnlab.errors import NnlabError, first_line, message
from nnlab.results import layout, limits, paths, status, text
from nnlab.results.text import quoted

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A loaded experiment module and what nnlab needs from it."""

    name: str
    path: Path
    module: object

    @property
    def config_class(self):
        return self.module.Config

    def config(self, overrides=(), source="command line"):
        """The resolved config: defaults plus `overrides`, type-checked (a from= file of another experiment refused)."""
        return config_lib.resolve(self.config_class, overrides, source=source, experiment=self.name)

    def optional(self, attribute):
        """The module's optional hook `attribute`, or None."""
        return getattr(self.module, attribute, None)

    @property
    def description(self):
        return (self.module.__doc__ or "").strip()

    def call_hook(self, hook, *args, signature="", fix="Fix the module"):
        """Call the module's hook `hook`; an exception inside the user's code becomes one NnlabError naming it."""
        try:
            with module_code(self.path):
                return getattr(self.module, hook)(*args)
        except NnlabError:
            raise
        except Exception as error:
            raise NnlabError(
                f"{self.path}: {hook}({signature}) raised {type(error).__name__}: {first_line(error)}. {fix}."
            ) from None

    def exits_as_errors(self):
        """Inside: SystemExit from the module's code, or its own BaseException, becomes one NnlabError."""
        return module_code(self.path)

    def load_splits(self, config):
        """The experiment's data: make_data(config) if it defines one, else the named data set; then checked.

        Data and the validation holdout are drawn with `config.data_seed` where it is set (a sweep trial's re-run:
        the sweep's data with the trial's own seed for initialisation and batch order), else with `config.seed`;
        make_data sees that seed as `config.seed`.
        """
        config = dataclasses.replace(config, seed=config.seed if config.data_seed < 0 else config.data_seed)
        if self.optional("make_data") is not None:
            splits = self.call_hook("make_data", config, signature="config", fix="Fix the data definition")
            if not isinstance(splits, data_lib.Splits):
                raise NnlabError(
                    f"{self.path}: make_data(config) must return nnlab.data.Splits, got {type(splits).__name__}."
                )
            splits = dataclasses.replace(splits, source=f"{self.path} make_data")
            if splits.validation is not None and config.validation_fraction:
                log.info("%s returned its own validation split; validation_fraction is not used", splits.source)
        else:
            splits = datasets.load(config.dataset, config)
        data_lib.check(splits)  # as given, so that the messages describe the user's data, not our holdout of it
        splits = data_lib.limited(splits, config.limit_examples)
        splits = data_lib.with_validation(splits, config.validation_fraction, config.seed)
        data_lib.check(splits)
        return splits

    def load_model(self, path):
        """A run's model.keras, with the module's own Keras objects (a subclassed Model or Layer, a loss or metric
        class or function it compiled with) known to Keras.

        Keras stores them by name only; loading needs the objects, which live in the experiment module, so they are
        passed here instead of requiring @keras.saving.register_keras_serializable.
        """
        import keras

        kinds = (keras.layers.Layer, keras.losses.Loss, keras.metrics.Metric)
        own = {
            name: value
            for name, value in vars(self.module).items()
            if (isinstance(value, type) and issubclass(value, kinds))
            or (inspect.isfunction(value) and value.__module__ == self.module.__name__)
        }
        return keras.saving.load_model(path, custom_objects=own)


def as_named(path, results, results_dir):
    """`path`, inside the absolute `results`, under the caller's own name for it (`results_dir`): relative if that
    was, unless module code changed the working directory, where only the absolute path still leads to it."""
    if Path(results_dir).is_absolute() or Path(results_dir).absolute() != results:
        return path
    return Path(results_dir) / path.relative_to(results)


@contextlib.contextmanager
def kept_floatx():
    """Inside: Keras' default float type may change; afterwards it is what it was. Module code may set it
    (`keras.backend.set_floatx("float64")` in build_model), and the next run in the same process (a notebook's) must
    not train in it without saying so."""
    import keras

    floatx = keras.backend.floatx()
    try:
        yield
    finally:
        keras.backend.set_floatx(floatx)


def experiments_dir():
    """Where experiment modules live: $NNLAB_EXPERIMENTS, else ./experiments."""
    return Path(os.environ.get("NNLAB_EXPERIMENTS", "experiments"))


def available(directory=None):
    """Names of all experiment modules in `directory` (see `scan`)."""
    return scan(directory)[0]


def scan(directory=None):
    """The experiments in `directory`, and what else there looks like one.

    Returns:
      (names, skipped): the names of every regular file `<identifier>.py` whose name is not reserved, sorted; and
      (file name, reason) for every other `*.py` entry (a directory, a dangling link, a name with a space).
      Files starting with `_` (the experiments' helper modules) or `.` (hidden: editor files) are neither.
    Raises:
      NnlabError: the directory does not exist or is not a directory.
    """
    directory = Path(directory or experiments_dir())
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise NnlabError(
            f"The experiments folder {directory}/ {what}. Run nnlab where experiments/ is, or point "
            f"$NNLAB_EXPERIMENTS at the folder that holds your <name>.py modules."
        )
    names, skipped = [], []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith(("_", ".")):
            continue
        problem = name_problem(path.stem, directory) or file_problem(path)
        if problem:
            skipped.append((path.name, problem))
        else:
            names.append(path.stem)
    return names, skipped


def name_problem(name, directory=None):
    """Why `name` cannot name an experiment module, or None: it must be a Python identifier, not reserved, and
    short enough for `<name>.py` in the experiments folder."""
    if not name.isidentifier():
        return (
            f"{text.quoted(name)} is not a valid experiment name (a Python identifier: letters, digits and _, "
            f"not starting with a digit; no spaces, dots or slashes)"
        )
    if name in layout.RESERVED_NAMES:
        return f"{text.quoted(name)} is a reserved name (nnlab writes results/{name}/ itself); rename the module"
    longest = paths.name_max(directory or experiments_dir()) - len(".py")
    if len(os.fsencode(name)) > longest:
        return (
            f"the name is {len(os.fsencode(name))} bytes long; experiment names are at most {longest} bytes "
            f"(<name>.py must fit this file system's NAME_MAX)"
        )
    return None


def file_problem(path):
    """Why `path` is not an importable module file, or None: it must exist and be a regular file (a link to one
    is fine)."""
    try:
        return _file_problem(path)
    except OSError as error:  # a link into a folder this user cannot read, ...
        return f"cannot be examined ({error.strerror or error})"


def _file_problem(path):
    if path.is_symlink() and not path.exists():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"a symbolic link to {text.quoted(target)}, which does not exist (or loops), so not a module file"
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "a directory, not a module file"
    if not path.is_file():
        return "not a regular file (a FIFO, socket or device), so not a module file"
    return None


def summary(name, directory=None):
    """The first line of the module's docstring, or `(cannot load: <first line of the error>)`, for `nnlab list`."""
    try:
        description = load(name, directory).description
    except (Exception, SystemExit) as error:  # a module that fails to import still gets its line
        return f"(cannot load: {text.clip(first_line(error), limits.ERROR_VALUE_CHARS)})"
    return text.clip((description.splitlines() or [""])[0], limits.TEXT_MAX_CHARS)


def load(name, directory=None):
    """Import `experiments/<name>.py` and check that it meets the contract.

    Raises:
      NnlabError: the name is not valid or reserved, the module is missing or not a file, fails to import, or lacks
        `Config`/`build_model`.
    """
    directory = Path(directory or experiments_dir())
    problem = name_problem(name, directory)
    path = None if problem else directory / f"{name}.py"
    problem = problem or file_problem(path)
    if problem:
        names = ", ".join(available(directory)) if directory.is_dir() else f"none ({directory}/ does not exist)"
        raise NnlabError(
            f"No experiment named {text.quoted(name)}: {f'{path}: ' if path else ''}{problem}. Available in "
            f"{directory}/: {names or 'none'}. An experiment is one file, {directory}/<name>.py, defining Config "
            f"and build_model(config)."
        )
    module_name = f"nnlab_experiments.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses resolve string annotations through sys.modules
    helpers = str(directory.resolve())
    if helpers not in sys.path:  # `from _common import ...` finds a helper beside it, as when run as a script; at
        sys.path.append(helpers)  # the end, so that no installed package is shadowed by a file of the same name
    try:
        with module_code(path):  # a script's own sys.exit(main()) would end nnlab silently, with its exit code
            try:
                spec.loader.exec_module(module)
            except Exception as error:  # any failure inside user code is the user's to fix
                raise NnlabError(f"{path} failed to import: {_where(error, path)}. {_import_fix(error)}") from None
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    with module_code(path):  # building Config() runs module code too: a default_factory, __post_init__
        _check_contract(module, path)
    return Experiment(name=name, path=path, module=module)


def _check_contract(module, path):
    config_class = getattr(module, "Config", None)
    if not (
        isinstance(config_class, type)
        and issubclass(config_class, config_lib.Config)
        and dataclasses.is_dataclass(config_class)
    ):
        raise NnlabError(
            f"{path} must define `Config`, a @dataclasses.dataclass(frozen=True) subclass of "
            f"nnlab.Config holding every field with a default (see experiments/mnist.py)."
        )
    config_lib.check_class(config_class, path)
    if not callable(getattr(module, "build_model", None)):
        raise NnlabError(f"{path} must define build_model(config) returning a Keras model (see experiments/mnist.py).")
    try:
        config_class()
    except Exception as error:
        raise NnlabError(
            f"{path}: Config() cannot be built from its defaults ({error}); give every field a default value."
        ) from None
    config_lib.check_defaults(config_class, path)
    _check_figures(module, path)


def _check_figures(module, path):
    """FIGURES is a tuple or list of names: a bare string would be read letter by letter."""
    names = getattr(module, "FIGURES", None)
    if names is None:
        return
    if not isinstance(names, (tuple, list)) or not all(isinstance(name, str) for name in names):
        fix = f"FIGURES = ({names!r},)" if isinstance(names, str) else 'FIGURES = ("line_fit",)'
        raise NnlabError(
            f"{path}: FIGURES must be a tuple or list of figure names, got {type(names).__name__} {quoted(names)}; "
            f"write e.g. {fix} (the comma makes a one-name tuple)."
        )


@contextlib.contextmanager
def module_code(path):
    """Inside: a BaseException from the code of the module at `path` that is not an Exception (SystemExit, a class
    of its own) becomes one NnlabError (`module_error`); everything else passes through as it is."""
    try:
        yield
    except Exception:
        raise
    except BaseException as error:
        mapped = module_error(error, path)
        if mapped is None:
            raise
        raise mapped from None


def module_error(error, path):
    """The NnlabError for a BaseException that is not an Exception, from the module's code at `path`: SystemExit
    (`exit_error`), or a class of the module's own deriving from BaseException (or GeneratorExit) raised in its code,
    which `except Exception` lets through and would end nnlab with a traceback. None for Ctrl-C, nnlab's SIGTERM
    (status.Interrupted) and anything not raised in the module's file: those keep their meaning."""
    if isinstance(error, SystemExit):
        return exit_error(error, path)
    if isinstance(error, Exception | KeyboardInterrupt | status.Interrupted):
        return None
    frame = _innermost_frame(error, path)
    if frame is None:
        return None
    where = "while nnlab imports it" if frame.name == "<module>" else f"in {frame.name}()"
    return NnlabError(
        f"{path}: {type(error).__name__}: {first_line(error)} (raised {where}, line {frame.lineno}). It is a "
        f"BaseException, not an Exception, as only interrupts and exits should be; raise an Exception (or a class "
        f"derived from Exception) instead, and nnlab reports it in one paragraph."
    )


def module_failure(error, path):
    """What a sweep trial fails with when its code raised `error`: the error itself for any Exception, the NnlabError
    for a SystemExit or a BaseException of the module's own (`module_error`); None for Ctrl-C and nnlab's SIGTERM,
    which end the sweep instead."""
    return error if isinstance(error, Exception) else module_error(error, path)


def exit_error(error, path):
    """The NnlabError for a SystemExit (sys.exit, exit(), raise SystemExit) from the module at `path`: nnlab runs the
    module's code inside its own command, which would otherwise end at once with the module's exit code."""
    frame = _innermost_frame(error, path)
    call = f"sys.exit({'' if error.code is None else quoted(error.code)})"
    if frame is not None and frame.name == "<module>":
        return NnlabError(
            f"{path} exits while nnlab imports it ({call} at line {frame.lineno}). nnlab imports an experiment module "
            f"to train it, so its top level must not end the process: put script code (argument parsing, a main() "
            f'call) under `if __name__ == "__main__":`, which that import skips.'
        )
    where = f"{frame.name}() exits the process ({call} at line {frame.lineno})" if frame else f"module code ran {call}"
    return NnlabError(
        f"{path}: {where}. nnlab calls the module's functions inside its own run, so they must not end the process; "
        f"raise an exception with a message instead, and nnlab reports it in one paragraph."
    )


def _innermost_frame(error, path):
    """The innermost traceback frame of `error` in the file `path`, or None."""
    frames = [frame for frame in _source_frames(error) if Path(frame.filename).resolve() == path.resolve()]
    return frames[-1] if frames else None


@dataclasses.dataclass(frozen=True)
class _Frame:
    filename: str
    lineno: int
    name: str


def _source_frames(error):
    """The frames of `error`'s traceback, those of code TensorFlow's autograph generated (a train_step nnlab converts)
    mapped back to the module's own file and line."""
    frames, tb = [], error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(_autograph_origin(code, tb.tb_lineno) or _Frame(code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    return frames


def _autograph_origin(code, line):
    """Where a line of autograph's generated code came from, by the converted function's `ag_source_map`; or None."""
    if "__autograph_generated_file" not in code.co_filename:
        return None
    for function in gc.get_referrers(code):  # the converted function, which carries the map
        source_map = getattr(function, "ag_source_map", None)
        if not isinstance(source_map, dict):
            continue
        for location, origin in source_map.items():
            if location.filename == code.co_filename and location.lineno == line:
                return _Frame(origin.loc.filename, origin.loc.lineno, origin.function_name)
    return None


def _import_fix(error):
    """What to do about an import that failed: install a missing package, or fix the module."""
    missing = error.name if isinstance(error, ModuleNotFoundError) and error.name else None
    if missing is None:
        return "Fix the module and run again."
    package = missing.split(".")[0]
    return (
        f"Install the package that provides {quoted(package)} into the environment nnlab runs in ({sys.executable} "
        f"-m pip install <package>; its name on PyPI may differ, e.g. scikit-learn for sklearn), or remove the import."
    )


def _where(error, path):
    """'<ErrorType>: message (line N)' for the innermost frame in the user's file."""
    frame = _innermost_frame(error, path)
    line = frame.lineno if frame else getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
    location = f" (line {line})" if line else ""
    said = error.msg if isinstance(error, SyntaxError) else message(error)  # str(SyntaxError) ends with its line
    return f"{type(error).__name__}: {said}{location}"
