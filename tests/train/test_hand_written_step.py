"""The custom-loop trainer end to end with throwaway GradientTape experiments: files, averages, routes, failures."""

import json

import numpy as np
import pandas as pd
import pytest

from nnlab import NnlabError
from nnlab.results import rundir
from nnlab.train import devices, loop, runner
from nnlab.train import job as job_lib

STEPPED = """
    import dataclasses
    import keras
    import numpy as np
    import tensorflow as tf
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        optimizer: str = "sgd"
        learning_rate: float = 0.05
        metrics: tuple[str, ...] = ("mae",)
        epochs: int = 4
        batch_size: int = 4

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(26, 2)).astype("float32")
        y = (x @ np.array([[1.5], [-2.0]]) + 0.5).astype("float32")
        return Splits(train=(x[:10], y[:10]), validation=(x[10:], y[10:]))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.square(model(x, training=True) - y))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        if RETURNS == "dict":
            return {"loss": loss, "batch_size": tf.cast(tf.shape(x)[0], tf.float32)}
        if RETURNS == "vector":
            return {"loss": loss * tf.ones([2])}
        if RETURNS == "crash":
            raise KeyError("no such column")
        return loss

    def track(model):
        return {"bias": model.layers[-1].bias[0]}

    def summarize(job):
        if RETURNS == "clash":
            return {"final": 1}
        return {"first_loss": job.history.rows[0]["loss"]}

    RETURNS = "loss"  # tests rewrite this line to make the step misbehave
"""


@pytest.fixture
def stepped(make_experiment):
    return make_experiment("stepped", STEPPED)


@pytest.fixture
def stepped_returning(make_experiment):
    """The experiment with its step returning `what` ("loss", "dict", "vector", "crash" or "clash")."""
    return lambda what: make_experiment("stepped", STEPPED.replace('RETURNS = "loss"', f"RETURNS = {what!r}"))


def finished_job(experiment, results_dir, *overrides):
    """A real TrainingJob after training, as the runner has it before writing metrics.json."""
    config = experiment.config(list(overrides))
    splits = experiment.load_splits(config)
    run_dir = rundir.create(results_dir, experiment.name)
    return job_lib.train_model(experiment, config, splits, devices.setup(config.seed), run_dir, verbose=0)


def run(results_dir, *overrides, **kwargs):
    return runner.run("stepped", list(overrides), results_dir=results_dir, verbose=0, **kwargs)


def history(path):
    return pd.read_csv(path / "history.csv")


def test_writes_the_same_run_directory_as_fit(stepped, results_dir):
    result = run(results_dir)
    path = result.run_dir
    for name in ("config.json", "env.json", "history.csv", "metrics.json", "model.keras", "loss.png", "mae.png"):
        assert (path / name).stat().st_size > 0, name
    table = history(path)
    assert list(table.columns) == ["epoch", "loss", "bias", "val_loss", "val_mae", "seconds", "learning_rate"]
    assert list(table["epoch"]) == [0, 1, 2, 3]
    assert np.allclose(table["learning_rate"], 0.05)
    assert table["loss"].iloc[-1] < table["loss"].iloc[0] and table["val_loss"].iloc[-1] < table["val_loss"].iloc[0]
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["epochs_run"] == 4 and metrics["final"]["epoch"] == 3
    assert json.loads((path / "status.json").read_text())["status"] == "done"


def test_validation_numbers_are_those_of_the_final_weights(stepped, results_dir):
    import keras

    path = run(results_dir).run_dir
    model = keras.saving.load_model(path / "model.keras")
    x, y = stepped.module.make_data(stepped.config()).validation
    prediction = model.predict(x, verbose=0)
    last = history(path).iloc[-1]
    assert last["val_loss"] == pytest.approx(np.mean((prediction - y) ** 2), rel=1e-5)
    assert last["val_mae"] == pytest.approx(np.mean(np.abs(prediction - y)), rel=1e-5)
    assert last["bias"] == pytest.approx(float(model.layers[-1].bias.numpy()[0]))


def test_epoch_values_are_averaged_weighting_each_batch_by_its_size(stepped_returning, results_dir):
    stepped_returning("dict")
    table = history(run(results_dir, "epochs=2").run_dir)
    # 10 examples in batches of 4, 4, 2: the size-weighted mean of the batch sizes is (16 + 16 + 4) / 10.
    assert np.allclose(table["batch_size"], 3.6)


def test_chunks_do_not_change_the_numbers_and_both_routes_agree(stepped, results_dir, monkeypatch):
    monkeypatch.setattr(loop, "JIT_MIN_STEPS", 1)  # the XLA route, as for linreg's many tiny steps
    whole = history(run(results_dir, "epochs=12").run_dir)
    monkeypatch.setattr(loop, "CHUNK_SECONDS", 0.0)  # one epoch per compiled call
    chunked = history(run(results_dir, "epochs=12").run_dir)
    pd.testing.assert_frame_equal(whole.drop(columns="seconds"), chunked.drop(columns="seconds"), check_exact=True)
    monkeypatch.setattr(loop, "JIT_MIN_STEPS", 10**9)
    plain = history(run(results_dir, "epochs=12").run_dir)  # same shuffles, only rounding may differ
    columns = ["loss", "bias", "val_loss", "val_mae"]
    assert np.allclose(whole[columns], plain[columns], rtol=1e-4, atol=1e-6)


def test_a_killed_run_resumes_to_the_same_numbers(stepped, results_dir, monkeypatch):
    straight = history(run(results_dir, "epochs=6").run_dir)
    monkeypatch.setattr(loop, "CHUNK_SECONDS", 0.0)
    original = loop.Progress.update

    def kill_after_epoch_three(self, epochs_done, row, seconds):
        if epochs_done == 3:
            raise KeyboardInterrupt  # after epoch 3's row and checkpoint are written
        original(self, epochs_done, row, seconds)

    monkeypatch.setattr(loop.Progress, "update", kill_after_epoch_three)
    with pytest.raises(KeyboardInterrupt):
        run(results_dir, "epochs=6")
    monkeypatch.setattr(loop.Progress, "update", original)
    resumed = run(results_dir, "epochs=6", resume=True)
    assert resumed.metrics["resumed_at_epoch"] == 3
    pd.testing.assert_frame_equal(
        straight.drop(columns="seconds"), history(resumed.run_dir).drop(columns="seconds"), check_exact=True
    )


@pytest.mark.parametrize(
    "returns, overrides, match",
    [
        ("loss", ["learning_rate=1e30"], r"training loss became (nan|inf) in epoch 0; the run diverged"),
        ("loss", ["learning_rate=3", "epochs=30"], r"training loss exploded to .* times its first epoch's"),
        ("vector", [], r"must return the batch's loss as a scalar .*loss: \(2,\)"),
        ("crash", [], r"train_step\(model, optimizer, x, y\) failed .*KeyError"),
    ],
)
def test_bad_steps_fail_with_the_module_named(stepped_returning, results_dir, returns, overrides, match):
    stepped_returning(returns)
    with pytest.raises(NnlabError, match=match) as error:
        run(results_dir, *overrides)
    assert "stepped.py" in str(error.value)
    [path] = (results_dir / "stepped").iterdir()
    assert json.loads((path / "status.json").read_text())["status"] == "failed"
    assert not (path / "metrics.json").exists()


def test_summarize_hook_adds_metrics_and_may_not_overwrite_the_runners(stepped_returning, results_dir):
    job = finished_job(stepped_returning("loss"), results_dir, "epochs=2")
    assert job.metrics["first_loss"] == job.history.rows[0]["loss"]  # merged by the runner
    clashing = finished_job(stepped_returning("clash"), results_dir, "epochs=1")  # kept, with the error recorded
    assert "stepped.py: summarize(job) returned final" in clashing.metrics["errors"]["summarize"]


def test_a_step_that_steps_an_optimizer_of_its_own_is_warned_about(make_experiment, results_dir, capsys):
    """A tutorial's module-level optimizer, stepped instead of the argument: it trains, but config's learning rate
    and the learning_rate column do not apply. Updating the weights by hand (Custom training: basics) is not that."""
    own = STEPPED.replace(
        "optimizer.apply_gradients(zip(gradients",
        "OWN.apply_gradients(zip(gradients",
    ).replace('RETURNS = "loss"', 'RETURNS = "loss"\n    OWN = keras.optimizers.SGD(learning_rate=0.01)')
    make_experiment("stepped", own)
    assert run(results_dir, "epochs=1").metrics["status"] == "done"
    assert "train_step stepped the module's own optimizer OWN, not the one nnlab handed it" in capsys.readouterr().err
    by_hand = STEPPED.replace(
        "optimizer.apply_gradients(zip(gradients, model.trainable_variables))",
        "[v.assign_sub(0.05 * g) for v, g in zip(model.trainable_variables, gradients)]",
    )
    make_experiment("byhand", by_hand)
    runner.run("byhand", ["epochs=1"], results_dir=results_dir, verbose=0)
    assert "own optimizer" not in capsys.readouterr().err
