"""Activation functions: what sigmoid, tanh, ReLU and softmax look like, and how the choice trains.

activation_functions.png plots each function and its derivative, computed by Keras. The study then trains the
same MLP, Flatten -> 3 x Dense(64, <activation>) -> Dense(10, softmax), with plain SGD on scikit-learn's 8x8
digits once per hidden activation; comparison.png overlays their curves. Softmax as a hidden activation is
there as the counter-example: it forces each hidden layer's 64 outputs to sum to 1.

Run:      make run EXP=activations
Expect:   test accuracy after 10 epochs: tanh 0.961, ReLU 0.958, sigmoid 0.097, softmax 0.100. Sigmoid's
          derivative is at most 0.25 and its outputs are not centred on 0, so plain SGD barely moves three stacked
          sigmoid layers in 10 epochs; softmax hidden layers (each summing to 1) do not learn either. About
          15 s in all on a shared 2-core CPU.
"""

import dataclasses

import keras
from keras import layers

import nnlab


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    dataset: str = "digits"
    activation: str = "relu"
    depth: int = 3
    width: int = 64
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 10
    batch_size: int = 32


VARIANTS = {name: {"activation": name} for name in ("sigmoid", "tanh", "relu", "softmax")}
FIGURES = ("activation_functions",)


def build_model(config):
    hidden = [layers.Dense(config.width, activation=config.activation) for _ in range(config.depth)]
    return keras.Sequential(
        [keras.Input(shape=(8, 8)), layers.Flatten(), *hidden, layers.Dense(10, activation="softmax")],
        name=f"mlp_{config.activation}",
    )
