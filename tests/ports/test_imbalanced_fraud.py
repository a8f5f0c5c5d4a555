"""keras-io's "Imbalanced classification: credit card fraud detection" against its port
(tests/ports/modules/imbalanced_fraud.py).

https://keras.io/examples/structured_data/imbalanced_classification/

The example's point is `class_weight`: each class weighs the inverse of its count in the training loss. The port sets
the Config field issue 18 adds, `class_weight = "balanced"` (n / (k * count): the example's weights times n / 2, a
constant that Adam normalises away up to its epsilon), and keeps the example's metrics by their Keras names.
"""

import pytest

import nnlab
from tests.ports.harness import port_data
from tests.ports.originals import imbalanced

SEED = 0
# Recall on the 60 positives of the 1,000 scored transactions, seeds 0-5, measured on the shared 2-core machine. With
# class weights: the original program found 42-45 of them (recall 0.700-0.750), the same program with the port's
# weights, n / (2 count), 40-44 (0.667-0.733), and the port itself 38-45 (0.633-0.750, on the i18-data stream's
# work-in-progress class_weight). The tolerance is the range over those eighteen weighted runs, seven positives.
# Without class weights recall was 0.000-0.567 in Keras and 0.000-0.583 in nnlab, so recall alone barely tells an
# unweighted port apart; false positives do: 16-38 with weights in all eighteen runs, 0-3 without in all twelve.
TOLERANCE = 7 / 60
WEIGHTED_FALSE_POSITIVES = 10


@pytest.fixture(scope="module")
def original(ports):
    splits = port_data("imbalanced_fraud")
    return imbalanced.train(splits.train, splits.validation, epochs=10, seed=SEED)


def test_the_original_program_catches_most_frauds(original):
    assert original["recall"] >= 0.6


def test_the_port_matches_the_original(ports, original):
    result = nnlab.run("imbalanced_fraud", {"seed": SEED}, results_dir=ports)
    assert result.metrics["status"] == "done"
    test = result.metrics["test"]
    assert abs(test["recall"] - original["recall"]) <= TOLERANCE
    assert test["false_positives"] >= WEIGHTED_FALSE_POSITIVES  # the price of the recall class weights buy
    assert test["true_positives"] + test["false_negatives"] == original["tp"] + original["fn"]  # the same 60
