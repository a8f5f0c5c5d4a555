"""Grouped sweeps end to end (vectorize=auto|N): the same trials as one at a time, their files, a kill mid-group
resumed to the same bits, a sweep from before the setting resumed as it was, and a failing group program falling
back to one trial at a time."""

import json

import pandas as pd
import pytest

from nnlab import NnlabError
from nnlab.results import atomic, checkpoint
from nnlab.sweeps import tuning, vectorize
from nnlab.train.vectorized import program as program_lib
from tests.tiny import TINY

SAME = ["width=8", "max_trials=3", "epochs=2"]  # one structure: every trial may share a program


@pytest.fixture
def tiny(make_experiment):
    return make_experiment("tiny", TINY)


def tables(sweep_dir):
    """trials.csv and history.csv without the wall-clock columns."""
    trials = pd.read_csv(sweep_dir / "trials.csv", dtype={"trial_id": str}).drop(columns="seconds")
    history = pd.read_csv(sweep_dir / "history.csv", dtype={"trial_id": str}).drop(columns="seconds")
    return trials, history


def test_a_grouped_sweep_trains_the_same_trials_and_records_its_groups(tiny, results_dir, capfd):
    result = tuning.tune("tiny", SAME, results_dir=results_dir)  # verbose as the command leaves it
    printed = capfd.readouterr()
    lines = [line for line in (printed.out + printed.err).splitlines() if line.strip() and "cuInit" not in line]
    assert all(line.startswith(("trial ", "sweep ")) for line in lines), lines  # nnlab's own lines, nothing else
    sweep_dir = result.sweep_dir
    trials = pd.read_csv(sweep_dir / "trials.csv", dtype={"trial_id": str})
    assert list(trials.columns)[-1] == "group" and list(trials["group"]) == [0, 0, 0]
    assert trials["seconds"].nunique() == 1  # the group's time divided by its size
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    assert sweep["vectorize"]["requested"] == "auto" and sweep["vectorize"]["k"] == 3
    assert sweep["vectorize"]["groups"] == [["0", "1", "2"]] and sweep["vectorize"]["reason"] == ""
    assert "CPU" in sweep["vectorize"]["rule"] and sweep["vectorize"]["xla"] is False  # 24 steps: not worth XLA
    record = atomic.read_json(sweep_dir / "tuner" / "trial_1" / "nnlab_trial.json")
    assert record["group"] == 0 and record["group_trials"] == ["0", "1", "2"] and record["k"] == 3
    per_epoch = [pd.read_csv(sweep_dir / "tuner" / f"trial_{i}" / "history.csv")["seconds"] for i in range(3)]
    assert all(list(seconds) == list(per_epoch[0]) for seconds in per_epoch)  # each a third of the group's epoch
    assert per_epoch[0].sum() < trials["seconds"].iloc[0]  # which is part of the group's whole time
    best = json.loads((sweep_dir / "best_config.json").read_text())
    assert best["repeatable"] == "same data, initialisation and batch order; dropout masks differ"  # tiny has dropout
    assert "vectorize" not in sweep_dir.name and tuning.plan("tiny", [*SAME, "vectorize=1"], results_dir).sweep_id == (
        sweep_dir.name
    )  # the setting is not part of the sweep id

    alone = tuning.tune("tiny", [*SAME, "vectorize=1", "sweep=alone"], results_dir=results_dir, verbose=0)
    one_at_a_time = pd.read_csv(alone.sweep_dir / "trials.csv", dtype={"trial_id": str})
    assert list(one_at_a_time["learning_rate"]) == list(trials["learning_rate"])  # trial i: the same values
    assert one_at_a_time["group"].isna().all()
    assert json.loads((alone.sweep_dir / "sweep.json").read_text())["vectorize"]["k"] == 1


def test_a_sweep_killed_mid_group_resumes_to_the_same_bits(tiny, results_dir, tmp_path, monkeypatch):
    args = ["width=8", "max_trials=3", "epochs=4", "lr_schedule=exponential"]  # a schedule: one epoch per call
    clean = tuning.tune("tiny", args, results_dir=tmp_path / "clean", verbose=0)
    original, saves = checkpoint.save_arrays, []

    def killed_after_two_chunks(path, arrays, meta):
        original(path, arrays, meta)
        if "members" in meta and not meta.get("finished"):
            saves.append(meta["epoch"])
            if len(saves) == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save_arrays", killed_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("tiny", args, results_dir=results_dir, verbose=0)
    saves.clear()
    resumed = tuning.tune("tiny", args, results_dir=results_dir, verbose=0)
    assert saves == [3]  # re-formed from epoch 2: only epochs 2 and 3 trained (no save after the last)
    for mine, reference in zip(tables(resumed.sweep_dir), tables(clean.sweep_dir), strict=True):
        pd.testing.assert_frame_equal(mine, reference, check_exact=True)
    assert json.loads((resumed.sweep_dir / "sweep.json").read_text())["vectorize"]["groups"] == [["0", "1", "2"]]


def test_a_sweep_from_before_vectorize_resumes_one_trial_at_a_time(tiny, results_dir, tmp_path, monkeypatch):
    args = ["max_trials=2", "epochs=2", "width=8"]
    clean = tuning.tune("tiny", [*args, "vectorize=1"], results_dir=tmp_path / "clean", verbose=0)
    original, saves = checkpoint.save, []

    def killed_in_trial_1(model, path, next_epoch, **kwargs):
        original(model, path, next_epoch, **kwargs)
        saves.append(next_epoch)
        if len(saves) == 3:  # trial 0's two epochs, then trial 1's first
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", killed_in_trial_1)
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("tiny", [*args, "vectorize=1"], results_dir=results_dir, verbose=0)
    [sweep_dir] = (results_dir / "tiny" / "sweeps").iterdir()
    old = atomic.read_json(sweep_dir / "sweep.json")
    del old["vectorize"]  # as sweeps written before the setting
    atomic.write_json(sweep_dir / "sweep.json", old)
    with pytest.raises(NnlabError, match=r"started before vectorize existed.*vectorize=3.*sweep=<new-name>"):
        tuning.tune("tiny", [*args, "vectorize=3"], results_dir=results_dir, verbose=0)
    monkeypatch.setattr(checkpoint, "save", original)
    resumed = tuning.tune("tiny", args, results_dir=results_dir, verbose=0)  # vectorize=auto: the recorded k, 1
    assert atomic.read_json(sweep_dir / "sweep.json")["vectorize"]["k"] == 1
    for mine, reference in zip(tables(resumed.sweep_dir), tables(clean.sweep_dir), strict=True):
        pd.testing.assert_frame_equal(mine, reference, check_exact=True)


def test_a_failing_group_program_falls_back_to_one_trial_at_a_time(tiny, results_dir, monkeypatch, capfd):
    def broken(self, *args, **kwargs):
        raise RuntimeError("the group program broke\nsecond line")

    monkeypatch.setattr(program_lib.GroupProgram, "run", broken)
    result = tuning.tune("tiny", ["max_trials=2", "epochs=1", "width=8"], results_dir=results_dir, verbose=0)
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.startswith("nnlab: warning:")]
    assert len(warnings) == 1 and "trials 0, 1" in warnings[0] and "the group program broke" in warnings[0]
    trials = pd.read_csv(result.sweep_dir / "trials.csv", dtype={"trial_id": str})
    assert list(trials["status"]) == ["COMPLETED", "COMPLETED"] and trials["group"].isna().all()
    vectorize = json.loads((result.sweep_dir / "sweep.json").read_text())["vectorize"]
    assert vectorize["reason"] == "RuntimeError: the group program broke" and vectorize["groups"] == []


@pytest.mark.parametrize("algorithm", ["grid", "bayesian"])
def test_grid_and_bayesian_sweeps_group_too(tiny, results_dir, algorithm):
    result = tuning.tune(
        "tiny", ["width=8", "max_trials=3", "epochs=1", f"algorithm={algorithm}"], results_dir=results_dir, verbose=0
    )
    trials = pd.read_csv(result.sweep_dir / "trials.csv", dtype={"trial_id": str})
    assert list(trials["status"]) == ["COMPLETED"] * 3 and list(trials["group"]) == [0, 0, 0]
    assert trials["learning_rate"].nunique() == 3


def test_only_trials_of_one_structure_share_a_group(tiny, results_dir):
    result = tuning.tune("tiny", ["max_trials=5", "epochs=1"], results_dir=results_dir, verbose=0)  # width swept
    trials = pd.read_csv(result.sweep_dir / "trials.csv", dtype={"trial_id": str})
    assert set(trials["status"]) == {"COMPLETED"}
    grouped = trials.dropna(subset=["group"])
    assert len(grouped) >= 2, trials  # 5 trials over 3 widths: some pair up
    for _, members in grouped.groupby("group"):
        assert len(members) >= 2 and members["width"].nunique() == 1
    groups = json.loads((result.sweep_dir / "sweep.json").read_text())["vectorize"]["groups"]
    assert sorted(map(sorted, groups)) == sorted(sorted(m["trial_id"]) for _, m in grouped.groupby("group"))


def test_each_worker_of_a_distributed_sweep_forms_its_own_groups(tiny, results_dir):
    result = tuning.tune("tiny", ["width=8", "max_trials=4", "epochs=1"], results_dir=results_dir, workers=2)
    sweep = json.loads((result.sweep_dir / "sweep.json").read_text())
    assert sweep["status"] == "done" and sweep["counts"] == {"COMPLETED": 4}
    assert sweep["vectorize"]["k"] == 2 and sorted(map(len, sweep["vectorize"]["groups"])) == [2, 2]  # a share each
    records = [atomic.read_json(path) for path in result.sweep_dir.glob("tuner/trial_*/nnlab_trial.json")]
    by_group = {}
    for record in records:
        by_group.setdefault(record["group"], set()).add(record["pid"])
    assert all(len(pids) == 1 for pids in by_group.values())  # a group trains inside one worker


@pytest.mark.parametrize("value", ["0", "-2", "two", "2.5", ""])
def test_vectorize_takes_auto_or_a_whole_number(tiny, results_dir, value):
    with pytest.raises(NnlabError, match=rf"vectorize='{value}' must be auto or a whole number"):
        tuning.tune("tiny", [f"vectorize={value}"], results_dir=results_dir, verbose=0)
    assert not results_dir.exists()


def test_a_sweep_keeps_its_recorded_k_and_best_config_says_how_a_grouped_trial_repeats(tiny, results_dir):
    sweep = tuning.plan("tiny", ["vectorize=2"], results_dir)
    atomic.write_json(sweep.sweep_dir / "sweep.json", {"vectorize": {"requested": "auto", "k": 4}})
    with pytest.raises(NnlabError, match=r"started with vectorize k=4 \(4 trials at a time\).*sweep=<new-name>"):
        sweep.check_resumable()
    for same in ("vectorize=4", "vectorize=auto"):
        resumed = tuning.plan("tiny", [same], results_dir)
        resumed.check_resumable()
        assert resumed.recorded_vectorize["k"] == 4
    assert vectorize.repeatable({"group": 0, "k": 4}, "yes") == "within tolerance (trained in a group of 4)"
    assert vectorize.repeatable({"group": None}, "yes") == "yes" and vectorize.repeatable(None, "yes") == "yes"


def test_hyperband_trains_one_trial_at_a_time_and_says_why(tiny, results_dir):
    sweep = tuning.plan("tiny", ["algorithm=hyperband", "epochs=2", "max_trials=2", "width=8"], results_dir)
    sweep.check_resumable()
    sweep.preflight()
    assert sweep.vectorize.k == 1 and "hyperband" in sweep.vectorize.reason
    with pytest.raises(NnlabError, match=r"sweep settings: .*vectorize"):
        tuning.tune("tiny", ["vectorise=2"], results_dir=results_dir, verbose=0)


@pytest.mark.parametrize(
    "raised, said",
    [("SystemExit(0)", "build_model() exits the process"), ("Stop()", "Stop: Stop (raised in build_model()")],
)
def test_a_member_whose_module_code_exits_fails_alone_and_the_rest_still_group(
    make_experiment, results_dir, raised, said
):
    """build_model calling sys.exit, or raising a BaseException of the module's own, for one trial of a structure:
    that trial fails as it would alone (its error.log says so), and the others still train as one group; the sweep
    goes on."""
    exiting = (
        TINY.replace(
            "def build_model(config):\n",
            "class Stop(BaseException):\n        pass\n\n"
            f"    def build_model(config):\n        if config.learning_rate >= 0.5:\n            raise {raised}\n",
        )
        + '\n    SEARCH_SPACE = {"learning_rate": search_space.Choice([0.001, 0.002, 0.003, 0.5])}\n'
    )
    make_experiment("exiting", exiting)
    result = tuning.tune("exiting", ["algorithm=grid", "width=8", "epochs=1"], results_dir=results_dir, verbose=0)
    trials = pd.read_csv(result.sweep_dir / "trials.csv", dtype={"trial_id": str}).set_index("learning_rate")
    assert trials.loc[0.5, "status"] == "FAILED" and pd.isna(trials.loc[0.5, "group"])
    kept = trials.drop(index=0.5)
    assert set(kept["status"]) == {"COMPLETED"} and set(kept["group"]) == {0}
    log = result.sweep_dir / "tuner" / f"trial_{trials.loc[0.5, 'trial_id']}" / "error.log"
    assert said in log.read_text()
