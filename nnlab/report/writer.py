"""One static report over every run and sweep: `results/report.html` (self-contained) and `results/report.md`.

Reads only the files in the results directory and never trains. Each part of the report is built once as plain
blocks (nnlab.report.blocks) by its own module, then rendered twice:
  - report_data: reads run and sweep directories, tolerating missing and half-written files;
  - report_runs / report_sweeps / report_compare / report_repro: the sections;
  - nnlab.plots: the figures no run or sweep wrote itself (overlays, parallel coordinates), drawn by the same
    functions `nnlab run` and `nnlab tune` use;
  - report_render: HTML with every image embedded, and Markdown with images under results/report_files/;
  - report_outputs: writes those three outputs and nothing else, never through a link (see its docstring).

SIGTERM and Ctrl-C end a report as they end a run (exit 143 or 130), and leave no temporary file behind.

    make report                      # everything
    make report EXP=mnist            # one experiment
    make report RUNS="<id> <id>"     # plus a side-by-side comparison of those runs
"""

import datetime
import hashlib
import time
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.report import blocks as doc
from nnlab.report import compare as report_compare
from nnlab.report import outputs as report_outputs
from nnlab.report import read as report_data
from nnlab.report import render as report_render
from nnlab.report import runs as report_runs
from nnlab.report import sweeps as report_sweeps
from nnlab.results import layout, status

HTML_NAME = layout.REPORT_HTML
MARKDOWN_NAME = layout.REPORT_MARKDOWN
FIGURE_NAME_MAX = 150  # characters of an image's name under report_files/ (a file name may hold 255 bytes)


def build(results_dir, experiment=None, runs=()):
    """Write report.html and report.md into `results_dir` and return their paths.

    Args:
      results_dir: the results directory (results/<experiment>/<run-id>/, results/<experiment>/sweeps/<id>/).
      experiment: report only this experiment.
      runs: two or more run ids to compare side by side at the top of the report.
    Raises:
      NnlabError: the results directory or the experiment has nothing to report, a run id is unknown, or
        report.html, report.md or report_files is a link or not a plain file or directory.
      status.Interrupted: SIGTERM or SIGINT arrived (temporary files are removed on the way out).
    """
    started = time.time()
    results_dir = Path(results_dir)
    with status.interruptible(), report_outputs.ReportOutputs(results_dir) as outputs:
        outputs.check()  # before anything is read or written
        everything = report_data.scan(results_dir)
        compared = report_compare.select(everything, runs) if runs else []  # ids may name any experiment's runs
        experiments = [item for item in everything if experiment is None or item.name == experiment]
        if experiment is not None and not experiments:
            raise NnlabError(_nothing_for(experiment, results_dir, everything))
        if not experiments:
            raise NnlabError(
                f"Nothing to report: {results_dir}/ holds no runs or sweeps. Train one first, e.g. "
                "`make run EXP=mnist`."
            )
        title = f"nnlab report: {experiment}" if experiment else "nnlab report"
        blocks = document(experiments, compared, results_dir)
        figures = unique_names([block for block in blocks if isinstance(block, doc.Figure)])
        page_mode = report_outputs.no_wider_than([figure.mode for figure in figures])  # it embeds every one
        outputs.remove_stale_temporaries(started)
        outputs.write_figures(figures)
        outputs.write_page(HTML_NAME, report_render.html_parts(title, blocks), page_mode)
        outputs.write_page(MARKDOWN_NAME, report_render.to_markdown(title, blocks, layout.REPORT_FILES))
    return [results_dir / HTML_NAME, results_dir / MARKDOWN_NAME]


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


def unique_names(figures):
    """Give each figure a distinct file name under report_files/ of at most FIGURE_NAME_MAX characters."""
    taken = set()
    for figure in figures:
        name = figure.name if not figure.name.startswith(".") else "_" + figure.name
        stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
        if len(name) > FIGURE_NAME_MAX:  # long run ids and experiment names: cut, with a digest for uniqueness
            stem = f"{stem[: FIGURE_NAME_MAX - 30]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
            name = stem + dot + suffix
        number = 2
        while name in taken:
            name, number = f"{stem}-{number}{dot}{suffix}", number + 1
        taken.add(name)
        figure.name = name
    return figures


def _nothing_for(experiment, results_dir, everything):
    names = ", ".join(item.name for item in everything) or "none"
    return (
        f"Nothing to report for experiment '{experiment}': {results_dir}/{experiment}/ holds no runs or sweeps. "
        f"Experiments with results: {names}. Train it first: `make run EXP={experiment}`."
    )
