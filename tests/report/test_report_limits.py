"""Bounded reads in the report (issue 19, Why 3): every file in a run or sweep is read under a named limit, and one
that breaks it is named in the report, never a crash, a hang, or a report the size of the file."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nnlab import notebook, report
from nnlab.plots import curves, images
from nnlab.report import read as report_data
from nnlab.results import atomic, bounded, limits
from nnlab.sweeps import tables
from tests.report import trees

RUN = "20261130-120000-abcdef"
OTHER = "20261130-110000-fedcba"


@pytest.fixture
def results(tmp_path):
    results = tmp_path / "results"
    trees.run(results / "exp" / RUN)
    trees.run(results / "exp" / OTHER)
    return results


def _report(results):
    html_path, markdown_path = report.build(results)
    return html_path.read_text(), markdown_path.read_text()


def _row(markdown, run_id):
    [line] = [line for line in markdown.splitlines() if line.startswith((f"| [{run_id}", f"| **[{run_id}"))]
    return line


def test_a_figure_over_the_limit_or_of_another_type_is_named_not_shown(results):
    run_dir = results / "exp" / RUN
    trees.sparse(run_dir / "huge.png", limits.FIGURE_MAX_BYTES + 1)  # 1 GB in the issue; just above the limit here
    trees.write(run_dir / "page.png", b"<html>not an image</html>")
    trees.write(run_dir / "animation.gif", trees.PNG)  # a PNG by its signature, whatever its name says
    page, markdown = _report(results)
    for text in (page, markdown):
        assert "huge.png not shown (size or type)" in text and "page.png not shown (size or type)" in text
    copied = {path.name for path in (results / "report_files").iterdir()}
    assert not [name for name in copied if "huge" in name or "page" in name], copied
    assert any(name.endswith("animation.gif.png") for name in copied)
    assert len(page.encode()) < limits.FIGURE_MAX_BYTES / 10


def test_figures_beyond_the_report_budget_are_not_shown(results, monkeypatch):
    trees.write(results / "exp" / OTHER / "metrics.json", {"final": {"epoch": 2, "val_loss": 0.01}})  # the best
    monkeypatch.setattr(limits, "REPORT_FIGURES_MAX_BYTES", len(trees.PNG) + 10)  # room for one figure
    page, _ = _report(results)
    assert "Figures of the best run" in page and "Figures of the latest run" in page
    assert page.count("figure.png not shown (report full)") == 1 and page.count("data:image/png") >= 2


def _gif(size, frames):
    buffer = io.BytesIO()
    pictures = [Image.new("RGB", size, (80 * index, 0, 0)) for index in range(frames)]
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:])
    return buffer.getvalue()


def test_a_gif_is_decoded_only_within_its_limits(monkeypatch):
    small = _gif((10, 10), 3)
    assert images.gif_last_frame(small)[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setattr(limits, "GIF_MAX_PIXELS", 10 * 10 * 3 - 1)  # width x height x frames
    assert images.gif_last_frame(small) is None
    monkeypatch.setattr(limits, "GIF_MAX_PIXELS", 10**9)
    monkeypatch.setattr(limits, "GIF_MAX_FRAMES", 2)
    assert images.gif_last_frame(small) is None


def test_a_history_over_the_limit_is_not_read(results):
    path = trees.sparse(results / "exp" / RUN / "history.csv", limits.HISTORY_MAX_BYTES + 1)  # the 200 MB
    page, markdown = _report(results)
    assert f"history.csv: history not shown ({limits.HISTORY_MAX_BYTES + 1} bytes)" in markdown
    assert RUN in page and path.stat().st_size == limits.HISTORY_MAX_BYTES + 1


def test_a_history_of_too_many_columns_is_not_read(results):
    header = ",".join(f"m{index}" for index in range(limits.CSV_MAX_COLUMNS + 1))
    trees.write(results / "exp" / RUN / "history.csv", header + "\n" + ",".join(["1"] * 1001) + "\n")
    _, markdown = _report(results)
    assert f"history.csv not shown (more than {limits.CSV_MAX_COLUMNS} columns)" in markdown


def test_long_curves_use_every_kth_row_plus_the_last():
    table = pd.DataFrame({"epoch": np.arange(12_345), "loss": np.linspace(1, 0, 12_345)})
    thinned = curves.thinned(table)
    assert len(thinned) <= limits.HISTORY_MAX_POINTS and thinned["epoch"].iloc[-1] == 12_344
    assert thinned["epoch"].iloc[0] == 0 and len(set(np.diff(thinned["epoch"].to_numpy()[:-1]))) == 1
    whole = table.iloc[: limits.HISTORY_MAX_POINTS]  # linreg's 5,000 epochs are drawn whole
    assert curves.thinned(whole) is whole and limits.HISTORY_MAX_POINTS >= 5000


def test_a_huge_override_value_does_not_make_a_huge_report(results):
    trees.run(results / "exp" / RUN, overrides={"note": "v" * 100_000})
    page, markdown = _report(results)
    for text in (page, markdown):
        assert "note=" + "v" * (limits.TEXT_MAX_CHARS - 5) + "…" in text and "v" * limits.TEXT_MAX_CHARS not in text
        assert "… (100005 characters in all)" in text  # "note=" and the value, cut as one cell
    trees.run(results / "exp" / RUN, overrides={"note": "v" * 50_000_000})  # the 50 MB value
    page, markdown = _report(results)
    assert len(page.encode()) < 2_000_000 and "config.json unreadable (holds " in markdown


@pytest.mark.parametrize("name", ["status.json", "config.json", "metrics.json", "env.json"])
def test_json_nested_1000_levels_marks_the_run_unreadable(results, name):
    trees.write(results / "exp" / RUN / name, "[" * 1000 + "]" * 1000)  # 2 KB: a RecursionError before
    _, markdown = _report(results)
    assert f"{name} unreadable (nests 1000 levels deep, more than the {limits.JSON_MAX_DEPTH} nnlab reads)" in markdown
    assert "unreadable" in _row(markdown, RUN).split("|")[3], _row(markdown, RUN)
    assert "unreadable" not in _row(markdown, OTHER), "the other run is reported as usual"


def test_a_5000_digit_integer_marks_the_run_unreadable(results):
    trees.write(results / "exp" / RUN / "metrics.json", '{"final": {"loss": ' + "9" * 5000 + "}}")
    _, markdown = _report(results)
    assert "metrics.json unreadable (an integer of 5000 digits" in markdown
    assert "unreadable (done)" in _row(markdown, RUN)


def test_a_sweep_with_deep_json_is_marked_unreadable(results):
    sweep = results / "exp" / "sweeps" / "random-0123"
    trees.write(sweep / "sweep.json", "{" + '"a":{' * 999 + "}" * 1000)
    trees.write(sweep / "trials.csv", "trial_id,status,width,best_objective\n00,COMPLETED,8,0.9\n")
    _, markdown = _report(results)
    assert "Unreadable sweep: sweep.json" in markdown and "Sweep random-0123" in markdown


def test_a_metrics_file_with_thousands_of_keys_gives_a_table_of_bounded_width(results):
    final = {f"metric_{index}": 0.5 for index in range(5000)}
    trees.write(results / "exp" / RUN / "metrics.json", {"final": final})
    _, markdown = _report(results)
    header = next(line for line in markdown.splitlines() if line.startswith("| run |"))
    assert header.count("|") - 1 <= limits.TABLE_MAX_COLUMNS + 8  # run, started, status, ... notes
    assert "more columns not shown (a table shows at most" in markdown


def test_other_readers_of_run_and_sweep_json_are_bounded(results, tmp_path):
    deep = "[" * 1000 + "]" * 1000
    trees.write(results / "exp" / RUN / "metrics.json", deep)
    run = notebook.load(results / "exp" / RUN)  # nnlab.load: no RecursionError
    assert run.metrics == {} and any("nests 1000 levels" in problem for problem in run.problems)
    with pytest.raises(bounded.Unreadable, match="levels deep"):
        atomic.read_json(results / "exp" / RUN / "metrics.json")
    project = tmp_path / "sweep" / "tuner"
    trees.write(project / "trial_0" / "trial.json", deep)
    trees.write(project / "trial_1" / "trial.json", {"trial_id": "1", "status": "COMPLETED", "hyperparameters": {}})
    trees.write(project / "trial_2" / "trial.json", '{"trial_id": ' + "1" * 5000 + "}")
    assert list(tables.read_trials(project)) == ["1"]


def test_many_files_each_under_its_limit_share_one_budget(results, monkeypatch):
    monkeypatch.setattr(limits, "REPORT_HISTORY_MAX_BYTES", (results / "exp" / RUN / "history.csv").stat().st_size)
    _, markdown = _report(results)
    assert "history not shown (report full)" in _row(markdown, OTHER) and "history" not in _row(markdown, RUN)
    items = sum(bounded.measure(path.read_text())[1] for path in (results / "exp" / RUN).glob("*.json"))
    monkeypatch.setattr(limits, "REPORT_JSON_MAX_ITEMS", items)  # the newest run's JSON files, read first
    _, markdown = _report(results)
    assert "unreadable" in _row(markdown, OTHER) and "the report has left" in _row(markdown, OTHER)
    assert "unreadable" not in _row(markdown, RUN)


def test_a_figure_read_is_bounded_and_typed(tmp_path):
    budget = report_data.Budget(10_000)
    png = trees.write(tmp_path / "a.png", trees.PNG)
    data, mode, kind = report_data.figure(png, budget)
    assert data == trees.PNG and kind == "png" and budget.left == 10_000 - len(trees.PNG)
    with pytest.raises(report_data.NotShown, match="size or type"):
        report_data.figure(trees.write(tmp_path / "b.png", json.dumps({"x": 1})), budget)
    with pytest.raises(report_data.NotShown, match="size or type"):
        report_data.figure(trees.sparse(tmp_path / "c.png", limits.FIGURE_MAX_BYTES + 1), budget)
    with pytest.raises(report_data.NotShown, match="report full"):
        report_data.figure(png, report_data.Budget(10))
