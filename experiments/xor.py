"""XOR: a single-layer perceptron cannot separate it; two hidden units can.

The four points of the XOR truth table (repeated, to give the optimizer batches) train two variants: a
perceptron, Dense(1, sigmoid) on the inputs, whose decision boundary is one straight line, so it gets at most 3
of the 4 points right; and an MLP with one hidden layer of 2 sigmoid units, which bends the boundary and gets all 4.
decision_boundary.png draws both boundaries over the four points.

Run:      make run EXP=xor
Expect:   with seed=0 the perceptron scores 0.25 on the truth table and the MLP 1.00. Cross-entropy's best
          linear answer to XOR is p = 0.5 everywhere, so the perceptron's accuracy is decided by which side of 0.5
          each point's output falls (never more than 0.75, whatever the seed). Two hidden units are the fewest that
          solve XOR and can get stuck at 0.75 on some seeds. About 20 s in all.
"""

import dataclasses

import keras
import numpy as np
from keras import layers

import nnlab
from nnlab.data import Splits


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    hidden_units: int = 2  # 0: no hidden layer, a single-layer perceptron
    activation: str = "sigmoid"
    repeats: int = 128  # copies of the truth table per epoch: 64 steps of 8
    optimizer: str = "sgd"
    learning_rate: float = 2.0
    loss: str = "binary_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 10
    batch_size: int = 8
    validation_fraction: float = 0.0  # validation and test are the truth table itself


VARIANTS = {"perceptron": {"hidden_units": 0}, "mlp": {}}
FIGURES = ("decision_boundary",)


def make_data(config):
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    table = (inputs, labels)
    train = (np.tile(inputs, (config.repeats, 1)), np.tile(labels, config.repeats))
    return Splits(train=train, validation=table, test=table)


def build_model(config):
    hidden = [layers.Dense(config.hidden_units, activation=config.activation)] if config.hidden_units else []
    name = "xor_mlp" if config.hidden_units else "xor_perceptron"
    return keras.Sequential([keras.Input(shape=(2,)), *hidden, layers.Dense(1, activation="sigmoid")], name=name)
