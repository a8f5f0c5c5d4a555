"""A closed or short-lived stdout or stderr never stops `nnlab run`, `tune` or `report` (issue 19, Why 4).

Each command runs for real, through a shell, as a user types it: `| head -1` (the pipe's reader leaves after one
line, so later lines and the interpreter's flush at exit meet a broken pipe), `>&-` and `2>&-` (descriptors closed
from the start). The work must finish, write its files, end `done` and exit 0, never 1, 120 or 141.
"""

import json
import os
import subprocess
import sys
import textwrap

from tests.tiny import TINY

NNLAB = f"{sys.executable} -m nnlab.cli"

# name: shell command; each writes its nnlab's own exit status (PIPESTATUS: pipefail's view) to <name>.rc. Between
# them: stdout's reader gone mid-run, stdout closed, stderr closed, stderr's reader gone (three TensorFlow processes).
CASES = {
    # one line per epoch (a schedule compiles one epoch per call), so the pipe breaks while training goes on
    "pipe": f"{NNLAB} --results pipe run tiny epochs=4 lr_schedule=exponential 2>&- | head -1 >/dev/null",
    "no-stdout": f"{NNLAB} --results no-stdout run tiny epochs=2 >&-",
    "tune": f"{NNLAB} --results tune tune tiny max_trials=1 epochs=1 2>&1 | head -1 >/dev/null",
}


def _shell(command, name, cwd, env):
    script = f"{command}; echo ${{PIPESTATUS[0]}} > {name}.rc"
    return subprocess.Popen(
        ["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _status(path):
    return json.loads(path.read_text())["status"]


def test_a_broken_pipe_or_a_closed_descriptor_never_stops_the_work(tmp_path):
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "tiny.py").write_text(textwrap.dedent(TINY))
    env = {**os.environ, "NNLAB_EXPERIMENTS": str(tmp_path / "experiments")}
    env.pop("NNLAB_RESULTS", None)
    shells = {name: _shell(command, name, tmp_path, env) for name, command in CASES.items()}  # side by side
    stderr = {name: shell.communicate(timeout=400)[1] for name, shell in shells.items()}

    for name in CASES:
        code = (tmp_path / f"{name}.rc").read_text().strip()
        assert code == "0", f"{name}: exit status {code}\n{stderr[name]}"
        assert "Traceback" not in stderr[name] and "Exception ignored" not in stderr[name], stderr[name]
    for name in ("pipe", "no-stdout"):
        [run_dir] = (tmp_path / name / "tiny").iterdir()
        assert _status(run_dir / "status.json") == "done", name
        assert (run_dir / "model.keras").exists() and (run_dir / "metrics.json").exists(), name
        epochs = 4 if name == "pipe" else 2
        assert len((run_dir / "history.csv").read_text().splitlines()) == epochs + 1, name
    [sweep_dir] = (tmp_path / "tune" / "tiny" / "sweeps").iterdir()
    assert _status(sweep_dir / "sweep.json") == "done"
    assert (sweep_dir / "best_config.json").exists() and (sweep_dir / "trials.csv").exists()

    # The report: its one line goes to a reader that has already left.
    report = _shell(f"{NNLAB} --results pipe report | true", "report", tmp_path, env)
    assert report.communicate(timeout=120)[1].count("Traceback") == 0
    assert (tmp_path / "report.rc").read_text().strip() == "0"
    assert (tmp_path / "pipe" / "report.html").exists() and (tmp_path / "pipe" / "report.md").exists()


def test_a_stream_whose_reader_has_gone_is_sent_to_dev_null():
    """The mechanism under the test above, alone: EPIPE on the first write, then the descriptor is /dev/null."""
    from nnlab.results import console

    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = console._BestEffortStream(open(write_end, "w", encoding="utf-8"))
    try:
        stream.write("a line for a reader that has gone\n")
        stream.flush()  # EPIPE here; never an exception
        stream.write("and another\n")
        assert stream._broken and not stream.isatty()
        assert os.readlink(f"/proc/self/fd/{write_end}") == os.devnull
    finally:
        stream.close()


def test_error_paragraphs_cut_every_long_value_once():
    from nnlab.results import console, limits, text

    long = "x" * 1000
    cut = console.shown_error(f"{text.quoted(long)} and {long}; then the fix.")
    assert cut.count("(1002 characters in all)") == 1 and cut.count("(1000 characters in all);") == 1
    assert cut.endswith("; then the fix.") and len(cut) < 3 * limits.ERROR_VALUE_CHARS
    assert console.shown_error("tab\tand\nnewline kept, \u2066isolate\u2069 shown") == (
        "tab\tand\nnewline kept, \\u2066isolate\\u2069 shown"
    )


def test_library_use_without_stdout_or_stderr_needs_no_terminal(monkeypatch):
    """pythonw and some notebook hosts run with sys.stdout / sys.stderr set to None: no isatty to call."""
    from nnlab.results import console
    from nnlab.sweeps.progress import SweepProgress
    from nnlab.train import job

    monkeypatch.setattr(sys, "stdout", None)
    assert job.verbosity(None) == 2 and not console.is_terminal(None)
    closed = open(os.devnull, "w")
    closed.close()
    assert not console.is_terminal(closed)
    row = {"trial_id": "0", "status": "COMPLETED", "best_objective": 0.5, "seconds": 1.0}
    summary = type("Summary", (), {"rows": [row], "best": row})()
    assert SweepProgress(1, "val_accuracy", stream=closed).update(summary)[0].startswith("trial 1 of 1 (id 0)")
