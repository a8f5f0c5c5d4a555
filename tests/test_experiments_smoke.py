"""Every module in experiments/ runs end to end for one short epoch: a new experiment needs no new test."""

import json

import pytest

from nnlab import experiment as experiment_lib
from nnlab.train import runner
from tests.conftest import EXPERIMENTS

SMOKE = {"epochs": 1, "limit_examples": 512}


@pytest.mark.parametrize("name", experiment_lib.available(EXPERIMENTS))
def test_experiment_runs_one_epoch(name, repo_experiments, results_dir):
    experiment = experiment_lib.load(name)
    overrides = {key: value for key, value in SMOKE.items() if key in experiment.config(()).__dataclass_fields__}
    path = runner.run(name, overrides, results_dir=results_dir, verbose=0).run_dir
    assert json.loads((path / "status.json").read_text())["status"] == "done"
    for required in ("config.json", "env.json", "metrics.json"):
        assert (path / required).stat().st_size > 0, required
    assert list(path.glob("history*.csv")), "no history CSV"
    assert list(path.glob("model*.keras")), "no saved model"
    assert list(path.glob("*.png")), "no plots"
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["status"] == "done"
