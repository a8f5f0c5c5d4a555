"""Module code as users write it, through the real command on a tiny regression: every Config field type trains and
re-runs from its own config.json; sys.exit in module code is one paragraph, never a silent exit; summarize's NumPy
values, sets and tuples land in metrics.json; a summarize that fails leaves the run done and no checkpoint."""

import json
import math
import textwrap

import pytest

from nnlab import cli

REGRESSION = """
    import dataclasses
    import sys
    from typing import Literal, Optional

    import keras
    import numpy as np
    import tensorflow as tf

    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "mse"
        metrics: tuple = ("mae",)  # bare tuple, list, dict, Optional and Literal: every kind the type rule allows
        optimizer: str = "sgd"
        learning_rate: float = 0.05
        epochs: int = 2
        batch_size: int = 16
        hidden: list = dataclasses.field(default_factory=lambda: [4])
        scale: dict = dataclasses.field(default_factory=lambda: {"x": 1.0})
        cap: Optional[int] = None
        activation: Literal["relu", "tanh"] = "tanh"

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(96, 1)).astype("float32") * config.scale["x"]
        y = 3 * x + 1
        return Splits(train=(x[:80], y[:80]), test=(x[80:], y[80:]))

    def build_model(config):
        layers = [keras.layers.Dense(units, activation=config.activation) for units in config.hidden]
        return keras.Sequential([keras.Input(shape=(1,)), *layers, keras.layers.Dense(1)])
"""

STEP = """
    def train_step(model, optimizer, x, y):
        sys.exit(3)
"""


def nnlab(make_experiment, capsys, source, *arguments, results):
    make_experiment("hooks", textwrap.dedent(REGRESSION) + textwrap.dedent(source), load=False)
    before = set((results / "hooks").glob("*"))
    code = cli.main(["--results", str(results), "run", "hooks", *arguments])
    err = capsys.readouterr().err
    made = sorted(set((results / "hooks").glob("*")) - before)  # run ids of one second do not sort by time
    return code, err, made[-1] if made else None


def test_every_field_type_trains_and_reruns_from_its_own_config_json(make_experiment, capsys, results_dir):
    overrides = ["metrics=mae,mse", "hidden=8,4", 'scale={"x": 2.0}', "cap=3", "activation=relu", "epochs=1"]
    code, err, first = nnlab(make_experiment, capsys, "", *overrides, results=results_dir)
    assert code == 0, err
    saved = json.loads((first / "config.json").read_text())["config"]
    assert (saved["metrics"], saved["hidden"], saved["scale"], saved["cap"]) == (["mae", "mse"], [8, 4], {"x": 2.0}, 3)
    assert "val_mse" in (first / "history.csv").read_text().splitlines()[0]
    code, err, second = nnlab(make_experiment, capsys, "", f"from={first / 'config.json'}", results=results_dir)
    assert code == 0, err
    assert json.loads((second / "config.json").read_text())["config"] == saved
    assert (second / "history.csv").read_text().split("seconds")[0] == (first / "history.csv").read_text().split(
        "seconds"
    )[0]


EXITS = {  # hook: (text of the module to replace, its replacement), the call
    "build_model": (("def build_model(config):\n", "def build_model(config):\n    sys.exit(0)\n"), "sys.exit(0)"),
    "make_data": (
        ("def make_data(config):\n", "def make_data(config):\n    sys.exit('no data')\n"),
        "sys.exit('no data')",
    ),
    "track": (("", "def track(model):\n    sys.exit(0)\n"), "sys.exit(0)"),
    "train_step": (("", textwrap.dedent(STEP)), "sys.exit(3)"),
}


@pytest.mark.parametrize("hook", EXITS)
def test_module_code_that_exits_is_one_paragraph_and_a_failed_run(make_experiment, capsys, results_dir, hook):
    (old, new), call = EXITS[hook]
    base = textwrap.dedent(REGRESSION)
    make_experiment("hooks", base.replace(old, new) if old else base + new, load=False)
    code = cli.main(["--results", str(results_dir), "run", "hooks", "epochs=1"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("nnlab: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert f"{hook}() exits the process ({call} at line" in errors[0] and "raise an exception" in errors[0]
    (run_dir,) = (results_dir / "hooks").glob("*")
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and f"{hook}() exits the process" in status["message"]
    assert errors[0].endswith("marked failed]")


SUMMARIES = """
    def summarize(job):
        kind = job.config.activation  # relu: plain values; tanh: a tuple key
        weights = job.model.get_weights()
        if kind == "tanh":
            return {("w", 0): 1}
        return {
            "bias": weights[-1],  # a NumPy array
            "kernel_norm": np.linalg.norm(weights[-2]),  # a NumPy scalar
            "seen": {3, 1, 2},
            "pair": (1, float("nan")),
            "limits": [np.inf, -np.inf, np.float32(0.5)],
            "nested": {"by_layer": [np.arange(2), np.int64(7)], "tensor": tf.constant([1.5, 2.5])},
        }
"""


def test_summarize_values_become_json_and_a_bad_key_is_a_hook_error(make_experiment, capsys, results_dir):
    code, err, run_dir = nnlab(make_experiment, capsys, SUMMARIES, "activation=relu", "epochs=1", results=results_dir)
    assert code == 0, err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert isinstance(metrics["bias"], list) and len(metrics["bias"]) == 1 and isinstance(metrics["bias"][0], float)
    assert isinstance(metrics["kernel_norm"], float) and math.isfinite(metrics["kernel_norm"])
    assert metrics["seen"] == [1, 2, 3] and metrics["pair"] == [1, None] and metrics["limits"] == [None, None, 0.5]
    assert metrics["nested"] == {"by_layer": [[0, 1], 7], "tensor": [1.5, 2.5]}

    code, err, run_dir = nnlab(make_experiment, capsys, SUMMARIES, "activation=tanh", "epochs=1", results=results_dir)
    assert code == 1 and "Traceback" not in err, err
    assert "nnlab: error: after training, summarize failed:" in err and "the key ('w', 0) (tuple)" in err
    assert json.loads((run_dir / "status.json").read_text())["status"] == "done"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "test" in metrics and "string keys only" in metrics["errors"]["summarize"]
    assert (run_dir / "model.keras").exists() and not list(run_dir.glob("checkpoint*.npz"))


def test_summarize_that_exits_is_a_hook_error_of_a_done_run(make_experiment, capsys, results_dir):
    source = "\ndef summarize(job):\n    sys.exit(0)\n"
    code, err, run_dir = nnlab(make_experiment, capsys, source, "epochs=1", results=results_dir)
    assert code == 1, err
    assert "nnlab: error: after training, summarize failed:" in err and "summarize() exits the process" in err
    assert json.loads((run_dir / "status.json").read_text())["status"] == "done"
    assert "summarize" in json.loads((run_dir / "metrics.json").read_text())["errors"]
    assert not list(run_dir.glob("checkpoint*.npz"))
