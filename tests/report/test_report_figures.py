"""What the report shows of a bring-your-own program: tracked values, the module's summary, provenance, and sweep
figures over whatever fields the sweep searched. Built from hand-written result files; nothing trains."""

import html
import json

from nnlab import report
from nnlab.report import repro as report_repro
from nnlab.results.history import HistoryFile

RUN_ID = "20261123-094002-e75c10"
REASON = "learning-rate-limited: after 720 steps the largest gap is 0.03 > 0.001"


def write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def line_fit_run(results, env):
    """A finished linefit-style run: w and b tracked per epoch, and the module's least-squares summary."""
    run = results / "linefit" / RUN_ID
    rows = [{"epoch": e, "loss": 1 / (e + 1), "w": 0.5 * e, "b": 0.2 * e, "val_loss": 1 / (e + 2)} for e in range(3)]
    history = HistoryFile(run / "history.csv")
    for row in rows:
        history.append({**row, "seconds": 0.1, "learning_rate": 0.01})
    write(run / "status.json", {"status": "done"})
    write(run / "config.json", {"config": {"epochs": 3, "metrics": [], "seed": 0}, "overrides": {}})
    write(run / "env.json", {"seed": 0, "git_commit": "0123456789abcdef", "git_dirty": False, **env})
    summary = {
        "least_squares": {"w": 2.04, "b": 1.04},
        "learned": {"w": 1.0, "b": 0.4},
        "converged": False,
        "convergence": {"tolerance": 0.001, "reason": REASON},
    }
    final = {**rows[-1], "seconds": 0.1, "learning_rate": 0.01}
    write(run / "metrics.json", {"status": "done", "epochs_run": 3, "final": final, "train_seconds": 0.3, **summary})
    return run


def section(markdown, heading):
    start = markdown.index(heading)
    end = markdown.find("\n### ", start + len(heading))
    return markdown[start : end if end >= 0 else None]


def test_tracked_values_module_summary_and_untracked_module(tmp_path):
    line_fit_run(tmp_path, {"experiment_tracked": False, "experiment_sha256": "ab" * 32})
    markdown = report.build(tmp_path)[1].read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| run | started"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    assert "w" in columns and "b" in columns and "train loss" in columns and "val loss" in columns
    assert not any(column in columns for column in ("train w", "val w", "train b", "val b"))
    summary = section(markdown, "### Summary of the latest and best run")
    assert f"Verdict: not converged — {REASON}" in html.unescape(summary)  # report.md writes '>' as &gt;
    assert "| least_squares.w | 2.04 |" in summary and "| convergence.tolerance | 0.001 |" in summary
    repro = section(markdown, "### Reproducibility")
    assert "not reproducible from the commit: untracked or modified (sha256 abababababab)" in repro


def test_experiment_module_cell_reads_old_and_new_env_json():
    assert report_repro.module({"experiment_tracked": True, "experiment_sha256": "cd" * 32}).text == (
        "in the commit (sha256 cdcdcdcdcdcd)"
    )
    elsewhere = {"experiment_tracked": True, "experiment_commit": "f" * 40, "experiment_repository": "/src/mine"}
    assert report_repro.module({**elsewhere, "git_commit": "0" * 40}).text == f"in commit {'f' * 12} of /src/mine"
    assert report_repro.module({**elsewhere, "git_commit": "f" * 40}).text == "in the commit"
    assert report_repro.module({"experiment_tracked": False}).text.startswith(report_repro.NOT_REPRODUCIBLE)
    assert report_repro.module({"git_dirty": False}).text == "unknown"  # written before nnlab recorded it


def test_sweep_over_units_is_drawn_over_units_even_from_an_old_sweep_directory(tmp_path):
    sweep = tmp_path / "mlp" / "sweeps" / "s1"
    spec = {
        "objective": "val_loss",
        "direction": "min",
        "status": "done",
        "algorithm": "random",
        "search_space": {"units": {"type": "choice"}, "learning_rate": {"type": "float"}},
    }  # an older sweep.json: no `axes`
    write(sweep / "sweep.json", spec)
    write(
        sweep / "trials.csv",
        "trial_id,status,units,learning_rate,best_objective\n"
        "0,COMPLETED,16,0.001,0.30\n1,COMPLETED,16,0.001,0.90\n2,COMPLETED,64,0.01,0.50\n",
    )
    for stale in ("lr_width_heatmap.png", "lr_units_heatmap.png"):  # took the max of a minimised objective
        (sweep / stale).write_bytes(b"\x89PNG stale")
    markdown = report.build(tmp_path)[1].read_text()
    figures = section(markdown, "### Sweep s1")
    assert "lowest val_loss over learning_rate × units (minimised objective) (drawn by the report)" in figures
    assert "best val_loss against learning_rate, one point per trial, coloured by units" in figures
    assert "width" not in figures and "lr_width_heatmap" not in figures
    redrawn = (tmp_path / "report_files" / "mlp-sweep-s1-lr_units_heatmap.png").read_bytes()
    assert redrawn[:4] == b"\x89PNG" and b"stale" not in redrawn


def test_a_study_shows_tracked_values_as_their_own_columns(tmp_path):
    from nnlab.report import read as report_data
    from nnlab.report import runs as report_runs

    run = tmp_path / "study" / RUN_ID
    write(run / "status.json", {"status": "done"})
    write(run / "config.json", {"config": {"epochs": 2, "metrics": []}, "overrides": {}})
    for variant in ("slow", "fast"):
        history = HistoryFile(run / f"history-{variant}.csv")
        for epoch in range(2):
            history.append({"epoch": epoch, "loss": 1.0, "val_loss": 1.1, "w": 0.5 + epoch, "seconds": 0.1})
    write(run / "metrics.json", {"status": "done", "variants": {}, "best": {}})
    table = report_runs.study_blocks(report_data.read_run("study", run))[1]
    assert table.columns == ["variant", "epochs", "loss", "val_loss", "w", "test", "seconds"]
    assert [row[4] for row in table.rows] == ["1.5", "1.5"]
