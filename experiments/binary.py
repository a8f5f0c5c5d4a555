"""Binary classification of breast tumours (malignant or benign) with the seed's small sigmoid-output MLP.

Dense(64, ReLU) -> Dense(64, ReLU) -> Dense(1, sigmoid), Adam, binary cross-entropy, 10 epochs of batch 32, on
scikit-learn's Wisconsin breast cancer data (569 tumours, 30 features, standardised with the training split's
statistics only; test = a fixed 20%). Reports accuracy and ROC AUC, and draws confusion_matrix.png on the test
split.

Run:      make run EXP=binary
Expect:   test accuracy 0.965 and ROC AUC 0.993; on the 114 test tumours 39 of 42 malignant and 71 of 72 benign
          are classified right (3 malignant called benign, 1 benign called malignant). About 20 s in all,
          TensorFlow's start-up included, on a shared 2-core CPU.
"""

import dataclasses

import keras
from keras import layers

import nnlab


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    dataset: str = "breast_cancer"
    width: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    loss: str = "binary_crossentropy"
    metrics: tuple[str, ...] = ("accuracy", "auc")
    epochs: int = 10
    batch_size: int = 32


FIGURES = ("confusion_matrix",)


def build_model(config):
    return keras.Sequential(
        [
            keras.Input(shape=(30,)),
            layers.Dense(config.width, activation="relu"),
            layers.Dense(config.width, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="binary_mlp",
    )
