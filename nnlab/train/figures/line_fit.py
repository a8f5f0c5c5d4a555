"""A line fit drawn epoch by epoch: the data with the line after each epoch, w and b against least squares, and a GIF.

Needs history.csv columns `w` and `b` (an experiment's `track(model)` hook records them) and a one-input
training split. Long runs are thinned to at most MAX_LINES lines and MAX_FRAMES frames, always keeping the last
epoch. The seed redrew its plot every 80 of 5,000 epochs (63 frames); each GIF frame is a full redraw (about
0.1 s here), so 40 frames, which show the convergence as well, keep the figure from outlasting the training.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import animation  # noqa: E402

from nnlab.errors import NnlabError  # noqa: E402
from nnlab.plots import curves, tables  # noqa: E402
from nnlab.reference import linear_fit  # noqa: E402
from nnlab.results import (
    atomic,  # noqa: E402
    layout,  # noqa: E402
)

MAX_LINES = 40
MAX_FRAMES = 40
MAX_POINTS = 2000  # scatter points drawn; more only blacken the plot and slow it down
ARRAY_INPUTS = ARRAY_LABELS = True  # x and y plotted as one column each


def draw(job):
    """Write line_fit.png, line_fit_trajectory.png and line_fit.gif into the run directory; return their paths."""
    history = tables.read_csv(job.history.path)
    if not {"w", "b"} <= set(history.columns):
        raise NnlabError(
            f"{job.where}: FIGURES has 'line_fit', which needs w and b per epoch in history.csv; define "
            f"track(model) returning {{'w': ..., 'b': ...}} (see experiments/linefit.py)."
        )
    x, y = (np.asarray(values, dtype=float).ravel() for values in job.splits.train)
    ols = linear_fit.least_squares(x, y)
    sample = np.random.default_rng(0).permutation(len(x))[:MAX_POINTS]
    x_plot, y_plot = x[sample], y[sample]
    span = np.array([x.min(), x.max()])
    return [
        _lines(job, history, x_plot, y_plot, span, ols),
        _trajectory(job, history, ols),
        _animation(job, history, x_plot, y_plot, span, ols),
    ]


def _lines(job, history, x, y, span, ols):
    figure, axes = plt.subplots(figsize=(7, 5))
    axes.scatter(x, y, s=8, color="grey", alpha=0.5, label="training data")
    colours = plt.get_cmap("viridis")
    last = max(1, len(history) - 1)
    for _, row in history.iloc[_thin(len(history), MAX_LINES)].iterrows():
        axes.plot(span, row["w"] * span + row["b"], color=colours(row["epoch"] / last), linewidth=1.2)
    axes.plot(span, ols[0] * span + ols[1], "r--", linewidth=2, label=f"least squares w={ols[0]:.3f} b={ols[1]:.3f}")
    final = history.iloc[-1]
    axes.set(
        xlabel="x", ylabel="y", title=f"fitted line after each epoch (last: w={final['w']:.3f} b={final['b']:.3f})"
    )
    norm = matplotlib.colors.Normalize(1, len(history))
    figure.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=colours), ax=axes, label="epoch")
    curves.legend_below(axes, ncol=2)
    return curves.save(figure, job.run_dir.file(layout.LINE_FIT))


def _trajectory(job, history, ols):
    figure, panels = plt.subplots(1, 3, figsize=(15, 4))
    epochs = history["epoch"] + 1
    for column, label in (("loss", "train"), ("val_loss", "validation")):
        if column in history:
            panels[0].plot(epochs, history[column], marker=".", label=label)  # a marker: one epoch is one point
    panels[0].set(xlabel="epoch", ylabel="loss", title="loss", yscale="log")
    for axes, name, target in ((panels[1], "w", ols[0]), (panels[2], "b", ols[1])):
        axes.plot(epochs, history[name], marker=".", label=f"learned {name}")
        axes.axhline(target, color="red", linestyle="--", label=f"least squares {target:.4f}")
        axes.set(xlabel="epoch", ylabel=name, title=f"{name} per epoch")
    for axes in panels:
        curves.integer_epochs(axes)
        curves.legend_below(axes, ncol=2)
        axes.grid(alpha=0.3)
    return curves.save(figure, job.run_dir.file(layout.LINE_FIT_TRAJECTORY))


def _animation(job, history, x, y, span, ols):
    frames = history.iloc[_thin(len(history), MAX_FRAMES)]
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.scatter(x[: MAX_POINTS // 4], y[: MAX_POINTS // 4], s=6, color="grey", alpha=0.5)  # a random quarter
    axes.plot(span, ols[0] * span + ols[1], "r--", linewidth=1.5, label="least squares")
    (line,) = axes.plot([], [], color="tab:blue", linewidth=2.5, label="fit")
    axes.set(xlabel="x", ylabel="y")
    axes.legend(loc="best")  # placed on the first frame, away from the data and the least-squares line

    def show(index):
        row = frames.iloc[index]
        line.set_data(span, row["w"] * span + row["b"])
        axes.set_title(f"epoch {int(row['epoch']) + 1}: w={row['w']:.3f} b={row['b']:.3f} loss={row['loss']:.4f}")
        return (line,)

    movie = animation.FuncAnimation(figure, show, frames=len(frames), blit=False)
    path = job.run_dir.file(layout.LINE_FIT_ANIMATION)
    with atomic.replacing(path, suffix=".gif") as tmp:
        movie.save(tmp, writer=animation.PillowWriter(fps=8), dpi=72)
    plt.close(figure)
    return path


def _thin(count, most):
    """Up to `most` evenly spaced row positions out of `count`, always including the last."""
    return np.unique(np.linspace(0, count - 1, min(count, most)).round().astype(int))
