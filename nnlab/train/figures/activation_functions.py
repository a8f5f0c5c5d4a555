"""activation_functions.png: sigmoid, tanh, ReLU and softmax with their derivatives, as Keras computes them.

The values come from `keras.activations`, the derivatives from TensorFlow's automatic differentiation of those
same functions, so the figure shows what a model's backward pass uses. Softmax maps a vector to a vector: the
panel varies the first of three logits [z, 1, -1] and shows all three probabilities and the first one's
derivative.
"""

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from nnlab.plots import curves
from nnlab.results import layout

NAMES = ("sigmoid", "tanh", "relu", "softmax")
SOFTMAX_OTHER_LOGITS = (1.0, -1.0)


def draw(job):
    """Write activation_functions.png into job.run_dir; the trained model is not needed."""
    z = np.linspace(-5, 5, 401)
    figure, axes_row = plt.subplots(1, len(NAMES), figsize=(4 * len(NAMES), 3.6))
    for axes, (name, (values, derivative)) in zip(axes_row, activation_curves(z).items(), strict=True):
        if name == "softmax":
            for column, logit in enumerate(("z", *map(str, SOFTMAX_OTHER_LOGITS))):
                axes.plot(z, values[:, column], linewidth=2 if column == 0 else 1, label=f"p (logit {logit})")
        else:
            axes.plot(z, values, linewidth=2, label=name)
        axes.plot(z, derivative, "--", color="black", label="derivative" if name != "softmax" else "dp/dz (logit z)")
        axes.axhline(0, color="grey", linewidth=0.5)
        axes.set(xlabel="z", title=name)
        axes.grid(alpha=0.3)
        curves.legend_below(axes, fontsize="small", ncol=2)
    return [curves.save(figure, job.run_dir.file(layout.ACTIVATION_FUNCTIONS))]


def activation_curves(z):
    """{name: (values, d value / dz)} at the points `z`, from keras.activations and tf.GradientTape.

    For softmax, values has one column per logit of [z, *SOFTMAX_OTHER_LOGITS] and the derivative is that of
    the first column.
    """
    z = tf.constant(np.asarray(z, dtype=np.float64))
    result = {}
    for name in NAMES:
        with tf.GradientTape() as tape:
            tape.watch(z)
            if name == "softmax":
                others = [tf.fill(tf.shape(z), tf.constant(logit, tf.float64)) for logit in SOFTMAX_OTHER_LOGITS]
                values = keras.activations.softmax(tf.stack([z, *others], axis=1), axis=-1)
                watched = values[:, 0]
            else:
                values = watched = keras.activations.get(name)(z)
        derivative = tape.gradient(watched, z)  # elementwise: each output depends on its own z only
        result[name] = (np.asarray(values), np.asarray(derivative))
    return result
