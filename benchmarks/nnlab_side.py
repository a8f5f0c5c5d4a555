"""The nnlab side of each benchmark: the real `nnlab.train.runner.run`, its figures read back from the run directory.

Each function trains one experiment in a temporary results directory and returns the same keys as the matching
seed program, so the harness can put them side by side:

- seconds:      metrics.json `train_seconds`: building the trainer, tracing/compiling and every epoch, with
                nnlab's per-epoch history.csv, checkpoint and TensorBoard writes; not data loading, not the test
                evaluation, not saving the model or drawing plots.
- wall_seconds: the whole `runner.run` call (all of the above plus data, test evaluation, model.keras, plots).
- warm_seconds: (GradientTape experiments) the compiled loop's seconds for every epoch after the first, from
                history.csv, scaled to all epochs. nnlab's first compiled call runs one epoch and includes tracing
                and XLA compilation, so this is the steady-state cost of the steps themselves.
"""

import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from nnlab import experiment as experiment_lib
from nnlab.reference import linear_fit
from nnlab.train import runner

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def mnist(epochs, limit_examples, seed):
    """`nnlab run mnist` with these fields; test and validation accuracy, seconds and per-epoch seconds."""
    metrics, history, wall = _run("mnist", {"epochs": epochs, "limit_examples": limit_examples, "seed": seed})
    return {
        "seconds": metrics["train_seconds"],
        "wall_seconds": wall,
        "epoch_seconds": [row["seconds"] for row in history],
        "test_accuracy": metrics["test"]["accuracy"],
        "val_accuracy": metrics["final"]["val_accuracy"],
    }


def linefit(epochs, seed):
    """`nnlab run linefit` on all 100 points (validation_fraction=0, as the seed): w, b and MSE over the points."""
    return _line("linefit", {"epochs": epochs, "seed": seed, "validation_fraction": 0})


def linreg(steps, seed):
    """`nnlab run linreg` on all 100,000 points (validation_fraction=0, as the seed), one full batch per epoch."""
    return _line("linreg", {"epochs": steps, "seed": seed, "validation_fraction": 0})


def _line(name, overrides):
    experiment = experiment_lib.load(name, EXPERIMENTS)
    config = experiment.config(overrides)
    x, y = experiment.module.make_data(config).train  # the points nnlab trains on, to score w and b the same way
    metrics, history, wall = _run(name, overrides)
    learned = metrics.get("learned") or metrics["final"]  # summarize()'s entry when the experiment writes one
    w, b = float(learned["w"]), float(learned["b"])
    later = [row["seconds"] for row in history[1:]]
    steps_per_epoch = -(-len(x) // min(config.batch_size, len(x)))
    return {
        "seconds": metrics["train_seconds"],
        "wall_seconds": wall,
        "warm_seconds": sum(later) * len(history) / len(later) if later else None,
        "steps": steps_per_epoch * len(history),
        "w": w,
        "b": b,
        "loss": linear_fit.mse(x, y, w, b),
        "least_squares_loss": linear_fit.mse(x, y, *linear_fit.least_squares(x, y)),
    }


def _run(name, overrides):
    with tempfile.TemporaryDirectory(prefix=f"nnlab-bench-{name}-") as results:
        started = time.perf_counter()
        result = runner.run(name, overrides, results_dir=results, verbose=0, experiments_dir=EXPERIMENTS)
        wall = time.perf_counter() - started
        with open(Path(result.run_dir) / "history.csv", newline="") as handle:
            history = [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(handle)]
    return result.metrics, history, wall


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return np.nan
