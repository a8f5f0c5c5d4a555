"""Runs and sweeps under hostile conditions: signals, damaged history and config files, two writers, deleted trials.

Each test drives the real `nnlab` entry point (in-process where it can, so TensorFlow is imported once) on the
tiny sweepable experiment, and checks the exit code, the one-paragraph message and what is left on disk.
"""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from nnlab import cli
from nnlab.errors import NnlabError
from nnlab.results import atomic, lock, rundir, status
from nnlab.results.history import HistoryFile
from tests.tiny import TINY


@pytest.fixture
def tiny(make_experiment):
    return make_experiment("tiny", TINY)


def _nnlab(results, *arguments):
    return cli.main(["--results", str(results), *arguments])


def _one_error(capsys):
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("nnlab: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def _signal_after_epoch(monkeypatch, signum, epoch_to_stop):
    """Send `signum` to this process once history.csv has the row of `epoch_to_stop` (before its checkpoint)."""
    original = HistoryFile.append

    def append(self, row):
        original(self, row)
        if row["epoch"] >= epoch_to_stop:
            os.kill(os.getpid(), signum)  # as `timeout`, a scheduler or docker stop would

    monkeypatch.setattr(HistoryFile, "append", append)
    return original


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signalled_run_records_interrupted_and_how_to_continue(tiny, results_dir, monkeypatch, capsys, signum, code):
    _signal_after_epoch(monkeypatch, signum, epoch_to_stop=0)
    assert _nnlab(results_dir, "run", "tiny", "epochs=3") == code
    assert "Traceback" not in capsys.readouterr().err
    [run_dir] = (results_dir / "tiny").iterdir()
    record = json.loads((run_dir / "status.json").read_text())
    assert record["status"] == status.INTERRUPTED
    assert f"nnlab --results {results_dir} run tiny epochs=3 --resume" in record["message"]


def test_resume_refuses_a_history_it_cannot_read_and_counts_wall_time_across_sessions(
    tiny, results_dir, monkeypatch, capsys
):
    original = _signal_after_epoch(monkeypatch, signal.SIGTERM, epoch_to_stop=1)
    assert _nnlab(results_dir, "run", "tiny", "epochs=4") == 143
    monkeypatch.setattr(HistoryFile, "append", original)
    [run_dir] = (results_dir / "tiny").iterdir()
    history = run_dir / "history.csv"
    kept = history.read_bytes()
    capsys.readouterr()

    for damaged in (bytes(range(256)) * 4, b"", kept.splitlines(keepends=True)[0]):  # random bytes, empty, header
        history.write_bytes(damaged)
        assert _nnlab(results_dir, "run", "tiny", "epochs=4", "--resume") == 2
        message = _one_error(capsys)
        assert "lacks the rows of epochs 0" in message and "Restart this run from epoch 0: delete" in message
        assert json.loads((run_dir / "status.json").read_text())["status"] == status.FAILED
    history.unlink()
    assert _nnlab(results_dir, "run", "tiny", "epochs=4", "--resume") == 2  # a missing file, the same
    assert "lacks the rows" in _one_error(capsys)

    history.write_bytes(kept + b"2,0.12")  # a torn last row is not data
    assert _nnlab(results_dir, "run", "tiny", "epochs=4", "--resume") == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    rows = [line.split(",") for line in history.read_text().splitlines()]
    seconds = [float(row[rows[0].index("seconds")]) for row in rows[1:]]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3"] and metrics["resumed_at_epoch"] == 1
    assert metrics["train_seconds"] >= sum(seconds), "the wall time of the first session is counted too"


def test_resume_says_so_when_a_config_json_is_damaged(tmp_path, capsys):
    run_dir = rundir.create(tmp_path / "results", "tiny")
    run_dir.file("config.json").write_text('{"config": {"epo')
    dead = subprocess.Popen(["true"])
    dead.wait()
    atomic.write_json(run_dir.file("status.json"), {"status": "running", "pid": dead.pid, "host": "x"})
    assert rundir.unfinished(tmp_path / "results", "tiny", {"epochs": 1}) is None
    said = capsys.readouterr().err
    assert "config.json cannot be read (" in said and "is not valid JSON" in said and "so --resume cannot tell" in said
    assert run_dir.status() == status.FAILED  # no longer shown as running for ever


def test_the_lock_refuses_a_live_chief_and_takes_over_a_dead_ones(tmp_path):
    path = tmp_path / "sweep" / lock.FILE
    dead = subprocess.Popen(["true"])
    dead.wait()
    path.parent.mkdir()
    path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with lock.held(path.parent) as held:  # a killed chief's lock never blocks a re-run
        assert json.loads(held.read_text())["pid"] == os.getpid()
        with pytest.raises(NnlabError, match=r"already being run by process \d+ on this machine"):
            with lock.held(path.parent):
                pass
    assert not path.parent.exists(), "the lock, and the folder it alone made, are gone"
    path.parent.mkdir()
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "x"}))
    with pytest.raises(NnlabError, match=r"on host elsewhere.*If that process is gone on another host, delete"):
        lock.acquire(path, "sweep", "run it again")


def test_a_second_sweep_is_refused_a_sigtermed_one_is_interrupted_and_a_deleted_trial_is_not_rerun(
    tiny, results_dir, capsys
):
    arguments = ["tune", "tiny", "max_trials=2", "epochs=40", "examples=4000"]
    first = subprocess.Popen(
        [sys.executable, "-m", "nnlab.cli", "--results", str(results_dir), *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        deadline = time.monotonic() + 240
        trial = None
        while trial is None and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.5)
            trial = next(results_dir.glob("tiny/sweeps/*/tuner/trial_*/history.csv"), None)
        assert trial is not None, first.stderr.read().decode() if first.poll() is not None else "no trial started"
        sweep_dir = trial.parents[2]
        assert (sweep_dir / lock.FILE).exists()

        assert _nnlab(results_dir, *arguments) == 2  # the same command again while the first runs
        assert f"already being run by process {first.pid} on this machine" in _one_error(capsys)

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 143
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    record = json.loads((sweep_dir / "sweep.json").read_text())
    assert record["status"] == status.INTERRUPTED and "continue it with: nnlab --results" in record["message"]
    assert not (sweep_dir / lock.FILE).exists()

    for path in sorted(trial.parent.rglob("*"), reverse=True):  # a careless colleague deletes a trial
        path.rmdir() if path.is_dir() else path.unlink()
    trial.parent.rmdir()
    assert _nnlab(results_dir, *arguments) == 2
    assert f"({trial.parent.name}/) under" in _one_error(capsys)


def test_a_torn_or_undecodable_history_row_is_not_data(tmp_path):
    from nnlab.results import history

    path = tmp_path / "history.csv"
    path.write_bytes(b"epoch,loss,seconds\n0,0.5,1.0\n1,0.\xff4,1.0\n2,0.3,1.0\n3,0.2")
    assert [row["epoch"] for row in history.read_rows(path)] == [0, 2]
    path.write_bytes(bytes(range(256)))
    assert history.read_rows(path) == []


def test_a_sweep_stopped_by_a_full_disk_says_free_space_and_keeps_the_trial_unfinished(
    tiny, results_dir, monkeypatch, capsys
):
    from nnlab.sweeps import trial

    def disk_full(self, trial_to_run):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what a write to a full disk raises

    monkeypatch.setattr(trial.SweepTuner, "run_trial", disk_full)
    assert _nnlab(results_dir, "tune", "tiny", "max_trials=2", "epochs=1") == 2
    message = _one_error(capsys)
    assert "the disk is full. Free space there and run the same command again" in message
    assert "stopped with its trial unfinished" in message and "sweep=<new-name>" not in message
    [sweep_dir] = (results_dir / "tiny" / "sweeps").iterdir()
    assert json.loads((sweep_dir / "sweep.json").read_text())["status"] == status.FAILED
    states = [json.loads(path.read_text())["status"] for path in sweep_dir.glob("tuner/trial_*/trial.json")]
    assert states and "FAILED" not in states, "a full disk is not the trial's failure"


def test_runs_started_in_one_second_sort_in_the_order_they_started(tmp_path):
    """The report, nnlab.runs and --resume read runs newest first by their ids; ids of one second used to order
    by their random part."""
    made = []
    for _ in range(12):
        made.append(rundir.create(tmp_path, "x").path.name)
        time.sleep(0.002)
    assert sorted(made) == made
