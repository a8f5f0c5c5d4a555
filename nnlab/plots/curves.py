"""PNG learning curves drawn from a run's history.csv alone, so any run can be re-plotted later."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from nnlab.results import (
    atomic,  # noqa: E402
    layout,  # noqa: E402
)

NOT_METRICS = {"epoch", "seconds", "learning_rate"}


def metric_names(history):
    """Base metric names in a history table: 'loss', 'accuracy', ... (their val_ twins paired)."""
    names = [column.removeprefix("val_") for column in history.columns if column not in NOT_METRICS]
    return list(dict.fromkeys(names))


def plot_history(history_csv, out_dir, variant=""):
    """Write `[<variant>-]<metric>.png` (train vs validation per epoch) for each metric; return the paths."""
    history = pd.read_csv(history_csv)
    written = []
    for name in metric_names(history):
        figure, axes = plt.subplots(figsize=(6, 4))
        for column, label in ((name, "train"), (f"val_{name}", "validation")):
            if column in history:
                axes.plot(history["epoch"] + 1, history[column], marker="o", label=label)
        axes.set(xlabel="epoch", ylabel=name, title=f"{name} per epoch")
        axes.grid(alpha=0.3)
        axes.legend()
        written.append(save(figure, Path(out_dir) / layout.learning_curve(name, variant)))
    return written


def save(figure, path):
    """Save and close a figure atomically; return the path."""
    with atomic.replacing(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
