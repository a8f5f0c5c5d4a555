"""TensorFlow's "Custom training: walkthrough", ported: iris flowers classified by a hand-written GradientTape step.

https://www.tensorflow.org/tutorials/customization/custom_training_walkthrough

Dense(10, ReLU) -> Dense(10, ReLU) -> Dense(3) logits, trained by the tutorial's own step: the loss is
SparseCategoricalCrossentropy(from_logits=True) on integer labels of shape (N,) against (N, 3) logits. The data is
scikit-learn's copy of the iris set the tutorial's first edition used (150 flowers, 4 measurements, 3 species), with
the tutorial's 120/30 train/test split, fixed, and standardised with the training split's mean and std (the
penguins edition trains on preprocessed, scaled data too). To learn in 10 epochs instead of the tutorial's 201, SGD
runs at 0.3 on batches of 16 (the tutorial: 0.01 on batches of 32).

Run:      NNLAB_EXPERIMENTS=tests/ports/modules nnlab run walkthrough_iris
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from sklearn import datasets, model_selection

import nnlab
from nnlab.data import Splits


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    optimizer: str = "sgd"
    learning_rate: float = 0.3
    loss: str = "sparse_categorical_crossentropy"  # what test metrics are computed with; the step has its own
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 10
    batch_size: int = 16
    validation_fraction: float = 0.0  # the tutorial trains on all 120 and scores the 30 test flowers


def make_data(config):
    iris = datasets.load_iris()
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        iris.data.astype(np.float32), iris.target, test_size=30, stratify=iris.target, random_state=0
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return Splits(train=((x_train - mean) / std, y_train), test=((x_test - mean) / std, y_test))


def build_model(config):
    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            layers.Dense(10, activation="relu"),
            layers.Dense(10, activation="relu"),
            layers.Dense(3),
        ]
    )


loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_step(model, optimizer, x, y):
    with tf.GradientTape() as tape:
        loss_value = loss_object(y_true=y, y_pred=model(x, training=True))
    grads = tape.gradient(loss_value, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return loss_value
