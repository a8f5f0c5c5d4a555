"""A single neuron y = w·x + b fitted one example at a time with a hand-written GradientTape step.

100 points, x = linspace(-1, 1), y = 2x + 1 + 0.4·N(0, 1); w starts random, b at 0; SGD at learning rate 0.01 on
the squared error, one example per update (batch 1), 8 epochs over the 90 points not held out for validation.
w and b are recorded after every epoch, and the closed-form least-squares answer for the same points is written
beside them in metrics.json.

Run:      make run EXP=linefit                    (ARGS="learning_rate=0.003 epochs=40" to override fields)
Expect:   w 2.008, b 1.046 (least squares: w 2.038, b 1.042); converged: false, gap 0.03 — 8 epochs at this
          rate are learning-rate-limited and per-sample SGD hovers around the answer. About 1 s of training.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers

import nnlab
from nnlab.data import Splits
from nnlab.reference import linear_fit


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    points: int = 100
    slope: float = 2.0
    intercept: float = 1.0
    noise: float = 0.4
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    loss: str = "mse"
    epochs: int = 8
    batch_size: int = 1
    tolerance: float = 1e-3  # largest |learned - least squares| in w and b that counts as converged


FIGURES = ("line_fit",)


def make_data(config):
    rng = np.random.default_rng(config.seed)
    x = np.linspace(-1, 1, config.points)
    y = config.slope * x + config.intercept + config.noise * rng.standard_normal(config.points)
    return Splits(train=(x[:, None].astype("float32"), y[:, None].astype("float32")))


def build_model(config):
    return keras.Sequential(
        [
            keras.Input(shape=(1,)),
            layers.Dense(
                1,
                kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=config.seed),
                bias_initializer="zeros",
            ),
        ],
        name="neuron",
    )


def train_step(model, optimizer, x, y):
    """One gradient-descent step on the mean squared error of the batch; returns that loss."""
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.ops.square(model(x, training=True) - y))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return loss


def track(model):
    """w and b after each epoch, for history.csv and the fitted-line figures."""
    w, b = linear_fit.parameters(model)
    return {"w": w, "b": b}


def summarize(job):
    return linear_fit.summary(job, job.config.tolerance)
