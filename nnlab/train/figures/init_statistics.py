"""init_statistics.png (and .csv): per-layer activation and gradient spread of each model at initialisation.

For every variant the model is rebuilt from the variant's seed, which gives exactly the weights its training
started from, and one batch of training examples is run through it: the standard deviation of each Dense
layer's output and of the loss gradient with respect to its kernel. Weights drawn too small make both shrink
layer by layer until nothing reaches the first layers; a scale matched to the activation (Glorot for tanh, He
for ReLU) keeps them level.
"""

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from nnlab.plots import curves
from nnlab.results import atomic, history, layout
from nnlab.train import modeling, study

BATCH = 256
ARRAY_INPUTS = ARRAY_LABELS = True  # fed layer by layer through a Sequential


def draw(job):
    """Write init_statistics.png and init_statistics.csv for every model in `job` (a study or a single run)."""
    x, y = (np.asarray(array[:BATCH]) for array in job.splits.train)
    table = {}
    for name, variant in study.jobs_of(job).items():
        keras.utils.set_random_seed(variant.config.seed)  # as the study did before building this variant
        model = modeling.build(variant.experiment, variant.config)
        table[name or "model"] = layer_statistics(model, x, y, variant.config.loss)
    rows = [{"variant": name, **row} for name, layer_rows in table.items() for row in layer_rows]
    fields = ["variant", "layer", "activation_std", "gradient_std"]
    atomic.write_text(job.run_dir.file(layout.INIT_STATISTICS_TABLE), history.to_csv(rows, fields))
    figure, axes_row = plt.subplots(1, 2, figsize=(12, 4.2))
    for axes, key, title in (
        (axes_row[0], "activation_std", "std of each layer's output"),
        (axes_row[1], "gradient_std", "std of d loss / d kernel"),
    ):
        for name, rows in table.items():
            axes.plot([row["layer"] for row in rows], [row[key] for row in rows], marker="o", label=name)
        axes.set(
            xlabel="Dense layer (1 = first; the last is the output)", yscale="log", title=f"at initialisation: {title}"
        )
        axes.grid(alpha=0.3, which="both")
        curves.legend_below(axes, fontsize="small", ncol=3)
    return [curves.save(figure, job.run_dir.file(layout.INIT_STATISTICS))]


def layer_statistics(model, x, y, loss):
    """[{"layer": 1.., "activation_std", "gradient_std"}] for each Dense layer of a Sequential `model` on (x, y).

    `loss` is a Keras loss name; the gradient is that of its batch mean.
    """
    loss_function = keras.losses.get(loss)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    outputs = {}
    with tf.GradientTape() as tape:
        value = tf.convert_to_tensor(x)
        for layer in model.layers:
            value = layer(value)
            outputs[id(layer)] = value
        loss = tf.reduce_mean(loss_function(y, value))
    gradients = tape.gradient(loss, [layer.kernel for layer in dense])
    return [
        {
            "layer": number,
            "activation_std": float(np.std(outputs[id(layer)])),
            "gradient_std": float(np.std(gradient)),
        }
        for number, (layer, gradient) in enumerate(zip(dense, gradients, strict=True), start=1)
    ]
