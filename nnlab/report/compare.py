"""The report's comparison of chosen runs side by side: config differences, metric deltas, curves overlaid."""

from nnlab.errors import NnlabError
from nnlab.plots import curves
from nnlab.report import blocks as doc
from nnlab.report import repro as report_repro
from nnlab.report import runs as report_runs
from nnlab.results import text as recorded


def select(experiments, ids):
    """The runs named by `ids` (a run id, a unique prefix of one, or <experiment>/<run id>), in the order given."""
    runs = [run for experiment in experiments for run in experiment.runs]
    chosen = []
    for wanted in ids:
        wanted = str(wanted).strip("/")
        matches = [run for run in runs if _matches(run, wanted)]
        exact = [run for run in matches if wanted in (run.run_id, f"{run.experiment}/{run.run_id}")]
        matches = exact or matches
        if len(matches) != 1:
            recent = ", ".join(sorted((f"{run.experiment}/{run.run_id}" for run in runs), reverse=True)[:8])
            problem = "matches no run" if not matches else f"matches {len(matches)} runs"
            raise NnlabError(
                f"--runs {wanted}: {problem} in the results directory. Pass whole run ids (or "
                f"<experiment>/<run id>); the newest are: {recent or 'none'}."
            )
        if matches[0] not in chosen:
            chosen.append(matches[0])
    if len(chosen) < 2:
        raise NnlabError(f"--runs needs two or more different runs to compare, got {len(chosen)}.")
    return chosen


def section(runs):
    """Blocks comparing `runs`; the first is the reference that deltas are measured from."""
    reference = runs[0]
    labels = [f"{run.experiment}/{run.run_id}" for run in runs]
    blocks = [
        doc.Heading(2, "Comparison"),
        doc.Text(f"{len(runs)} runs side by side; deltas are against the first, {labels[0]}."),
        doc.Heading(3, "Config differences"),
        config_table(runs, labels),
        doc.Heading(3, "Metrics"),
        metrics_table(runs, labels),
    ]
    image = curves.png_bytes(
        curves.overlay(
            [(recorded.visible(run.run_id), run.history) for run in runs],
            recorded.visible("compared runs: " + " vs ".join(run.run_id for run in runs)),
            report_runs.compiled_metrics(runs),
        )
    )
    if image:
        name = doc.file_name("compare", *(run.run_id for run in runs))[:150] + ".png"
        blocks.append(doc.Figure(name, image, "Curves overlaid. Dashed: training; solid: validation."))
    if any(run is not reference and run.experiment != reference.experiment for run in runs):
        blocks.append(doc.Note("These runs belong to different experiments: their metrics may not be comparable."))
    return blocks


def config_table(runs, labels):
    """Only the fields whose values differ; a run without a readable config.json shows 'unknown'."""
    fields = list(dict.fromkeys(key for run in runs for key in run.config))
    rows = []
    for field in fields:
        values = [doc.plain(run.config[field]) if field in run.config else "" for run in runs]
        if len(set(values)) > 1:
            rows.append([field, *(value if run.config else "unknown" for value, run in zip(values, runs, strict=True))])
    if not rows:
        rows.append(["(no differences)", *([""] * len(runs))])
    return doc.Table(["field", *labels], rows)


def metrics_table(runs, labels):
    reference = runs[0]
    names = report_runs.metric_names(runs)
    measures = [(f"final {prefix}{name}", "final", prefix + name) for name in names for prefix in ("", "val_")]
    measures += [(f"test {name}", "test", name) for name in dict.fromkeys(n for run in runs for n in run.test)]
    rows = []
    for label, group, key in measures:
        base = report_runs.measure(reference, group, key)
        row = [label, doc.number(base)]
        for run in runs[1:]:
            value = report_runs.measure(run, group, key)
            delta = f" ({value - base:+.4g})" if value is not None and base is not None else ""
            row.append(doc.number(value) + delta)
        rows.append(row)
    rows += [
        ["status", *(report_runs.status_cell(run) for run in runs)],
        ["epochs", *(report_runs.epochs(run) for run in runs)],
        ["wall time", *(doc.seconds(report_runs.wall_seconds(run)) for run in runs)],
        ["device", *(report_repro.device(run.env) for run in runs)],
        ["git commit", *(report_repro.commit(run.env) for run in runs)],
    ]
    return doc.Table(["measure", *labels], rows, caption="Values in brackets: difference from the first run.")


def _matches(run, wanted):
    return run.run_id.startswith(wanted) or f"{run.experiment}/{run.run_id}".startswith(wanted)
