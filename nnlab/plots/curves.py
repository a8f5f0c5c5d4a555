"""Learning curves drawn from history tables alone, so any run can be re-plotted later (and the report redraws them).

A history column is one of two kinds. A metric (loss, accuracy, ...) is drawn as training vs validation when a
`val_` twin exists. A tracked value (w, b from an experiment's `track(model)` hook) has no such twin and is drawn as
its own series under its own name: calling it "train w" would claim a validation w exists.

Every drawing function returns a matplotlib Figure (or None when there is nothing to draw), so a caller can write
it to a file (`save`) or embed its bytes (`png_bytes`), and a test can inspect its axes before either.
"""

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import ticker  # noqa: E402

from nnlab.plots import tables  # noqa: E402
from nnlab.results import atomic, layout, limits  # noqa: E402

NOT_METRICS = {"epoch", "seconds", "learning_rate", "execution", "trial_id"}
MAX_PANELS = 4  # loss, a metric or two, and room for a tracked value such as a fitted weight
# Line styles that tell training from validation even for a single epoch, where there is no line, only a marker.
TRAINING = {"linestyle": "--", "marker": "x"}
VALIDATION = {"linestyle": "-", "marker": "o", "markersize": 4}


def metric_names(history):
    """Base names of a history table's series: 'loss', 'accuracy', 'w', ... (val_ twins folded into their base)."""
    names = [column.removeprefix("val_") for column in history.columns if column not in NOT_METRICS]
    return list(dict.fromkeys(names))


def tracked_names(columns, metrics=()):
    """The columns that are tracked values, not metrics: no `val_` twin, not 'loss', not one of `metrics`.

    Args:
      columns: a history table's columns (or a final-row dict's keys).
      metrics: names the run compiled as metrics (config.json's `metrics`), known to be metrics even without a
        validation split.
    """
    columns = list(columns)
    known = {"loss", *metrics}
    return [
        column
        for column in columns
        if column not in NOT_METRICS
        and not column.startswith("val_")
        and f"val_{column}" not in columns
        and column not in known
    ]


def thinned(table, max_points=limits.HISTORY_MAX_POINTS):
    """At most `max_points` rows of a history table: every k-th row plus the last, so a curve of a very long run
    keeps its shape and ends where the run ended (HISTORY_MAX_POINTS rows or fewer are drawn whole)."""
    if table is None or len(table) <= max_points:
        return table
    step = math.ceil(len(table) / (max_points - 1))
    rows = list(range(0, len(table), step))
    if rows[-1] != len(table) - 1:
        rows.append(len(table) - 1)
    return table.iloc[rows]


def integer_epochs(axes):
    """Whole-number epoch ticks: a 1-epoch run shows '1', never 0.96, 0.98, 1.00, ..."""
    axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True, min_n_ticks=1))
    axes.xaxis.set_major_formatter(ticker.FormatStrFormatter("%d"))
    low, high = axes.get_xlim()
    if high - low < 1:  # one epoch: give the single tick room instead of a zoom into a hundredth of an epoch
        middle = round((low + high) / 2)
        axes.set_xlim(middle - 0.5, middle + 0.5)


def legend_outside(axes, **options):
    """A legend to the right of the axes, where it cannot cover a curve (saved with bbox_inches='tight')."""
    handles, _ = axes.get_legend_handles_labels()
    if handles:
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **options)


def legend_below(axes, **options):
    """A legend under the axes (and its x label), for panels side by side where the right edge has no room."""
    handles, _ = axes.get_legend_handles_labels()
    if handles:
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, **options)


def history_figure(history, name, metrics=()):
    """One metric's curve per epoch (training and validation), or one tracked value's curve; None if absent."""
    history = thinned(history)
    figure, axes = plt.subplots(figsize=(6, 4))
    if name in tracked_names(history.columns, metrics):
        series = [(name, name, VALIDATION)]
        title = f"{name} after each epoch"
    else:
        series = [(name, "train", TRAINING), (f"val_{name}", "validation", VALIDATION)]
        title = f"{name} per epoch"
    drawn = False
    for column, label, style in series:
        if column in history and pd.api.types.is_numeric_dtype(history[column]):
            axes.plot(history["epoch"] + 1, history[column], label=label, **style)
            drawn = True
    if not drawn:
        plt.close(figure)
        return None
    axes.set(xlabel="epoch", ylabel=name, title=title)
    integer_epochs(axes)
    axes.grid(alpha=0.3)
    legend_outside(axes)
    return figure


def plot_history(history_csv, out_dir, variant="", metrics=()):
    """Write `[<variant>-]<name>.png` for each metric and tracked value of a history.csv; return the paths."""
    history = tables.read_csv(history_csv)
    written = []
    for name in metric_names(history):
        figure = history_figure(history, name, metrics)
        if figure is not None:
            written.append(save(figure, Path(out_dir) / layout.learning_curve(name, variant)))
    return written


def overlay(histories, title, metrics=(), max_panels=MAX_PANELS):
    """Several runs' curves overlaid, one panel per metric or tracked value.

    Metrics: training dashed with crosses, validation solid with dots. Tracked values: one solid line per run. One
    legend for the whole figure, one entry per run plus the two line styles, sits below the panels, covering none.

    Args:
      histories: [(label, history table)] in legend order; tables without rows or an epoch column are skipped.
      title: the figure's title.
      metrics: names known to be metrics (config.json's `metrics`), see tracked_names.
      max_panels: the most panels to draw (None: all), so a report page stays readable.
    """
    histories = [(label, thinned(table)) for label, table in histories if _has_rows(table)]
    names = list(dict.fromkeys(name for _, table in histories for name in metric_names(table)))[:max_panels]
    if not names:
        return None
    tracked = {name for _, table in histories for name in tracked_names(table.columns, metrics)}
    figure, panels = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False, layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    entries = {}
    for index, (label, table) in enumerate(histories):
        color = colors[index % len(colors)]
        for panel, name in zip(panels[0], names, strict=True):
            series = ((name, VALIDATION),) if name in tracked else ((name, TRAINING), (f"val_{name}", VALIDATION))
            for column, style in series:
                if column in table and pd.api.types.is_numeric_dtype(table[column]):
                    panel.plot(table["epoch"] + 1, table[column], color=color, **style)
                    entries.setdefault(label, matplotlib.lines.Line2D([], [], color=color, linewidth=3))
    for panel, name in zip(panels[0], names, strict=True):
        panel.set(xlabel="epoch", title=f"{name} (tracked)" if name in tracked else name)
        integer_epochs(panel)
        panel.grid(alpha=0.3)
    if set(names) - tracked:
        entries["validation"] = matplotlib.lines.Line2D([], [], color="black", **VALIDATION)
        entries["training"] = matplotlib.lines.Line2D([], [], color="black", **TRAINING)
    figure.legend(
        list(entries.values()),
        list(entries),
        loc="outside lower center",
        ncol=min(5, len(entries)),
        fontsize="small",
        frameon=False,
    )
    figure.suptitle(title)
    return figure


def save(figure, path):
    """Save and close a figure atomically; return the path."""
    with atomic.replacing(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def png_bytes(figure):
    """The figure as PNG bytes, closed afterwards; None for no figure (so callers can pass a draw() straight in)."""
    if figure is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _has_rows(table):
    return table is not None and "epoch" in table and len(table) > 0
