"""Hostile trees, round 3: names that are not UTF-8, files that are not what their name says, and keras-tuner state
of the wrong shape. Each is one case the earlier rounds missed; all run in-process on hand-written files.
"""

import json
import os
import re

import numpy as np
import pytest

import nnlab
from nnlab import cli
from nnlab.errors import NnlabError
from nnlab.report import csv_table, writer
from nnlab.results import checkpoint, history, limits, text
from nnlab.sweeps import oracle, tables
from tests.report import trees


def test_names_that_are_not_utf8_are_reported_as_their_codes_and_linked_by_their_bytes(tmp_path):
    trees.run(tmp_path / "exp" / "20261130-120000-aaaaaa")
    odd_run = os.path.join(os.fsencode(tmp_path), b"ex\xffp", b"20261130-130000-bbbbbb\xfe")
    trees.run(trees.Path(os.fsdecode(odd_run)))
    trees.write(os.fsdecode(odd_run + b"/f\xff.png"), trees.PNG)
    before = trees.listing(tmp_path)

    html, markdown = writer.build(tmp_path)  # a UnicodeEncodeError or matplotlib TypeError ended it before

    page, notes = html.read_text(encoding="utf-8"), markdown.read_text(encoding="utf-8")
    assert "ex\\udcffp" in page and "f\\udcff.png" in page and "20261130-130000-bbbbbb\\udcfe" in page
    assert 'href="ex%FFp/20261130-130000-bbbbbb%FE/"' in page  # the directory's own bytes, percent-encoded
    assert "(ex%FFp/20261130-130000-bbbbbb%FE/)" in notes
    assert os.path.isdir(os.fsdecode(odd_run))
    copied = [name for name in os.listdir(tmp_path / "report_files") if name.endswith(".png")]
    assert any(name.startswith("ex_p-") for name in copied)  # the figure of the odd run was copied too
    assert {key: value for key, value in trees.listing(tmp_path).items() if not key.startswith("report")} == before


def test_lone_surrogates_are_shown_as_codes():
    assert text.visible("a\udcffb\ud800c") == "a\\udcffb\\ud800c"
    assert text.visible("plain é ✓") == "plain é ✓"


@pytest.mark.parametrize("kind", ["empty", "directory", "fifo", "dev-zero", "not-a-zip"])
def test_a_model_file_that_is_no_keras_archive_is_one_error_never_read(tmp_path, kind):
    run_dir = trees.run(tmp_path / "exp" / "20261130-120000-aaaaaa")
    model = run_dir / "model.keras"
    if kind == "empty":  # what a kill while saving leaves
        model.write_bytes(b"")
    elif kind == "directory":
        model.mkdir()
    elif kind == "fifo":
        os.mkfifo(model)
    elif kind == "dev-zero":  # Keras read it until memory ran out
        os.symlink("/dev/zero", model)
    else:
        model.write_bytes(b"{}" * 10)
    with pytest.raises(NnlabError, match=re.escape(str(model)) + " is not a (regular file|saved Keras model)"):
        nnlab.load(run_dir).model()


@pytest.mark.parametrize("kind", ["fifo", "npy"])
def test_a_checkpoint_that_is_no_npz_archive_cannot_be_read_and_never_hangs(tmp_path, kind):
    path = tmp_path / checkpoint.FILE
    if kind == "fifo":  # np.load waited for a writer for ever
        os.mkfifo(path)
    else:  # np.load gives a bare array, which a `with` refused in a TypeError traceback
        with open(path, "wb") as stream:
            np.save(stream, np.zeros(3))
    with pytest.raises(NnlabError, match="cannot be read .*(not a regular file|not an .npz archive)"):
        checkpoint.read_arrays(path)
    checkpoint.save_arrays(tmp_path / "good.npz", {"a": np.ones(2)}, {"next_epoch": 1})
    assert checkpoint.read_arrays(tmp_path / "good.npz")[1] == {"next_epoch": 1}


def _tuner_dir(tmp_path, algorithm):
    """A keras-tuner project directory holding the real state of `algorithm`'s oracle and one completed trial."""
    import keras_tuner

    space = keras_tuner.HyperParameters()
    space.Float("learning_rate", 1e-3, 1e-1)
    state = oracle.make_oracle(algorithm, "val_loss", "min", 2, 0, space, 3, 3).get_state()
    state["start_order"], state["end_order"] = ["0"], ["0"]
    tuner = tmp_path / algorithm
    trees.write(tuner / "oracle.json", state)
    trial = keras_tuner.engine.trial.Trial(space, trial_id="0", status="COMPLETED").get_state()
    trees.write(tuner / "trial_0" / "trial.json", trial)
    trees.write(tuner / "trial_0" / "nnlab_trial.json", {"seed": 1, "seconds": 2.0})
    return tuner


DAMAGE = [
    ("oracle.json", lambda state: [], "it holds a JSON list"),
    ("oracle.json", lambda state: {}, "ongoing_trials, hyperparameters, start_order"),
    ("oracle.json", lambda state: {**state, "start_order": 5}, "start_order missing or of the wrong type"),
    ("oracle.json", lambda state: {**state, "start_order": [None]}, "a trial id in it is not a string"),
    ("oracle.json", lambda state: {**state, "ongoing_trials": {"x": "9"}}, "names trial '9', which never started"),
    ("trial_0/trial.json", lambda state: {}, "trial_id, hyperparameters, metrics, status missing"),
    ("trial_0/trial.json", lambda state: {**state, "status": "BOGUS"}, "status 'BOGUS' is none of its"),
    ("trial_0/trial.json", lambda state: {**state, "hyperparameters": {}}, "hyperparameters.values missing"),
    ("trial_0/nnlab_trial.json", lambda state: [], "a JSON list"),
]


def test_keras_tuner_state_of_another_shape_is_refused_before_keras_tuner_reads_it(tmp_path):
    for algorithm in oracle.ALGORITHMS:  # each oracle's real state passes
        oracle.check_files(_tuner_dir(tmp_path, algorithm), tmp_path)
    tuner = tmp_path / "random"
    for name, damage, message in DAMAGE:
        path = tuner / name
        original = path.read_text()
        path.write_text(json.dumps(damage(json.loads(original))))
        with pytest.raises(NnlabError, match=f"{name.split('/')[-1]} is unreadable .*{message}.*sweep=<new-name>"):
            oracle.check_files(tuner, tmp_path)
        path.write_text(original)
    oracle.check_files(tuner, tmp_path)


def _two_completed_trials(tuner, histories):
    import keras_tuner

    space = keras_tuner.HyperParameters()
    space.Float("learning_rate", 1e-3, 1e-1)
    for trial_id, history_text in histories.items():
        trial = keras_tuner.engine.trial.Trial(space, trial_id=trial_id, status="COMPLETED").get_state()
        trees.write(tuner / f"trial_{trial_id}" / "trial.json", trial)
        trees.write(tuner / f"trial_{trial_id}" / "history.csv", history_text)


def test_a_completed_trial_whose_history_cannot_be_read_is_named_not_dropped_in_silence(tmp_path, caplog):
    _two_completed_trials(
        tmp_path / "tuner", {"0": "epoch,loss,val_loss\n0,1.0,0.1\n", "1": "epoch,loss,val_loss\n0,1,0.5\n"}
    )
    (tmp_path / "tuner" / "trial_0" / "history.csv").unlink()
    os.mkfifo(tmp_path / "tuner" / "trial_0" / "history.csv")  # the better trial's epochs cannot be read
    summary = tables.refresh(tmp_path, ["learning_rate"], "val_loss", "min")
    assert summary.best["trial_id"] == "1"
    assert "trial 0 completed, but no epoch of it can be read" in caplog.text
    assert "trial 1 completed" not in caplog.text


@pytest.mark.parametrize(
    "row",
    [
        "epoch,execution,loss,val_loss,seconds\n0,nan,1,0.1,1\n",  # int(nan): a ValueError traceback
        "epoch,execution,loss,val_loss,seconds\n0,inf,1,0.1,1\n",  # int(inf): an OverflowError traceback
        "epoch,loss,val_loss,seconds\n0,1,abc,1\n",  # math.isfinite('abc'): a TypeError traceback
        "epoch,loss,val_loss,seconds\n0,1,0.1,abc\n",  # sum of seconds with a text cell
    ],
)
def test_text_or_non_finite_cells_in_a_trial_history_are_no_numbers_not_a_traceback(tmp_path, row):
    _two_completed_trials(tmp_path / "tuner", {"0": row, "1": "epoch,loss,val_loss,seconds\n0,1,0.5,1\n"})
    summary = tables.refresh(tmp_path, ["learning_rate"], "val_loss", "min")
    assert summary.counts == {"COMPLETED": 2}
    assert summary.best["trial_id"] == ("0" if "abc\n" in row else "1")
    assert tables.mean_best([{"epoch": 0, "val_loss": 0.1, "note": "text"}], "val_loss", "min") == (
        {"val_loss": 0.1},
        0,
    )


def test_a_byte_order_mark_is_not_part_of_the_first_header(tmp_path):
    """A history.csv or trials.csv saved by a spreadsheet starts with a UTF-8 byte-order mark: `epoch` was read as
    '\\ufeffepoch', so the report drew no curves and `nnlab.trials` had a column '\\ufefftrial_id'."""
    run_dir = trees.run(tmp_path / "exp" / "20261130-120000-aaaaaa", figure=False)
    (run_dir / "history.csv").write_bytes(b"\xef\xbb\xbfepoch,loss,val_loss\r\n0,1,2\r\n1,0.5,1\r\n")
    assert [row["epoch"] for row in history.read_rows(run_dir / "history.csv")] == [0, 1]
    assert list(nnlab.load(run_dir).history["epoch"]) == [0, 1]
    html, _ = writer.build(tmp_path)
    assert "Learning curves: latest and best run" in html.read_text()
    sweep = tmp_path / "exp" / "sweeps" / "s1"
    trees.write(sweep / "trials.csv", b"\xef\xbb\xbftrial_id,status\n01,COMPLETED\n")
    assert list(nnlab.trials(sweep).columns) == ["trial_id", "status"]


@pytest.mark.parametrize("command", [["report"], ["run", "tiny"]])
def test_a_results_directory_behind_a_looping_link_is_one_error(tmp_path, capsys, command):
    os.symlink("loop", tmp_path / "loop")  # an ELOOP traceback from os.open or mkdir before
    for results in (tmp_path / "loop", tmp_path / "loop" / "results"):
        assert cli.main(["--results", str(results), *command]) == 2
        error = capsys.readouterr().err
        assert error.startswith("nnlab: error: --results:") and "symbolic link that loops" in error
        assert "Traceback" not in error


def test_a_run_under_a_path_that_is_not_utf8_is_refused_before_anything_is_written(tiny_classifier, tmp_path, capsys):
    tiny_classifier()
    results = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"r\xffsults"))
    assert cli.main(["--results", results, "run", "tiny", "epochs=1"]) == 2
    error = capsys.readouterr().err
    assert "r\\udcffsults" in error and "not UTF-8" in error and "Traceback" not in error
    assert not os.path.lexists(results)  # TensorFlow failed at the first batch, blamed on the loss, before


def test_a_csv_of_more_rows_than_the_limit_is_not_parsed(tmp_path, monkeypatch):
    """20 million 3-byte rows fit under HISTORY_MAX_BYTES; parsing them one by one took minutes and a GB."""
    monkeypatch.setattr(limits, "CSV_MAX_ROWS", 10)
    problems = []
    assert len(csv_table.parse(b"epoch,loss\n" + b"1,\n" * 10, "history.csv", problems)) == 10
    assert csv_table.parse(b"epoch,loss\n" + b"1,\n" * 11, "history.csv", problems) is None
    assert problems == ["history.csv not shown (more than 10 rows)"]
    run_dir = trees.run(tmp_path / "exp" / "20261130-120000-aaaaaa", figure=False)
    (run_dir / "history.csv").write_bytes(b"epoch,loss\n" + b"1,\n" * 11)
    html, _ = writer.build(tmp_path)
    assert "history.csv not shown (more than 10 rows)" in html.read_text()


def test_a_planted_manifest_cannot_have_the_report_delete_your_files(tmp_path):
    """A results directory copied from someone else may bring a report_files/.manifest.json listing any name."""
    trees.run(tmp_path / "exp" / "20261130-120000-aaaaaa")
    files = tmp_path / "report_files"
    trees.write(files / "notes.txt", "mine")
    trees.write(files / "old-figure.png", trees.PNG)  # an image an earlier report wrote and no longer links
    trees.write(files / ".manifest.json", {"files": ["notes.txt", "old-figure.png"]})
    writer.build(tmp_path)
    assert (files / "notes.txt").read_text() == "mine"
    assert not (files / "old-figure.png").exists()
    assert "notes.txt" not in json.loads((files / ".manifest.json").read_text())["files"]
