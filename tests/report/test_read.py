"""Reading results/ for the report: every broken or unusual file becomes a named problem, never an exception."""

import json

import pytest

from nnlab import report
from nnlab.plots import images
from nnlab.report import read as report_data
from nnlab.report import runs as report_runs
from nnlab.report import sweeps as report_sweeps
from nnlab.results.history import HistoryFile

RUN_ID = "20261123-094002-e75c10"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def write_history(path, rows):
    history = HistoryFile(path)
    for row in rows:
        history.append(row)


def epochs(count, loss=1.0):
    return [
        {"epoch": epoch, "loss": loss / (epoch + 1), "val_loss": loss / (epoch + 1.5), "seconds": 0.5}
        for epoch in range(count)
    ]


def test_broken_files_are_named_problems(tmp_path):
    run = tmp_path / "tiny" / RUN_ID
    write(run / "status.json", '{"status": "done"}')
    write(run / "config.json", '{"config": {"epochs": 3')  # cut off mid-write
    write(run / "metrics.json", "[1, 2]")
    write(run / "history.csv", b"\xff\xfe\x00garbage")
    (run / "env.json").mkdir()  # not even a file
    record = report_data.read_run("tiny", run)
    assert record.status == "done" and record.config == {} and record.metrics == {}
    problems = " ".join(record.problems)
    assert "config.json unreadable (not valid JSON" in problems
    assert "metrics.json is not a JSON object" in problems
    assert "env.json unreadable (not a regular file)" in problems
    assert "history.csv truncated" in problems and "history.csv empty" in problems  # garbage is one torn row
    assert report_runs.status_cell(record).text == "done, incomplete"


def test_failed_and_running_runs_do_not_need_metrics(tmp_path):
    failed = tmp_path / "tiny" / RUN_ID
    write(failed / "status.json", '{"status": "failed", "message": "bad data"}')
    write(failed / "config.json", '{"config": {"epochs": 3}, "overrides": {"epochs": 3}}')
    running = tmp_path / "tiny" / "20261123-100000-aaaaaa"
    write(running / "status.json", '{"status": "running", "updated": "2026-11-23T10:00:00+00:00"}')
    write(running / "config.json", '{"config": {"epochs": 3}, "overrides": {}}')
    write_history(running / "history.csv", epochs(2))
    failed_record, running_record = (report_data.read_run("tiny", path) for path in (failed, running))
    assert failed_record.problems == [] and failed_record.message == "bad data"
    assert running_record.problems == [] and list(running_record.history["epoch"]) == [0, 1]
    assert running_record.final["loss"] == pytest.approx(0.5)  # the last epoch so far stands in for final
    assert report_runs.epochs(running_record) == "2/3" and report_runs.wall_seconds(running_record) == 1.0


def test_study_run_reads_variants_and_speaks_by_its_best(tmp_path):
    run = tmp_path / "study" / RUN_ID
    write(run / "status.json", '{"status": "done"}')
    write(run / "config.json", '{"config": {"epochs": 2}, "overrides": {}}')
    write(run / "env.json", "{}")
    variants = {}
    for name, loss in (("adam", 0.5), ("sgd", 2.0)):
        write_history(run / f"history-{name}.csv", epochs(2, loss))
        variants[name] = {"epochs_run": 2, "final": epochs(2, loss)[-1], "train_seconds": 1.0, "test": {"loss": loss}}
    best = {"variant": "adam", "by": "test loss", "value": 0.5, "overrides": {}}  # as nnlab.train.study writes it
    write(run / "metrics.json", json.dumps({"status": "done", "variants": variants, "best": best}))
    record = report_data.read_run("study", run)
    assert record.problems == [], "a study has no history.csv by design"
    assert record.history is None and set(record.variants) == {"adam", "sgd"}
    assert record.test == {"loss": 0.5} and record.final["loss"] == pytest.approx(0.25)
    table = report_runs.study_blocks(record)[1]
    assert [row[0] if isinstance(row[0], str) else row[0].text for row in table.rows] == ["adam (best)", "sgd"]
    assert "adam-loss.png" in report_runs.learning_curve_files(record)


def test_scan_finds_runs_and_sweeps_and_skips_the_reports_own_files(tmp_path):
    write(tmp_path / "tiny" / RUN_ID / "status.json", '{"status": "done"}')
    write(tmp_path / "tiny" / ".tmp-copy" / "status.json", "{}")
    write(tmp_path / "swept" / "sweeps" / "s1" / "sweep.json", '{"status": "done"}')
    write(tmp_path / report_data.REPORT_FILES / "x.png", b"")
    write(tmp_path / "notes" / "readme.txt", "")
    found = {item.name: item for item in report_data.scan(tmp_path)}
    assert set(found) == {"tiny", "swept"}
    assert [run.run_id for run in found["tiny"].runs] == [RUN_ID]
    assert found["swept"].runs == [] and found["swept"].sweeps[0].problems == [
        "trials.csv missing",
        "best_config.json missing",
    ]


def test_hand_named_run_ids_have_no_start_time():
    assert report_data.started_at(RUN_ID).hour == 9
    assert report_data.started_at("20261124-000099-abcdef") is None  # 99 seconds: looks like an id, is not one
    assert report_data.started_at("my-run") is None


def test_sweep_keeps_trial_ids_as_text_and_sorts_min_objectives(tmp_path):
    sweep = tmp_path / "tiny" / "sweeps" / "s1"
    write(sweep / "sweep.json", json.dumps({"objective": "val_loss", "direction": "min", "status": "failed"}))
    write(
        sweep / "trials.csv",
        "trial_id,status,learning_rate,best_objective\n07,COMPLETED,0.01,0.3\n08,FAILED,0.1,\n09,COMPLETED,0.001,0.2\n",
    )
    record = report_data.read_sweep("tiny", sweep)
    trials = report_sweeps.sorted_trials(record.trials, "min")
    assert list(trials["trial_id"]) == ["09", "07", "08"]
    assert report_sweeps.best_trial_id(record, trials) == "09"
    assert report_sweeps.counts(record, trials) == {"COMPLETED": 2, "FAILED": 1}
    blocks = report_sweeps.section(record)  # no history, no best config, no PNGs: still a section
    assert any(getattr(block, "caption", "").endswith("(drawn by the report)") for block in blocks)


def test_truncated_gif_gives_no_frame_rather_than_an_error(tmp_path):
    assert images.gif_last_frame(b"GIF89a\x10\x00") is None


def test_report_of_broken_runs_still_builds(tmp_path):
    """Every run here is broken in a different way; the report lists them all and raises for none."""
    broken = {
        "20261123-100001-000001": {"metrics.json": '{"final": {"loss": null}, "test": "oops"}'},
        "20261123-100002-000002": {"status.json": '{"status": 3}', "history.csv": "epoch,loss\n0,abc\n1,0.5\n"},
        "20261123-100003-000003": {"config.json": '{"config": [], "overrides": "x"}', "history.csv": ""},
        "20261123-100004-000004": {},
    }
    for run_id, files in broken.items():
        (tmp_path / "tiny" / run_id).mkdir(parents=True)
        for name, text in files.items():
            write(tmp_path / "tiny" / run_id / name, text)
    markdown = report.build(tmp_path)[1].read_text()
    for run_id in broken:
        assert run_id in markdown
    assert "history.csv empty" in markdown
    assert "status.json has no status" in markdown and "config.json has no config record" in markdown


def test_values_of_the_wrong_type_still_build(tmp_path):
    """Found by feeding every field of env.json and sweep.json values of other types (issue 19's hostile trees)."""
    run = tmp_path / "tiny" / RUN_ID
    write(run / "status.json", '{"status": "done"}')
    write(run / "env.json", json.dumps({"git_commit": 7, "devices": {"used": "GPU", "gpu_details": 1, "gpus": 2}}))
    sweep = tmp_path / "tiny" / "sweeps" / "s"
    write(sweep / "sweep.json", json.dumps({"status": "running", "overrides": "x=1"}))
    markdown = report.build(tmp_path)[1].read_text()
    assert "not a git checkout" in markdown and RUN_ID in markdown and "Sweep s" in markdown
