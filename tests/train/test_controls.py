"""Early stopping and learning-rate schedules as plain rules (nnlab.train.controls), without a training loop."""

import dataclasses
import json
import math

import keras
import numpy as np
import pytest

from nnlab import Config, NnlabError, cli
from nnlab import config as config_lib
from nnlab.results import ranking
from nnlab.sweeps import plan
from nnlab.train import controls


def make_config(**fields):
    return config_lib.resolve(Config, {"epochs": 10, "learning_rate": 0.1, **fields})


def rates(config, epochs=None):
    schedule = controls.Schedule(config)
    return [schedule.rate(epoch) for epoch in range(epochs or config.epochs)]


def test_defaults_are_no_controls():
    config = make_config()
    made = controls.make(config)
    assert isinstance(made, controls.NoControls)
    assert made.before_epoch(0) is None and made.after_epoch(0, {"val_loss": 1.0}) is False


def test_cosine_falls_from_learning_rate_towards_min_learning_rate():
    values = rates(make_config(lr_schedule="cosine", min_learning_rate=0.001, epochs=5))
    assert values[0] == pytest.approx(0.1)
    assert all(later < earlier for earlier, later in zip(values, values[1:], strict=False))
    assert values[-1] > 0.001  # the value at the start of the last epoch, not the end point
    assert values[2] == pytest.approx(0.001 + 0.099 * (1 + math.cos(math.pi * 2 / 5)) / 2)


def test_exponential_and_warmup():
    assert rates(make_config(lr_schedule="exponential", lr_decay=0.5, epochs=3)) == pytest.approx([0.1, 0.05, 0.025])
    warm = rates(make_config(warmup_epochs=3, epochs=5))
    assert warm == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])
    warm_cosine = rates(make_config(lr_schedule="cosine", warmup_epochs=1, epochs=3))
    assert warm_cosine == pytest.approx([0.05, 0.1, 0.05])


def test_plateau_lowers_the_rate_after_lr_patience_epochs_without_improvement():
    config = make_config(lr_schedule="plateau", lr_patience=2, lr_factor=0.5, min_learning_rate=0.02)
    made = controls.make(config)
    seen = []
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.95, 0.96]):
        seen.append(made.before_epoch(epoch))
        assert made.after_epoch(epoch, {"epoch": epoch, "val_loss": loss}) is False  # no patience: never stops
    # epochs 2 and 3 did not beat 0.9: the rate halves from epoch 4; twice more halves it to the 0.02 floor.
    assert seen[:5] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05])
    assert seen[6] == pytest.approx(0.025) and made.before_epoch(9) == pytest.approx(0.02)


def test_early_stopping_stops_after_patience_and_keeps_the_best_weights():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    config = make_config(patience=2, monitor="val_accuracy")
    made = controls.make(config, model)
    accuracies = [0.5, 0.7, 0.6, 0.65, 0.9]
    stopped = None
    for epoch, accuracy in enumerate(accuracies):
        model.set_weights([np.full((1, 1), epoch, "float32"), np.zeros(1, "float32")])  # "training"
        if made.after_epoch(epoch, {"epoch": epoch, "val_accuracy": accuracy}):
            stopped = epoch
            break
    assert stopped == 3  # val_accuracy is maximised: 0.7 at epoch 1, then two epochs without beating it
    resumed = controls.make(config, model)
    resumed.restore(json.loads(json.dumps(made.state())))  # as a resumed run gets it from the checkpoint
    assert resumed.stopped
    resumed.finish(model)
    assert model.get_weights()[0][0, 0] == 1.0
    summary = resumed.summary()
    assert summary["stopped_early"] and summary["stopped_at_epoch"] == 3
    assert summary["best_epoch"] == summary["kept_epoch"] == 1 and summary["best_value"] == 0.7
    assert "did not improve for 2 epochs" in summary["reason"]


def test_without_restore_best_weights_the_last_epoch_is_kept():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    made = controls.make(make_config(patience=1, restore_best_weights=False), model)
    for epoch, loss in enumerate([1.0, 2.0]):
        model.set_weights([np.full((1, 1), epoch, "float32"), np.zeros(1, "float32")])
        made.after_epoch(epoch, {"val_loss": loss})
    made.finish(model)
    assert model.get_weights()[0][0, 0] == 1.0
    assert made.summary()["kept_epoch"] == 1 and made.summary()["kept_weights"] == "last epoch"


def test_state_restores_the_same_decisions():
    """Stopping and plateau state carried through state()/restore() gives the uninterrupted run's decisions."""
    config = make_config(patience=3, lr_schedule="plateau", lr_patience=1)
    losses = [1.0, 0.8, 0.85, 0.7, 0.75, 0.76, 0.77, 0.78]

    def drive(made, epochs):
        return [(made.before_epoch(epoch), made.after_epoch(epoch, {"val_loss": losses[epoch]})) for epoch in epochs]

    uninterrupted = controls.make(config)
    whole = drive(uninterrupted, range(len(losses)))
    first = controls.make(config)
    head = drive(first, range(4))
    second = controls.make(config)
    second.restore(json.loads(json.dumps(first.state())))  # the checkpoint keeps it as JSON
    assert head + drive(second, range(4, len(losses))) == whole
    assert second.summary() == uninterrupted.summary()


def test_monitor_direction_is_the_sweeps_rule():
    assert controls.make(make_config(patience=1, monitor="val_mae")).direction == "min"
    assert controls.make(make_config(patience=1, monitor="val_auc")).direction == "max"
    assert controls.ranking is plan.ranking  # one rule, imported from one place


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("val_MeanAbsoluteError", "min"),  # metrics=MeanAbsoluteError: Keras keeps the class's spelling
        ("val_RootMeanSquaredError", "min"),
        ("val_KLDivergence", "min"),
        ("val_poisson", "min"),
        ("val_false_negatives", "min"),
        ("val_AUC", "max"),
        ("val_true_positives", "max"),
        ("val_accuracy", "max"),
    ],
)
def test_direction_reads_the_name_in_any_case(metric, expected):
    assert ranking.direction(metric) == expected


def test_unknown_monitor_is_caught_from_the_logged_names():
    config = make_config(patience=2, monitor="val_acuracy")
    with pytest.raises(NnlabError, match="field 'monitor' is 'val_acuracy'.*logs loss, val_loss"):
        controls.check_monitor(config, ["loss", "val_loss"], "experiments/x.py")
    controls.check_monitor(make_config(monitor="nonsense"), ["loss"], "x")  # unused without patience or plateau


@pytest.mark.parametrize(
    "override, field",
    [
        ("patience=-1", "patience"),
        ("lr_schedule=linear", "lr_schedule"),
        ("precision=float16", "precision"),
        ("warmup_epochs=10", "warmup_epochs"),
        ("lr_decay=1.5", "lr_decay"),
        ("lr_factor=1", "lr_factor"),
        ("monitor= ", "monitor"),
    ],
)
def test_bad_values_name_the_field(override, field):
    with pytest.raises(NnlabError, match=f"Config field '{field}'"):
        make_config(**dict([override.split("=")]))


def test_bad_value_exits_2_and_writes_nothing(tmp_path, repo_experiments, capsys):
    results = tmp_path / "results"
    assert cli.main(["--results", str(results), "run", "linefit", "patience=-1"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("nnlab: error: ") and "'patience'" in error and "Traceback" not in error
    assert not results.exists()


def test_a_sweep_may_search_the_new_fields():
    @dataclasses.dataclass(frozen=True)
    class Swept(Config):
        pass

    from nnlab import search_space

    search_space.validate({"lr_schedule": search_space.Choice(["constant", "cosine"])}, Swept, "here")


def test_sweep_preflight_checks_warmup_against_the_shortest_epoch_budget(make_experiment, tmp_path):
    from tests.tiny import TINY

    tiny = make_experiment("tiny", TINY)
    settings = ["algorithm=hyperband", "epochs=9", "factor=3"]
    with pytest.raises(NnlabError, match="'warmup_epochs' can be 1, but Hyperband's shortest trial .* trains 1 epoch"):
        plan.plan_settings(tiny, [*settings, "warmup_epochs=1"], tmp_path, workers=0)
    assert plan.plan_settings(tiny, ["algorithm=hyperband", "epochs=30", "warmup_epochs=1"], tmp_path, 0).space
    with pytest.raises(NnlabError, match="Config field 'warmup_epochs' must be >= 0 and smaller than epochs"):
        plan.plan_settings(tiny, ["epochs=2", "warmup_epochs=2"], tmp_path, 0)
    assert not tmp_path.joinpath("tiny").exists()
