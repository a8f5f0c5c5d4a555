"""The loop under two replicas (NNLAB_CPU_DEVICES=2: MirroredStrategy over two logical CPUs), every route in one
fresh process (tests/train/_replicas_script.py), since logical devices are fixed once TensorFlow starts."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nnlab import NnlabError
from nnlab.train import runner
from tests.conftest import EXPERIMENTS

ANYTHING = """
    import dataclasses
    import keras
    import nnlab

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        pass

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
"""
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    results = tmp_path_factory.mktemp("replicas")
    env = {
        **os.environ,
        "NNLAB_CPU_DEVICES": "2",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "NNLAB_EXPERIMENTS": EXPERIMENTS,
    }
    process = subprocess.run(
        [sys.executable, os.path.join(HERE, "_replicas_script.py"), str(results)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    (line,) = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def test_an_ordinary_experiment_under_two_replicas_matches_one(seen):
    mnist = seen["mnist"]
    assert mnist["env_two"] == {"strategy": "MirroredStrategy", "replicas": 2, "per_replica_batch_size": 16}
    assert mnist["env_one"]["replicas"] == 1
    assert mnist["accuracy_two"] > 0.8
    assert abs(mnist["accuracy_two"] - mnist["accuracy_one"]) <= 0.005  # within half a point


def test_a_hand_written_step_does_the_same_math_on_two_replicas(seen):
    # Full-batch gradient descent: each replica's half-batch gradient, averaged, is the full batch's gradient.
    two, one = seen["linreg"]["two"], seen["linreg"]["one"]
    np.testing.assert_allclose(
        np.concatenate([np.ravel(a) for a in two]), np.concatenate([np.ravel(a) for a in one]), rtol=1e-5
    )
    assert abs(np.ravel(two[0])[0] - 1.0) < 0.05  # and it learned the line (w near 1)


def test_structured_data_and_class_weights_split_over_two_replicas(seen):
    structured = seen["structured"]
    np.testing.assert_allclose(
        np.concatenate([np.ravel(a) for a in structured["weights_two"]]),
        np.concatenate([np.ravel(a) for a in structured["weights_one"]]),
        rtol=1e-5,
        atol=1e-6,
    )
    assert {"loss", "kind_loss", "sign_loss"} <= set(structured["outputs_columns"])


def test_a_study_and_a_sweep_run_under_two_replicas(seen):
    assert set(seen["study"]) == {"sgd", "momentum", "rmsprop", "adam"}
    assert all(0.0 <= value <= 1.0 for value in seen["study"].values())
    assert seen["sweep"]["counts"] == {"COMPLETED": 2}


def test_a_killed_two_replica_run_resumes_to_the_same_bits(seen):
    assert seen["resume"]["resumed_at"] == 1
    assert seen["resume"]["bitwise"], seen["resume"]["largest_difference"]


def test_a_batch_that_does_not_split_over_the_replicas_is_an_error(seen):
    assert "batch_size' is 33" in seen["odd_batch"] and "batch_size=32" in seen["odd_batch"]
    assert not seen["odd_batch_wrote"]


@pytest.mark.parametrize("value", ["0", "-1", "abc", "99999999999"])
def test_bad_cpu_device_counts_fail_before_anything_is_written(make_experiment, results_dir, monkeypatch, value):
    make_experiment("anything", ANYTHING)
    monkeypatch.setenv("NNLAB_CPU_DEVICES", value)
    with pytest.raises(NnlabError, match=rf"NNLAB_CPU_DEVICES='{value}' must be a whole number"):
        runner.run("anything", [], results_dir=results_dir, verbose=0)
    assert not results_dir.exists()


def test_cpu_devices_after_tensorflow_started_say_what_started_it(make_experiment, results_dir, monkeypatch):
    """A module that computes with TensorFlow at import starts it on one CPU device before nnlab can divide the CPU:
    the paragraph names that cause, not only the environment variable's timing."""
    make_experiment("anything", ANYTHING + "\n    import tensorflow as tf\n    ONE = tf.constant(1.0) + 1\n")
    monkeypatch.setenv("NNLAB_CPU_DEVICES", "3")
    with pytest.raises(
        NnlabError, match=r"NNLAB_CPU_DEVICES=3 cannot take effect.*computing with TensorFlow at import"
    ):
        runner.run("anything", [], results_dir=results_dir, verbose=0)


@pytest.mark.parametrize("value", ["true", "maybe"])
def test_deterministic_takes_yes_or_no_and_refuses_the_rest(make_experiment, results_dir, monkeypatch, value):
    from nnlab.train import devices

    monkeypatch.setenv("NNLAB_DETERMINISTIC", value)
    if value == "true":
        assert devices.requested_determinism() is True
        return
    make_experiment("anything", ANYTHING)
    with pytest.raises(NnlabError, match=r"NNLAB_DETERMINISTIC='maybe' must be 1 \(op determinism on"):
        runner.run("anything", [], results_dir=results_dir, verbose=0)
    assert not results_dir.exists()
