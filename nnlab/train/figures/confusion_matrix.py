"""confusion_matrix.png (and .csv): the trained classifier's predictions on the test split against the truth.

For a single sigmoid output a prediction is class 1 when the probability is at least 0.5; for several outputs
it is the most probable class. Class names come from the data set module's CLASS_NAMES when it has them.
"""

import importlib

import matplotlib.pyplot as plt
import numpy as np

from nnlab.plots import curves
from nnlab.results import atomic, history, layout

ARRAY_LABELS = True  # one class label per example


def draw(job):
    """Write confusion_matrix.png and confusion_matrix.csv for job's model on its test split (else the last it has)."""
    split_name, (x, y) = job.splits.items()[-1]  # test if there is one, else validation, else train
    probabilities = np.asarray(job.model.predict(x, batch_size=job.config.batch_size, verbose=0))
    counts = confusion_counts(y, probabilities)
    names = class_names(job.config.dataset, len(counts))
    header = ["true\\predicted", *names]
    rows = [dict(zip(header, [name, *map(int, row)], strict=True)) for name, row in zip(names, counts, strict=True)]
    atomic.write_text(job.run_dir.file(layout.CONFUSION_MATRIX_TABLE), history.to_csv(rows, header))
    figure, axes = plt.subplots(figsize=(1.2 * len(names) + 2.5, 1.2 * len(names) + 1.5))
    axes.imshow(counts, cmap="Blues")
    for (row, column), count in np.ndenumerate(counts):
        dark = count > counts.max() / 2
        axes.text(column, row, str(count), ha="center", va="center", color="white" if dark else "black")
    ticks = range(len(names))
    axes.set_xticks(ticks, names, rotation=45 if len(names) > 2 else 0)
    axes.set_yticks(ticks, names)
    accuracy = np.trace(counts) / counts.sum()
    axes.set(
        xlabel="predicted",
        ylabel="true",
        title=f"{split_name} split: {counts.sum()} examples, accuracy {accuracy:.3f}",
    )
    return [curves.save(figure, job.run_dir.file(layout.CONFUSION_MATRIX))]


def confusion_counts(labels, probabilities):
    """counts[true, predicted] from labels and the model's outputs (one sigmoid column, or one per class)."""
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if probabilities.shape[-1] == 1:
        predicted, classes = (probabilities[:, 0] >= 0.5).astype(np.int64), 2
    else:
        predicted, classes = probabilities.argmax(axis=-1), probabilities.shape[-1]
    return np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def class_names(dataset, count):
    """The data set module's CLASS_NAMES if it has `count` of them, else "0", "1", ..."""
    module = importlib.import_module(f"nnlab.datasets.{dataset}") if dataset else None
    names = getattr(module, "CLASS_NAMES", ())
    return list(names) if len(names) == count else [str(index) for index in range(count)]
