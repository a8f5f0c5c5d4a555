"""experiments/linefit.py and linreg.py: the step's gradients, the fit against least squares, the figures."""

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nnlab import experiment as experiment_lib
from nnlab.reference import linear_fit
from nnlab.results import rundir
from nnlab.train import devices, figures
from nnlab.train import job as job_lib


@pytest.fixture
def load(repo_experiments):
    return experiment_lib.load


def finished_job(experiment, results_dir, *overrides, draw=False):
    """A real TrainingJob after training and figures, and its metrics (the module's summary merged in)."""
    config = experiment.config(list(overrides))
    splits = experiment.load_splits(config)
    run_dir = rundir.create(results_dir, experiment.name)
    job = job_lib.train_model(experiment, config, splits, devices.setup(config.seed), run_dir, verbose=0)
    if draw:
        figures.draw_all(experiment.optional("FIGURES"), job)
    return job, job.metrics


@pytest.mark.parametrize("name", ["linefit", "linreg"])
def test_the_step_follows_the_analytic_mse_gradient(load, name):
    experiment = load(name)
    config = experiment.config()
    model = experiment.module.build_model(config)
    x = np.array([[-0.5], [0.25], [1.0]], dtype="float32")
    y = np.array([[0.2], [1.4], [3.1]], dtype="float32")
    w, b = (float(value) for value in linear_fit.parameters(model))
    residual = w * x[:, 0] + b - y[:, 0]
    gradient_w, gradient_b = 2 * np.mean(residual * x[:, 0]), 2 * np.mean(residual)  # d/dw, d/db of mean(r²)
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    loss = experiment.module.train_step(model, optimizer, x, y)
    assert float(loss) == pytest.approx(np.mean(residual**2), rel=1e-6)
    new_w, new_b = (float(value) for value in linear_fit.parameters(model))
    assert (w - new_w) / 0.1 == pytest.approx(gradient_w, rel=1e-5)
    assert (b - new_b) / 0.1 == pytest.approx(gradient_b, rel=1e-5)


def test_linefit_learns_the_line_and_writes_its_figures(load, results_dir):
    job, summary = finished_job(load("linefit"), results_dir, draw=True)
    history = pd.read_csv(job.history.path)
    assert list(history["epoch"]) == list(range(8)) and {"w", "b"} <= set(history.columns)
    assert abs(summary["learned"]["w"] - 2) < 0.2 and abs(summary["learned"]["b"] - 1) < 0.2
    assert summary["learned"]["w"] == history["w"].iloc[-1]
    x, y = job.splits.train
    assert summary["least_squares"]["w"] == pytest.approx(np.polyfit(x[:, 0], y[:, 0], 1)[0], rel=1e-6)
    assert summary["gap"]["max_abs"] < 0.1 and summary["converged"] is False  # 8 epochs at lr 0.01: close, not on it
    assert "learning-rate-limited" in summary["convergence"]["reason"]
    assert "batches of 1 make SGD hover" in summary["convergence"]["reason"]
    path = job.run_dir.path
    assert (path / "line_fit.png").stat().st_size > 0 and (path / "line_fit_trajectory.png").stat().st_size > 0
    with Image.open(path / "line_fit.gif") as movie:
        assert movie.n_frames == 8  # one frame per epoch


def test_a_fast_per_sample_rate_is_reported_as_sgd_noise(load, results_dir):
    _, summary = finished_job(load("linefit"), results_dir, "learning_rate=0.1")
    assert summary["converged"] is False and summary["convergence"]["reason"].startswith("SGD noise floor")


def test_a_converging_learning_rate_lands_on_least_squares(load, results_dir):
    job, summary = finished_job(load("linreg"), results_dir, "points=2000", "learning_rate=0.1", "epochs=150")
    assert summary["gap"]["max_abs"] < 1e-3 and summary["converged"] is True
    assert summary["learned"]["loss"] == pytest.approx(summary["least_squares"]["loss"], rel=1e-5)


def test_the_seed_rate_is_reported_as_learning_rate_limited(load, results_dir):
    job, summary = finished_job(load("linreg"), results_dir, "points=2000", "epochs=300")
    assert summary["converged"] is False
    verdict = summary["convergence"]
    assert verdict["reason"].startswith("learning-rate-limited") and verdict["more_full_batch_steps_needed"] > 10_000
    # The predicted contraction per step is the one the run shows: the b gap shrinks by it, step after step.
    history = pd.read_csv(job.history.path)
    b_star = summary["least_squares"]["b"]
    observed = ((history["b"].iloc[299] - b_star) / (history["b"].iloc[49] - b_star)) ** (1 / 250)
    assert 1 - observed == pytest.approx(1 - verdict["contraction_per_step"], rel=0.05)


def test_same_seed_gives_the_same_history(load, results_dir):
    jobs = [finished_job(load("linefit"), results_dir, f"seed={seed}")[0] for seed in (3, 3, 4)]
    first, second, other = (pd.read_csv(job.history.path).drop(columns="seconds") for job in jobs)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert not np.allclose(first["w"], other["w"])
    assert jobs[0].metrics["final"]["w"] == first["w"].iloc[-1]
