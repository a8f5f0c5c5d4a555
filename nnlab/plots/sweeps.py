"""A sweep's three figures, drawn from its trials.csv and history.csv alone.

objective_vs_learning_rate.png: each trial's best objective against its learning rate (log axis), coloured by width.
lr_width_heatmap.png: the best objective per (learning-rate band, width) cell.
trial_curves.png: the objective per epoch for every trial.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from nnlab.plots import curves
from nnlab.results import layout

plt = curves.plt  # matplotlib, already switched to the Agg backend


def draw_all(sweep_dir, objective, x_field="learning_rate", colour_field="width"):
    """Write the three PNGs; fields missing from the sweep are drawn as a single series. Returns the paths."""
    sweep_dir = Path(sweep_dir)
    trials = pd.read_csv(sweep_dir / layout.TRIALS, dtype={"trial_id": str})
    trials = trials[trials["status"] == "COMPLETED"].dropna(subset=["best_objective"])
    history = pd.read_csv(sweep_dir / layout.SWEEP_HISTORY, dtype={"trial_id": str})
    return [
        _scatter(trials, objective, x_field, colour_field, sweep_dir / layout.OBJECTIVE_VS_LEARNING_RATE),
        _heatmap(trials, objective, x_field, colour_field, sweep_dir / layout.LEARNING_RATE_WIDTH_HEATMAP),
        _curves(history, objective, sweep_dir / layout.TRIAL_CURVES),
    ]


def _groups(trials, colour_field):
    if colour_field in trials and len(trials):
        return [(f"{colour_field}={value:g}", group) for value, group in trials.groupby(colour_field)]
    return [("trials", trials)]


def _scatter(trials, objective, x_field, colour_field, path):
    figure, axes = plt.subplots(figsize=(6, 4))
    if x_field in trials:
        for label, group in _groups(trials, colour_field):
            axes.scatter(group[x_field], group["best_objective"], label=label, s=40)
        axes.set_xscale("log")
        if len(trials):
            axes.legend()
    axes.set(xlabel=x_field, ylabel=f"best {objective}", title=f"best {objective} per trial")
    axes.grid(alpha=0.3)
    return curves.save(figure, path)


def _heatmap(trials, objective, x_field, colour_field, path):
    figure, axes = plt.subplots(figsize=(6, 4))
    if x_field in trials and len(trials):
        rates = trials[x_field].astype(float)
        edges = np.geomspace(rates.min(), rates.max() * (1 + 1e-9), min(5, rates.nunique()) + 1)
        bands = pd.cut(
            rates,
            edges,
            include_lowest=True,
            labels=[f"{a:.1e}-{b:.1e}" for a, b in zip(edges, edges[1:], strict=False)],
        )
        rows = trials[colour_field] if colour_field in trials else pd.Series("all", index=trials.index)
        table = trials.assign(band=bands, row=rows).pivot_table(
            index="row", columns="band", values="best_objective", aggfunc="max", observed=False
        )
        image = axes.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis")
        axes.set_xticks(range(len(table.columns)), [str(c) for c in table.columns], rotation=30, ha="right")
        axes.set_yticks(range(len(table.index)), [str(i) for i in table.index])
        for (row, column), value in np.ndenumerate(table.to_numpy(dtype=float)):
            if np.isfinite(value):
                axes.text(column, row, f"{value:.3g}", ha="center", va="center", color="white", fontsize=8)
        figure.colorbar(image, ax=axes, label=f"best {objective}")
    axes.set(xlabel=f"{x_field} band", ylabel=colour_field, title=f"best {objective} by {x_field} and {colour_field}")
    return curves.save(figure, path)


def _curves(history, objective, path):
    figure, axes = plt.subplots(figsize=(6, 4))
    if objective in history:
        for trial_id, rows in history.groupby("trial_id"):
            axes.plot(rows["epoch"] + 1, rows[objective], marker=".", label=f"trial {trial_id}")
        if history["trial_id"].nunique() <= 12:
            axes.legend(fontsize=7)
    axes.set(xlabel="epoch", ylabel=objective, title=f"{objective} per epoch, every trial")
    axes.grid(alpha=0.3)
    return curves.save(figure, path)
