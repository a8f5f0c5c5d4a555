"""Early stopping and learning-rate schedules in real runs and sweeps: config fields -> train/controls.py -> loop."""

import json

import numpy as np
import pandas as pd
import pytest

import nnlab
from nnlab.results import layout
from nnlab.train import controls
from tests.tiny import TINY

NOISY = """
    import dataclasses
    import keras
    import numpy as np
    import tensorflow as tf
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 30
        batch_size: int = 16
        learning_rate: float = 0.05
        validation_fraction: float = 0.3

    def make_data(config):  # few, noisy examples and a wide layer: validation loss soon rises again
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(160, 8)).astype("float32")
        y = ((x[:, 0] + rng.normal(scale=1.5, size=160)) > 0).astype("int64")
        return Splits(train=(x[:120], y[:120]), test=(x[120:], y[120:]))

    def build_model(config):
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(64, activation="relu"),
                                 keras.layers.Dense(2, activation="softmax")])
"""


@pytest.fixture
def noisy(make_experiment):
    return make_experiment("noisy", NOISY)


def test_patience_stops_early_and_keeps_the_best_epoch(noisy, results_dir):
    result = nnlab.run("noisy", {"patience": 2}, results_dir=results_dir)
    run = nnlab.load(result.run_dir)
    stopping = run.metrics["early_stopping"]
    losses = run.history["val_loss"].tolist()
    best = int(np.argmin(losses))
    assert stopping["stopped_early"] and len(losses) < 30 and stopping["stopped_at_epoch"] == len(losses) - 1
    assert len(losses) == best + 3  # history.csv keeps every epoch trained: the best, then two without improving
    assert stopping["best_epoch"] == stopping["kept_epoch"] == best and stopping["best_value"] == losses[best]
    assert stopping["kept"]["val_loss"] == losses[best] and "did not improve for 2 epochs" in stopping["reason"]
    assert run.metrics["final"]["epoch"] == len(losses) - 1  # `final` stays the last epoch trained
    # The saved model holds the kept epoch's weights: its validation loss is that epoch's, not the last one's.
    model = run.model()
    splits = noisy.load_splits(noisy.config({"patience": 2}))
    kept_loss = model.evaluate(*splits.validation, verbose=0, return_dict=True)["loss"]
    assert kept_loss == pytest.approx(losses[best], rel=1e-5) and kept_loss < losses[-1]
    test_loss = model.evaluate(*splits.test, verbose=0, return_dict=True)["loss"]
    assert run.metrics["test"]["loss"] == pytest.approx(test_loss, rel=1e-5)


def test_a_resumed_run_makes_the_same_decisions(noisy, results_dir, monkeypatch):
    """Interrupted after epoch 3 (its checkpoint holds epoch 2's state), resumed: the same rows, stop and weights."""
    settings = {"patience": 3, "lr_schedule": "plateau", "lr_patience": 1, "epochs": 12}
    clean = nnlab.load(nnlab.run("noisy", settings, results_dir=results_dir / "clean").run_dir)

    original = controls.EpochControls.after_epoch

    def interrupted(self, epoch, row):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, epoch, row)

    monkeypatch.setattr(controls.EpochControls, "after_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        nnlab.run("noisy", settings, results_dir=results_dir / "resumed")
    monkeypatch.setattr(controls.EpochControls, "after_epoch", original)
    resumed = nnlab.load(nnlab.run("noisy", settings, results_dir=results_dir / "resumed", resume=True).run_dir)
    assert resumed.metrics["resumed_at_epoch"] == 3
    columns = [column for column in clean.history if column != "seconds"]
    assert resumed.history[columns].equals(clean.history[columns])
    assert resumed.history["learning_rate"].iloc[-1] < resumed.history["learning_rate"].iloc[0]  # plateau acted
    assert resumed.metrics["early_stopping"] == clean.metrics["early_stopping"]
    assert resumed.metrics["test"] == clean.metrics["test"]


def test_schedules_show_in_the_learning_rate_column(noisy, results_dir):
    cosine = nnlab.load(nnlab.run("noisy", {"lr_schedule": "cosine", "epochs": 3}, results_dir=results_dir).run_dir)
    rates = cosine.history["learning_rate"].tolist()
    assert rates == pytest.approx([0.05, 0.0375, 0.0125], rel=1e-6)
    assert "early_stopping" not in cosine.metrics  # no patience, nothing to report


def test_a_handwritten_step_gets_the_schedule_through_its_optimizer(repo_experiments, results_dir):
    settings = {"lr_schedule": "exponential", "lr_decay": 0.5, "warmup_epochs": 1, "epochs": 4}
    line = nnlab.load(nnlab.run("linefit", settings, results_dir=results_dir).run_dir)
    assert line.history["learning_rate"].tolist() == pytest.approx([0.005, 0.01, 0.005, 0.0025], rel=1e-6)


def test_an_unknown_monitor_stops_before_the_first_epoch(noisy, results_dir):
    with pytest.raises(
        nnlab.NnlabError,
        match="'monitor' is 'val_acuracy' .*; it logs accuracy, loss, val_accuracy, val_loss. Pass e.g. monitor=val_",
    ):
        nnlab.run("noisy", {"patience": 1, "monitor": "val_acuracy"}, results_dir=results_dir)
    (run_dir,) = (results_dir / "noisy").iterdir()
    assert not (run_dir / layout.history()).exists()  # no epoch trained


def test_a_sweep_trial_stops_early_and_scores_its_best_epoch(make_experiment, results_dir):
    swept = NOISY.replace("import nnlab\n", "import nnlab\n    from nnlab import search_space\n", 1)
    make_experiment("swept", swept + '    SEARCH_SPACE = {"learning_rate": search_space.Float(0.01, 0.1, log=True)}\n')
    result = nnlab.tune("swept", {"max_trials": 2, "patience": 1, "epochs": 20}, results_dir=results_dir)
    trials = nnlab.trials(result.sweep_dir)
    assert (trials["epochs_run"] < 20).all()  # both trials stopped early
    epochs = pd.read_csv(result.sweep_dir / layout.SWEEP_HISTORY, dtype={"trial_id": str})
    for _, trial in trials.iterrows():
        rows = epochs[epochs["trial_id"] == trial["trial_id"]]
        assert len(rows) == rows["val_loss"].argmin() + 2  # monitor's best epoch, then one without improving
        assert trial["best_objective"] == rows["val_accuracy"].max()  # the objective is the trial's best epoch
    best = json.loads((result.sweep_dir / layout.BEST_CONFIG).read_text())
    assert best["objective"]["value"] == trials["best_objective"].max()


def test_a_sweep_checks_its_monitor_in_preflight(make_experiment, results_dir):
    make_experiment("tiny", TINY)
    with pytest.raises(nnlab.NnlabError, match="field 'monitor' is 'val_nope' .*Pass e.g. monitor=val_loss"):
        nnlab.tune("tiny", {"max_trials": 1, "patience": 1, "monitor": "val_nope"}, results_dir=results_dir)
    assert not list(results_dir.rglob("trial.json"))  # no trial started
