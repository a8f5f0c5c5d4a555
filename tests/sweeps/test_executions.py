"""keras-tuner's getting-started search as a user ports it: a Boolean hyperparameter, executions_per_trial=2,
best_config.json that repeats the best trial exactly, and a trial killed mid-execution that resumes exactly."""

import json

import numpy as np
import pandas as pd
import pytest

from nnlab import NnlabError
from nnlab.results import checkpoint
from nnlab.sweeps import tuning
from nnlab.train import runner

PORT = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab import search_space
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 1
        batch_size: int = 16
        units: int = 8
        dropout: bool = False
        seed: int = 3

    SEARCH_SPACE = {"units": search_space.Int(4, 16, step=4), "dropout": search_space.Boolean()}

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(160, 2)).astype("float32")
        return Splits(train=(x, (x[:, 0] + x[:, 1] > 0).astype("int64")))

    def build_model(config):
        layers = [keras.Input(shape=(2,)), keras.layers.Dense(config.units, activation="relu")]
        if config.dropout:
            layers.append(keras.layers.Dropout(0.25))
        return keras.Sequential(layers + [keras.layers.Dense(2, activation="softmax")])
"""
ARGS = ["max_trials=2", "executions_per_trial=2", "epochs=2", "vectorize=1"]  # best_config repeats a trial bitwise


@pytest.fixture
def port(make_experiment):
    return make_experiment("port", PORT)


def test_boolean_search_with_two_executions_per_trial(port, results_dir):
    result = tuning.tune("port", ARGS, results_dir=results_dir, verbose=0)
    sweep_dir = result.sweep_dir
    trials = pd.read_csv(sweep_dir / "trials.csv", dtype={"trial_id": str, "dropout": str})
    assert set(trials["dropout"]) <= {"true", "false"} and list(trials["executions"]) == [2, 2]
    long = pd.read_csv(sweep_dir / "history.csv", dtype={"trial_id": str})
    assert sorted(set(zip(long["trial_id"], long["execution"], long["epoch"], strict=True))) == [
        (trial, execution, epoch) for trial in ("0", "1") for execution in (0, 1) for epoch in (0, 1)
    ]
    for _, trial in trials.iterrows():  # the objective: the mean of each execution's best epoch
        rows = long[long["trial_id"] == trial["trial_id"]]
        per_execution = rows.groupby("execution")["val_accuracy"].max()
        assert trial["best_objective"] == pytest.approx(per_execution.mean())
        trial_history = pd.read_csv(sweep_dir / "tuner" / f"trial_{trial['trial_id']}" / "history.csv")
        assert list(trial_history["execution"]) == [0, 0, 1, 1]
    best = json.loads((sweep_dir / "best_config.json").read_text())
    assert isinstance(best["config"]["dropout"], bool) and best["repeatable"].startswith("yes")
    assert best["config"]["seed"] == best["trial_seed"] and best["config"]["data_seed"] == 3
    # from=best_config.json repeats execution 0 of the best trial: same split, initialisation and batch order.
    rerun = runner.run("port", [f"from={result.best_config}"], results_dir=results_dir, verbose=0)
    mine = pd.read_csv(rerun.run_dir / "history.csv")
    trial_history = pd.read_csv(sweep_dir / "tuner" / f"trial_{best['trial_id']}" / "history.csv")
    execution_0 = trial_history[trial_history["execution"] == 0]
    for column in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_array_equal(mine[column].to_numpy(), execution_0[column].to_numpy())


def test_a_trial_killed_mid_execution_resumes_exactly(port, results_dir, tmp_path, monkeypatch):
    args = ["max_trials=1", "executions_per_trial=2", "epochs=2"]
    clean = tuning.tune("port", args, results_dir=tmp_path / "clean", verbose=0)
    original = checkpoint.save
    saves = []

    def interrupted(model, path, next_epoch, **kwargs):
        original(model, path, next_epoch, **kwargs)
        saves.append(next_epoch)
        if len(saves) == 3:  # execution 0's epochs 0 and 1, then execution 1's epoch 0: stop there
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("port", args, results_dir=results_dir, verbose=0)
    after = []

    def counted(model, path, next_epoch, **kwargs):
        original(model, path, next_epoch, **kwargs)
        after.append(next_epoch)

    monkeypatch.setattr(checkpoint, "save", counted)
    resumed = tuning.tune("port", args, results_dir=results_dir, verbose=0)
    assert saves == [1, 2, 1] and after == [2]  # only execution 1's last epoch was left to train
    for name in ("trials.csv", "history.csv"):
        table, reference = (
            pd.read_csv(path / name).drop(columns="seconds") for path in (resumed.sweep_dir, clean.sweep_dir)
        )
        pd.testing.assert_frame_equal(table, reference)


def test_tune_lists_config_fields_and_sweep_settings_for_an_unknown_one(port, results_dir):
    with pytest.raises(NnlabError) as caught:
        tuning.tune("port", ["executions=2"], results_dir=results_dir, verbose=0)
    message = str(caught.value)
    assert "unknown setting 'executions'" in message
    assert "units" in message and "executions_per_trial" in message and "max_trials" in message
    with pytest.raises(NnlabError, match="hyperband is not supported"):
        tuning.tune("port", ["algorithm=hyperband", "executions_per_trial=2"], results_dir=results_dir, verbose=0)
