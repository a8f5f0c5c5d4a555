"""Kill a sweep mid-trial (SIGKILL) and run the same command again: finished trials stay, the killed trial resumes
from its last epoch, and the result equals a sweep that was never interrupted."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from nnlab.results import atomic, checkpoint
from nnlab.sweeps import tuning
from tests.tiny import TINY

ARGS = ["max_trials=2", "epochs=4", "examples=3000", "vectorize=1"]  # one at a time: a checkpoint per trial


@pytest.fixture
def tiny(make_experiment):
    return make_experiment("tiny", TINY)


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def epochs_done(path):
    try:
        return len(pd.read_csv(path))
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return 0


def test_killed_sweep_resumes_and_matches_a_clean_one(tiny, results_dir):
    sweep_dir = tuning.plan("tiny", ARGS, results_dir).sweep_dir
    command = [sys.executable, "-m", "nnlab.cli", "--results", str(results_dir), "tune", "tiny", *ARGS]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        second = sweep_dir / "tuner" / "trial_1" / "history.csv"
        saved = second.with_name(checkpoint.FILE)
        wait_for(lambda: saved.exists() or process.poll() is not None, 150, "trial 1's first saved epoch")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    before = pd.read_csv(second)
    assert 1 <= len(before) < 4, "trial 1 finished before the kill; the test could not interrupt it"
    # The kill may land between an epoch's history row and its checkpoint: that epoch is redone on resume.
    kept = checkpoint.resumes_at(saved)
    assert 1 <= kept <= len(before)
    first_record = atomic.read_json(sweep_dir / "tuner" / "trial_0" / "nnlab_trial.json")
    assert first_record["pid"] == process.pid

    result = tuning.tune("tiny", ARGS, results_dir=results_dir, verbose=0)
    assert result.sweep_dir == sweep_dir and result.counts == {"COMPLETED": 2}
    assert atomic.read_json(sweep_dir / "tuner" / "trial_0" / "nnlab_trial.json") == first_record  # not re-run
    after = pd.read_csv(second)
    assert list(after["epoch"]) == [0, 1, 2, 3]  # each epoch exactly once
    pd.testing.assert_frame_equal(after.iloc[:kept], before.iloc[:kept])  # saved epochs were kept, not redone
    metrics = lambda frame: frame.drop(columns="seconds")  # noqa: E731
    pd.testing.assert_frame_equal(metrics(after.iloc[: len(before)]), metrics(before), check_exact=True)
    assert not list(sweep_dir.rglob(".*.tmp")), "temporary files left behind"

    clean = tuning.tune("tiny", [*ARGS, "sweep=clean"], results_dir=results_dir, verbose=0).sweep_dir
    table = lambda path: metrics(pd.read_csv(path / "history.csv"))  # noqa: E731
    pd.testing.assert_frame_equal(table(sweep_dir), table(clean), check_exact=True)


def test_truncated_keras_tuner_state_is_a_clear_error(tiny, results_dir):
    sweep = tuning.tune("tiny", ["max_trials=1", "epochs=1"], results_dir=results_dir, verbose=0)
    (sweep.sweep_dir / "tuner" / "oracle.json").write_text("")  # what a kill mid-write leaves from keras-tuner
    with pytest.raises(tuning.NnlabError, match=r"oracle.json is empty .* sweep=<new-name>"):
        tuning.tune("tiny", ["max_trials=1", "epochs=1"], results_dir=results_dir, verbose=0)
