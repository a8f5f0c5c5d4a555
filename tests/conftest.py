"""Shared fixtures: every test is seeded, writes under tmp_path, and can define throwaway experiments."""

import os
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NNLAB_XLA_CACHE", "0")  # tests compile afresh and write nothing to the user's cache

import keras  # noqa: E402
import pytest  # noqa: E402

from nnlab import experiment as experiment_lib  # noqa: E402
from tests.tiny import TINY  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(REPO, "experiments")


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(1234)


@pytest.fixture
def results_dir(tmp_path):
    return tmp_path / "results"


@pytest.fixture
def repo_experiments(monkeypatch):
    """Point nnlab at the repository's experiments/ whatever the working directory."""
    monkeypatch.setenv("NNLAB_EXPERIMENTS", EXPERIMENTS)
    return EXPERIMENTS


@pytest.fixture
def make_experiment(tmp_path, monkeypatch):
    """Write experiments/<name>.py under tmp_path from source text; returns the loaded Experiment."""
    directory = tmp_path / "experiments"
    directory.mkdir()
    monkeypatch.setenv("NNLAB_EXPERIMENTS", str(directory))

    def write(name, source, load=True):
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
        return experiment_lib.load(name) if load else directory / f"{name}.py"

    return write


@pytest.fixture
def tiny_classifier(make_experiment):
    """Write the shared tiny classifier (tests/tiny.py) as experiments/<name>.py with `extra` source appended
    (VARIANTS for a study, FIGURES, ...); returns the loaded Experiment."""

    def write(name="tiny", extra=""):
        return make_experiment(name, textwrap.dedent(TINY) + textwrap.dedent(extra))

    return write
