"""Figures the report draws itself from CSVs: overlays, parallel coordinates, and stand-ins for a sweep's own PNGs.

Each function returns PNG bytes (or None when there is nothing to draw), so the same image can be embedded in
the HTML and written beside the Markdown without a second drawing.
"""

import io
import math

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nnlab.plots import curves as curve_plots  # noqa: E402

MISSING = -0.1  # where a trial without a value (a failed one) crosses an axis
MAX_PANELS = 4  # loss, a metric or two, and room for one extra column such as a fitted weight


def curves(histories, title):
    """Train (dashed) and validation (solid) curves of several runs overlaid, one panel per metric.

    Args:
      histories: [(label, history table)] in legend order; tables without an epoch column are skipped.
      title: the figure's title.
    """
    histories = [(label, table) for label, table in histories if _has_rows(table, "epoch")]
    if not histories:
        return None
    names = list(dict.fromkeys(name for _, table in histories for name in curve_plots.metric_names(table)))[:MAX_PANELS]
    if not names:
        return None
    figure, panels = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (label, table) in enumerate(histories):
        color = colors[index % len(colors)]
        for panel, name in zip(panels[0], names, strict=True):
            for column, style, suffix in ((name, "--", " train"), (f"val_{name}", "-", " val")):
                if column in table and pd.api.types.is_numeric_dtype(table[column]):
                    x, y = table["epoch"] + 1, table[column]
                    panel.plot(x, y, style, color=color, marker=".", label=label + suffix)
    for panel, name in zip(panels[0], names, strict=True):
        panel.set(xlabel="epoch", title=name)
        panel.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
    panels[0][0].legend(fontsize="small")
    figure.suptitle(title)
    return _png(figure)


def trial_curves(history, metric, title):
    """One line per sweep trial of `metric` against epoch, from the sweep's long history.csv."""
    if history is None or not {"trial_id", "epoch", metric} <= set(history.columns):
        return None
    figure, axes = plt.subplots(figsize=(6.5, 4))
    for trial_id, rows in history.groupby("trial_id", sort=True):
        axes.plot(rows["epoch"] + 1, rows[metric], marker=".", label=str(trial_id))
    axes.set(xlabel="epoch", ylabel=metric, title=title)
    axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    if history["trial_id"].nunique() <= 12:
        axes.legend(fontsize="small", ncol=2)
    return _png(figure)


def parallel_coordinates(trials, params, objective, direction, best_trial=None, label=None):
    """Every trial as a line across one vertical axis per hyperparameter and the objective (column `objective`,
    shown as `label`).

    Numbers spanning a decade or more (learning rates) get a log axis; text values are spread evenly. Lines are
    coloured by objective; trials without one (failed) are grey; the best trial is drawn thick and red.
    """
    axes_names = [name for name in [*params, objective] if name in trials]
    if len(axes_names) < 2 or not len(trials):
        return None
    scaled, ticks = {}, {}
    for name in axes_names:
        scaled[name], ticks[name] = _scale(trials[name])
    values = pd.to_numeric(trials[objective], errors="coerce") if objective in trials else pd.Series(dtype=float)
    finite = values[np.isfinite(values)]
    norm = matplotlib.colors.Normalize(finite.min(), finite.max()) if len(finite) else None
    cmap = plt.get_cmap("viridis_r" if direction == "min" else "viridis")  # better is always yellow
    figure, axes = plt.subplots(figsize=(max(6.0, 2.2 * len(axes_names)), 4.2))
    positions = np.arange(len(axes_names))
    for row in range(len(trials)):
        ys = [scaled[name][row] for name in axes_names]
        value = values.iloc[row] if len(values) else math.nan
        is_best = best_trial is not None and "trial_id" in trials and str(trials["trial_id"].iloc[row]) == best_trial
        if is_best:
            axes.plot(positions, ys, color="red", linewidth=3, zorder=3, label=f"best ({best_trial})")
        elif norm is not None and math.isfinite(value):
            axes.plot(positions, ys, color=cmap(norm(value)), linewidth=1.5, alpha=0.85)
        else:
            axes.plot(positions, ys, color="grey", linestyle=":", linewidth=1, label="_failed")
    for position, name in zip(positions, axes_names, strict=True):
        axes.axvline(position, color="black", linewidth=0.8)
        for y, text in ticks[name]:
            axes.text(position + 0.03, y, text, fontsize=7, va="center")
    label = label or objective
    axes.set_xticks(positions, [label if name == objective else name for name in axes_names])
    axes.set_yticks([])
    axes.set_ylim(MISSING - 0.05, 1.05)
    axes.set_xlim(-0.1, len(axes_names) - 0.6)
    axes.set_title(f"trials across hyperparameters ({label}, {direction}; grey: no {label})")
    if norm is not None:
        figure.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=label)
    if best_trial is not None:
        axes.legend(loc="upper left", fontsize="small")
    return _png(figure)


def objective_vs(trials, parameter, column, label):
    """A scatter of each trial's objective against one hyperparameter (log axis for learning rates)."""
    if not {parameter, column} <= set(trials.columns):
        return None
    x, y = pd.to_numeric(trials[parameter], errors="coerce"), pd.to_numeric(trials[column], errors="coerce")
    known = x.notna() & y.notna()
    if not known.any():
        return None
    figure, axes = plt.subplots(figsize=(5.5, 3.8))
    axes.scatter(x[known], y[known])
    if (x[known] > 0).all() and x[known].max() / x[known].min() >= 10:
        axes.set_xscale("log")
    axes.set(xlabel=parameter, ylabel=label, title=f"{label} vs {parameter}")
    axes.grid(alpha=0.3)
    return _png(figure)


def heatmap(trials, x_name, y_name, column, label, bins=5):
    """Mean objective over a grid of two hyperparameters; a numeric one with many values is binned (log if wide)."""
    if not {x_name, y_name, column} <= set(trials.columns):
        return None
    table = pd.DataFrame(
        {"x": _binned(trials[x_name], bins), "y": _binned(trials[y_name], bins), "z": trials[column]}
    ).dropna()
    table["z"] = pd.to_numeric(table["z"], errors="coerce")
    grid = table.dropna().pivot_table(index="y", columns="x", values="z", aggfunc="mean", observed=True)
    if grid.empty:
        return None
    figure, axes = plt.subplots(figsize=(1.4 * len(grid.columns) + 2.5, 0.7 * len(grid.index) + 2))
    image = axes.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto", origin="lower")
    axes.set_xticks(range(len(grid.columns)), [str(value) for value in grid.columns], rotation=30, ha="right")
    axes.set_yticks(range(len(grid.index)), [str(value) for value in grid.index])
    for (row, col), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        if math.isfinite(value):
            axes.text(col, row, f"{value:.3g}", ha="center", va="center", color="white", fontsize=8)
    axes.set(xlabel=x_name, ylabel=y_name, title=f"mean {label}")
    figure.colorbar(image, ax=axes, label=label)
    return _png(figure)


def _binned(column, bins):
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.isna().all() or numbers.nunique() <= bins:
        return column.map(lambda value: f"{value:.3g}" if isinstance(value, float) else value)
    if (numbers > 0).all() and numbers.max() / numbers.min() >= 10:
        edges = np.logspace(np.log10(numbers.min()), np.log10(numbers.max()), bins + 1)
    else:
        edges = np.linspace(numbers.min(), numbers.max(), bins + 1)
    labels = [f"{low:.2g}–{high:.2g}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
    return pd.cut(numbers, edges, labels=labels, include_lowest=True)


def gif_last_frame(path):
    """The last frame of an animated GIF as PNG bytes (a fitted-line animation ends on the final fit)."""
    from PIL import Image  # matplotlib's own image dependency

    try:
        with Image.open(path) as image:
            image.seek(getattr(image, "n_frames", 1) - 1)
            buffer = io.BytesIO()
            image.convert("RGBA").save(buffer, format="PNG")
            return buffer.getvalue()
    except (OSError, ValueError, EOFError):  # a GIF still being written or cut short
        return None


def _scale(column):
    """Column values mapped to [0, 1] (missing ones just below) and a few (position, label) ticks for the axis."""
    numbers = pd.to_numeric(column, errors="coerce")
    known = numbers.dropna()
    if len(known) and len(known) == column.notna().sum():
        low, high = float(known.min()), float(known.max())
        log = low > 0 and high / low >= 10
        transform = np.log10 if log else (lambda x: x)
        lo, hi = transform(low), transform(high)

        def place(x):
            return (transform(x) - lo) / (hi - lo) if hi > lo else 0.5

        scaled = [MISSING if math.isnan(value) else place(value) for value in numbers.to_numpy(dtype=float)]
        middle = 10 ** ((lo + hi) / 2) if log else (lo + hi) / 2
        marks = sorted(set(known)) if known.nunique() <= 5 else [low, middle, high]
        ticks = [(place(mark), f"{mark:.3g}") for mark in marks]
    else:
        labels = sorted(column.dropna().astype(str).unique())
        places = {
            label: index / max(1, len(labels) - 1) if len(labels) > 1 else 0.5 for index, label in enumerate(labels)
        }
        scaled = [places.get(str(value), MISSING) if pd.notna(value) else MISSING for value in column]
        ticks = [(places[label], label) for label in labels]
    if column.isna().any():
        ticks.append((MISSING, "none"))
    return scaled, ticks


def _has_rows(table, column):
    return table is not None and column in table and len(table) > 0


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
