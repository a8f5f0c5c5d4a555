"""TensorFlow's "Custom training: basics", ported: y = w·x + b fitted by the tutorial's gradient-descent step.

https://www.tensorflow.org/guide/basic_training_loops

The tutorial's model holds two scalar variables, w = 5 and b = 0 at the start, and its step subtracts
learning_rate times each gradient of the mean squared error over all 201 points (x = linspace(-2, 2), y = 3x + 2 +
N(0, 1) noise). Its training loop records `model.w.numpy()` and `model.b.numpy()` after every epoch; `track` below
is that loop's bookkeeping, written the same way. In Keras 3 a `tf.Variable` set on a Keras model is not one of its
weights (not saved, not in `trainable_variables`), so the port declares w and b with `add_weight`; `variables=tf`
builds the tutorial's own `MyModelKeras` with `tf.Variable`s instead, which the step trains just the same. A second
draw of 201 points is the test split the tutorial does not have.

Run:      NNLAB_EXPERIMENTS=tests/ports/modules nnlab run basics_line
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

import nnlab
from nnlab.data import Splits

TRUE_W = 3.0
TRUE_B = 2.0
NUM_EXAMPLES = 201


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    optimizer: str = "sgd"  # unused: the step updates w and b itself, as the tutorial's does
    learning_rate: float = 0.1
    loss: str = "mse"
    epochs: int = 10
    batch_size: int = 1000  # at least the data: one full-batch step per epoch
    validation_fraction: float = 0.0
    variables: str = "keras"  # or "tf": w and b as the tutorial's tf.Variable, which Keras 3 does not save


def f(x):
    return x * TRUE_W + TRUE_B


def make_data(config):
    rng = np.random.default_rng(config.seed)
    x = np.linspace(-2, 2, NUM_EXAMPLES).astype(np.float32)
    y = (f(x) + rng.standard_normal(NUM_EXAMPLES)).astype(np.float32)
    y_test = (f(x) + rng.standard_normal(NUM_EXAMPLES)).astype(np.float32)
    return Splits(train=(x, y), test=(x, y_test))


class MyModelKeras(keras.Model):
    def __init__(self, variables="keras", **kwargs):
        super().__init__(**kwargs)
        if variables == "tf":  # the tutorial's code as it stands
            self.w = tf.Variable(5.0)
            self.b = tf.Variable(0.0)
        else:
            self.w = self.add_weight(shape=(), initializer=keras.initializers.Constant(5.0), name="w")
            self.b = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.0), name="b")

    def call(self, x):
        return self.w * x + self.b


def build_model(config):
    return MyModelKeras(config.variables)


def loss(target_y, predicted_y):
    return tf.reduce_mean(tf.square(target_y - predicted_y))


def train_step(model, optimizer, x, y, config):
    with tf.GradientTape() as t:
        current_loss = loss(y, model(x))
    dw, db = t.gradient(current_loss, [model.w, model.b])
    model.w.assign_sub(config.learning_rate * dw)
    model.b.assign_sub(config.learning_rate * db)
    return current_loss


def track(model):
    return {"w": float(model.w.numpy()), "b": float(model.b.numpy())}
