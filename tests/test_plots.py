"""nnlab.plots, read back from the matplotlib objects before saving: what each figure claims, not just that it exists.

No training: the tables are what a run's history.csv and a sweep's trials.csv / history.csv hold.
"""

import numpy as np
import pandas as pd
import pytest

from nnlab import NnlabError
from nnlab.plots import curves
from nnlab.plots import sweeps as sweep_plots


def visible_ticks(axes):
    """The x tick labels inside the axes' view (matplotlib also places ticks just outside it)."""
    axes.figure.canvas.draw()
    low, high = axes.get_xlim()
    return [label.get_text() for label in axes.get_xticklabels() if low <= label.get_position()[0] <= high]


def cell_texts(axes):
    return sorted(text.get_text() for text in axes.texts)


def overlaps(first, second):
    return first.x0 < second.x1 and second.x0 < first.x1 and first.y0 < second.y1 and second.y0 < first.y1


def history(epochs, tracked=False):
    table = pd.DataFrame(
        {
            "epoch": range(epochs),
            "loss": np.linspace(1.0, 0.5, epochs),
            "val_loss": np.linspace(1.1, 0.6, epochs),
            "seconds": 0.1,
            "learning_rate": 0.01,
        }
    )
    return table.assign(w=np.linspace(0.0, 2.0, epochs), b=np.linspace(0.0, 1.0, epochs)) if tracked else table


def trials(objective_values, lrs, units):
    rows = len(objective_values)
    return pd.DataFrame(
        {
            "trial_id": [f"{index:02d}" for index in range(rows)],
            "status": "COMPLETED",
            "learning_rate": lrs,
            "units": units,
            "best_objective": objective_values,
        }
    )


@pytest.mark.parametrize("epochs", [1, 2, 3, 8])
def test_epoch_ticks_are_whole_numbers_from_one(epochs):
    table = history(epochs)
    expected = [str(epoch) for epoch in range(1, epochs + 1)]
    figure = curves.history_figure(table, "loss")
    assert visible_ticks(figure.axes[0]) == expected
    overlay = curves.overlay([("run", table)], "title")
    assert all(visible_ticks(panel) == expected for panel in overlay.axes)
    long = table.assign(trial_id="00", val_accuracy=0.5)
    assert visible_ticks(sweep_plots.trial_curves(long, "val_loss", "t").axes[0]) == expected
    curves.plt.close("all")


def test_tracked_values_are_their_own_series_not_train_and_validation():
    table = history(3, tracked=True)
    assert curves.tracked_names(table.columns) == ["w", "b"]
    assert curves.tracked_names(["epoch", "loss", "accuracy"], metrics=["accuracy"]) == []  # no validation split
    figure = curves.history_figure(table, "w")
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["w"]
    assert figure.axes[0].get_title() == "w after each epoch"
    metric = curves.history_figure(table, "loss")
    assert [line.get_label() for line in metric.axes[0].get_lines()] == ["train", "validation"]
    overlay = curves.overlay([("a", table), ("b", table.assign(w=table["w"] * 2))], "two runs")
    titles = [panel.get_title() for panel in overlay.axes]
    assert titles == ["loss", "w (tracked)", "b (tracked)"]
    assert [len(panel.get_lines()) for panel in overlay.axes] == [4, 2, 2]  # loss: train+val per run; w: one per run
    curves.plt.close("all")


def test_legends_sit_outside_the_data():
    table = history(5, tracked=True)
    for figure in (
        curves.history_figure(table, "loss"),
        curves.overlay([("a", table), ("b", table)], "title"),
        sweep_plots.trial_curves(table.assign(trial_id="00"), "val_loss", "t"),
    ):
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        legends = [panel.get_legend() for panel in figure.axes if panel.get_legend()] + list(figure.legends)
        assert legends, "no legend drawn"
        for legend in legends:
            box = legend.get_window_extent(renderer)
            assert not any(overlaps(box, panel.get_window_extent(renderer)) for panel in figure.axes)
    curves.plt.close("all")


def test_heatmap_shows_the_minimum_of_a_minimised_objective_and_says_so():
    # Two trials share each cell (same learning rate, same units): the cell must hold the better of the two.
    table = trials([0.30, 0.90, 0.50, 0.70], [1e-3, 1e-3, 1e-2, 1e-2], [32, 32, 32, 32])
    low = sweep_plots.heatmap(table, "learning_rate", "units", "val_loss", "min")
    axes = low.axes[0]
    assert cell_texts(axes) == ["0.3", "0.5"]
    assert "lowest val_loss" in axes.get_title() and "minimised" in axes.get_title()
    assert axes.get_ylabel() == "units" and axes.get_xlabel() == "learning_rate"
    high = sweep_plots.heatmap(table, "learning_rate", "units", "val_accuracy", "max")
    assert cell_texts(high.axes[0]) == ["0.7", "0.9"] and "highest" in high.axes[0].get_title()
    # The colour maps agree: in both, the best cell is drawn yellow (the top of viridis).
    best_low, best_high = (figure.axes[0].images[0] for figure in (low, high))
    assert best_low.cmap(best_low.norm(0.30))[:3] == pytest.approx(best_high.cmap(best_high.norm(0.9))[:3])
    curves.plt.close("all")


def test_heatmap_of_a_one_field_sweep_has_one_row_named_honestly():
    table = trials([0.3, 0.4], [1e-3, 1e-2], [8, 8]).drop(columns="units")
    axes = sweep_plots.heatmap(table, "learning_rate", None, "val_loss", "min").axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["all trials"]
    curves.plt.close("all")


def test_sweep_axes_follow_the_search_space():
    assert sweep_plots.sweep_axes(["units", "learning_rate", "dropout"]) == ("learning_rate", "units")
    assert sweep_plots.sweep_axes(["units", "dropout"]) == ("units", "dropout")
    assert sweep_plots.sweep_axes(["units"]) == ("units", None)
    assert sweep_plots.sweep_axes(["learning_rate", "units", "dropout"], ("dropout", "units")) == ("dropout", "units")
    # A declared axis pinned by an override is skipped; the rule fills in.
    assert sweep_plots.sweep_axes(
        ["learning_rate", "units"], ("dropout", "units"), ["learning_rate", "units", "dropout"]
    ) == (
        "units",
        "learning_rate",
    )
    with pytest.raises(NnlabError, match="names widht, which SEARCH_SPACE does not sweep"):
        sweep_plots.sweep_axes(["learning_rate", "width"], ("learning_rate", "widht"))
    with pytest.raises(NnlabError, match="one or two SEARCH_SPACE field names"):
        sweep_plots.sweep_axes(["a", "b", "c"], ("a", "b", "c"))


def test_sweep_figures_over_units_name_units_and_write_generic_files(tmp_path):
    table = trials([0.9, 0.8, 0.95], [1e-3, 3e-3, 1e-2], [16, 64, 64]).assign(
        last_objective=0.5, best_epoch=1, epochs_run=2, seconds=1.0
    )
    table.to_csv(tmp_path / "trials.csv", index=False)
    long = pd.concat([history(2).assign(trial_id=trial, val_accuracy=[0.5, 0.9]) for trial in table["trial_id"]])
    long.to_csv(tmp_path / "history.csv", index=False)
    axes = sweep_plots.sweep_axes(["units", "learning_rate"])
    written = sweep_plots.draw_all(tmp_path, "val_accuracy", "max", axes)
    assert [path.name for path in written] == sweep_plots.file_names(axes)
    expected = ["objective_vs_learning_rate.png", "lr_units_heatmap.png", "trial_curves.png"]
    assert sweep_plots.file_names(axes) == expected
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in written)
    scatter = sweep_plots.objective_vs(table, "learning_rate", "val_accuracy", "max", colour_field="units")
    labels = scatter.axes[0].get_legend_handles_labels()[1]
    assert labels == ["units=16", "units=64"] and scatter.axes[0].get_xscale() == "log"
    curves.plt.close("all")


def test_boolean_and_text_fields_are_categories():
    table = trials([0.2, 0.4, 0.3], [1e-3, 1e-3, 1e-2], [8, 8, 8]).assign(use_bias=["true", "false", "true"])
    scatter = sweep_plots.objective_vs(table, "use_bias", "val_loss", "min").axes[0]
    assert [label.get_text() for label in scatter.get_xticklabels()] == ["false", "true"]
    heat = sweep_plots.heatmap(table.assign(use_bias=[True, False, True]), "use_bias", None, "val_loss", "min").axes[0]
    assert [label.get_text() for label in heat.get_xticklabels()] == ["false", "true"]
    assert cell_texts(heat) == ["0.2", "0.4"]
    curves.plt.close("all")


def test_trial_curves_draw_each_execution_of_a_trial():
    long = pd.concat(
        [history(2).assign(trial_id=trial, execution=execution) for trial in ("00", "01") for execution in (0, 1)]
    )
    labels = [line.get_label() for line in sweep_plots.trial_curves(long, "val_loss", "t").axes[0].get_lines()]
    assert labels == ["trial 00 run 0", "trial 00 run 1", "trial 01 run 0", "trial 01 run 1"]
    curves.plt.close("all")


def test_nothing_to_draw_is_none_not_an_empty_picture():
    failed = trials([np.nan], [1e-3], [8])
    assert sweep_plots.heatmap(failed, "learning_rate", "units", "val_loss", "min") is None
    assert sweep_plots.objective_vs(failed, "learning_rate", "val_loss", "min") is None
    assert sweep_plots.trial_curves(None, "val_loss", "t") is None
    assert curves.overlay([("a", None), ("b", history(0))], "t") is None
    assert curves.png_bytes(None) is None


def test_a_sweep_plan_records_the_modules_axes_and_rejects_a_misspelt_one(make_experiment, results_dir):
    from nnlab.sweeps import plan
    from tests.tiny import TINY

    declared = make_experiment("tiny", TINY + '\n    SWEEP_AXES = ("width", "learning_rate")\n')
    sweep = plan.plan_settings(declared, ["max_trials=2"], results_dir, workers=0)
    assert sweep.axes == ("width", "learning_rate") and sweep.describe()["axes"] == ["width", "learning_rate"]
    pinned = plan.plan_settings(declared, ["max_trials=2", "width=8"], results_dir, workers=0)
    assert pinned.axes == ("learning_rate", None) and pinned.describe()["axes"] == ["learning_rate"]
    misspelt = make_experiment("tiny2", TINY + '\n    SWEEP_AXES = ("widht",)\n')
    with pytest.raises(NnlabError, match=r"tiny2\.py: SWEEP_AXES names widht, which SEARCH_SPACE does not sweep"):
        plan.plan_settings(misspelt, ["max_trials=2"], results_dir, workers=0)
