"""Optimisers: SGD, SGD with momentum, RMSprop and Adam train the same model on the same data.

One MLP, Flatten -> Dense(64, ReLU) -> Dense(64, ReLU) -> Dense(10, softmax), on scikit-learn's 8x8 digits,
from the same initial weights and in the same batch order, once per optimiser at its Keras default learning
rate (SGD 0.01, momentum 0.9 on top of it, RMSprop and Adam 0.001); comparison.png overlays the curves.

Run:      make run EXP=optimizers
Expect:   test accuracy after 10 epochs: SGD 0.722, SGD with momentum 0.958, RMSprop 0.967, Adam 0.958
          (the best variant is RMSprop). Plain SGD at 0.01 is still descending; momentum 0.9 makes its steps ~10x
          longer and catches up with the adaptive methods. About 20 s in all on a shared 2-core CPU.
"""

import dataclasses

import keras
from keras import layers

import nnlab


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    dataset: str = "digits"
    width: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0  # used by sgd and rmsprop (nnlab.train.modeling.make_optimizer)
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 10
    batch_size: int = 32


VARIANTS = {
    "sgd": {"optimizer": "sgd", "learning_rate": 0.01},
    "momentum": {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9},
    "rmsprop": {"optimizer": "rmsprop", "learning_rate": 1e-3},
    "adam": {"optimizer": "adam", "learning_rate": 1e-3},
}


def build_model(config):
    return keras.Sequential(
        [
            keras.Input(shape=(8, 8)),
            layers.Flatten(),
            layers.Dense(config.width, activation="relu"),
            layers.Dense(config.width, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="digits_mlp",
    )
