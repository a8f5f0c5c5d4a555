"""Linear regression on 100,000 points by full-batch gradient descent, with the loop written as a GradientTape step.

x = linspace(-3, 3), y = x + 1.2·U(0, 1) (least squares: w ≈ 1, b ≈ 0.6); one Dense(1), mean squared error, SGD
at learning rate 1e-4, 5,000 full-batch steps as in the seed. At that rate the intercept is still far from the
least-squares answer after 5,000 steps; metrics.json says so and estimates how many more steps it would take.

Run:      make run EXP=linreg                     (ARGS="learning_rate=0.1 epochs=200" converges)
Expect:   w 0.952, b 0.379 against least squares w 0.999, b 0.599; converged: false, "learning-rate-limited ...
          about 27,000 more steps". For the training time against the seed's PyTorch loop, see make bench.
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
    points: int = 100_000
    noise: float = 1.2
    optimizer: str = "sgd"
    learning_rate: float = 1e-4
    loss: str = "mse"
    epochs: int = 5_000
    batch_size: int = 100_000  # at least the training set: one full-batch step per epoch
    tolerance: float = 1e-3  # largest |learned - least squares| in w and b that counts as converged


FIGURES = ("line_fit",)


def make_data(config):
    rng = np.random.default_rng(config.seed)
    x = np.linspace(-3, 3, config.points)
    y = x + config.noise * rng.uniform(size=config.points)
    return Splits(train=(x[:, None].astype("float32"), y[:, None].astype("float32")))


def build_model(config):
    return keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1)], name="linear")


def train_step(model, optimizer, x, y):
    """One full-batch gradient-descent step on the mean squared error; returns that loss."""
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.ops.square(model(x, training=True) - y))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return loss


def track(model):
    """w and b after each step, for history.csv and the fitted-line figures."""
    w, b = linear_fit.parameters(model)
    return {"w": w, "b": b}


def summarize(job):
    return linear_fit.summary(job, job.config.tolerance)
