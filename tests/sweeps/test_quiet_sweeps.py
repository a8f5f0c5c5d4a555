"""What `nnlab tune` prints: one line per ended trial, nnlab's warnings and errors, the final paragraph; never
keras-tuner's display, a trial's epochs or a traceback (a failed trial's goes to tuner/trial_<id>/error.log). And a
Config a sweep cannot convert stops before the first trial."""

import io
import json
import re

import pytest

from nnlab import NnlabError, cli
from nnlab import config as config_lib
from nnlab.sweeps import tables, tuning
from nnlab.sweeps.distributed import ConsoleRelay
from nnlab.sweeps.progress import SweepProgress
from tests.tiny import TINY

# The module: a bare `tuple` field failed every trial; width 4 calls sys.exit, width 16 raises.
MISBEHAVING = (
    TINY.replace('metrics: tuple[str, ...] = ("accuracy",)', 'metrics: tuple = ("accuracy",)').replace(
        "def build_model(config):\n",
        "def build_model(config):\n"
        "        if config.width == 4:\n"
        "            raise SystemExit(0)\n"
        "        if config.width == 16:\n"
        "            raise ValueError('width 16 is too wide')\n",
    )
    + '\n    SEARCH_SPACE = {"width": search_space.Choice([4, 8, 16])}\n'
)  # replaces TINY's; fmt: skip

# TensorFlow's C++ log lines: `nnlab tune` hides them (nnlab.train.startup), the tests' conftest only some of them.
TENSORFLOW_LOG = re.compile(r"[EWI]\d{4} ")
KERAS_TUNER_DISPLAY = ["Search: Running Trial", "Complete [", "So Far", "Total elapsed time", "Reloading Tuner", "|"]


def test_a_sweep_prints_one_line_per_trial_and_logs_each_failure(make_experiment, capfd, results_dir):
    experiment = make_experiment("misbehaving", MISBEHAVING)
    command = ["--results", str(results_dir), "tune", "misbehaving", "algorithm=grid", "epochs=2"]

    assert cli.main(command) == 0
    out, err = capfd.readouterr()
    console = out + err
    for noise in [*KERAS_TUNER_DISPLAY, "epoch 1/2", "Traceback"]:
        assert noise not in console, console
    lines = [line for line in console.splitlines() if line.strip() and not TENSORFLOW_LOG.match(line)]
    trials = [line for line in lines if line.startswith("trial ")]
    assert [line.split(":")[0] for line in trials] == [
        "trial 1 of 3 (id 0)",
        "trial 2 of 3 (id 1)",
        "trial 3 of 3 (id 2)",
    ]
    assert len(lines) == len(trials) + 2, console  # and the final paragraph, and "sweep written to"
    sweep_dir = next((results_dir / "misbehaving" / "sweeps").iterdir())
    logs = {trial_id: sweep_dir / "tuner" / f"trial_{trial_id}" / "error.log" for trial_id in ("0", "2")}
    assert f"(traceback in {logs['0']})" in trials[0] and "failed: build_model() exits the process" in trials[0]
    assert "…" not in trials[0]  # the error in full
    assert trials[1].startswith("trial 2 of 3 (id 1): val_accuracy ")
    assert "failed: build_model(config) raised ValueError: width 16 is too wide. Check the model" in trials[2]
    assert f"(traceback in {logs['2']})" in trials[2]
    exited, raised = (logs[trial_id].read_text() for trial_id in ("0", "2"))
    assert exited.startswith("build_model() exits the process (sys.exit(0) at line ")
    assert "Traceback" in exited and "SystemExit: 0" in exited
    assert "Traceback" in raised and re.search(
        rf'File "{re.escape(str(experiment.path))}", line \d+, in build_model', raised
    )
    assert "ValueError: width 16 is too wide" in raised and not (sweep_dir / "tuner" / "trial_1" / "error.log").exists()

    # A bare tuple field round-trips: the best trial's config re-runs as it is.
    best = json.loads((sweep_dir / "best_config.json").read_text())
    assert best["config"]["metrics"] == ["accuracy"] and best["config"]["width"] == 8
    again = config_lib.resolve(experiment.config_class, [f"from={sweep_dir / 'best_config.json'}"])
    assert config_lib.to_dict(again) == best["config"]

    assert cli.main(command) == 0  # the same command continues the finished sweep, quietly
    out, err = capfd.readouterr()
    again_lines = [line for line in (out + err).splitlines() if line.strip() and not TENSORFLOW_LOG.match(line)]
    assert sorted(again_lines) == sorted(line for line in lines if not line.startswith("trial ")), out + err


def test_the_preflight_sends_a_sample_through_the_trials_conversion(make_experiment, results_dir):
    source = TINY.replace(
        "    SEARCH_SPACE = {",
        "        def check(self):\n"
        "            super().check()\n"
        "            if self.width > 8:\n"
        "                raise nnlab.NnlabError(f'width {self.width} does not fit')\n\n"
        "    SEARCH_SPACE = {",
    ).replace("search_space.Choice([4, 8, 16])", "search_space.Choice([16, 4])")
    make_experiment("narrow", source)
    with pytest.raises(
        NnlabError, match=r"sample of SEARCH_SPACE \(\{'learning_rate': 0\.001, 'width': 16\}\).*width 16 does not fit"
    ):
        tuning.tune("narrow", ["max_trials=2"], results_dir=results_dir, verbose=0)
    assert not [path for path in results_dir.rglob("*") if path.is_file()]  # before the first trial, nothing written


def test_progress_numbers_trials_in_the_order_they_end():
    stream = io.StringIO()
    progress = SweepProgress(total=3, objective="val_loss", stream=stream)
    row = {"status": "COMPLETED", "best_objective": 0.5, "seconds": 4.0}
    first = tables.Summary(rows=[{**row, "trial_id": "1"}], counts={})
    both = tables.Summary(rows=[{**row, "trial_id": "0"}, {**row, "trial_id": "1"}], counts={})
    assert progress.update(first)[0].startswith("trial 1 of 3 (id 1)")
    assert progress.update(both)[0].startswith("trial 2 of 3 (id 0)")


def test_the_launcher_relays_the_chiefs_lines_and_each_warning_once(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "chief.log").write_text("trial 1 of 2 (id 0): val_loss 0.5; no best yet; about 3 s left\nhalf a li")
    warning = "nnlab: warning: precision=mixed_float16 on a CPU\n"
    (logs / "worker0.log").write_text(f"E0000 cuInit failed\n{warning}epoch 1/2 - loss 0.3\nTraceback (most recent")
    (logs / "worker1.log").write_text(warning + "nnlab: error: the data is broken\n")
    stream = io.StringIO()
    relay = ConsoleRelay(logs, ["chief", "worker0", "worker1"], stream=stream)
    assert relay.poll() == ["trial 1 of 2 (id 0): val_loss 0.5; no best yet; about 3 s left", warning.strip()]
    with open(logs / "chief.log", "a") as chief:
        chief.write("ne\nnnlab: error: Sweep failed\nsweep written to x\n")
    assert relay.poll() == ["half a line"]
    assert relay.poll() == []
    assert stream.getvalue().splitlines() == [
        "trial 1 of 2 (id 0): val_loss 0.5; no best yet; about 3 s left",
        warning.strip(),
        "half a line",
    ]


def test_tensorflows_retracing_warning_is_dropped_only_for_nnlabs_own_loop():
    """A sweep compiles a loop per trial on purpose; the warning stays for a function of the user's module."""
    import logging

    from nnlab.train import startup

    def record(function):
        message = f"5 out of the last 5 calls to {function} triggered tf.function retracing. Tracing is expensive"
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    own = record("<bound method EpochLoop._epochs of <nnlab.train.loop.EpochLoop object at 0x7f>>")
    users = record("<function train_step at 0x7f>")
    startup.hide_own_retracing_warnings()
    startup.hide_own_retracing_warnings()  # once per process, however often it is asked
    logger = logging.getLogger("tensorflow")
    assert sum(isinstance(check, startup.OwnRetracing) for check in logger.filters) == 1
    assert not logger.filter(own) and logger.filter(users)
