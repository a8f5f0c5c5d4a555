"""TensorBoard logs of a sweep: the HParams dashboard's search space, and one session per trial.

    tensorboard --logdir results/<exp>/sweeps/<sweep-id>      (or: make tensorboard EXP=<exp>)

Written under the sweep directory's tensorboard/: the experiment summary (every swept field with its domain, and
the objective as the metric) once, when the sweep starts; then, as each trial ends, tensorboard/trial_<id>/ with
the trial's values (one HParams session) and its history as per-epoch scalars, plus `objective`, the trial's best
epoch's value, which is what the dashboard compares. The trial logs are written from the trial's history.csv, so
any process that refreshes the sweep's tables (a standalone tuner or a distributed chief) writes the same logs.
"""

import math
import shutil
from pathlib import Path

from nnlab import search_space
from nnlab.results import history, layout

OBJECTIVE_TAG = "objective"
ENDED = ("COMPLETED", "FAILED")


def logs_dir(sweep_dir):
    return Path(sweep_dir) / layout.TENSORBOARD


def write_search_space(sweep_dir, space, objective, direction):
    """The HParams experiment summary: the domains of the swept fields and the metrics; written once per sweep."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    directory = logs_dir(sweep_dir)
    if any(directory.glob("events.out.tfevents.*")):  # a resumed sweep keeps its one experiment summary
        return
    metrics = [
        hp.Metric(OBJECTIVE_TAG, display_name=f"best {objective} ({direction})"),
        hp.Metric(objective, display_name=f"{objective}, last epoch"),
    ]
    writer = tf.summary.create_file_writer(str(directory))
    with writer.as_default():
        hp.hparams_config(hparams=[_hparam(name, spec) for name, spec in space.items()], metrics=metrics)
    writer.close()


def write_trials(sweep_dir, summary_rows, fields):
    """Logs for every ended trial (a trials.csv row) that has none yet, from the trial's own history.csv."""
    from nnlab.sweeps import tables

    for row in summary_rows:
        directory = logs_dir(sweep_dir) / layout.trial_dir(row["trial_id"])
        if row["status"] not in ENDED or (directory / layout.TENSORBOARD_WRITTEN).exists():
            continue
        shutil.rmtree(directory, ignore_errors=True)  # a process killed mid-write leaves a partial log
        trial_history = history.read_rows(
            tables.project_dir(sweep_dir) / layout.trial_dir(row["trial_id"]) / layout.TRIAL_HISTORY
        )
        write_trial(directory, row, trial_history, fields)
        (directory / layout.TENSORBOARD_WRITTEN).touch()


def write_trial(directory, row, epochs, fields):
    """One HParams session: the trial's values, every history column per epoch, and its best objective."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    values = {field: _value(row[field]) for field in fields if row.get(field, "") != ""}
    writer = tf.summary.create_file_writer(str(directory))
    with writer.as_default():
        hp.hparams(values, trial_id=str(row["trial_id"]))
        for epoch_row in epochs:
            for key, value in epoch_row.items():
                if key not in ("epoch", "execution") and isinstance(value, float) and math.isfinite(value):
                    tf.summary.scalar(key, value, step=int(epoch_row["epoch"]))
        best = row.get("best_objective")
        if isinstance(best, float) and math.isfinite(best):
            tf.summary.scalar(OBJECTIVE_TAG, best, step=int(row["best_epoch"]))
    writer.close()


def _hparam(name, spec):
    from tensorboard.plugins.hparams import api as hp

    if isinstance(spec, search_space.Float):
        return hp.HParam(name, hp.RealInterval(float(spec.min_value), float(spec.max_value)))
    if isinstance(spec, search_space.Int):
        return hp.HParam(name, hp.IntInterval(int(spec.min_value), int(spec.max_value)))
    values = list(getattr(spec, "values", ()))
    if values and len({type(value) for value in values}) == 1:
        return hp.HParam(name, hp.Discrete(values))
    return hp.HParam(name)  # mixed types: the dashboard shows the values without a declared domain


def _value(value):
    """A trials.csv cell as HParams wants it: bool, int, float or str."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
