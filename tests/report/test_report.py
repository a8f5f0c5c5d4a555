"""The report end to end over real tiny runs and sweeps: content, tolerance of broken runs, and a real browser.

One module-scoped results directory holds what a user's would after a few days: finished runs of a classifier
and a regression (with the figures experiments write), a failed run, half-written runs, a finished sweep and a
sweep that stopped early. Everything is trained for real on tiny data; broken files are made by damaging copies.
"""

import csv
import json
import re
import shutil
import textwrap
import time

import keras
import pandas as pd
import pytest
from PIL import Image

from nnlab import NnlabError, cli, report
from nnlab.results import layout
from nnlab.train import runner
from tests.report import browser

CLASSIFIER = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 3
        batch_size: int = 16
        learning_rate: float = 0.01
        width: int = 8
        fail: bool = False

    def make_data(config):
        if config.fail:
            raise nnlab.NnlabError("the data source refused (a test failure)")
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(200, 2)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int64")
        return Splits(train=(x[:160], y[:160]), test=(x[160:], y[160:]))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(config.width, activation="relu"),
                                 keras.layers.Dense(2, activation="softmax")])
"""

LINE = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        epochs: int = 3
        batch_size: int = 16
        learning_rate: float = 0.05
        optimizer: str = "sgd"

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.uniform(-1, 1, size=(120, 1)).astype("float32")
        return Splits(train=(x, 3 * x + 1 + rng.normal(scale=0.1, size=x.shape).astype("float32")))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
"""

LAST_FRAME_COLOR = (200, 30, 30)  # the line_fit.gif stand-in ends on this colour; the report must show it


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results directory of real tiny runs and sweeps, plus damaged copies; returns a dict of what is where."""
    root = tmp_path_factory.mktemp("report")
    experiments = root / "experiments"
    experiments.mkdir()
    (experiments / "tinyclass.py").write_text(textwrap.dedent(CLASSIFIER))
    (experiments / "tinyline.py").write_text(textwrap.dedent(LINE))
    results_dir = root / "results"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNLAB_EXPERIMENTS", str(experiments))
        keras.utils.set_random_seed(1234)
        default = runner.run("tinyclass", [], results_dir=results_dir, verbose=0).run_dir
        wide = runner.run("tinyclass", ["width=16", "learning_rate=0.05"], results_dir=results_dir, verbose=0).run_dir
        with pytest.raises(NnlabError):
            runner.run("tinyclass", ["fail=true"], results_dir=results_dir, verbose=0)
        line = runner.run("tinyline", [], results_dir=results_dir, verbose=0).run_dir
    failed = next(path for path in (results_dir / "tinyclass").iterdir() if path not in (default, wide))
    _write_experiment_figures(line, wide)  # wide is the newest finished run: its figures are always shown
    damaged = _damaged_copies(default)
    sweeps = results_dir / "tinyclass" / "sweeps"
    sweep = _write_sweep(sweeps / "20261123-120000-sweep1", {"00": default, "01": wide})  # the runs as trials
    stopped = _write_stopped_sweep(sweeps / "20261123-130000-sweep2", default)
    return dict(
        dir=results_dir, default=default, wide=wide, failed=failed, line=line, sweep=sweep, stopped=stopped, **damaged
    )


@pytest.fixture(scope="module")
def built(results):
    html_path, markdown_path = report.build(results["dir"])
    return html_path.read_text(), markdown_path.read_text(), markdown_path


def test_report_lists_every_run_with_its_status(results, built):
    page, markdown, _ = built
    for text in (page, markdown):
        for key in ("default", "wide", "failed", "line", "truncated", "no_status", "running"):
            assert results[key].name in text, key
        assert "Experiment tinyclass" in text and "Experiment tinyline" in text
        assert "the data source refused (a test failure)" in text  # the failed run's message
        assert "metrics.json unreadable" in text and "history.csv truncated" in text
        assert "status.json missing" in text
    rows = _table_rows(markdown, "Experiment tinyclass", "Runs (newest first)")
    run_ids = [re.search(r"\d{8}-\d{6}-[0-9a-z]+", row[0]).group() for row in rows]
    assert run_ids == sorted(run_ids, reverse=True), "runs are not newest first"
    status = {run_id: row[2] for run_id, row in zip(run_ids, rows, strict=True)}
    assert status[results["failed"].name] == "**failed**"
    assert status[results["default"].name] == "done"
    assert status[results["truncated"].name] == "**done, incomplete**"
    assert status[results["running"].name].startswith("running")
    assert status[results["no_status"].name] == "unknown"
    wide_row = next(row for row in rows if results["wide"].name in row[0])
    assert "width=16" in wide_row[3] and "learning_rate=0.05" in wide_row[3]


def test_html_is_one_self_contained_file(built):
    page, markdown, _ = built
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert sources and all(source.startswith("data:image/") for source in sources)
    assert not re.search(r"<(script|link|iframe)\b", page), "the page must not load anything"
    assert len(sources) == len(re.findall(r"!\[[^\]]*\]\(", markdown)), "HTML and Markdown show different figures"
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "repeated headings (Runs, Reproducibility, ...) need distinct anchors"
    links = re.findall(r'href="#([^"]+)"', page)
    assert links and set(links) <= set(ids) and links == re.findall(r"\]\(#([^)]+)\)", markdown)


def test_markdown_image_links_resolve(built):
    _, markdown, markdown_path = built
    links = re.findall(r"!\[(?:\\.|[^\]])*\]\(([^)]+)\)", markdown)
    assert len(links) >= 8
    for link in links:
        target = markdown_path.parent / link
        assert target.is_file(), link
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", link
    written = {path.name for path in (markdown_path.parent / "report_files").iterdir()} - {layout.REPORT_MANIFEST}
    assert written == {link.split("/", 1)[1] for link in links}, "report_files/ holds images the report never links"
    manifest = json.loads((markdown_path.parent / "report_files" / layout.REPORT_MANIFEST).read_text())
    assert set(manifest["files"]) == written, "the manifest lists exactly the images the report wrote"


def test_experiment_figures_shown_and_gif_by_its_last_frame(results, built):
    _, markdown, markdown_path = built
    assert "confusion_matrix.png (latest" in markdown
    assert "loss.png (" not in markdown, "learning-curve PNGs are redrawn overlaid, not repeated"
    (frame_link,) = re.findall(r"\]\((report_files/[^)]*line_fit-last-frame\.png)\)", markdown)
    with Image.open(markdown_path.parent / frame_link) as frame:
        assert frame.convert("RGB").getpixel((5, 5)) == LAST_FRAME_COLOR
    for name in ("tinyclass", "tinyline"):
        assert f"](report_files/{name}-curves-latest-best.png)" in markdown


def test_sweep_trials_sorted_with_best_config_counts_and_figures(results, built):
    page, markdown, _ = built
    sweep_id = results["sweep"].name
    assert f"Sweep {sweep_id}" in markdown
    assert "2 completed, 1 failed of 3 trials" in markdown
    rows = _table_rows(markdown, f"Sweep {sweep_id}", "Trials by val_accuracy (max)")
    objectives = [float(row[-5]) for row in rows if row[-5]]
    assert objectives == sorted(objectives, reverse=True) and len(objectives) == 2
    assert rows[0][0].endswith("(best)**") and rows[-1][1] == "**FAILED**"
    best = json.loads((results["sweep"] / "best_config.json").read_text())
    assert f"Best trial {best['trial_id']}" in markdown and f"from={results['sweep']}/best_config.json" in markdown
    assert f'"learning_rate": {best["overrides"]["learning_rate"]}' in markdown
    section = _section(markdown, f"Sweep {sweep_id}")
    # trial_curves.png was written by the sweep; the other views are drawn by the report from trials.csv.
    assert "val_accuracy per epoch, one line per trial*" in section
    for caption in ("against learning_rate", "learning_rate × width", "All hyperparameters at once"):
        assert re.search(re.escape(caption) + r"[^*]*\(drawn by the report\)", section), caption
    assert page.count("<img") >= markdown.count("](report_files/")


def test_stopped_sweep_is_shown_as_such(results, built):
    _, markdown, _ = built
    section = _section(markdown, f"Sweep {results['stopped'].name}")
    assert "Status: running" in section
    assert "Incomplete sweep files" in section and "trials.csv truncated" in section
    assert "1 completed, 0 failed" in section


def test_reproducibility_from_env_json(results, built):
    _, markdown, _ = built
    rows = _table_rows(markdown, "Experiment tinyclass", "Reproducibility")
    env = json.loads((results["default"] / "env.json").read_text())
    (row,) = [row for row in rows if row[0] == results["default"].name]
    assert row[1] == str(env["seed"]) and row[6] == env["tensorflow"] and row[7] == env["keras"]
    assert row[5] == env["devices"]["used"]
    assert row[2] == ((env["git_commit"] or "")[:12] or "not a git checkout")


def test_comparison_shows_config_differences_and_metric_deltas(results, tmp_path):
    results_dir = _copy(results["dir"], tmp_path)
    default, wide = results["default"].name, results["wide"].name
    markdown = report.build(results_dir, runs=[default, f"tinyclass/{wide}"])[1].read_text()
    assert markdown.index("## Comparison") < markdown.index("## Experiment tinyclass")
    config_rows = _table_rows(markdown, "Comparison", "Config differences")
    assert {row[0]: row[1:] for row in config_rows} == {"learning_rate": ["0.01", "0.05"], "width": ["8", "16"]}
    metric_rows = {row[0]: row[1:] for row in _table_rows(markdown, "Comparison", "Metrics")}
    base, other = (
        json.loads((results[key] / "metrics.json").read_text())["test"]["loss"] for key in ("default", "wide")
    )
    assert metric_rows["test loss"][1].endswith(f"({other - base:+.4g})")
    assert "Curves overlaid" in markdown
    with pytest.raises(NnlabError, match="matches no run"):
        report.build(results_dir, runs=[default, "19990101-000000-nothere"])
    with pytest.raises(NnlabError, match="two or more"):
        report.build(results_dir, runs=[default])


def test_one_experiment_only_and_stale_figures_removed(results, tmp_path):
    results_dir = _copy(results["dir"], tmp_path)
    report.build(results_dir)
    markdown = report.build(results_dir, experiment="tinyline")[1].read_text()
    assert results["line"].name in markdown and results["default"].name not in markdown
    images = {path.name for path in (results_dir / "report_files").iterdir()} - {layout.REPORT_MANIFEST}
    assert images and all(name.startswith("tinyline") for name in images)
    with pytest.raises(NnlabError, match="Experiments with results: tinyclass, tinyline"):
        report.build(results_dir, experiment="mnist")


def test_cli_report_command(results, tmp_path, capsys):
    results_dir = _copy(results["dir"], tmp_path)
    assert cli.main(["--results", str(results_dir), "report", "--experiment", "tinyline"]) == 0
    assert "report.html" in capsys.readouterr().out and (results_dir / "report.md").is_file()
    assert cli.main(["--results", str(tmp_path / "empty"), "report"]) == 2
    assert "Nothing to report" in capsys.readouterr().err


def test_report_over_100_copies_of_a_run(results, tmp_path):
    """Scale check with real-format run directories; the time is printed (see the report's notes), not asserted."""
    results_dir = tmp_path / "results"
    for index in range(100):
        shutil.copytree(results["default"], results_dir / "tinyclass" / f"20261124-1200{index % 60:02d}-{index:06x}")
    started = time.perf_counter()
    markdown = report.build(results_dir)[1].read_text()
    print(f"report over 100 runs: {time.perf_counter() - started:.2f} s")
    assert len(_table_rows(markdown, "Experiment tinyclass", "Runs (newest first)")) == 100


def test_report_renders_in_a_real_browser(built, tmp_path):
    """Chromium loads the page with every image decoded, no console error, and no request beyond the file."""
    html_path = built[2].parent / "report.html"
    page = browser.render(html_path, tmp_path)
    assert len(page.images) >= 8
    broken = [image for image in page.images if not (image["complete"] and image["naturalWidth"] > 0)]
    assert not broken, broken
    assert not page.errors, page.errors
    outside = [url for url in page.requests if not (url.startswith("data:") or url == html_path.resolve().as_uri())]
    assert not outside, outside
    with Image.open(page.screenshot) as shot:
        assert shot.width == 1280 and shot.height > 900
        assert len(set(shot.convert("L").resize((64, 64)).getdata())) > 20, "the screenshot is blank"


# --- helpers that make the results directory -------------------------------------------------------------------


def _write_experiment_figures(line_run, classifier_run):
    """What the linefit and classifier experiments' FIGURES write: an animation and a confusion matrix."""
    frames = [Image.new("RGB", (120, 80), color) for color in ((30, 30, 200), (30, 200, 30), LAST_FRAME_COLOR)]
    frames[0].save(line_run / "line_fit.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    Image.new("RGB", (100, 100), (240, 240, 240)).save(classifier_run / "confusion_matrix.png")


def _damaged_copies(run):
    """Copies of a finished run as a crash, a copy cut short or a live run would leave them (older ids)."""
    made = {}
    for key, run_id in (("truncated", "bad001"), ("no_status", "bad002"), ("running", "bad003")):
        made[key] = run.parent / f"20200101-000000-{run_id}"
        shutil.copytree(run, made[key])
    history = (made["truncated"] / "history.csv").read_text()
    (made["truncated"] / "history.csv").write_text(history[: len(history) - 7])  # torn last row
    (made["truncated"] / "metrics.json").write_text("")
    (made["no_status"] / "status.json").unlink()
    (made["running"] / "metrics.json").unlink()
    (made["running"] / "status.json").write_text(json.dumps({"status": "running", "updated": "2020-01-01T00:00Z"}))
    return made


def _write_sweep(path, trial_runs):
    """A finished sweep in nnlab.sweeps.tuning's format from real runs ({trial id: run dir}), plus one failed trial."""
    path.mkdir(parents=True)
    rows, histories, configs = [], [], {}
    for trial_id, run_dir in trial_runs.items():
        configs[trial_id] = json.loads((run_dir / "config.json").read_text())
        lr, width = (configs[trial_id]["config"][field] for field in ("learning_rate", "width"))
        history = pd.read_csv(run_dir / "history.csv")
        best = history["val_accuracy"].idxmax()
        rows.append(
            dict(trial_id=trial_id, status="COMPLETED", learning_rate=lr, width=width,
                 best_objective=history["val_accuracy"][best], last_objective=history["val_accuracy"].iloc[-1],
                 best_epoch=int(history["epoch"][best]), epochs_run=len(history), seconds=history["seconds"].sum())
        )  # fmt: skip
        histories.append(history.assign(trial_id=trial_id))
    rows.append(dict(trial_id="02", status="FAILED", learning_rate=0.5, width=64))
    _write_csv(path / "trials.csv", rows)
    long = pd.concat(histories)
    long[["trial_id", *[c for c in long.columns if c != "trial_id"]]].to_csv(path / "history.csv", index=False)
    best = max(rows[:-1], key=lambda row: row["best_objective"])
    best_config = configs[best["trial_id"]]
    (path / "best_config.json").write_text(json.dumps({
        "experiment": "tinyclass", "config": best_config["config"], "overrides": best_config["overrides"],
        "sweep": path.name, "trial_id": best["trial_id"],
        "objective": {"name": "val_accuracy", "value": best["best_objective"]},
    }))  # fmt: skip
    (path / "sweep.json").write_text(json.dumps(_sweep_spec(path.name, "done", 2, 1, best["trial_id"])))
    from nnlab.plots import sweeps as sweep_plots

    sweep_plots.draw_all(path, "val_accuracy", "max", ("learning_rate", "width"))
    for name in ("objective_vs_learning_rate.png", "lr_width_heatmap.png"):
        (path / name).unlink()  # drawn by the report instead, as for a sweep that stopped before drawing them
    return path


def _write_stopped_sweep(path, run_dir):
    """A sweep killed after its first trial while writing its second row: no best_config.json, a torn trials.csv."""
    path.mkdir(parents=True)
    history = pd.read_csv(run_dir / "history.csv")
    _write_csv(path / "trials.csv", [dict(trial_id="00", status="COMPLETED", learning_rate=0.01, width=8,
                                          best_objective=history["val_accuracy"].max())])  # fmt: skip
    with open(path / "trials.csv", "a") as handle:
        handle.write("01,RUNN")
    (path / "sweep.json").write_text(json.dumps(_sweep_spec(path.name, "running", 1, 0, None)))
    return path


def _sweep_spec(sweep_id, status, completed, failed, best_trial):
    return {
        "experiment": "tinyclass", "sweep_id": sweep_id, "algorithm": "random", "objective": "val_accuracy",
        "direction": "max", "max_trials": 3, "seed": 0, "workers": 0, "status": status, "message": "",
        "search_space": {"learning_rate": {"type": "float", "min": 0.001, "max": 0.5, "log": True},
                         "width": {"type": "choice", "values": [4, 8, 16, 64]}},
        "overrides": {"epochs": 2}, "counts": {"COMPLETED": completed, "FAILED": failed},
        "best_trial": best_trial, "seconds": 12.5,
    }  # fmt: skip


def _write_csv(path, rows):
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _copy(results_dir, tmp_path):
    target = tmp_path / "results"
    shutil.copytree(results_dir, target, ignore=shutil.ignore_patterns("report*", "sweeps"))
    return target


def _section(markdown, heading):
    """The Markdown from the level-3 heading `heading` to the next heading of level 3 or above."""
    rest = markdown[markdown.index(f"### {heading}\n") + 4 :]
    return re.split(r"\n#{2,3} ", rest)[0]


def _table_rows(markdown, section, heading):
    """The cells of the first Markdown table under the heading `heading` after the heading `section`."""
    rest = markdown[markdown.index(f" {section}\n") :]
    rest = rest[rest.index(f" {heading}\n") :]
    lines = rest[rest.index("\n|") + 1 :].split("\n\n")[0].splitlines()
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]
