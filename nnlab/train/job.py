"""One trained model: build, check, train, evaluate and save it (a run trains one; a study one per variant)."""

import dataclasses
import sys
import time
from pathlib import Path

from nnlab import data as data_lib
from nnlab.errors import NnlabError
from nnlab.results import atomic, checkpoint, layout, rundir
from nnlab.results.history import HistoryFile


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
    if job.experiment.optional("summarize") is None:
        return {}
    extra = job.experiment.call_hook("summarize", job, signature="job", fix="Fix the summary in the module")
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


def verbosity(verbose):
    """Keras' verbosity: as given, else a progress bar on a terminal and one line per epoch otherwise."""
    if verbose is not None:
        return verbose
    return 1 if sys.stdout.isatty() else 2
