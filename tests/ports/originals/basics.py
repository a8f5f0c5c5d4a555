"""TensorFlow's "Custom training: basics", as its page writes it: a tf.Module, a GradientTape step, a Python loop.

https://www.tensorflow.org/guide/basic_training_loops
"""

import tensorflow as tf


class MyModel(tf.Module):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Initialize the weights to `5.0` and the bias to `0.0`
        # In practice, these should be randomly initialized
        self.w = tf.Variable(5.0)
        self.b = tf.Variable(0.0)

    def __call__(self, x):
        return self.w * x + self.b


def loss(target_y, predicted_y):
    return tf.reduce_mean(tf.square(target_y - predicted_y))


def train(model, x, y, learning_rate):
    with tf.GradientTape() as t:
        current_loss = loss(y, model(x))
    dw, db = t.gradient(current_loss, [model.w, model.b])
    model.w.assign_sub(learning_rate * dw)
    model.b.assign_sub(learning_rate * db)


def training_loop(train_split, test_split, epochs, learning_rate):
    """The tutorial's loop on (x, y) arrays; returns per-epoch w and b, and the test split's mean squared error."""
    model = MyModel()
    x, y = (tf.constant(array) for array in train_split)
    weights, biases = [], []
    for _ in range(epochs):
        train(model, x, y, learning_rate=learning_rate)
        weights.append(model.w.numpy())
        biases.append(model.b.numpy())
    x_test, y_test = (tf.constant(array) for array in test_split)
    return {"w": weights, "b": biases, "loss": float(loss(y_test, model(x_test)))}
