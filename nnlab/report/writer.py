"""One static report over every run and sweep: `results/report.html` (self-contained) and `results/report.md`.

Reads only the files in the results directory and never trains. Each part of the report is built once as plain
blocks (nnlab.report.blocks) by its own module, then rendered twice:
  - report_data: reads run and sweep directories, tolerating missing and half-written files;
  - report_runs / report_sweeps / report_compare / report_repro: the sections;
  - nnlab.plots: the figures no run or sweep wrote itself (overlays, parallel coordinates), drawn by the same
    functions `nnlab run` and `nnlab tune` use;
  - report_render: HTML with every image embedded, and Markdown with images under results/report_files/.

    make report                      # everything
    make report EXP=mnist            # one experiment
    make report RUNS="<id> <id>"     # plus a side-by-side comparison of those runs
"""

import datetime
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.report import blocks as doc
from nnlab.report import compare as report_compare
from nnlab.report import read as report_data
from nnlab.report import render as report_render
from nnlab.report import runs as report_runs
from nnlab.report import sweeps as report_sweeps
from nnlab.results import atomic, layout

HTML_NAME = layout.REPORT_HTML
MARKDOWN_NAME = layout.REPORT_MARKDOWN


def build(results_dir, experiment=None, runs=()):
    """Write report.html and report.md into `results_dir` and return their paths.

    Args:
      results_dir: the results directory (results/<experiment>/<run-id>/, results/<experiment>/sweeps/<id>/).
      experiment: report only this experiment.
      runs: two or more run ids to compare side by side at the top of the report.
    Raises:
      NnlabError: the results directory or the experiment has nothing to report, or a run id is unknown.
    """
    results_dir = Path(results_dir)
    everything = report_data.scan(results_dir)
    compared = report_compare.select(everything, runs) if runs else []  # ids may name any experiment's runs
    experiments = [item for item in everything if experiment is None or item.name == experiment]
    if experiment is not None and not experiments:
        raise NnlabError(_nothing_for(experiment, results_dir, everything))
    if not experiments:
        raise NnlabError(
            f"Nothing to report: {results_dir}/ holds no runs or sweeps. Train one first, e.g. `make run EXP=mnist`."
        )
    title = f"nnlab report: {experiment}" if experiment else "nnlab report"
    blocks = document(experiments, compared, results_dir)
    files_dir = results_dir / report_data.REPORT_FILES
    write_figures(files_dir, [block for block in blocks if isinstance(block, doc.Figure)])
    html_path, markdown_path = results_dir / HTML_NAME, results_dir / MARKDOWN_NAME
    atomic.write_text(html_path, report_render.to_html(title, blocks))
    _no_wider_than_its_figures(html_path, [block for block in blocks if isinstance(block, doc.Figure)])
    atomic.write_text(markdown_path, report_render.to_markdown(title, blocks, files_dir.name))
    return [html_path, markdown_path]


def document(experiments, compared, results_dir):
    """All the report's blocks: overview, the comparison if asked for, then each experiment with its sweeps."""
    run_count = sum(len(item.runs) for item in experiments)
    sweep_count = sum(len(item.sweeps) for item in experiments)
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    blocks = [
        doc.Text(
            f"Generated {now} from `{results_dir}` (files only; nothing re-trained): "
            f"{doc.count(len(experiments), 'experiment')}, {doc.count(run_count, 'run')}, "
            f"{doc.count(sweep_count, 'sweep')}. Run ids link to the run directories."
        )
    ]
    blocks += report_compare.section(compared) if compared else []
    for item in experiments:
        blocks.append(doc.Heading(2, f"Experiment {item.name}"))
        blocks += report_runs.section(item)
        for sweep in item.sweeps:
            blocks += report_sweeps.section(sweep)
        blocks += report_runs.reproducibility(item.runs)
    return blocks


def write_figures(files_dir, figures):
    """Write the Markdown's images and delete the ones a previous report left that this one no longer links."""
    names = {figure.name for figure in figures}
    for figure in figures:
        with atomic.replacing(files_dir / figure.name, suffix=Path(figure.name).suffix) as tmp:
            tmp.write_bytes(figure.data)
            if figure.mode is not None:  # a copy is never readable by more people than the original
                tmp.chmod(tmp.stat().st_mode & figure.mode & 0o777)
    if files_dir.is_dir():
        for stale in files_dir.iterdir():
            if stale.is_file() and stale.name not in names and not stale.name.startswith("."):
                stale.unlink(missing_ok=True)


def _no_wider_than_its_figures(page, figures):
    """report.html embeds every figure, so it is readable by no more people than its most private one."""
    for figure in figures:
        if figure.mode is not None:
            page.chmod(page.stat().st_mode & figure.mode & 0o777)


def _nothing_for(experiment, results_dir, everything):
    names = ", ".join(item.name for item in everything) or "none"
    return (
        f"Nothing to report for experiment '{experiment}': {results_dir}/{experiment}/ holds no runs or sweeps. "
        f"Experiments with results: {names}. Train it first: `make run EXP={experiment}`."
    )
