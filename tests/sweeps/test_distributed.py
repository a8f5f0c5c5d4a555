"""A loopback distributed sweep (keras-tuner chief + 2 workers over gRPC) in which one worker is SIGKILLed in the
middle of a trial: nnlab's launcher restarts it under its own id and every trial ends COMPLETED exactly once."""

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from nnlab.sweeps import tuning
from tests.sweeps.test_resume_sweep import epochs_done, wait_for
from tests.tiny import TINY

ARGS = ["max_trials=3", "epochs=4", "examples=2000", "vectorize=1"]  # one trial per worker at a time: shared


@pytest.fixture
def tiny(make_experiment):
    return make_experiment("tiny", TINY)


def read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def test_distributed_sweep_survives_a_killed_worker(tiny, results_dir):
    sweep_dir = tuning.plan("tiny", ARGS, results_dir).sweep_dir
    tuner_dir = sweep_dir / "tuner"
    command = [
        sys.executable,
        "-m",
        "nnlab.cli",
        "--results",
        str(results_dir),
        "tune",
        "tiny",
        *ARGS,
        "--workers",
        "2",
    ]
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    victim = {}

    def worker_mid_trial():
        ongoing = read_json(tuner_dir / "oracle.json").get("ongoing_trials", {})
        pids = read_json(sweep_dir / "processes.json")
        for role, trial_id in ongoing.items():
            done = epochs_done(tuner_dir / f"trial_{trial_id}" / "history.csv")
            if role.startswith("worker") and role in pids and 1 <= done < 3:
                victim.update(role=role, pid=pids[role], trial_id=trial_id, epochs=done)
                return True
        return launcher.poll() is not None

    try:
        wait_for(worker_mid_trial, 180, "a worker in the middle of a trial")
        assert victim, "the sweep ended before a worker could be killed"
        os.kill(victim["pid"], signal.SIGKILL)
        output, _ = launcher.communicate(timeout=180)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)  # never leave a hung sweep behind
        for pid in read_json(sweep_dir / "processes.json").values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    text = output.decode(errors="replace")
    assert launcher.returncode == 0, text[-3000:]
    assert f"{victim['role']} exited with status -9; restarting it under the same id" in text
    # Quiet: the launcher relays the chief's line per ended trial; no keras-tuner display, no epochs, in any log.
    assert sorted(line.split(" (id")[0] for line in text.splitlines() if line.startswith("trial ")) == [
        "trial 1 of 3", "trial 2 of 3", "trial 3 of 3"
    ]  # fmt: skip
    for output_text in [text] + [log.read_text() for log in (sweep_dir / "logs").glob("*.log")]:
        for noise in ("Search: Running Trial", "So Far", "Reloading Tuner", "epoch 1/4"):
            assert noise not in output_text, output_text[-3000:]
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    assert sweep["status"] == "done" and sweep["counts"] == {"COMPLETED": 3}
    trials = pd.read_csv(sweep_dir / "trials.csv", dtype={"trial_id": str})
    assert sorted(trials["trial_id"]) == ["0", "1", "2"] and set(trials["status"]) == {"COMPLETED"}
    history = pd.read_csv(sweep_dir / "history.csv", dtype={"trial_id": str})
    assert not history.duplicated(["trial_id", "epoch"]).any()
    assert history.groupby("trial_id")["epoch"].apply(list).to_dict() == {t: [0, 1, 2, 3] for t in ["0", "1", "2"]}
    assert (sweep_dir / "best_config.json").exists()
    pids = {json.loads(p.read_text())["pid"] for p in tuner_dir.glob("trial_*/nnlab_trial.json")}
    assert len(pids) >= 2, "the trials should have been shared between the workers"
