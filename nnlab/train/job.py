"""One trained model: build, check, train, evaluate and save it (a run trains one; a study one per variant)."""

import dataclasses
import json
import math
import sys
import time
from pathlib import Path

from nnlab import data as data_lib
from nnlab.errors import NnlabError
from nnlab.results import atomic, checkpoint, console, layout, limits, rundir, text
from nnlab.results.history import HistoryFile


@dataclasses.dataclass
class TrainingJob:
    """Everything the loop (nnlab.train.loop) needs for one model, and what figures and summaries read after it."""

    experiment: object
    config: object
    splits: data_lib.Splits
    model: object
    run_dir: rundir.RunDir | None  # None for a sweep trial, which keeps its files in the trial directory
    history: HistoryFile
    verbose: int
    strategy: object = None  # the tf.distribute strategy the model was built under
    metrics: dict = dataclasses.field(default_factory=dict)  # filled in when training ends
    initial_epoch: int = 0  # > 0 when resuming from a checkpoint
    checkpoint_path: Path | None = None  # where the loop saves its state after every compiled chunk
    tensorboard_dir: Path | None = None

    @property
    def where(self):
        return str(self.experiment.path)


def train_model(experiment, config, splits, setup, run_dir, verbose, name="", plot=True, controls=None):
    """Build, check, train, evaluate and save one model; return the finished TrainingJob.

    Writes history{-name}.csv, model{-name}.keras, tensorboard/[name/] and, with `plot`, the learning-curve PNGs
    ({name}-<metric>.png). A study calls this once per variant with the variant's name (and draws one combined
    figure instead of per-variant curves); a plain run once with name "".
    """
    from nnlab.plots import curves
    from nnlab.train import controls as controls_lib
    from nnlab.train import loop, modeling, shape_errors

    model = modeling.prepare(experiment, config, splits, setup)
    # Early stopping and the learning-rate schedule from the config (none with the defaults).
    controls = controls or controls_lib.make(config, model, str(experiment.path))
    suffix = f"-{name}" if name else ""
    checkpoint_path = run_dir.file(layout.checkpoint(name))
    initial_epoch = 0
    if checkpoint_path.exists():
        with setup.strategy.scope():  # mirrored variables take the saved values on every replica
            initial_epoch = checkpoint.restore(model, checkpoint_path)
        controls.restore(checkpoint.extra(checkpoint_path))
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
        strategy=setup.strategy,
        initial_epoch=initial_epoch,
        checkpoint_path=checkpoint_path,
        tensorboard_dir=run_dir.file(layout.TENSORBOARD) / name if name else run_dir.file(layout.TENSORBOARD),
    )
    earlier_seconds = sum(row["seconds"] for row in history.rows if isinstance(row.get("seconds"), float))  # resumed
    started = time.perf_counter()
    try:
        final = loop.train(job, controls)
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
    job.metrics.update(stopping_record(controls, job.history.rows))
    stopping = job.metrics.get("early_stopping", {})
    if stopping.get("stopped_early"):
        print(f"stopped early{suffix}: {stopping['reason']}; kept epoch {stopping['kept_epoch']}", file=sys.stderr)
    if splits.test is not None:  # with the kept weights: controls.finish restored the best epoch's
        job.metrics["test"] = loop.evaluate(model, setup.strategy, splits.test)
        print(f"test{suffix}: {format_metrics(job.metrics['test'])}", file=sys.stderr)
    save_model(model, run_dir.file(layout.model(name)))
    try:  # after saving: a broken post-training hook must not throw away a trained model
        job.metrics.update(module_summary(job))  # e.g. the least-squares answer beside a line fit's w and b
    except NnlabError as error:
        job.metrics.setdefault("errors", {})["summarize"] = str(error)
    if plot:
        curves.plot_history(job.history.path, run_dir.path, variant=name)
    return job


def stopping_record(controls, rows):
    """The `early_stopping` entry of metrics.json: where and why training stopped, and the kept epoch's row."""
    summary = controls.summary()
    if not summary:
        return {}
    kept = next((row for row in rows if row["epoch"] == summary["kept_epoch"]), {})
    return {"early_stopping": {**summary, "kept": {key: value for key, value in kept.items() if key != "seconds"}}}


WRITTEN_LATER = {"test", "early_stopping", "errors"}  # metrics.json entries nnlab writes only in some runs


def module_summary(job):
    """Entries for metrics.json from the experiment's optional `summarize(job)` hook ({} without one)."""
    if job.experiment.optional("summarize") is None:
        return {}
    extra = job.experiment.call_hook("summarize", job, signature="job", fix="Fix the summary in the module")
    if not isinstance(extra, dict):
        raise NnlabError(
            f"{job.where}: summarize(job) must return a dict for metrics.json, got {type(extra).__name__}."
        )
    extra = json_safe(extra, f"{job.where}: summarize(job) returned")
    clash = sorted(set(extra) & (set(job.metrics) | WRITTEN_LATER))
    if clash:
        raise NnlabError(
            f"{job.where}: summarize(job) returned {', '.join(clash)}, which nnlab already writes to metrics.json; "
            f"rename those keys."
        )
    size = len(json.dumps({**job.metrics, **extra}, indent=2, default=str).encode())  # as atomic.write_json writes
    if size > limits.JSON_MAX_BYTES:
        raise NnlabError(
            f"{job.where}: summarize(job) returned so much that metrics.json would be {size:,} bytes, more than the "
            f"{limits.JSON_MAX_BYTES:,} nnlab reads back; return a summary and save large arrays to a file of your own."
        )
    return extra


def json_safe(value, where, path="", depth=0):
    """`value` as metrics.json holds it: NumPy scalars and arrays (and tensors) as numbers and nested lists, tuples as
    lists, sets as sorted lists, NaN and +-inf as null. NnlabError names the entry for a non-string key, a value JSON
    has no form for, or nesting deeper than nnlab reads back (limits.JSON_MAX_DEPTH)."""
    import numpy as np

    at = f"at {path}" if path else "at the top"
    if depth > limits.JSON_MAX_DEPTH - 2:  # metrics.json wraps the entries in one object of its own
        raise NnlabError(f"{where} values nested deeper than {limits.JSON_MAX_DEPTH - 2} levels ({at}); flatten them.")
    if hasattr(value, "__array__") and not isinstance(value, np.ndarray | np.generic):  # a tensor or variable
        value = np.asarray(value)
    if isinstance(value, np.ndarray | np.generic):
        value = value.tolist()  # Python numbers, strings and lists, checked below like any other value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    if isinstance(value, dict):
        safe = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NnlabError(
                    f"{where} the key {text.quoted(key)} ({type(key).__name__}) {at}; metrics.json (JSON) has string "
                    f"keys only: use str(key)."
                )
            safe[key] = json_safe(item, where, f"{path}.{key}" if path else key, depth + 1)
        return safe
    if isinstance(value, set | frozenset):
        value = _sorted(value)
    if isinstance(value, list | tuple):
        return [json_safe(item, where, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
    raise NnlabError(
        f"{where} a {type(value).__name__} {at}, which metrics.json cannot hold; return numbers, strings, lists or "
        f"dicts of them (e.g. str(value))."
    )


def _sorted(items):
    """A set's items in order; mixed types (1 and "a") by type name first, so the order never depends on hashing."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda item: (type(item).__name__, repr(item)))


def save_model(model, path):
    with atomic.replacing(path, suffix=".keras") as tmp:
        model.save(tmp)


def format_metrics(values):
    return ", ".join(f"{key} {value:.4f}" for key, value in values.items())


def verbosity(verbose):
    """Keras' verbosity: as given, else a progress bar on a terminal and one line per epoch otherwise."""
    if verbose is not None:
        return verbose
    return 1 if console.is_terminal(sys.stdout) else 2
