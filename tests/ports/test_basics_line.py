"""TensorFlow's "Custom training: basics" against its port (tests/ports/modules/basics_line.py).

https://www.tensorflow.org/guide/basic_training_loops

The port's `track` is the tutorial's bookkeeping as written there, `float(model.w.numpy())`: issue 18 says nnlab
must accept it (tracing it fails, so nnlab calls it eagerly after every epoch) and record the same history.
"""

import numpy as np
import pytest

import nnlab
from tests.ports.harness import port_data
from tests.ports.originals import basics

EPOCHS = 10
LEARNING_RATE = 0.1
# Full-batch gradient descent from the same start (w 5, b 0) on the same points: no seed enters the training. The
# same module with `track` returning the variables themselves (which today's nnlab traces) recorded w and b bitwise
# equal to the original's every epoch, and the same test loss (measured on the shared 2-core machine). The tolerance
# allows a few float32 ulps (w and b stay below 5, where one ulp is at most 4.8e-7) for a different summation order
# in TensorFlow's kernels, nothing more: one missed or repeated epoch moves w by 0.03 or more.
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def original(ports):
    splits = port_data("basics_line")
    return basics.training_loop(splits.train, splits.test, epochs=EPOCHS, learning_rate=LEARNING_RATE)


def test_the_original_program_approaches_the_true_line(original):
    assert abs(original["w"][-1] - 3.0) < abs(original["w"][0] - 3.0)  # from w = 5 towards TRUE_W
    assert original["loss"] < 2.0  # the noise alone has variance 1


@pytest.mark.parametrize("variables", ["keras", "tf"])
def test_the_port_records_the_same_weights_every_epoch(ports, original, variables):
    """With add_weight, and with the tutorial's own tf.Variable (no Keras weights at all, but a correct program)."""
    overrides = {"epochs": EPOCHS, "learning_rate": LEARNING_RATE, "variables": variables}
    result = nnlab.run("basics_line", overrides, results_dir=ports)
    assert result.metrics["status"] == "done"
    history = nnlab.load(result.run_dir).history
    np.testing.assert_allclose(history["w"], original["w"], atol=TOLERANCE)
    np.testing.assert_allclose(history["b"], original["b"], atol=TOLERANCE)
    assert abs(result.metrics["test"]["loss"] - original["loss"]) <= TOLERANCE
