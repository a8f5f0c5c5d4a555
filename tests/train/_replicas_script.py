"""Runs under NNLAB_CPU_DEVICES=2 in a fresh process (logical devices are fixed once TensorFlow starts) for
tests/test_loop_replicas.py: every route under two replicas, and the one-replica runs to compare them with.

Prints one JSON line of what it saw; the test asserts on it. Argument: the results directory.
"""

import json
import os
import sys
from pathlib import Path

import keras
import numpy as np

from nnlab import NnlabError
from nnlab.sweeps import tuning
from nnlab.train import loop, runner

RESULTS = Path(sys.argv[1])
MNIST = ["epochs=2", "limit_examples=4000", "batch_size=32"]
# Two inputs as a dict, two outputs as a dict, and class weights on the first output alone (one_output=true):
# each replica takes its slice of every array, and of the sample weights.
STRUCTURED = """
import dataclasses
import keras
import numpy as np
import nnlab
from keras import layers
from nnlab.data import Splits

@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    loss: str = "sparse_categorical_crossentropy"
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    epochs: int = 4
    batch_size: int = 96
    validation_fraction: float = 0.0
    one_output: bool = True

def make_data(config):
    rng = np.random.default_rng(config.seed)
    a, b = rng.normal(size=(96, 2)).astype("float32"), rng.normal(size=(96, 1)).astype("float32")
    kind = (a[:, 0] + b[:, 0] > 0.8).astype("int64")
    y = kind if config.one_output else {"kind": kind, "sign": (a[:, 1] > 0).astype("int64")}
    return Splits(train=({"a": a, "b": b}, y))

def build_model(config):
    a, b = keras.Input(shape=(2,), name="a"), keras.Input(shape=(1,), name="b")
    hidden = layers.Dense(4, activation="tanh")(layers.Concatenate()([a, b]))
    kind = layers.Dense(2, activation="softmax", name="kind")(hidden)
    if config.one_output:
        return keras.Model({"a": a, "b": b}, kind)
    sign = layers.Dense(2, activation="softmax", name="sign")(hidden)
    return keras.Model({"a": a, "b": b}, {"kind": kind, "sign": sign})
"""


def env(run_dir):
    return json.loads((run_dir / "env.json").read_text())


def weights(run_dir, name="model.keras"):
    return keras.saving.load_model(run_dir / name).get_weights()


def with_replicas(count, function):
    """Run `function` with the loop under `count` replicas (1: NNLAB_CPU_DEVICES unset: the default strategy)."""
    if count == 1:
        saved = os.environ.pop("NNLAB_CPU_DEVICES")
        try:
            return function()
        finally:
            os.environ["NNLAB_CPU_DEVICES"] = saved
    return function()


def killed_after_epoch(epoch_count, overrides):
    """Stop a run after `epoch_count` epochs as a kill would (the run is left unfinished), then resume it."""
    original = loop.Progress.update

    def interrupt(self, epochs_done, row, seconds):
        original(self, epochs_done, row, seconds)
        if epochs_done >= epoch_count:
            raise KeyboardInterrupt

    loop.Progress.update = interrupt
    try:
        runner.run("mnist", overrides, results_dir=RESULTS / "resumed", verbose=0)
    except KeyboardInterrupt:
        pass
    finally:
        loop.Progress.update = original
    return runner.run("mnist", overrides, results_dir=RESULTS / "resumed", verbose=0, resume=True)


seen = {}
try:
    runner.run("mnist", ["batch_size=33"], results_dir=RESULTS / "odd", verbose=0)
    seen["odd_batch"] = "accepted"
except NnlabError as error:
    seen["odd_batch"] = str(error)
seen["odd_batch_wrote"] = (RESULTS / "odd").exists()
two = runner.run("mnist", MNIST, results_dir=RESULTS / "two", verbose=0)
one = with_replicas(1, lambda: runner.run("mnist", MNIST, results_dir=RESULTS / "one", verbose=0))
seen["mnist"] = {
    "env_two": {key: env(two.run_dir)[key] for key in ("strategy", "replicas", "per_replica_batch_size")},
    "env_one": {key: env(one.run_dir)[key] for key in ("strategy", "replicas")},
    "accuracy_two": two.metrics["test"]["accuracy"],
    "accuracy_one": one.metrics["test"]["accuracy"],
}
# Full-batch gradient descent with a hand-written step: the same math on one or two replicas.
line = ["points=2000", "epochs=30", "learning_rate=0.05", "batch_size=1600"]
line_two = runner.run("linreg", line, results_dir=RESULTS / "two", verbose=0)
line_one = with_replicas(1, lambda: runner.run("linreg", line, results_dir=RESULTS / "one", verbose=0))
seen["linreg"] = {"two": weights(line_two.run_dir), "one": weights(line_one.run_dir)}
study = runner.run("optimizers", ["epochs=1"], results_dir=RESULTS / "two", verbose=0)
seen["study"] = {name: record["test"]["accuracy"] for name, record in study.metrics["variants"].items()}
# Kill after the first of three epochs and resume, against a run never interrupted.
resume = ["epochs=3", "limit_examples=2000"]
whole = runner.run("mnist", resume, results_dir=RESULTS / "whole", verbose=0)
resumed = killed_after_epoch(1, resume)
pairs = list(zip(weights(whole.run_dir), weights(resumed.run_dir), strict=True))
seen["resume"] = {
    "resumed_at": resumed.metrics["resumed_at_epoch"],
    "bitwise": all(np.array_equal(a, b) for a, b in pairs),
    "largest_difference": max(float(np.max(np.abs(a - b))) for a, b in pairs),
}
# Structured data and class weights, full batch: the same math on one or two replicas.
(RESULTS / "experiments").mkdir()
(RESULTS / "experiments" / "structured.py").write_text(STRUCTURED)
structured = lambda *overrides: runner.run(  # noqa: E731
    "structured",
    list(overrides),
    results_dir=RESULTS / "structured",
    verbose=0,
    experiments_dir=RESULTS / "experiments",
)
weighted_two = structured("class_weight=balanced")
weighted_one = with_replicas(1, lambda: structured("class_weight=balanced"))
outputs_two = structured("one_output=false")
seen["structured"] = {
    "weights_two": [array.tolist() for array in weights(weighted_two.run_dir)],
    "weights_one": [array.tolist() for array in weights(weighted_one.run_dir)],
    "outputs_columns": sorted(outputs_two.metrics["final"]),
}
sweep = tuning.tune("mnist", ["max_trials=2", "epochs=1", "limit_examples=1000"], results_dir=RESULTS, verbose=0)
seen["sweep"] = {"counts": sweep.counts, "best_config": str(sweep.best_config)}
seen["linreg"] = {key: [array.tolist() for array in value] for key, value in seen["linreg"].items()}
print("RESULT " + json.dumps(seen))
