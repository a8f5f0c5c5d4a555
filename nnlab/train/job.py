"""One model's training job: build it, train it through the loop, evaluate it and save it.

A plain run calls `train_model` once; a study (nnlab.train.study) once per variant, each with its own name.
"""

import dataclasses
import sys
import time
from pathlib import Path

from nnlab import data as data_lib
from nnlab.errors import NnlabError
from nnlab.results import atomic, checkpoint, rundir
from nnlab.results.history import HistoryFile


@dataclasses.dataclass
class TrainingJob:
    """Everything the loop needs for one model, and what figures and summaries read once it is trained."""

    experiment: object
    config: object
    splits: data_lib.Splits
    model: object
    run_dir: rundir.RunDir | None
    history: HistoryFile
    verbose: int
    strategy: object = None  # the tf.distribute strategy the model was built under
    metrics: dict = dataclasses.field(default_factory=dict)  # filled in when training ends
    initial_epoch: int = 0  # > 0 when resuming from a checkpoint
    checkpoint_path: Path | None = None  # where the loop saves per-chunk state for resuming
    tensorboard_dir: Path | None = None

    @property
    def where(self):
        return str(self.experiment.path)


def train_model(experiment, config, splits, setup, run_dir, verbose, name="", plot=True, controls=None):
    """Build, check, train, evaluate and save one model; return the finished TrainingJob.

    Writes history{-name}.csv, model{-name}.keras, tensorboard/{name} and, with `plot`, the learning-curve PNGs
    ({name}-<metric>.png). A study calls this once per variant with the variant's name (and draws one combined
    figure instead of per-variant curves); a plain run once with name "".
    """
    from nnlab.plots import curves
    from nnlab.train import loop, modeling
    from nnlab.train.controls import NoControls

    controls = controls or NoControls()
    model = modeling.prepare(experiment, config, splits, setup)
    suffix = f"-{name}" if name else ""
    checkpoint_path = run_dir.file(checkpoint.FILE.replace(".", f"{suffix}."))
    initial_epoch = 0
    if checkpoint_path.exists():
        with setup.strategy.scope():
            initial_epoch = checkpoint.restore(model, checkpoint_path)
        controls.restore(checkpoint.extra(checkpoint_path))
    history = HistoryFile(run_dir.file(f"history{suffix}.csv"))
    if initial_epoch:
        history.resume(before_epoch=initial_epoch)
        print(f"resuming{suffix or ''} at epoch {initial_epoch}", file=sys.stderr)
    tensorboard = run_dir.file("tensorboard")
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
        tensorboard_dir=tensorboard / name if name else tensorboard,
    )
    started = time.perf_counter()
    final = loop.train(job, controls)
    train_seconds = time.perf_counter() - started
    job.metrics = {
        "status": "done",
        "epochs_run": len(job.history.rows),
        "resumed_at_epoch": initial_epoch,
        "final": final,
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / max(1, len(job.history.rows) - initial_epoch),
    }
    if splits.test is not None:
        job.metrics["test"] = loop.evaluate(model, setup.strategy, splits.test)
        print(f"test{suffix}: {format_metrics(job.metrics['test'])}", file=sys.stderr)
    job.metrics.update(module_summary(job))  # e.g. the least-squares answer beside a line fit's w and b
    save_model(model, run_dir.file(f"model{suffix}.keras"))
    if plot:
        curves.plot_history(job.history.path, run_dir.path, prefix=f"{name}-" if name else "")
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


def save_model(model, path):
    with atomic.replacing(path, suffix=".keras") as tmp:
        model.save(tmp)


def format_metrics(values):
    return ", ".join(f"{key} {value:.4f}" for key, value in values.items())
