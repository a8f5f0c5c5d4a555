"""Mixed precision on a CPU: a bfloat16 smoke epoch, float16's warning, hand-written steps (train/precision.py)."""

import json

import keras
import numpy as np
import pytest

import nnlab
from nnlab.results import console
from nnlab.train import precision

HANDWRITTEN = """
    import dataclasses
    import keras
    import numpy as np
    import tensorflow as tf
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "mse"
        epochs: int = 2
        batch_size: int = 16
        learning_rate: float = 0.05
        optimizer: str = "sgd"

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(96, 3)).astype("float32")
        return Splits(train=(x, x.sum(axis=1, keepdims=True)))

    def build_model(config):
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(8), keras.layers.Dense(1)])

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((model(x, training=True) - y) ** 2)
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss
"""


def test_mnist_smoke_epoch_in_mixed_bfloat16(repo_experiments, results_dir):
    result = nnlab.run(
        "mnist", {"precision": "mixed_bfloat16", "epochs": 1, "limit_examples": 300}, results_dir=results_dir
    )
    run = nnlab.load(result.run_dir)
    assert np.isfinite(run.history[["loss", "val_loss"]].to_numpy()).all() and run.metrics["test"]["accuracy"] > 0.2
    model = run.model()
    assert [layer.dtype_policy.name for layer in model.layers] == ["mixed_bfloat16"] * 3 + ["float32"]
    assert model(np.zeros((1, 28, 28), "float32")).dtype == "float32"  # the loss saw float32 outputs
    assert keras.mixed_precision.global_policy().name == "float32"  # put back for whatever runs next
    assert json.loads((result.run_dir / "env.json").read_text())["precision"] == {
        "requested": "mixed_bfloat16",
        "policy": "mixed_bfloat16",
    }


def test_mixed_float16_on_a_cpu_runs_with_one_warning_line(make_experiment, results_dir, capsys):
    make_experiment("fit", HANDWRITTEN.replace("def train_step", "def unused_step"))
    console.said.clear()
    for _ in range(2):
        nnlab.run("fit", {"precision": "mixed_float16"}, results_dir=results_dir)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        "nnlab: warning: precision=mixed_float16 on a CPU: float16 math is emulated there and will be slow; "
        "use float32 or mixed_bfloat16 on a CPU."
    ]
    assert precision.resolve("auto") == "float32"  # no GPU here


def test_handwritten_steps_work_in_bfloat16_and_are_refused_in_float16(make_experiment, results_dir):
    make_experiment("fit", HANDWRITTEN)
    result = nnlab.run("fit", {"precision": "mixed_bfloat16"}, results_dir=results_dir)
    history = nnlab.load(result.run_dir).history
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    with pytest.raises(nnlab.NnlabError, match="precision=mixed_float16 needs loss scaling.*mixed_bfloat16"):
        nnlab.run("fit", {"precision": "mixed_float16"}, results_dir=results_dir)


def test_a_policy_the_module_set_at_import_is_named_in_one_warning(make_experiment, results_dir, capsys):
    """The module's own set_global_policy would be replaced in silence by Config's precision: one line says so."""
    source = HANDWRITTEN.replace("def train_step", "def unused_step").replace(
        "    def make_data", '    keras.mixed_precision.set_global_policy("mixed_bfloat16")\n\n    def make_data'
    )
    try:
        make_experiment("policy", source)
        for _ in range(2):
            result = nnlab.run("policy", {"epochs": 1}, results_dir=results_dir)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    warnings = [line for line in capsys.readouterr().err.splitlines() if "global dtype policy" in line]
    assert len(warnings) == 1 and "is mixed_bfloat16" in warnings[0], warnings
    assert "set precision=mixed_bfloat16 in Config" in warnings[0]
    assert json.loads((result.run_dir / "env.json").read_text())["precision"]["policy"] == "float32"
