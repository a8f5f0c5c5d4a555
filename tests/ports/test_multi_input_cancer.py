"""keras-io's multi-input functional model against its port (tests/ports/modules/multi_input_cancer.py).

https://keras.io/guides/functional_api/#models-with-multiple-inputs-and-outputs

x is a dict of two arrays, {"mean": (N, 10), "worst": (N, 10)}, matched to the model's keras.Input layers by name,
in every split, and `build_model(config, train)` adapts one Normalization layer per input to train[0][name].
"""

import pytest

import nnlab
from nnlab import experiment as experiment_lib
from tests.ports.harness import port_data
from tests.ports.originals import multi_input

SEED = 0
# Test accuracy on 114 tumours, seeds 0-5, measured on the shared 2-core machine: the original program scored
# 0.930-0.947; the same model in nnlab fed one (N, 20) array that it slices into the two inputs (the same arithmetic,
# a form today's nnlab accepts) 0.930-0.965, at most two tumours from the original on any seed; the port itself, on
# the i18-data stream's work in progress, gave those same numbers. The tolerance is the range over those twelve
# runs, four tumours; predicting "benign" for all scores 0.63.
TOLERANCE = 4 / 114


@pytest.fixture(scope="module")
def original(ports):
    splits = port_data("multi_input_cancer")
    return multi_input.train(splits.train, splits.validation, splits.test, epochs=10, batch_size=32, seed=SEED)


@pytest.fixture(scope="module")
def port(ports):
    return nnlab.run("multi_input_cancer", {"seed": SEED}, results_dir=ports)


def test_the_original_program_learns_from_both_inputs(original):
    assert original["accuracy"] >= 0.9  # 63% of tumours are benign: the majority guess scores 0.63


def test_the_port_matches_the_original(port, original):
    assert port.metrics["status"] == "done"
    assert abs(port.metrics["test"]["accuracy"] - original["accuracy"]) <= TOLERANCE


def test_the_saved_port_scores_the_same_through_keras(port):
    """nnlab fed each array to the input of its name: Keras, given the same dict, reproduces nnlab's test accuracy."""
    model = experiment_lib.load("multi_input_cancer").load_model(port.run_dir / "model.keras")
    x_test, y_test = port_data("multi_input_cancer").test
    scored = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    assert scored["accuracy"] == pytest.approx(port.metrics["test"]["accuracy"], abs=1e-6)
