"""Hostile input to the command, round 2 (issue 19's Why 3, 5-9, command-line part): bounded JSON reads, bad pids,
long paths, text that lies, `nnlab list` and experiment names, and nothing accepted in silence.

Through the real entry point, in-process where it can (TensorFlow is imported once), on the shared tiny
experiment; `nnlab list` runs in its own process, since what it must not print is TensorFlow's start-up chatter.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from nnlab import cli
from nnlab.errors import NnlabError
from nnlab.results import atomic, console, limits, lock, rundir, status
from nnlab.results.history import HistoryFile
from nnlab.sweeps import oracle, tuning
from nnlab.sweeps.progress import SweepProgress
from tests.tiny import TINY

BIDI = "\u202e"


@pytest.fixture
def tiny(make_experiment):
    return make_experiment("tiny", TINY)


def _nnlab(results, *arguments):
    return cli.main([*(["--results", str(results)] if results is not None else []), *arguments])


def _one_error(capsys):
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("nnlab: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def _refused(capsys, results, *arguments):
    """Run the command, expect exit 2 with one paragraph and nothing written; return the paragraph."""
    assert _nnlab(results, *arguments) == 2
    if results is not None:
        assert not os.path.lexists(results), "nothing may be written for bad input"
    return _one_error(capsys)


# Why 3: from= and --resume read JSON within limits.


def test_from_reads_within_limits_and_never_hangs(tiny, tmp_path, capsys):
    results = tmp_path / "results"
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as sparse:
        sparse.truncate(limits.JSON_MAX_BYTES + 1)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    digits = tmp_path / "digits.json"
    digits.write_text('{"config": {"epochs": ' + "1" * 5000 + "}}")
    cases = {
        fifo: "is not a regular file",
        huge: f"holds {limits.JSON_MAX_BYTES + 1} bytes",
        deep: "nests 100000 levels deep",
        digits: "an integer of 5000 digits",
    }

    def hung(signum, frame):
        raise TimeoutError("from= hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)  # a FIFO read without O_NONBLOCK would wait for a writer for ever
    try:
        for path, reason in cases.items():
            message = _refused(capsys, results, "run", "tiny", f"from={path}")
            assert f"from={path}: cannot read it as JSON" in message and reason in message, message
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_from_dev_zero_is_refused_without_reading_it(tmp_path):
    """In a process capped at 1 GiB of address space: an unbounded read would exhaust the machine's memory."""
    code = textwrap.dedent(
        """
        import dataclasses, resource
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        from nnlab import config
        from nnlab.errors import NnlabError
        try:
            config.resolve(config.Config, ["from=/dev/zero"])
        except NnlabError as error:
            print(error)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "from=/dev/zero: cannot read it as JSON (/dev/zero is not a regular file)" in result.stdout


def test_from_another_experiments_config_names_both(tiny, tmp_path, capsys):
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps({"experiment": "mnist", "config": {"epochs": 1}}))
    message = _refused(capsys, tmp_path / "results", "run", "tiny", f"from={saved}")
    assert "is a config of experiment 'mnist', not of 'tiny'" in message


def test_resume_treats_an_unreadable_config_as_damaged_and_says_when_nothing_is_left(tiny, tmp_path, capsys):
    results = tmp_path / "results"
    damaged = rundir.create(results, "tiny")
    damaged.file("config.json").write_text('{"config": ' * 1000 + "1" + "}" * 1000)  # 1,000 levels deep
    dead = subprocess.Popen(["true"])
    dead.wait()
    atomic.write_json(damaged.file("status.json"), {"status": "running", "pid": dead.pid, "host": "x"})

    assert _nnlab(results, "run", "tiny", "epochs=1", "--resume") == 0
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    assert "config.json cannot be read (" in stderr and "nests 1000 levels deep" in stderr
    assert damaged.status() == status.FAILED
    said = [line for line in stderr.splitlines() if "--resume: no unfinished run of tiny" in line]
    assert len(said) == 1 and said[0].startswith("nnlab: ") and "starting a new run" in said[0]
    [new] = [path for path in (results / "tiny").iterdir() if path != damaged.path]
    assert json.loads((new / "status.json").read_text())["status"] == status.DONE


def test_keras_tuner_state_is_checked_before_keras_tuner_reads_it(tmp_path):
    tuner = tmp_path / "tuner"
    (tuner / "trial_0").mkdir(parents=True)
    (tuner / "trial_0" / "trial.json").write_text('{"trial_id": "0", "seed": ' + "7" * 5000 + "}")
    with pytest.raises(NnlabError, match="trial.json is unreadable .*an integer of 5000 digits"):
        oracle.check_files(tuner, tmp_path)
    (tuner / "trial_0" / "trial.json").unlink()
    os.mkfifo(tuner / "oracle.json")  # keras-tuner would block on it
    with pytest.raises(NnlabError, match="oracle.json is unreadable .*not a regular file"):
        oracle.check_files(tuner, tmp_path)
    (tuner / "oracle.json").unlink()
    with open(tuner / "oracle.json", "wb") as sparse:
        sparse.truncate(limits.TUNER_JSON_MAX_BYTES + 1)
    with pytest.raises(NnlabError, match=f"holds {limits.TUNER_JSON_MAX_BYTES + 1} bytes"):
        oracle.check_files(tuner, tmp_path)


# Why 5: a pid counts only if it can be one.


@pytest.mark.parametrize("pid", [1e30, 0, -1, True, "12", None, 2**70])
def test_a_record_whose_pid_is_no_pid_is_stale(tmp_path, pid):
    run_dir = rundir.create(tmp_path, "tiny")
    atomic.write_json(run_dir.file("status.json"), {"status": "running", "pid": pid, "host": socket.gethostname()})
    assert not run_dir.is_alive()
    path = tmp_path / "sweep" / lock.FILE
    path.parent.mkdir()
    for host in (socket.gethostname(), "elsewhere"):  # no pid at all is stale wherever it was written
        path.write_text(json.dumps({"pid": pid, "host": host}))
        with lock.held(path.parent):
            assert json.loads(path.read_text())["pid"] == os.getpid()
        path.parent.mkdir(exist_ok=True)


def test_pids_are_bounded_by_pid_max():
    ceiling = status.pid_max()
    assert ceiling >= 1 and status.valid_pid(ceiling) == ceiling and status.valid_pid(ceiling + 1) is None
    assert status.valid_pid(1) == 1 and status.valid_pid(1.0) is None
    assert status.valid_pid(limits.PID_MAX_FALLBACK, local=False) == limits.PID_MAX_FALLBACK
    assert status.pid_exists(os.getpid()) and not status.pid_exists(1e30) and not status.pid_exists(0)


def test_resume_continues_a_run_whose_pid_is_1e30_and_says_so(tiny, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    original = HistoryFile.append

    def append(self, row):
        original(self, row)
        if row["epoch"] >= 1:
            os.kill(os.getpid(), signal.SIGTERM)  # after epoch 0's checkpoint, as a scheduler would

    monkeypatch.setattr(HistoryFile, "append", append)
    assert _nnlab(results, "run", "tiny", "epochs=3") == 143
    monkeypatch.setattr(HistoryFile, "append", original)
    [run_dir] = (results / "tiny").iterdir()
    record = json.loads((run_dir / "status.json").read_text())
    (run_dir / "status.json").write_text(json.dumps({**record, "status": "running", "pid": 1e30}))
    capsys.readouterr()

    assert _nnlab(results, "run", "tiny", "epochs=3", "--resume") == 0
    stderr = capsys.readouterr().err
    stale = [line for line in stderr.splitlines() if "records pid 1e+30, which is no process id" in line]
    assert len(stale) == 1 and stale[0].startswith("nnlab: ") and "Traceback" not in stderr
    assert json.loads((run_dir / "status.json").read_text())["status"] == status.DONE
    assert json.loads((run_dir / "metrics.json").read_text())["resumed_at_epoch"] == 1, "not a new run: resumed"


# Why 5 (tune) and 7: a stale chief.lock, and nnlab's own lines with hidden characters made visible.


def test_tune_takes_over_a_lock_of_pid_1e30_and_shows_hidden_characters(tiny, tmp_path, capsys):
    results = tmp_path / f"res{BIDI}ults"
    arguments = ["max_trials=1", "epochs=1"]
    sweep_dir = tuning.plan("tiny", arguments, results).sweep_dir
    sweep_dir.mkdir(parents=True)
    (sweep_dir / lock.FILE).write_text(json.dumps({"pid": 1e30, "host": socket.gethostname()}))

    assert _nnlab(results, "tune", "tiny", *arguments) == 0
    out, err = capsys.readouterr()
    assert BIDI not in out + err and "Traceback" not in err
    assert "records pid 1e+30, which is no process id" in err
    assert f"sweep written to {tmp_path}/res\\u202eults/" in out
    assert "re-run it with: nnlab run tiny from=" in err and "res\\u202eults" in err  # the final paragraph
    assert json.loads((sweep_dir / "sweep.json").read_text())["status"] == status.DONE
    # keras-tuner's state stays far below its cap even at max_trials=10000 (measured per trial here)
    per_trial = (sweep_dir / "tuner" / "oracle.json").stat().st_size
    assert per_trial * 10_000 < limits.TUNER_JSON_MAX_BYTES / 10


def test_console_lines_and_errors_show_hidden_characters_and_cut_long_values(tiny, tmp_path, capsys):
    results = tmp_path / "results"
    message = _refused(capsys, results, "run", "tiny", f"from={tmp_path}/run{BIDI}gnp.exe\x1b[2J")
    assert BIDI not in message and "\x1b" not in message and "run\\u202egnp.exe\\u001b[2J: no such file" in message

    value = "9" * 130_000  # a 130 KB bad value
    message = _refused(capsys, results, "run", "tiny", f"width={value}x")
    assert len(message) < 600 and f"… ({len(repr(value + 'x'))} characters in all)" in message
    message = _refused(capsys, results, "run", "tiny", "width=" + "ab " * 43_000)  # spaces in it too
    assert len(message) < 600 and "… (129002 characters in all)" in message
    # A paragraph built without quoting its value (any message nnlab prints) is still cut where it is shown.
    shown = console.shown_error(NnlabError("field 'x' got " + "ab " * 43_000 + "; the end."))
    assert len(shown) < limits.ERROR_MESSAGE_CHARS + 100 and "characters left out" in shown and "the end." in shown

    progress = SweepProgress(2, "val_accuracy", stream=sys.stderr)
    row = {"trial_id": f"0{BIDI}", "status": "COMPLETED", "best_objective": 0.5, "seconds": 1.0}
    summary = type("Summary", (), {"rows": [row], "best": row})()
    progress.update(summary)
    line = capsys.readouterr().err
    assert BIDI not in line and "(id 0\\u202e)" in line


# Why 6: long paths are one paragraph before anything is written.


def test_long_paths_are_refused_before_anything_is_written(tiny, tmp_path, monkeypatch, capsys):
    before = sorted(os.listdir(tmp_path))
    message = _refused(capsys, tmp_path / ("a" * 300) / "results", "run", "tiny")
    assert "--results: the path component" in message and "NAME_MAX" in message

    deep = tmp_path.joinpath(*["d" * 200] * 25)
    monkeypatch.setenv("NNLAB_RESULTS", str(deep))
    message = _refused(capsys, None, "run", "tiny")
    assert "$NNLAB_RESULTS: the path" in message and "PATH_MAX" in message
    monkeypatch.delenv("NNLAB_RESULTS")

    results = tmp_path / "results"
    assert "experiment names are at most" in _refused(capsys, results, "run", "x" * 300)
    assert "NAME_MAX" in _refused(capsys, results, "tune", "tiny", "sweep=" + "s" * 300, "max_trials=1")
    cluster = {"cluster": {"worker": ["localhost:12345", "localhost:12346"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    monkeypatch.setenv("NNLAB_RUN_ID", "r" * 300)
    assert "NNLAB_RUN_ID is 300 bytes long" in _refused(capsys, results, "run", "tiny")
    assert sorted(os.listdir(tmp_path)) == before


# Why 8: `nnlab list` and the names `run` takes.


def test_list_shows_every_module_skips_the_rest_and_prints_no_tensorflow(tmp_path):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "tiny.py").write_text(f'"""A tiny {BIDI}classifier."""\n' + textwrap.dedent(TINY))
    (experiments / "broken.py").write_text("raise ValueError('boom\\nsecond line')\n")
    (experiments / "dirmod.py").mkdir()
    (experiments / "gone.py").symlink_to(tmp_path / "nowhere.py")
    (experiments / "my exp.py").write_text('"""x"""\n')
    (experiments / "bench.py").write_text(textwrap.dedent(TINY))
    (experiments / "_helpers.py").write_text("")
    env = {**os.environ, "NNLAB_EXPERIMENTS": str(experiments)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # TensorFlow's defaults: everything it would say, it may say
    result = subprocess.run(
        [sys.executable, "-m", "nnlab.cli", "list"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{'broken':16} (cannot load: {experiments / 'broken.py'} failed to import: ValueError: boom)",
        f"{'tiny':16} A tiny \\u202eclassifier.",
    ]
    assert sorted(result.stderr.splitlines()) == [
        "nnlab: skipped bench.py: 'bench' is a reserved name (nnlab writes results/bench/ itself); rename the module",
        "nnlab: skipped dirmod.py: a directory, not a module file",
        f"nnlab: skipped gone.py: a symbolic link to '{tmp_path / 'nowhere.py'}', which does not exist (or loops), "
        "so not a module file",
        "nnlab: skipped my exp.py: 'my exp' is not a valid experiment name (a Python identifier: letters, digits "
        "and _, not starting with a digit; no spaces, dots or slashes)",
    ], "TensorFlow's start-up lines, or a missing skip line"

    missing = subprocess.run(
        [sys.executable, "-m", "nnlab.cli", "list"],
        env={**env, "NNLAB_EXPERIMENTS": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "none/ does not exist" in missing.stderr


def test_run_tells_bad_names_apart_and_refuses_reserved_ones(tiny, tmp_path, capsys):
    experiments = tiny.path.parent
    (experiments / "dirmod.py").mkdir()
    (experiments / "gone.py").symlink_to(tmp_path / "nowhere.py")
    (experiments / "bench.py").write_text(textwrap.dedent(TINY))
    (experiments / "report_files.py").write_text(textwrap.dedent(TINY))
    results = tmp_path / "results"
    cases = {
        "my exp": "'my exp' is not a valid experiment name",
        "../evil": "'../evil' is not a valid experiment name",
        "dirmod": "dirmod.py: a directory, not a module file",
        "gone": "gone.py: a symbolic link to",
        "nope": "nope.py: no such file",
        "bench": "'bench' is a reserved name",
        "report_files": "'report_files' is a reserved name",
    }
    for name, reason in cases.items():
        message = _refused(capsys, results, "run", name)
        assert f"No experiment named {name!r}: " in message and reason in message and "Available in" in message
    assert "'bench' is a reserved name" in _refused(capsys, results, "tune", "bench", "max_trials=1")


# Why 9: nothing accepted in silence.


def test_repeated_keys_empty_results_and_negative_workers_are_errors(tiny, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    assert "epochs= is given twice (epochs=1 and epochs=3)" in _refused(
        capsys, results, "run", "tiny", "epochs=1", "epochs=3"
    )
    for repeated in (["max_trials=1", "max_trials=2"], ["epochs=1", " epochs=2"]):
        key = repeated[0].split("=")[0]
        assert f"tune: {key}= is given twice" in _refused(capsys, results, "tune", "tiny", *repeated)
    assert "--workers -1" in _refused(capsys, results, "tune", "tiny", "max_trials=1", "--workers=-1")

    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    assert "--results is empty" in _refused(capsys, None, "--results", "", "run", "tiny")
    monkeypatch.setenv("NNLAB_RESULTS", "")
    assert "$NNLAB_RESULTS is empty" in _refused(capsys, None, "run", "tiny")
    assert "$NNLAB_RESULTS is empty" in _refused(capsys, None, "report")
    assert sorted(os.listdir(tmp_path)) == before, "an empty results directory wrote into the current one"
