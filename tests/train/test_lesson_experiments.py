"""The lesson experiments show what their docstrings promise, on real data and real training."""

import json

import numpy as np
import pandas as pd
import pytest

from nnlab import experiment as experiment_lib
from nnlab.datasets import breast_cancer, digits
from nnlab.train import modeling, runner
from nnlab.train.figures import activation_functions, confusion_matrix, init_statistics
from tests.conftest import EXPERIMENTS


def test_xor_needs_a_hidden_layer(repo_experiments, results_dir):
    path = runner.run("xor", [], results_dir=results_dir, verbose=0).run_dir
    variants = json.loads((path / "metrics.json").read_text())["variants"]
    assert variants["perceptron"]["test"]["accuracy"] <= 0.75  # one line cannot split XOR's four points
    assert variants["mlp"]["test"]["accuracy"] == 1.0
    for name in ("decision_boundary.png", "comparison.png", "history-perceptron.csv", "history-mlp.csv"):
        assert (path / name).stat().st_size > 0, name


def test_binary_classifier_on_breast_cancer(repo_experiments, results_dir):
    path = runner.run("binary", [], results_dir=results_dir, verbose=0).run_dir
    test = json.loads((path / "metrics.json").read_text())["test"]
    assert test["accuracy"] >= 0.93 and test["auc"] >= 0.97
    counts = pd.read_csv(path / "confusion_matrix.csv", index_col=0)
    assert list(counts.columns) == ["malignant", "benign"] and counts.to_numpy().sum() == 114
    assert np.trace(counts.to_numpy()) / 114 == pytest.approx(test["accuracy"], abs=1e-6)
    assert (path / "confusion_matrix.png").stat().st_size > 0


def test_breast_cancer_is_standardised_with_training_statistics_only():
    first = breast_cancer.load(experiment_lib.load("binary", EXPERIMENTS).config(["seed=0"]))
    other = breast_cancer.load(experiment_lib.load("binary", EXPERIMENTS).config(["seed=1"]))
    sizes = [len(pair[0]) for _, pair in first.items()]
    assert sizes == [409, 46, 114] and sum(sizes) == 569
    train_x = first.train[0]
    np.testing.assert_allclose(train_x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train_x.std(axis=0), 1, atol=1e-5)
    assert np.abs(first.test[0].mean(axis=0)).max() > 0.05  # scaled by train's statistics, not its own
    np.testing.assert_array_equal(first.test[1], other.test[1])  # the test tumours do not depend on the seed
    assert not np.array_equal(first.validation[1], other.validation[1])
    assert first.train[0].dtype == np.float32 and set(np.unique(first.train[1])) == {0, 1}


def test_digits_are_scaled_images_with_a_fixed_test_split():
    splits = digits.load(None)
    assert splits.train[0].shape == (1437, 8, 8) and splits.test[0].shape == (360, 8, 8)
    assert splits.train[0].min() == 0 and splits.train[0].max() == 1
    assert np.bincount(splits.test[1]).min() >= 35  # stratified: every digit is in the test split


def test_activation_derivatives_are_the_textbook_ones():
    z = np.linspace(-4, 4, 81)
    curves = activation_functions.activation_curves(z)
    sigmoid, tanh = 1 / (1 + np.exp(-z)), np.tanh(z)
    np.testing.assert_allclose(curves["sigmoid"][0], sigmoid, atol=1e-12)
    np.testing.assert_allclose(curves["sigmoid"][1], sigmoid * (1 - sigmoid), atol=1e-12)
    np.testing.assert_allclose(curves["tanh"][1], 1 - tanh**2, atol=1e-12)
    np.testing.assert_array_equal(curves["relu"][1], (z > 0).astype(float))
    probabilities, derivative = curves["softmax"]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-12)
    np.testing.assert_allclose(derivative, probabilities[:, 0] * (1 - probabilities[:, 0]), atol=1e-12)


def test_small_initial_weights_starve_deep_layers_of_signal_and_gradient():
    experiment = experiment_lib.load("initializers", EXPERIMENTS)
    x, y = (array[:256] for array in digits.load(None).train)
    stats = {}
    for initializer in ("small_normal", "he_normal"):
        config = experiment.config({"initializer": initializer, "activation": "relu"})
        model = modeling.build(experiment, config)
        stats[initializer] = init_statistics.layer_statistics(model, x, y, "sparse_categorical_crossentropy")
    small, he = stats["small_normal"], stats["he_normal"]
    assert [row["layer"] for row in he] == list(range(1, 8))  # 6 hidden layers and the output
    assert small[5]["activation_std"] < 1e-5 < 0.1 < he[5]["activation_std"]
    assert 0.5 < he[5]["activation_std"] / he[0]["activation_std"] < 2  # He keeps the signal level
    assert small[0]["gradient_std"] < 1e-4 * he[0]["gradient_std"]


def test_confusion_counts():
    labels = np.array([0, 0, 1, 1, 1])
    counts = confusion_matrix.confusion_counts(labels, np.array([[0.2], [0.7], [0.9], [0.5], [0.1]]))
    np.testing.assert_array_equal(counts, [[1, 1], [1, 2]])
    three = confusion_matrix.confusion_counts(np.array([2, 0]), np.eye(3)[[2, 1]])
    np.testing.assert_array_equal(three, [[0, 1, 0], [0, 0, 0], [0, 0, 1]])
