"""The runner end to end on tiny synthetic data: files written, failures marked, results reproducible."""

import json
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from nnlab import NnlabError
from nnlab.results import rundir
from nnlab.train import runner

TINY = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 3
        batch_size: int = 16
        learning_rate: float = 0.01
        width: int = 8
        corrupt: str = ""          # a way for tests to feed bad data through the real path

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(200, 2)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int64")
        if config.corrupt == "nan":
            x[5, 1] = np.nan
        if config.corrupt == "labels":
            y[3] = 7
        if config.corrupt == "empty":
            return Splits(train=(x, y), test=(x[:0], y[:0]))
        return Splits(train=(x[:160], y[:160]), test=(x[160:], y[160:]))

    def build_model(config):
        inputs = 3 if config.corrupt == "shape" else 2
        return keras.Sequential([keras.Input(shape=(inputs,)), keras.layers.Dense(config.width, activation="relu"),
                                 keras.layers.Dense(2, activation="softmax")])
"""


@pytest.fixture
def tiny(make_experiment):
    return make_experiment("tiny", TINY)


def test_run_writes_a_complete_run_directory(tiny, results_dir):
    result = runner.run("tiny", ["epochs=3"], results_dir=results_dir, verbose=0)
    path = result.run_dir
    assert path.parent == results_dir / "tiny"
    for name in (
        "config.json",
        "env.json",
        "history.csv",
        "metrics.json",
        "model.keras",
        "status.json",
        "loss.png",
        "accuracy.png",
    ):
        assert (path / name).stat().st_size > 0, name
    history = pd.read_csv(path / "history.csv")
    for part, column in (("train", "loss"), ("validation", "val_loss")):
        events = EventAccumulator(str(path / "tensorboard" / part)).Reload()
        logged = events.Scalars("epoch_loss")
        assert [event.step for event in logged] == list(history["epoch"])
        assert [event.value for event in logged] == pytest.approx(list(history[column]), rel=1e-6)
    config = json.loads((path / "config.json").read_text())
    assert config["config"]["epochs"] == 3 and config["overrides"] == {}
    env = json.loads((path / "env.json").read_text())
    assert env["seed"] == 0 and env["devices"]["used"] in ("CPU", "GPU") and "tensorflow" in env
    history = pd.read_csv(path / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2]
    assert list(history.columns) == [
        "epoch",
        "accuracy",
        "loss",
        "val_accuracy",
        "val_loss",
        "seconds",
        "learning_rate",
    ]
    assert np.allclose(history["learning_rate"], 0.01)
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert json.loads((path / "status.json").read_text())["status"] == "done"


def test_training_actually_learns(tiny, results_dir):
    metrics = runner.run("tiny", ["epochs=15"], results_dir=results_dir, verbose=0).metrics
    assert metrics["test"]["accuracy"] >= 0.9  # a linearly separable problem


def test_same_seed_gives_identical_history_and_weights(tiny, results_dir):
    first = runner.run("tiny", ["seed=5"], results_dir=results_dir, verbose=0).run_dir
    second = runner.run("tiny", ["seed=5"], results_dir=results_dir, verbose=0).run_dir
    other = runner.run("tiny", ["seed=6"], results_dir=results_dir, verbose=0).run_dir
    metrics_only = lambda path: pd.read_csv(path / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(metrics_only(first), metrics_only(second), check_exact=True)
    assert not metrics_only(first).equals(metrics_only(other))


def test_override_changes_the_run_and_is_recorded(tiny, results_dir):
    path = runner.run("tiny", ["epochs=1", "width=3"], results_dir=results_dir, verbose=0).run_dir
    assert json.loads((path / "config.json").read_text())["overrides"] == {"epochs": 1, "width": 3}


def test_bad_override_fails_before_anything_is_written(tiny, results_dir):
    with pytest.raises(NnlabError, match="unknown config field 'epoch'"):
        runner.run("tiny", ["epoch=1"], results_dir=results_dir)
    assert not results_dir.exists()


def test_unknown_figure_fails_before_anything_is_written(make_experiment, results_dir):
    make_experiment("tiny", textwrap.dedent(TINY) + "\nFIGURES = ('no_such_figure',)\n")
    with pytest.raises(NnlabError, match=r"tiny\.py: FIGURES names 'no_such_figure'.*known figures: .*line_fit"):
        runner.run("tiny", [], results_dir=results_dir)
    assert not results_dir.exists()


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["corrupt=nan"], "inputs contain 1 NaN"),
        (["corrupt=labels"], r"labels range over \[0, 7\]"),
        (["corrupt=empty"], "test split is empty"),
        (["corrupt=shape"], r"cannot take .* inputs of shape \(2,\)"),
        (["learning_rate=1e30"], "training loss became"),
        (["optimizer=adamm"], "field 'optimizer' is 'adamm'"),
        (["loss=nonsense"], "field 'loss' names 'nonsense'"),
    ],
)
def test_bad_input_marks_the_run_failed(tiny, results_dir, overrides, match):
    with pytest.raises(NnlabError, match=match) as error:
        runner.run("tiny", overrides + ["epochs=2"], results_dir=results_dir, verbose=0)
    [path] = (results_dir / "tiny").iterdir()
    status = json.loads((path / "status.json").read_text())
    assert status["status"] == "failed" and status["message"] in str(error.value)
    assert "tiny.py" in str(error.value) or "make_data" in str(error.value)
    assert not (path / "metrics.json").exists() and not (path / "model.keras").exists()
    assert not [p for p in path.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_run_ids_never_collide(tmp_path):
    made = []
    threads = [threading.Thread(target=lambda: made.append(rundir.create(tmp_path, "x").path)) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 40


def test_real_mnist_trains_on_a_subset(repo_experiments, results_dir):
    """The seed model on 3,000 real MNIST images: far above chance, so the real data path is wired right."""
    metrics = runner.run("mnist", ["epochs=2", "limit_examples=3000"], results_dir=results_dir, verbose=0).metrics
    assert metrics["test"]["accuracy"] > 0.8
