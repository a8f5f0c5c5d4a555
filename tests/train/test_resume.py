"""Kill a run with SIGKILL at random points, resume it with the same command, and lose nothing.

The resumed run must end bitwise equal to one that was never interrupted: same weights (dropout seed state and
Adam moments included), and a history.csv holding each epoch exactly once.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest

from nnlab import NnlabError
from nnlab.results import checkpoint
from nnlab.train import runner

STEADY = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 150  # the loop writes a chunk of epochs about once a second: room for five kills
        batch_size: int = 8
        learning_rate: float = 0.003

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(1200, 4)).astype("float32")
        y = (x[:, 0] * x[:, 1] > 0).astype("int64")
        return Splits(train=(x[:1000], y[:1000]), test=(x[1000:], y[1000:]))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dropout(0.3), keras.layers.Dense(2, activation="softmax")])
"""
COMMAND = ["run", "steady", "--resume"]


@pytest.fixture
def steady(make_experiment):
    return make_experiment("steady", STEADY)


def start(results_dir):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "nnlab.cli", "--results", str(results_dir), *COMMAND],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def epochs_written(results_dir):
    histories = list((results_dir / "steady").glob("*/history.csv"))
    return len(histories[0].read_text().splitlines()) - 1 if histories else 0


def weights(run_dir):
    return keras.saving.load_model(run_dir / "model.keras").get_weights()


def test_killed_five_times_resumes_to_the_same_bits(steady, results_dir, tmp_path):
    reference = runner.run("steady", [], results_dir=tmp_path / "reference", verbose=0).run_dir
    chooser = random.Random(7)
    kills = 0
    while kills < 5:
        process = start(results_dir)
        already = epochs_written(results_dir)
        target = already + chooser.randint(1, 4)  # kill a few epochs on, at a random moment inside an epoch
        deadline = time.monotonic() + 120
        while epochs_written(results_dir) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(chooser.uniform(0, 0.05))
        if process.poll() is not None:
            pytest.fail(f"run ended before kill {kills + 1} could land: {process.stderr.read()[-2000:]}")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        kills += 1
    process = start(results_dir)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    assert "resuming" in stderr
    (run_dir,) = (results_dir / "steady").iterdir()  # every attempt continued the same run
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == list(range(150))
    expected = pd.read_csv(reference / "history.csv")
    pd.testing.assert_frame_equal(history.drop(columns="seconds"), expected.drop(columns="seconds"), check_exact=True)
    for resumed, uninterrupted in zip(weights(run_dir), weights(reference), strict=True):
        np.testing.assert_array_equal(resumed, uninterrupted)
    assert json.loads((run_dir / "status.json").read_text())["status"] == "done"
    assert not list(run_dir.glob("checkpoint*.npz"))  # dropped once the run is done


def test_resume_repairs_a_history_longer_than_the_checkpoint(steady, results_dir):
    first = runner.run("steady", ["epochs=3"], results_dir=results_dir, verbose=0).run_dir
    # Simulate a kill after epoch 5's row but before its checkpoint: state from epoch 3, rows up to 5, one twice.
    (first / "status.json").write_text(json.dumps({"status": "running", "pid": 0}))
    model = keras.saving.load_model(first / "model.keras")
    checkpoint.save(model, first / checkpoint.FILE, next_epoch=3)
    rows = (first / "history.csv").read_text().splitlines()
    (first / "history.csv").write_text("\n".join(rows + rows[-2:] + [rows[-1].replace("2,", "4,", 1)]) + "\n")
    result = runner.run("steady", ["epochs=5"], results_dir=results_dir, verbose=0, resume=True)
    assert result.run_dir != first  # a different config is a different run
    resumed = runner.run("steady", ["epochs=3"], results_dir=results_dir, verbose=0, resume=True)
    assert resumed.run_dir == first
    assert pd.read_csv(first / "history.csv")["epoch"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_empty_or_truncated_checkpoint_is_a_clear_error(steady, results_dir, content):
    first = runner.run("steady", ["epochs=2"], results_dir=results_dir, verbose=0).run_dir
    (first / "status.json").write_text(json.dumps({"status": "failed"}))
    (first / checkpoint.FILE).write_bytes(content)
    with pytest.raises(NnlabError, match=r"checkpoint.npz cannot be read .* Delete the file to restart"):
        runner.run("steady", ["epochs=2"], results_dir=results_dir, verbose=0, resume=True)


def test_a_live_run_is_not_resumed_twice(steady, results_dir):
    first = runner.run("steady", ["epochs=1"], results_dir=results_dir, verbose=0).run_dir
    (first / "status.json").write_text(
        json.dumps({"status": "running", "pid": os.getpid(), "host": os.uname().nodename})
    )
    with pytest.raises(NnlabError, match="is still running"):
        runner.run("steady", ["epochs=1"], results_dir=results_dir, verbose=0, resume=True)


def test_a_run_recorded_before_a_new_base_field_still_resumes(steady, results_dir):
    """An unfinished run whose config.json predates a base field with a default (class_weight) is the same config
    while that field holds its default; overriding the new field makes it another run."""
    first = runner.run("steady", ["epochs=2"], results_dir=results_dir, verbose=0).run_dir
    record = json.loads((first / "config.json").read_text())
    del record["config"]["class_weight"]  # as config.json was written before the field existed
    (first / "config.json").write_text(json.dumps(record))
    (first / "status.json").write_text(json.dumps({"status": "failed"}))
    other = runner.run("steady", ["epochs=2", "class_weight=balanced"], results_dir=results_dir, verbose=0, resume=True)
    assert other.run_dir != first
    (first / "status.json").write_text(json.dumps({"status": "failed"}))
    assert runner.run("steady", ["epochs=2"], results_dir=results_dir, verbose=0, resume=True).run_dir == first
