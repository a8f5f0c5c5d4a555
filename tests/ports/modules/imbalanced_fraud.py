"""keras-io's "Imbalanced classification: credit card fraud detection", ported, on offline data of the same shape.

https://keras.io/examples/structured_data/imbalanced_classification/

The example's model (Dense 256-256-256 with Dropout(0.3), sigmoid output), Adam at 1e-2, binary cross-entropy,
batches of 2048, its metrics (false/true negatives/positives, precision, recall) and, the point of the example, class
weights that make each class count equally in the training loss. The card transactions need a download, so the data
is scikit-learn's `make_classification` drawn in the same shape: 30 numeric features per transaction, about 5% of
them positive (the real set has 0.17%, which on 5,000 examples would leave a handful of frauds), 4,000 for training
and the last 1,000 for validation, standardised with the training split's mean and std as the example does. The
example scores its validation split; so does the port, as its test split.

Run:      NNLAB_EXPERIMENTS=tests/ports/modules nnlab run imbalanced_fraud
"""

import dataclasses

import keras
import numpy as np
from keras import layers
from sklearn import datasets

import nnlab
from nnlab.data import Splits

EXAMPLES = 5000
VALIDATION = 1000


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    loss: str = "binary_crossentropy"
    metrics: tuple[str, ...] = (
        "false_negatives",
        "false_positives",
        "true_negatives",
        "true_positives",
        "precision",
        "recall",
    )
    epochs: int = 10
    batch_size: int = 2048
    class_weight: str = "balanced"  # each class weighs n / (2 * its count): the example's 1 / count, rescaled


def make_data(config):
    features, targets = datasets.make_classification(
        n_samples=EXAMPLES,
        n_features=30,
        n_informative=8,
        n_redundant=4,
        weights=[0.95],
        class_sep=1.0,
        flip_y=0.01,
        random_state=0,
    )
    features = features.astype(np.float32)
    targets = targets.astype(np.uint8).reshape(-1, 1)  # the example reads one [label] per row: shape (N, 1)
    train_features, val_features = features[:-VALIDATION], features[-VALIDATION:]
    train_targets, val_targets = targets[:-VALIDATION], targets[-VALIDATION:]
    mean = np.mean(train_features, axis=0)
    std = np.std(train_features, axis=0)
    train_features = (train_features - mean) / std
    val_features = (val_features - mean) / std
    return Splits(
        train=(train_features, train_targets),
        validation=(val_features, val_targets),
        test=(val_features, val_targets),
    )


def build_model(config):
    return keras.Sequential(
        [
            keras.Input(shape=(30,)),
            layers.Dense(256, activation="relu"),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
