"""class_weight as fit has it: balanced or explicit weights on the training loss only, through Keras' sample
weights, each weight following its example through the loop's shuffled batches; refused where it cannot apply."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from nnlab import NnlabError, cli
from nnlab import config as config_lib
from nnlab.train import class_weights, runner

# A softmax over 2 classes that starts at p = (0.881, 0.119) for every example (zero kernel, bias (2, 0)), trained
# at a rate too small to move it: each example's loss is known exactly, -ln p[label], so the epoch's training loss
# tells whether every example carried its own class's weight through the shuffled batches.
FIXED_START = """
    import dataclasses
    import keras
    import numpy as np
    import tensorflow as tf
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        optimizer: str = "sgd"
        learning_rate: float = 1e-9
        epochs: int = 2
        batch_size: int = 7
        validation_fraction: float = 0.2
        one_hot: bool = False

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(60, 2)).astype("float32")
        y = (rng.random(60) < 0.2).astype("int64")  # about one example in five is class 1
        if config.one_hot:
            y = np.eye(2, dtype="float32")[y]
        return Splits(train=(x[:50], y[:50]), test=(x[50:], y[50:]))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(
            2, activation="softmax", kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant([2.0, 0.0]))])
"""
LOSS = {0: -math.log(math.exp(2) / (math.exp(2) + 1)), 1: -math.log(1 / (math.exp(2) + 1))}


def expected_loss(labels, weights):
    """The mean over examples of weight * -ln p[label]: Keras' sum-over-batch-size reduction, batch by batch."""
    return float(np.mean([weights.get(label, 1.0) * LOSS[label] for label in labels]))


@pytest.mark.parametrize(
    "overrides, settings",
    [([], ["", "balanced"]), (["one_hot=true", "loss=categorical_crossentropy"], ["0:1.0,1:5.0"])],
    ids=["indices", "one-hot"],
)
def test_weights_reach_the_training_loss_only_each_with_its_example(make_experiment, results_dir, overrides, settings):
    experiment = make_experiment("weighted", FIXED_START)
    config = experiment.config(overrides)
    y = np.asarray(experiment.load_splits(config).train[1])
    labels = (y.argmax(axis=1) if y.ndim == 2 else y).tolist()  # the training split after the holdout
    counts = {label: labels.count(label) for label in (0, 1)}
    balanced = {label: len(labels) / (2 * count) for label, count in counts.items()}
    cases = {"": {}, "balanced": balanced, "0:1.0,1:5.0": {0: 1.0, 1: 5.0}}
    for setting in settings:
        weights = cases[setting]
        result = runner.run("weighted", [*overrides, f"class_weight={setting}"], results_dir=results_dir, verbose=0)
        table = pd.read_csv(result.run_dir / "history.csv")
        assert table["loss"].iloc[0] == pytest.approx(expected_loss(labels, weights), rel=1e-5), setting
        assert table["loss"].iloc[1] == pytest.approx(expected_loss(labels, weights), rel=1e-5), setting  # reshuffled
        validation = np.asarray(experiment.load_splits(config).validation[1])
        validation = (validation.argmax(axis=1) if validation.ndim == 2 else validation).tolist()
        assert table["val_loss"].iloc[-1] == pytest.approx(expected_loss(validation, {}), rel=1e-5)  # unweighted
        test = np.asarray(experiment.module.make_data(config).test[1])
        test = (test.argmax(axis=1) if test.ndim == 2 else test).tolist()
        assert result.metrics["test"]["loss"] == pytest.approx(expected_loss(test, {}), rel=1e-5)
        assert json.loads((result.run_dir / "config.json").read_text())["config"]["class_weight"] == setting


def test_balanced_is_n_over_k_times_each_class_count():
    config = config_lib.Config(class_weight="balanced")
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2])[:, None]  # (N, 1) class indices
    weights = class_weights.sample_weights(config, (np.zeros((10, 1)), labels), False, "e.py", outputs=3)
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights, [10 / 18] * 6 + [10 / 6] * 4, rtol=1e-6)
    explicit = config_lib.Config(class_weight=" 2:0.5 , 0:3")
    weights = class_weights.sample_weights(explicit, (np.zeros((3, 1)), np.array([0, 1, 2])), False, "e.py", 3)
    np.testing.assert_allclose(weights, [3.0, 1.0, 0.5])  # a class not named weighs 1, as in fit


@pytest.mark.parametrize(
    "setting, train, handwritten, outputs, match",
    [
        ("balanced", (np.zeros((2, 1)), np.array([0, 1])), True, 2, "hand-written train_step computes its own loss"),
        ("balanced", (np.zeros((2, 1)), {"a": np.zeros(2), "b": np.zeros(2)}), False, 1, "several outputs"),
        ("balanced", (np.zeros((2, 1)), np.array([0.5, 1.0])), False, 1, "needs class labels: class indices"),
        ("balanced", (np.zeros((2, 1)), np.array([[0.2, 0.8], [1.0, 0.0]])), False, 2, "or one-hot rows"),
        ("0:1,7:2", (np.zeros((2, 1)), np.array([0, 1])), False, 1, "names class 7, but the model tells 2 classes"),
    ],
    ids=["hand-written step", "two outputs", "float labels", "soft labels", "unknown class"],
)
def test_refusals_are_one_paragraph(setting, train, handwritten, outputs, match):
    config = config_lib.Config(class_weight=setting)
    with pytest.raises(NnlabError, match=match) as caught:
        class_weights.sample_weights(config, train, handwritten, "experiments/e.py", outputs)
    assert str(caught.value).startswith("experiments/e.py: class_weight=") and "\n" not in str(caught.value)


@pytest.mark.parametrize("text", ["heavy", "0:1,0:2", "-1:2", "0:-1", "0:nan", "0=1", "a:1"])
def test_a_malformed_setting_is_refused_as_a_config_error(text):
    with pytest.raises(NnlabError, match="Config field 'class_weight' must be empty, balanced, or class:weight"):
        config_lib.Config(class_weight=text).check()


def test_a_run_refuses_class_weight_for_soft_labels_before_training(make_experiment, results_dir, capsys):
    soft = 'y = rng.dirichlet([1.0, 1.0], size=60).astype("float32")'
    make_experiment("weighted", FIXED_START.replace('y = (rng.random(60) < 0.2).astype("int64")', soft))
    loss = "loss=categorical_crossentropy"
    code = cli.main(["--results", str(results_dir), "run", "weighted", loss, "class_weight=balanced"])
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error and "needs class labels" in error
    [run_dir] = (results_dir / "weighted").iterdir()
    assert not (run_dir / "history.csv").exists()
