"""The one function that trains any experiment: `run(name, overrides)`.

Data flows one way: experiment module -> resolved config -> training -> files in results/<exp>/<run-id>/.
The CLI, the Makefile, tests and notebooks all call `run`.
"""

import dataclasses
import shlex
import sys
import time
from pathlib import Path

from nnlab import config as config_lib
from nnlab import data as data_lib
from nnlab import datasets, errors
from nnlab import experiment as experiment_lib
from nnlab.errors import NnlabError
from nnlab.results import atomic, checkpoint, layout, rundir, status
from nnlab.results.history import HistoryFile
from nnlab.train import environment


@dataclasses.dataclass
class TrainingJob:
    """Everything a trainer (keras_fit or custom_loop) needs for one run."""

    experiment: object
    config: object
    splits: data_lib.Splits
    model: object
    run_dir: rundir.RunDir
    history: HistoryFile
    verbose: int
    metrics: dict = dataclasses.field(default_factory=dict)  # filled in when training ends
    initial_epoch: int = 0  # > 0 when resuming from a checkpoint
    checkpoint_path: Path | None = None  # where trainers that support resuming save per-epoch state

    @property
    def where(self):
        return str(self.experiment.path)


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    metrics: dict


def run(name, overrides=(), results_dir="results", verbose=None, experiments_dir=None, resume=False):
    """Train experiment `name` with `overrides` and write a complete run directory.

    Args:
      name: the experiment module's name (experiments/<name>.py).
      overrides: `key=value` strings or a dict of field values.
      results_dir: where results/<name>/<run-id>/ is created.
      verbose: Keras verbosity; default: a progress bar on a terminal, one line per epoch otherwise.
      resume: continue the newest unfinished run with the same config from its last completed epoch (a new
        run if there is none), so that one command can be repeated after a crash or a kill.
    Returns:
      RunResult with the run directory and the metrics.json contents.
    Raises:
      NnlabError: for any user mistake; the run directory (if created) is marked failed.
    """
    experiment = experiment_lib.load(name, experiments_dir)
    config = experiment.config(overrides)  # bad overrides fail before anything is written
    if experiment.optional("VARIANTS") is not None:
        from nnlab.train import study

        study.variant_configs(experiment, config)  # and so do bad variants of a study
    record = {
        "experiment": name,
        "config": config_lib.to_dict(config),
        "overrides": changed_fields(config, experiment.config_class()),
    }
    run_dir = rundir.unfinished(results_dir, name, record["config"]) if resume else None
    if run_dir is None:
        run_dir = rundir.create(results_dir, name)
        atomic.write_json(run_dir.file(layout.CONFIG), record)
    else:
        print(f"resuming run {run_dir.path}", file=sys.stderr)
    run_dir.set_status(status.RUNNING)
    try:
        with status.interruptible():
            metrics = _train(experiment, config, run_dir, _verbosity(verbose))
    except (status.Interrupted, KeyboardInterrupt):  # SIGTERM or Ctrl-C: say how to continue, keep the signal's code
        again = continue_command(name, record["overrides"], results_dir)
        run_dir.mark(status.INTERRUPTED, status.interrupted_message(again))
        raise
    except BaseException as error:  # a crash must not leave the run looking alive
        mapped = errors.from_os_error(error) if isinstance(error, OSError) else error
        if not isinstance(mapped, NnlabError):
            run_dir.mark(status.FAILED, f"{type(error).__name__}: {error}")
            raise
        marked = run_dir.mark(status.FAILED, str(mapped))
        raise NnlabError(f"{mapped} [run {run_dir.path} {'marked failed' if marked else 'not marked: disk'}]") from None
    run_dir.set_status(status.DONE)
    for path in [run_dir.file(layout.checkpoint()), *run_dir.path.glob(layout.checkpoint("*"))]:
        path.unlink(missing_ok=True)  # only needed while unfinished
    return RunResult(run_dir=run_dir.path, metrics=metrics)


def continue_command(name, overrides, results_dir):
    """The command line that resumes this run."""
    values = [
        f"{key}={','.join(map(str, value)) if isinstance(value, list) else value}" for key, value in overrides.items()
    ]
    words = ["nnlab", "--results", str(results_dir), "run", name, *values, "--resume"]
    return shlex.join(words)


def changed_fields(config, defaults):
    """Fields whose value differs from the experiment's defaults."""
    current, default = config_lib.to_dict(config), config_lib.to_dict(defaults)
    return {key: value for key, value in current.items() if default.get(key) != value}


def load_splits(experiment, config):
    """The experiment's data: make_data(config) if it defines one, else the named data set; then checked."""
    make_data = experiment.optional("make_data")
    if make_data is not None:
        try:
            splits = make_data(config)
        except NnlabError:
            raise
        except Exception as error:
            raise NnlabError(
                f"{experiment.path}: make_data(config) raised {type(error).__name__}: {error}. Fix the data definition."
            ) from None
        if not isinstance(splits, data_lib.Splits):
            raise NnlabError(
                f"{experiment.path}: make_data(config) must return nnlab.data.Splits, got {type(splits).__name__}."
            )
        splits = dataclasses.replace(splits, source=f"{experiment.path} make_data")
    else:
        splits = datasets.load(config.dataset, config)
    data_lib.check(splits)  # as given, so that the messages describe the user's data, not our holdout of it
    splits = data_lib.limited(splits, config.limit_examples)
    splits = data_lib.with_validation(splits, config.validation_fraction, config.seed)
    data_lib.check(splits)
    return splits


def _train(experiment, config, run_dir, verbose):
    # Imported here so that config errors above are reported without paying TensorFlow's import time.
    from nnlab.train import devices, figures

    setup = devices.setup(config.seed)
    atomic.write_json(
        run_dir.file(layout.ENVIRONMENT),
        environment.collect(
            config.seed, setup.devices, setup.strategy_name, setup.compile_options, setup.deterministic
        ),
    )
    splits = load_splits(experiment, config)
    if experiment.optional("VARIANTS") is not None:  # a study: one model per variant, one run directory
        from nnlab.train import study

        job = study.train_variants(experiment, config, splits, setup, run_dir, verbose)
    else:
        job = train_model(experiment, config, splits, setup, run_dir, verbose)
    atomic.write_json(run_dir.file(layout.METRICS), job.metrics)
    figures.draw_all(experiment.optional("FIGURES") or (), job)
    return job.metrics


def train_model(experiment, config, splits, setup, run_dir, verbose, name="", plot=True):
    """Build, check, train, evaluate and save one model; return the finished TrainingJob.

    Writes history{-name}.csv, model{-name}.keras and, with `plot`, the learning-curve PNGs
    ({name}-<metric>.png). A study calls this once per variant with the variant's name (and draws one combined
    figure instead of per-variant curves); a plain run once with name "".
    """
    from nnlab.plots import curves
    from nnlab.train import modeling, shape_errors

    model = modeling.prepare(experiment, config, splits, setup)
    suffix = f"-{name}" if name else ""
    checkpoint_path = run_dir.file(layout.checkpoint(name))
    initial_epoch = checkpoint.restore(model, checkpoint_path) if checkpoint_path.exists() else 0
    history = HistoryFile(run_dir.file(layout.history(name)))
    if initial_epoch:
        history.resume(before_epoch=initial_epoch, checkpoint=checkpoint_path)
        print(f"resuming{suffix or ''} at epoch {initial_epoch}", file=sys.stderr)
    job = TrainingJob(
        experiment=experiment,
        config=config,
        splits=splits,
        model=model,
        run_dir=run_dir,
        history=history,
        verbose=verbose,
        initial_epoch=initial_epoch,
        checkpoint_path=checkpoint_path,
    )
    earlier_seconds = sum(row["seconds"] for row in history.rows if isinstance(row.get("seconds"), float))  # resumed
    started = time.perf_counter()
    try:
        final = _trainer_for(experiment).train(job)
    except Exception as error:
        if not shape_errors.is_first_batch_error(error, initial_epoch, len(history.rows)):
            raise
        raise NnlabError(shape_errors.message(error, job.where, config)) from None
    session_seconds = time.perf_counter() - started
    job.metrics = {
        "status": "done",
        "epochs_run": len(job.history.rows),
        "resumed_at_epoch": initial_epoch,
        "final": final,
        "train_seconds": earlier_seconds + session_seconds,  # cumulative over every session of the run
        "seconds_per_epoch": session_seconds / max(1, len(job.history.rows) - initial_epoch),
    }
    if splits.test is not None:
        job.metrics["test"] = evaluate(model, splits.test, config)
        print(f"test{suffix}: {format_metrics(job.metrics['test'])}", file=sys.stderr)
    job.metrics.update(module_summary(job))  # e.g. the least-squares answer beside a line fit's w and b
    save_model(model, run_dir.file(layout.model(name)))
    if plot:
        curves.plot_history(job.history.path, run_dir.path, variant=name)
    return job


def module_summary(job):
    """Entries for metrics.json from the experiment's optional `summarize(job)` hook ({} without one)."""
    hook = job.experiment.optional("summarize")
    if hook is None:
        return {}
    try:
        extra = hook(job)
    except NnlabError:
        raise
    except Exception as error:
        raise NnlabError(
            f"{job.where}: summarize(job) raised {type(error).__name__}: {error}. Fix the summary in the module."
        ) from None
    if not isinstance(extra, dict):
        raise NnlabError(
            f"{job.where}: summarize(job) must return a dict for metrics.json, got {type(extra).__name__}."
        )
    clash = sorted(set(extra) & set(job.metrics))
    if clash:
        raise NnlabError(
            f"{job.where}: summarize(job) returned {', '.join(clash)}, which nnlab already writes to metrics.json; "
            f"rename those keys."
        )
    return extra


def _trainer_for(experiment):
    if experiment.optional("train_step") is not None:
        from nnlab.train import custom_loop

        return custom_loop
    from nnlab.train import keras_fit

    return keras_fit


def evaluate(model, split, config):
    """Loss and metrics on a held-out split, as a {name: float} dict."""
    from nnlab.train import keras_fit

    results = model.evaluate(keras_fit.pipeline(*split, config.batch_size), verbose=0, return_dict=True)
    return {key: float(value) for key, value in results.items()}


def save_model(model, path):
    with atomic.replacing(path, suffix=".keras") as tmp:
        model.save(tmp)


def format_metrics(values):
    return ", ".join(f"{key} {value:.4f}" for key, value in values.items())


def _verbosity(verbose):
    if verbose is not None:
        return verbose
    return 1 if sys.stdout.isatty() else 2
