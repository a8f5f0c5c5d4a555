"""A sweep's TensorBoard logs read back (HParams plugin data, one session per trial), its progress lines, and
nnlab.tune/nnlab.trials on the package face."""

import io

import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import plugin_data_pb2

import nnlab
from nnlab.sweeps import hparams, tables
from nnlab.sweeps.progress import SweepProgress
from tests.tiny import TINY


def read_events(directory):
    """{tag: [(step, value or plugin data)]} from every event file directly in `directory`."""
    found = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data
                if plugin.plugin_name == "hparams":
                    item = plugin_data_pb2.HParamsPluginData.FromString(plugin.content)
                else:
                    item = float(tf.make_ndarray(value.tensor))
                found.setdefault(value.tag, []).append((event.step, item))
    return found


def test_a_two_trial_sweep_writes_hparams_sessions_and_progress(make_experiment, results_dir, capsys):
    make_experiment("tiny", TINY)
    result = nnlab.tune("tiny", {"max_trials": 2, "epochs": 2}, results_dir=results_dir)
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("trial ")]
    trials = nnlab.trials(result.sweep_dir)
    assert list(trials["status"]) == ["COMPLETED", "COMPLETED"]

    logs = hparams.logs_dir(result.sweep_dir)
    experiment = read_events(logs)["_hparams_/experiment"][0][1].experiment
    assert {item.name for item in experiment.hparam_infos} == {"learning_rate", "width"}
    assert [metric.name.tag for metric in experiment.metric_infos] == ["objective", "val_accuracy"]
    sessions = sorted(path.name for path in logs.iterdir() if path.is_dir())
    assert sessions == [f"trial_{trial_id}" for trial_id in trials["trial_id"]]  # one session per trial
    for _, trial in trials.iterrows():
        events = read_events(logs / f"trial_{trial['trial_id']}")
        start = events["_hparams_/session_start_info"][0][1].session_start_info
        assert start.hparams["learning_rate"].number_value == pytest.approx(trial["learning_rate"])
        assert start.hparams["width"].number_value == trial["width"]
        assert events["objective"] == [(trial["best_epoch"], pytest.approx(trial["best_objective"]))]
        assert [step for step, _ in events["val_accuracy"]] == [0, 1]

    best = trials.loc[trials["best_objective"].idxmax()]
    assert progress[0].startswith(f"trial 1 of 2 (id {trials['trial_id'][0]}): val_accuracy ")
    assert progress[1].startswith("trial 2 of 2") and progress[1].endswith("; done")
    assert f"best {best['best_objective']:.4g} (trial {best['trial_id']})" in progress[1]


def test_progress_estimates_time_left_and_draws_a_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = SweepProgress(total=4, objective="val_loss", workers=2, stream=stream)
    rows = [
        {"trial_id": "00", "status": "COMPLETED", "best_objective": 0.5, "seconds": 10.0},
        {"trial_id": "01", "status": "FAILED", "best_objective": float("nan"), "seconds": 30.0},
        {"trial_id": "02", "status": "RUNNING", "best_objective": float("nan"), "seconds": 0.0},
    ]
    summary = tables.Summary(rows=rows, counts={}, best=rows[0])
    lines = progress.update(summary)
    assert lines == [
        "[#####...............] trial 1 of 4 (id 00): val_loss 0.5; best 0.5 (trial 00); about 20 s left",
        "[##########..........] trial 2 of 4 (id 01): failed; best 0.5 (trial 00); about 20 s left",
    ]
    assert progress.update(summary) == []  # each trial is reported once
