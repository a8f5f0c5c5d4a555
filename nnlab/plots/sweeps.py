"""A sweep's figures, drawn from its trials.csv and history.csv alone; `nnlab tune` writes them, the report embeds them.

Which two hyperparameters a figure shows comes from the search space, not from one experiment's field names:
`sweep_axes` picks the learning rate (when swept) against the first other field, or what the module's
`SWEEP_AXES = ("learning_rate", "units")` names. Each function returns a matplotlib Figure or None, so the same
drawing is saved as a file by the sweep and embedded as bytes by the report for a sweep that stopped before it.

Files a finished sweep holds (`file_names`, named in nnlab.results.layout): objective_vs_<first>.png (each trial's
best objective against the first axis, coloured by the second), <first>_<second>_heatmap.png (the best objective per
cell of the two axes: the lowest for a minimised objective, the highest otherwise) and trial_curves.png (the
objective per epoch of every trial). Sweeps from before sweep.json recorded its axes drew the heatmap with the
maximum even of a minimised objective; the report redraws theirs from trials.csv rather than show it.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd

from nnlab.errors import NnlabError
from nnlab.plots import curves, tables
from nnlab.results import layout

plt = curves.plt  # matplotlib, already switched to the Agg backend
matplotlib = curves.matplotlib

OBJECTIVE = "best_objective"  # trials.csv column holding each trial's best value of the sweep's objective
LEARNING_RATE = "learning_rate"
MISSING = -0.1  # where a trial without a value (a failed one) crosses a parallel-coordinates axis


def file_names(axes):
    """The PNG names a finished sweep over `axes` (from sweep_axes) holds, in the order they are drawn."""
    return [layout.objective_vs(axes[0]), layout.heatmap(*axes), layout.TRIAL_CURVES]


def sweep_axes(fields, declared=None, searchable=None, where="SWEEP_AXES"):
    """The (first, second) hyperparameter the sweep's figures show; second is None for a one-field sweep.

    Args:
      fields: the swept fields in SEARCH_SPACE order (fields pinned by an override already removed).
      declared: the module's SWEEP_AXES, or None. Declared fields that are pinned are skipped; the rule fills in.
      searchable: every SEARCH_SPACE field, to tell a misspelt declared name from a pinned one (default: fields).
      where: what to name in an error message.

    Raises:
      NnlabError: SWEEP_AXES is not one or two names, or names a field that is not in SEARCH_SPACE.
    """
    fields = list(fields)
    searchable = list(searchable) if searchable is not None else fields
    chosen = []
    if declared is not None:
        names = [declared] if isinstance(declared, str) else declared
        well_formed = isinstance(names, (list, tuple)) and 1 <= len(names) <= 2
        if not well_formed or not all(isinstance(name, str) for name in names):
            raise NnlabError(
                f"{where} must be one or two SEARCH_SPACE field names, e.g. SWEEP_AXES = "
                f'("learning_rate", "units"); got {declared!r}.'
            )
        unknown = [name for name in names if name not in searchable]
        if unknown:
            raise NnlabError(
                f"{where} names {', '.join(unknown)}, which SEARCH_SPACE does not sweep; use fields of "
                f"SEARCH_SPACE: {', '.join(searchable)}."
            )
        chosen = [name for name in names if name in fields]
    rest = [field for field in fields if field not in chosen]
    if not chosen and LEARNING_RATE in rest:
        rest.remove(LEARNING_RATE)
        chosen = [LEARNING_RATE]
    chosen = (chosen + rest)[:2]
    if not chosen:
        return (None, None)
    return (chosen[0], chosen[1] if len(chosen) > 1 else None)


def draw_all(sweep_dir, objective, direction, axes):
    """Write the sweep's PNGs (file_names(axes)) into its directory from its CSVs; return the paths written."""
    sweep_dir = Path(sweep_dir)
    trials = tables.read_csv(sweep_dir / layout.TRIALS, dtype={"trial_id": str})
    history = tables.read_csv(sweep_dir / layout.SWEEP_HISTORY, dtype={"trial_id": str})
    first, second = axes
    drawings = {
        layout.objective_vs(first): objective_vs(trials, first, objective, direction, colour_field=second),
        layout.heatmap(first, second): heatmap(trials, first, second, objective, direction),
        layout.TRIAL_CURVES: trial_curves(history, objective, f"{objective} per epoch, every trial"),
    }
    return [curves.save(figure, sweep_dir / name) for name, figure in drawings.items() if figure is not None]


def completed(trials):
    """Trials with a best objective, as numbers (failed and running trials have none)."""
    if trials is None or OBJECTIVE not in trials:
        return pd.DataFrame()
    values = pd.to_numeric(trials[OBJECTIVE], errors="coerce")
    return trials.assign(**{OBJECTIVE: values})[values.notna()]


def objective_vs(trials, field, objective, direction, colour_field=None):
    """Each completed trial's best objective against `field` (log axis for a wide positive range such as learning
    rates), one colour per value of `colour_field`; None when nothing can be drawn."""
    trials = completed(trials)
    if field is None or field not in trials or not len(trials):
        return None
    figure, axes = plt.subplots(figsize=(6, 4))
    x, categories = _positions(trials[field])
    groups = trials.groupby(_labels(trials[colour_field]), sort=True) if colour_field in trials else [(None, trials)]
    for value, group in groups:
        label = f"{colour_field}={value}" if value is not None else None
        axes.scatter(x[group.index], group[OBJECTIVE], label=label, s=40)
    if categories is not None:
        axes.set_xticks(range(len(categories)), categories)
    elif (x > 0).all() and x.max() / x.min() >= 10:
        axes.set_xscale("log")
    best = "lowest" if direction == "min" else "highest"
    axes.set(xlabel=field, ylabel=f"best {objective} ({best} epoch)", title=f"best {objective} per trial vs {field}")
    axes.grid(alpha=0.3)
    curves.legend_outside(axes, fontsize="small")
    return figure


def heatmap(trials, x_field, y_field, objective, direction, bins=5):
    """The best objective per cell of two hyperparameters: the lowest for direction 'min', the highest for 'max'.

    A numeric field with more than `bins` values is cut into bands (log-spaced when wide); with one swept field
    (y_field None) the map has a single row of all trials. None when nothing can be drawn.
    """
    trials = completed(trials)
    if x_field is None or x_field not in trials or not len(trials):
        return None
    rows = _binned(trials[y_field], bins) if y_field in trials else pd.Series("all trials", index=trials.index)
    table = pd.DataFrame({"x": _binned(trials[x_field], bins), "y": rows, "z": trials[OBJECTIVE]})
    pick = "min" if direction == "min" else "max"
    grid = table.pivot_table(index="y", columns="x", values="z", aggfunc=pick, observed=True)
    best = "lowest" if direction == "min" else "highest"
    figure, axes = plt.subplots(figsize=(1.4 * len(grid.columns) + 3, 0.7 * len(grid.index) + 2.5))
    # Better is always yellow: a minimised objective gets the reversed colour map.
    cmap = "viridis_r" if direction == "min" else "viridis"
    values = grid.to_numpy(dtype=float)
    image = axes.imshow(values, cmap=cmap, aspect="auto", origin="lower")
    axes.set_xticks(range(len(grid.columns)), [str(value) for value in grid.columns], rotation=30, ha="right")
    axes.set_yticks(range(len(grid.index)), [str(value) for value in grid.index])
    for (row, column), value in np.ndenumerate(values):
        if math.isfinite(value):
            red, green, blue, _ = image.cmap(image.norm(value))
            ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
            axes.text(column, row, f"{value:.3g}", ha="center", va="center", color=ink, fontsize=8)
    axes.set(xlabel=x_field, ylabel=y_field or "", title=f"{best} {objective} per cell ({direction}imised)")
    figure.colorbar(image, ax=axes, label=f"{best} {objective}")
    return figure


def trial_curves(history, objective, title):
    """The objective per epoch, one line per trial (and per execution when a trial trained several times)."""
    if history is None or not {"trial_id", "epoch", objective} <= set(history.columns) or not len(history):
        return None
    keys = ["trial_id", "execution"] if "execution" in history and history["execution"].nunique() > 1 else ["trial_id"]
    figure, axes = plt.subplots(figsize=(6.5, 4))
    lines = history.groupby(keys, sort=True)
    for key, rows in lines:
        key = key if isinstance(key, tuple) else (key,)
        label = f"trial {key[0]}" + (f" run {key[1]}" if len(key) > 1 else "")
        rows = curves.thinned(rows)
        axes.plot(rows["epoch"] + 1, rows[objective], marker=".", label=label)
    axes.set(xlabel="epoch", ylabel=objective, title=title)
    curves.integer_epochs(axes)
    axes.grid(alpha=0.3)
    if lines.ngroups <= 12:
        curves.legend_outside(axes, fontsize="small")
    return figure


def parallel_coordinates(trials, params, objective, direction, best_trial=None):
    """Every trial as a line across one vertical axis per hyperparameter and the objective.

    Numbers spanning a decade or more (learning rates) get a log axis; text values are spread evenly. Lines are
    coloured by objective (better is yellow); trials without one (failed) are grey; the best trial thick and red.
    """
    if trials is None or not len(trials):
        return None
    trials = trials.rename(columns={OBJECTIVE: objective}) if OBJECTIVE in trials else trials
    axes_names = [name for name in [*params, objective] if name in trials]
    if len(axes_names) < 2:
        return None
    trials = trials.reset_index(drop=True)
    scaled, ticks = {}, {}
    for name in axes_names:
        scaled[name], ticks[name] = _scale(trials[name])
    values = pd.to_numeric(trials[objective], errors="coerce") if objective in trials else pd.Series(dtype=float)
    finite = values[np.isfinite(values)]
    norm = matplotlib.colors.Normalize(finite.min(), finite.max()) if len(finite) else None
    cmap = plt.get_cmap("viridis_r" if direction == "min" else "viridis")
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
    axes.set_xticks(positions, axes_names)
    axes.set_yticks([])
    axes.set_ylim(MISSING - 0.05, 1.05)
    axes.set_xlim(-0.1, len(axes_names) - 0.6)
    axes.set_title(f"trials across hyperparameters ({objective}, {direction}; grey: no {objective})")
    if norm is not None:
        figure.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=objective)
    if best_trial is not None:
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), fontsize="small", frameon=False)
    return figure


def _labels(column):
    """Values as short text for legends and grid labels: 0.001 as '0.001', True/'true' as 'true', 64.0 as '64'."""
    return column.map(_text)


def _text(value):
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _has_booleans(column):
    return column.map(lambda value: isinstance(value, (bool, np.bool_))).any()


def _positions(column):
    """(x positions, category names or None): numbers as they are; text or booleans at 0, 1, ... in sorted order."""
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all() and not _has_booleans(column):
        return numbers, None
    labels = _labels(column)
    categories = sorted(labels.unique())
    return labels.map({name: index for index, name in enumerate(categories)}).astype(float), categories


def _binned(column, bins):
    """Grid labels for a field: its values when there are few (or it is text), else `bins` numeric bands."""
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.isna().any() or numbers.nunique() <= bins:
        labels = _labels(column)
        order = sorted(labels.unique(), key=lambda text: _numeric_first(numbers[labels == text].min(), text))
        return pd.Categorical(labels, categories=order, ordered=True)
    if (numbers > 0).all() and numbers.max() / numbers.min() >= 10:
        edges = np.geomspace(numbers.min(), numbers.max(), bins + 1)
    else:
        edges = np.linspace(numbers.min(), numbers.max(), bins + 1)
    labels = [f"{low:.2g}–{high:.2g}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
    return pd.cut(numbers, edges, labels=labels, include_lowest=True)


def _numeric_first(number, text):
    return (0, number, "") if math.isfinite(number) else (1, 0.0, text)


def _scale(column):
    """Column values mapped to [0, 1] (missing ones just below) and a few (position, label) ticks for the axis."""
    numbers = pd.to_numeric(column, errors="coerce")
    known = numbers.dropna()
    if len(known) and len(known) == column.notna().sum() and not _has_booleans(column):
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
        texts = column.map(lambda value: _text(value) if pd.notna(value) else None)
        labels = sorted(texts.dropna().unique())
        places = {
            label: index / max(1, len(labels) - 1) if len(labels) > 1 else 0.5 for index, label in enumerate(labels)
        }
        scaled = [places.get(text, MISSING) if text is not None else MISSING for text in texts]
        ticks = [(places[label], label) for label in labels]
    if column.isna().any():
        ticks.append((MISSING, "none"))
    return scaled, ticks
