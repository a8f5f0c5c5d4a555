"""Studies: every declared variant trained into one run directory, from one seed, with clear errors."""

import dataclasses
import json

import keras
import numpy as np
import pandas as pd
import pytest

import nnlab
from nnlab import NnlabError
from nnlab.train import modeling, runner, study

GOOD = '{"narrow": {"width": 2}, "wide": {"width": 16, "optimizer": "sgd"}, "narrow_again": {"width": 2}}'


@pytest.fixture
def make_study(tiny_classifier):
    return lambda variants=GOOD: tiny_classifier("tiny_study", f"\nVARIANTS = {variants}\n")


def test_a_study_trains_every_variant_from_one_seed_into_one_run_directory(make_study, results_dir):
    make_study()
    path = runner.run("tiny_study", [], results_dir=results_dir, verbose=0).run_dir
    for variant in ("narrow", "wide", "narrow_again"):
        for name in (f"history-{variant}.csv", f"model-{variant}.keras"):
            assert (path / name).stat().st_size > 0, name
    assert not list(path.glob("*-loss.png"))  # one combined figure, not one set of curves per variant
    assert (path / "comparison.png").stat().st_size > 0
    assert not (path / "history.csv").exists() and not (path / "model.keras").exists()
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["status"] == "done"
    assert list(metrics["variants"]) == ["narrow", "wide", "narrow_again"]
    assert metrics["variants"]["wide"]["overrides"] == {"width": 16, "optimizer": "sgd"}
    accuracies = {name: record["test"]["accuracy"] for name, record in metrics["variants"].items()}
    assert metrics["best"]["variant"] == max(accuracies, key=accuracies.get)
    assert metrics["best"]["by"] == "test accuracy" and metrics["best"]["value"] == max(accuracies.values())
    wide = keras.models.load_model(path / "model-wide.keras")
    assert wide.layers[0].units == 16 and type(wide.optimizer).__name__ == "SGD"
    assert json.loads((path / "status.json").read_text())["status"] == "done"
    table = lambda name: pd.read_csv(path / f"history-{name}.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(table("narrow"), table("narrow_again"), check_exact=True)  # same start
    assert not table("narrow").equals(table("wide"))


def test_rebuilding_a_variant_from_its_seed_gives_the_weights_it_started_from(make_study, results_dir):
    """What figures such as init_statistics rely on: at a learning rate too small to move a float32 weight."""
    experiment = make_study('{"narrow": {"width": 2}, "wide": {"width": 16}}')
    overrides = ["learning_rate=1e-30", "epochs=1"]
    path = runner.run("tiny_study", overrides, results_dir=results_dir, verbose=0).run_dir
    trained = keras.models.load_model(path / "model-wide.keras")  # trained second, after "narrow" drew weights
    config = study.variant_configs(experiment, experiment.config(overrides))["wide"]
    keras.utils.set_random_seed(config.seed)
    rebuilt = modeling.build(experiment, config)
    for before, after in zip(rebuilt.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_allclose(before, after, rtol=1e-6, atol=1e-20)  # zero biases may move to ~1e-29


@pytest.mark.parametrize(
    "variants, overrides, match",
    [
        ('{"a": {"widht": 3}}', [], r"VARIANTS\['a'\]: unknown config field 'widht'. Valid fields: .*width"),
        ('{"a": {"width": "wide"}}', [], r"VARIANTS\['a'\]: field 'width' expects an integer"),
        ('{"a": {"epochs": 0}}', [], "'epochs' must be a positive number"),
        ('{"a": {"limit_examples": 10}}', [], r"VARIANTS\['a'\] sets 'limit_examples', but all variants share"),
        ('{"a": {"width": 3}}', ["width=4"], r"your override width=4 would be ignored"),
        ('{"a-b": {}}', [], "variant name 'a-b' is not usable in file names"),
        ('{"a": ["width", 3]}', [], r"VARIANTS\['a'\] must be a dict of config overrides"),
        ("[]", [], "VARIANTS must be a non-empty dict"),
    ],
)
def test_bad_variants_are_clear_errors(make_study, variants, overrides, match):
    experiment = make_study(variants)
    with pytest.raises(NnlabError, match=match) as error:
        study.variant_configs(experiment, experiment.config(overrides))
    assert "tiny_study.py" in str(error.value)


def test_a_bad_variant_fails_the_run_before_any_variant_trains(make_study, results_dir):
    make_study('{"good": {}, "bad": {"widht": 3}}')
    with pytest.raises(NnlabError, match="unknown config field 'widht'"):
        runner.run("tiny_study", [], results_dir=results_dir, verbose=0)
    assert not results_dir.exists(), "a bad variant is a config error: nothing is written, nothing trains"


def test_best_variant_falls_back_to_validation_loss():
    variants = {
        "a": {"overrides": {}, "final": {"val_loss": 0.5}},
        "b": {"overrides": {"width": 3}, "final": {"val_loss": 0.2}},
    }
    assert study.best_variant(variants) == {
        "variant": "b",
        "by": "final val_loss",
        "value": 0.2,
        "overrides": {"width": 3},
    }
    assert study.best_variant({"a": {"overrides": {}}}) == {}


@dataclasses.dataclass(frozen=True)
class MomentumConfig(nnlab.Config):
    momentum: float = 0.0


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.9), ("rmsprop", 0.5), ("sgd", 0.0), ("adam", 0.0)])
def test_make_optimizer_applies_momentum(optimizer, momentum):
    made = modeling.make_optimizer(MomentumConfig(optimizer=optimizer, momentum=momentum, learning_rate=0.02))
    assert getattr(made, "momentum", 0.0) == momentum
    assert float(made.learning_rate.numpy()) == pytest.approx(0.02)


@pytest.mark.parametrize(
    "optimizer, momentum, match",
    [("adam", 0.9, "optimizer 'adam' has no momentum setting"), ("sgd", 1.5, "field 'momentum' is 1.5")],
)
def test_make_optimizer_rejects_momentum_it_cannot_use(optimizer, momentum, match):
    with pytest.raises(NnlabError, match=match):
        modeling.make_optimizer(MomentumConfig(optimizer=optimizer, momentum=momentum), where="experiments/x.py")


def test_jobs_of_accepts_a_plain_run_too():
    job = object()
    assert study.jobs_of(job) == {"": job}
