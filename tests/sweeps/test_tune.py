"""Sweeps end to end on a tiny experiment: files, best config, no re-runs, and clear errors for bad sweeps."""

import json
import textwrap

import pandas as pd
import pytest

from nnlab import NnlabError, search_space
from nnlab.sweeps import tuning
from nnlab.train import runner
from tests.tiny import TINY


@pytest.fixture
def tiny(make_experiment):
    return make_experiment("tiny", TINY)


def test_two_trial_sweep_completes_and_its_best_config_reruns(tiny, results_dir):
    # vectorize=1: trained one at a time, so `nnlab run from=best_config.json` repeats the best trial bitwise
    result = tuning.tune("tiny", ["max_trials=2", "epochs=2", "vectorize=1"], results_dir=results_dir, verbose=0)
    sweep_dir = result.sweep_dir
    assert sweep_dir.parent == results_dir / "tiny" / "sweeps" and sweep_dir.name.startswith("random-")
    for name in ("trials.csv", "history.csv", "best_config.json", "sweep.json", "tuner/oracle.json"):
        assert (sweep_dir / name).stat().st_size > 0, name
    for name in ("objective_vs_learning_rate.png", "lr_width_heatmap.png", "trial_curves.png"):
        assert (sweep_dir / name).read_bytes()[:4] == b"\x89PNG", name
    trials = pd.read_csv(sweep_dir / "trials.csv", dtype={"trial_id": str})
    assert list(trials.columns) == [
        "trial_id", "status", "learning_rate", "width",
        "best_objective", "last_objective", "best_epoch", "epochs_run", "seconds", "group",
    ]  # fmt: skip
    assert list(trials["status"]) == ["COMPLETED", "COMPLETED"] and list(trials["epochs_run"]) == [2, 2]
    assert trials["learning_rate"].between(1e-3, 1e-1).all() and set(trials["width"]) <= {4, 8, 16}
    history = pd.read_csv(sweep_dir / "history.csv", dtype={"trial_id": str})
    assert {"trial_id", "epoch", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.columns)
    assert sorted(zip(history["trial_id"], history["epoch"], strict=True)) == [("0", 0), ("0", 1), ("1", 0), ("1", 1)]
    for _, trial in trials.iterrows():  # trials.csv agrees with history.csv
        rows = history[history["trial_id"] == trial["trial_id"]]
        assert trial["best_objective"] == rows["val_accuracy"].max()
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    assert sweep["status"] == "done" and sweep["counts"] == {"COMPLETED": 2} and sweep["direction"] == "max"
    assert sweep["search_space"]["learning_rate"] == {
        "type": "float", "min_value": 1e-3, "max_value": 0.1, "log": True, "step": None
    }  # fmt: skip
    best = json.loads((sweep_dir / "best_config.json").read_text())
    best_row = trials.loc[trials["best_objective"].idxmax()]
    assert best["trial_id"] == result.best_trial == sweep["best_trial"]
    assert best["config"]["learning_rate"] == best_row["learning_rate"] and best["config"]["epochs"] == 2
    assert best["objective"]["value"] == best_row["best_objective"]
    # The sweep's result is a config: `nnlab run tiny from=best_config.json` trains exactly it.
    run_dir = runner.run("tiny", [f"from={result.best_config}"], results_dir=results_dir, verbose=0).run_dir
    assert json.loads((run_dir / "config.json").read_text())["config"] == best["config"]

    # The same command again continues the same (finished) sweep: nothing is re-run.
    records = {p: p.read_text() for p in sweep_dir.glob("tuner/trial_*/nnlab_trial.json")}
    again = tuning.tune("tiny", ["epochs=2", "max_trials=2"], results_dir=results_dir, verbose=0)
    assert again.sweep_dir == sweep_dir and again.counts == {"COMPLETED": 2}
    assert {p: p.read_text() for p in records} == records
    # A named sweep refuses to continue with other settings.
    tuning.tune("tiny", ["epochs=2", "max_trials=1", "sweep=mine"], results_dir=results_dir, verbose=0)
    with pytest.raises(NnlabError, match=r"sweep 'mine' was started with max_trials=1"):
        tuning.plan("tiny", ["epochs=2", "max_trials=3", "sweep=mine"], results_dir).check_resumable()


SPACE_ERRORS = [
    ('{"learning_rate": search_space.Float(0.1, 0.001)}', r"min_value \(0.1\) must be smaller than max_value"),
    ('{"learning_rate": search_space.Float(0.0, 0.1, log=True)}', "log-scale range needs min_value > 0"),
    ('{"learning_rate": search_space.Float(0.001, 0.1, step=0)}', "step must be > 0"),
    ('{"width": search_space.Int(4, 16, step=-2)}', "step must be > 0"),
    ('{"widht": search_space.Choice([4, 8])}', r"SEARCH_SPACE\['widht'\] names no config field"),
    ('{"width": search_space.Choice([4, 8, 4])}', "lists a value twice"),
    ('{"width": search_space.Choice([4, 8.5])}', "field 'width' expects an integer, got 8.5"),
    ('{"width": search_space.Float(4, 16)}', "is a Float range but the field holds int"),
    ('{"width": [4, 8]}', "use search_space.Float"),
    ("{}", "non-empty dict"),
]


@pytest.mark.parametrize("space, match", SPACE_ERRORS)
def test_bad_search_space_is_a_clear_error(make_experiment, results_dir, space, match):
    make_experiment("tiny", textwrap.dedent(TINY).replace("SEARCH_SPACE = {", f"SEARCH_SPACE = {space}\nUNUSED = {{"))
    with pytest.raises(NnlabError, match=match) as error:
        tuning.tune("tiny", ["max_trials=2"], results_dir=results_dir, verbose=0)
    assert "tiny.py" in str(error.value)
    assert not results_dir.exists()  # nothing written, nothing trained


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["algorithm=annealing"], "algorithm='annealing' is unknown"),
        (["max_trials=0"], "max_trials=0 must be at least 1"),
        (["max_trials=two"], "field 'max_trials' expects an integer"),
        (["direction=up"], "direction='up' must be min or max"),
        (["widht=3"], "unknown setting 'widht'"),
        (["learning_rate=0.01", "width=8"], "pin every SEARCH_SPACE field"),
        (["sweep=../x"], "must be a plain name"),
    ],
)
def test_bad_sweep_settings_are_clear_errors(tiny, results_dir, overrides, match):
    with pytest.raises(NnlabError, match=match):
        tuning.tune("tiny", overrides, results_dir=results_dir, verbose=0)
    assert not results_dir.exists()


def test_objective_must_be_a_logged_metric(tiny, results_dir):
    with pytest.raises(NnlabError, match=r"objective 'val_auc' is not a metric this experiment logs.*val_accuracy"):
        tuning.tune("tiny", ["objective=val_auc", "max_trials=2"], results_dir=results_dir, verbose=0)
    assert not list(results_dir.rglob("trial_*"))  # failed before the first trial


def test_trial_count_and_sweep_id_are_known_before_training(tiny, results_dir):
    grid = tuning.plan("tiny", ["algorithm=grid", "learning_rate=0.01"], results_dir)
    assert grid.max_trials == 3 and list(grid.space) == ["width"]  # a plain override pins the field
    assert (
        tuning.plan("tiny", ["algorithm=hyperband", "epochs=9"], results_dir).max_trials == 23
    )  # as HyperbandOracle schedules
    assert tuning.plan("tiny", ["algorithm=hyperband", "epochs=9", "max_trials=4"], results_dir).max_trials == 4
    first, same = (tuning.plan("tiny", overrides, results_dir) for overrides in (["epochs=2"], ["epochs=02"]))
    assert first.sweep_id == same.sweep_id  # the id depends on resolved values, so re-running finds the sweep
    assert first.sweep_id != tuning.plan("tiny", ["epochs=3"], results_dir).sweep_id
    assert search_space.grid_size(search_space.to_hyperparameters(first.space)) == 10 * 3


def test_every_trial_failing_is_a_failed_sweep(tiny, results_dir):
    # Every width the sweep may pick makes build_model fail; the default width (8) passes the preflight. (A huge
    # learning rate is not a reliable failure: on this separable data it sometimes lands on a perfect classifier.)
    source = textwrap.dedent(TINY).replace("Choice([4, 8, 16])", "Choice([3, 5, 7])")
    source = source.replace(
        "def build_model(config):\n", "def build_model(config):\n    assert config.width % 2 == 0, 'odd'\n"
    )
    tiny.path.write_text(source)
    with pytest.raises(NnlabError, match=r"no completed trial \(3 FAILED\).*build_model\(config\) raised"):
        tuning.tune("tiny", ["max_trials=5", "epochs=1", "vectorize=1"], results_dir=results_dir, verbose=0)
    [sweep_dir] = (results_dir / "tiny" / "sweeps").iterdir()
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    assert sweep["status"] == "failed" and sweep["best_trial"] is None and sweep["counts"] == {"FAILED": 3}
    assert not (sweep_dir / "best_config.json").exists()
