"""keras-io's multi-input functional model, ported: two named inputs, one prediction, x given as a dict.

https://keras.io/guides/functional_api/#models-with-multiple-inputs-and-outputs

The guide's pattern: several `keras.Input(name=...)` layers, each with its own branch, concatenated into one head,
and `fit` given x as a dict whose keys are the inputs' names. Here the two inputs are two groups of scikit-learn's
breast-cancer measurements: the 10 "mean" features of each tumour and its 10 "worst" features, each normalised by
its own `Normalization` layer adapted to the training split, then Dense(16, ReLU) per branch, concatenated, and
Dense(1, sigmoid) for malignant (0) or benign (1). The model lists its inputs as (worst, mean), x's dict has them the
other way round: names, not positions, connect them. Fixed splits: 364 train, 91 validation, 114 test.

Run:      NNLAB_EXPERIMENTS=tests/ports/modules nnlab run multi_input_cancer
"""

import dataclasses

import keras
import numpy as np
from keras import layers
from sklearn import datasets, model_selection

import nnlab
from nnlab.data import Splits

GROUPS = {"mean": slice(0, 10), "worst": slice(20, 30)}  # columns of load_breast_cancer().data


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    units: int = 16
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    loss: str = "binary_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 10
    batch_size: int = 32


def as_inputs(features):
    """One array per named input: {"mean": (N, 10), "worst": (N, 10)}."""
    return {name: features[:, columns] for name, columns in GROUPS.items()}


def make_data(config):
    cancer = datasets.load_breast_cancer()
    x, y = cancer.data.astype(np.float32), cancer.target.astype(np.float32)
    x_rest, x_test, y_rest, y_test = model_selection.train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    x_train, x_val, y_train, y_val = model_selection.train_test_split(
        x_rest, y_rest, test_size=0.2, stratify=y_rest, random_state=0
    )
    return Splits(
        train=(as_inputs(x_train), y_train),
        validation=(as_inputs(x_val), y_val),
        test=(as_inputs(x_test), y_test),
    )


def branch(name, features, units):
    """One named input, normalised with the training split's statistics, and its own Dense layer."""
    inputs = keras.Input(shape=(10,), name=name)
    normalize = layers.Normalization()
    normalize.adapt(features[name])
    return inputs, layers.Dense(units, activation="relu")(normalize(inputs))


def build_model(config, train):
    worst_input, worst_features = branch("worst", train[0], config.units)
    mean_input, mean_features = branch("mean", train[0], config.units)
    x = layers.concatenate([worst_features, mean_features])
    benign = layers.Dense(1, activation="sigmoid", name="benign")(x)
    # The inputs listed in another order than x's keys: Keras matches a dict to them by name.
    return keras.Model(inputs=[worst_input, mean_input], outputs=benign)
