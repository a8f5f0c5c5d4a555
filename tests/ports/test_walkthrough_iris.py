"""TensorFlow's "Custom training: walkthrough" against its port (tests/ports/modules/walkthrough_iris.py).

https://www.tensorflow.org/tutorials/customization/custom_training_walkthrough

The port keeps the tutorial's step as its train_step: SparseCategoricalCrossentropy(from_logits=True) on integer
labels of shape (N,) against (N, 3) logits, the sparse pattern issue 18's shape rule lets through.
"""

import pytest

import nnlab
from tests.ports.harness import port_data
from tests.ports.originals import walkthrough

SEED = 0
# Test accuracy on the 30 test flowers, seeds 0-4, measured on the shared 2-core machine: the original program scored
# 0.967-1.000; the same step in nnlab's loop, with the labels one-hot and CategoricalCrossentropy(from_logits=True)
# (the same arithmetic, a form today's nnlab accepts), 0.900-1.000, at most two flowers from the original on any
# seed; the port itself, on the i18-data stream's work in progress, gave those same numbers. The tolerance is the
# range over those ten runs, three flowers; a step that does not train scores 0.33.
TOLERANCE = 3 / 30


@pytest.fixture(scope="module")
def original(ports):
    splits = port_data("walkthrough_iris")
    return walkthrough.train(splits.train, splits.test, epochs=10, learning_rate=0.3, batch_size=16, seed=SEED)


def test_the_original_program_learns_the_species(original):
    assert original["accuracy"] >= 0.9  # three balanced species: chance is 0.33


def test_the_port_matches_the_original(ports, original):
    result = nnlab.run("walkthrough_iris", {"seed": SEED}, results_dir=ports)
    assert result.metrics["status"] == "done"
    assert abs(result.metrics["test"]["accuracy"] - original["accuracy"]) <= TOLERANCE
    # history.csv's loss is the hand-written step's own: the original's last epoch ended at 0.13-0.18 of its first
    # (seeds 0-2), the one-hot form's in nnlab at 0.13-0.20 (seeds 0-4), so a step that trains ends under a third.
    history = nnlab.load(result.run_dir).history
    assert history["loss"].iloc[-1] < history["loss"].iloc[0] / 3
