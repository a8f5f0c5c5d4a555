"""keras-tuner's Hyperband tutorial ("Introduction to the Keras Tuner"), ported: one hidden layer's width and Adam's
learning rate searched by Hyperband.

https://www.tensorflow.org/tutorials/keras/keras_tuner

The tutorial's hypermodel: Flatten -> Dense(units, ReLU) -> Dense(10), units from 32 to 512 in steps of 32, Adam at
1e-2, 1e-3 or 1e-4, objective val_accuracy, Hyperband with factor 3, 20% of the training images for validation. Its
images are Fashion-MNIST, a download; these are MNIST's, from nnlab's offline cache, which have the same shape: the
first 2,500 training images (2,000 train, 500 validation) and the first 2,500 test images. The tutorial's last layer
gives logits to SparseCategoricalCrossentropy(from_logits=True); nnlab's `loss` is a Keras loss name, which expects
probabilities, so the port ends in a softmax instead (the same model).

Sweep:    NNLAB_EXPERIMENTS=tests/ports/modules nnlab tune hyperband_mnist algorithm=hyperband factor=3 epochs=3
Run:      NNLAB_EXPERIMENTS=tests/ports/modules nnlab run hyperband_mnist from=<the sweep's best_config.json>
"""

import dataclasses

import keras
from keras import layers

import nnlab
from nnlab import search_space


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    dataset: str = "mnist"
    limit_examples: int = 2500
    validation_fraction: float = 0.2
    units: int = 256
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 3  # Hyperband's max_epochs
    batch_size: int = 32


SEARCH_SPACE = {
    "units": search_space.Int(32, 512, step=32),
    "learning_rate": search_space.Choice([1e-2, 1e-3, 1e-4]),
}


def build_model(config):
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            layers.Flatten(),
            layers.Dense(units=config.units, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
