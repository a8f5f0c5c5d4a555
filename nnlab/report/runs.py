"""The report's section for one experiment's runs: the table newest first, latest and best curves, figures, studies.

Reads only the Run records (nnlab.report.read); every cell tolerates a missing file, so a failed or
half-written run is a row that says so rather than a gap or a crash.
"""

from nnlab.plots import curves, images
from nnlab.report import blocks as doc
from nnlab.report import read as report_data
from nnlab.report import repro as report_repro
from nnlab.results import layout, limits, ranking
from nnlab.results import text as recorded

# metrics.json keys nnlab itself writes; any other key came from the experiment's `summarize(job)` hook.
RUNNER_KEYS = {
    "status",
    "epochs_run",
    "resumed_at_epoch",
    "final",
    "train_seconds",
    "seconds_per_epoch",
    "test",
    "variants",
    "best",
    "errors",
    "message",
    "early_stopping",
}


def section(experiment):
    """Blocks for one experiment's runs: summary, runs table, curves, the experiment's own figures, studies."""
    runs = experiment.runs
    best, criterion = best_run(runs)
    blocks = [doc.Text(summary(runs, best, criterion, len(experiment.sweeps)))]
    if not runs:
        return blocks
    blocks += [doc.Heading(3, "Runs (newest first)"), runs_table(runs, best)]
    latest = next((run for run in runs if run.history is not None and len(run.history)), None)
    shown = list(dict.fromkeys(run for run in (latest, best) if run is not None))
    image = curves.png_bytes(
        curves.overlay(
            [(recorded.visible(f"{role(run, latest, best)} {run.run_id}"), run.history) for run in shown],
            recorded.visible(f"{experiment.name}: learning curves of the latest and best run"),
            compiled_metrics(shown),
        )
    )
    if image:
        caption = "Dashed: training; solid: validation; tracked values (from `track`) solid. " + "; ".join(
            f"{role(run, latest, best)}: {run.run_id}" for run in shown
        )
        blocks += [
            doc.Heading(3, "Learning curves: latest and best run"),
            doc.Figure(doc.file_name(experiment.name, "curves-latest-best.png"), image, caption),
        ]
    latest_done = next((run for run in runs if run.status == "done"), None)
    for run in dict.fromkeys(run for run in (latest_done, best) if run is not None):
        blocks += module_summary_blocks(run, role(run, latest_done, best))
        blocks += experiment_figures(run, role(run, latest_done, best))
    study = next((run for run in runs if run.variants), None)
    if study is not None:
        blocks += study_blocks(study)
    return blocks


def reproducibility(runs):
    return [doc.Heading(3, "Reproducibility"), report_repro.table(runs)] if runs else []


def best_run(runs):
    """(best run, how it was chosen) by the first ranking.BEST_BY measure that any run has; (None, "") if none."""
    for group, metric, pick, description in ranking.BEST_BY:
        scored = [(value, run) for run in runs if (value := measure(run, group, metric)) is not None]
        if scored:
            return pick(scored, key=lambda pair: pair[0])[1], description
    return None, ""


def measure(run, group, metric):
    """A finite number from the run's test or final metrics, or None."""
    value = (run.test if group == "test" else run.final if run.metrics else {}).get(metric)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


def runs_table(runs, best=None):
    names, tracked = metric_names(runs), tracked_names(runs)
    tests = list(dict.fromkeys(name for run in runs for name in run.test))
    (names, tracked, tests), hidden = fit_columns((names, 2), (tracked, 1), (tests, 1))
    columns = ["run", "started", "status", "overrides", "epochs"]
    columns += [f"{prefix}{name}" for name in names for prefix in ("train ", "val ")] + tracked
    columns += [f"test {name}" for name in tests] + ["wall time", "device", "notes"]
    rows = []
    for run in runs:
        final = run.final
        row = [
            doc.Cell(run.run_id + (" (best)" if run is best else ""), "best" if run is best else "", href(run)),
            run.started.strftime("%Y-%m-%d %H:%M:%S") if run.started else "",
            status_cell(run),
            overrides_text(run),
            epochs(run),
        ]
        row += [doc.number(final.get(prefix + name)) for name in names for prefix in ("", "val_")]
        row += [doc.number(final.get(name)) for name in tracked]
        row += [doc.number(run.test.get(name)) for name in tests]
        row += [doc.seconds(wall_seconds(run)), report_repro.device(run.env), notes(run)]
        rows.append(row)
    return doc.Table(columns, rows, caption=hidden_columns(hidden))


def fit_columns(*groups):
    """The names of each (names, columns per name) group that fit in TABLE_MAX_COLUMNS, in order, and how many
    columns were left out: a metrics.json with 100,000 keys gives a table of a hundred columns, not 200,000."""
    room, kept, hidden = limits.TABLE_MAX_COLUMNS, [], 0
    for names, width in groups:
        fitting = names[: max(0, room // width)]
        kept.append(fitting)
        room -= width * len(fitting)
        hidden += width * (len(names) - len(fitting))
    return kept, hidden


def hidden_columns(hidden):
    """The caption of a table that left columns out ('' when none)."""
    if not hidden:
        return ""
    return f"{hidden} more columns not shown (a table shows at most {limits.TABLE_MAX_COLUMNS} metric columns)."


def metric_names(runs):
    """Base metric names across the runs' final rows (loss first), without epoch/time columns or tracked values."""
    tracked = set(tracked_names(runs))
    names = [key.removeprefix("val_") for run in runs for key in run.final if key not in curves.NOT_METRICS]
    return sorted((name for name in dict.fromkeys(names) if name not in tracked), key=lambda name: name != "loss")


def tracked_names(runs):
    """Values an experiment's `track(model)` recorded (w, b, ...): final-row keys that are not metrics of any run.

    A name some run has a validation twin for, or compiles as a metric, is a metric for every run."""
    metrics = set(compiled_metrics(runs))
    metrics |= {key.removeprefix("val_") for run in runs for key in run.final if key.startswith("val_")}
    return list(dict.fromkeys(name for run in runs for name in curves.tracked_names(run.final, metrics)))


def compiled_metrics(runs):
    """The metric names the runs' configs compile (config.json's `metrics`), for telling them from tracked values."""
    names = []
    for run in runs:
        declared = run.config.get("metrics")
        if isinstance(declared, (list, tuple)):
            names += [str(name) for name in declared]
        elif isinstance(declared, str):
            names.append(declared)
    return list(dict.fromkeys(names))


def summary(runs, best, criterion, sweeps):
    counts = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    text = doc.count(len(runs), "run") + " (" + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    text = (text + ")" if runs else "No runs") + (f"; {doc.count(sweeps, 'sweep')}." if sweeps else ".")
    if best is not None:
        text += f" Best run: {best.run_id} ({criterion})."
    return text


def status_cell(run):
    text = run.status
    if run.unreadable:  # a file broke one of nnlab's limits (size, nesting, digits): the notes say which
        text = "unreadable" + (f" ({run.status})" if run.status != "unknown" else "")
        return doc.Cell(text, "failed")
    if run.status == "done" and run.problems:
        text = "done, incomplete"
    elif run.status == "running" and run.updated:
        text = f"running (last update {run.updated})"
    return doc.Cell(text, "failed" if "incomplete" in text or run.status == "failed" else run.status)


def overrides_text(run):
    if not run.config and not run.overrides:
        return ""  # no readable config.json: the notes column says so
    return ", ".join(f"{key}={doc.plain(value)}" for key, value in run.overrides.items()) or "defaults"


def notes(run):
    parts = [run.message[:300]] if run.message else []
    return "; ".join(parts + run.problems)


def wall_seconds(run):
    variants = run.metrics.get("variants") if isinstance(run.metrics.get("variants"), dict) else {}
    seconds = [record.get("train_seconds") for record in variants.values() if isinstance(record, dict)]
    if seconds and all(isinstance(value, (int, float)) for value in seconds):
        return sum(seconds)  # a study trains every variant in turn
    if "train_seconds" in run.summary:
        return run.summary["train_seconds"]
    if run.history is not None and "seconds" in run.history and len(run.history):
        return float(run.history["seconds"].sum())  # epochs that finished, for runs that did not
    return None


def epochs(run):
    done = run.summary.get("epochs_run", len(run.history) if run.history is not None else None)
    planned = run.config.get("epochs")
    text = f"{doc.number(done)}/{doc.number(planned)}" if done is not None and planned else doc.number(done)
    stopping = run.summary.get("early_stopping")
    if isinstance(stopping, dict) and isinstance(stopping.get("kept_epoch"), int):  # nnlab.train.controls
        stopped = "stopped early; " if stopping.get("stopped_early") else ""
        text += f" ({stopped}weights of epoch {stopping['kept_epoch'] + 1} kept)"  # 1-based, as the curves' axis
    return text


def role(run, latest, best):
    if run is latest and run is best:
        return "latest and best"
    return "latest" if run is latest else "best"


def href(run):
    """The run's directory, relative to the report (which sits in the results directory)."""
    return f"{run.experiment}/{run.run_id}/"


def experiment_figures(run, run_role):
    """The run's own figures (not its learning curves); a GIF animation is shown by its last frame.

    A figure the report may not embed (too large, not a PNG or GIF, a GIF too costly to decode, or the report's
    figure budget spent) is named in a note as "not shown", and neither embedded nor copied.
    """
    curve_files = learning_curve_files(run)
    figures, not_shown = [], []
    for path in run.images():
        if path.name in curve_files:
            continue
        if run.variants and path.name == layout.STUDY_COMPARISON:
            continue  # shown in the study's own section
        try:
            data, mode, kind = report_data.figure(path, run.budgets.figures)
        except report_data.NotShown as refusal:
            not_shown.append(f"{path.name} not shown ({refusal.reason})")
            continue
        except OSError:  # missing, unreadable, or a link out of the run
            continue
        name, caption = (path.name if path.suffix == ".png" else f"{path.name}.png"), ""
        if kind == "gif":
            data, name = _last_frame(data, run.budgets.figures), f"{path.stem}-last-frame.png"
            caption = "last frame of "
            if data is None:
                not_shown.append(f"{path.name} not shown ({report_data.SIZE_OR_TYPE})")
                continue
        caption = f"{caption}{path.name} ({run_role} run {run.run_id})"
        figures.append(doc.Figure(doc.file_name(run.experiment, run.run_id, name), data, caption, mode))
    if not figures and not not_shown:
        return []
    blocks = [doc.Heading(3, f"Figures of the {run_role} run {run.run_id}"), *figures]
    return blocks + ([doc.Note("; ".join(not_shown) + ".")] if not_shown else [])


def _last_frame(gif, budget):
    """A GIF's last frame as PNG bytes, charged to the report's figure budget instead of the GIF; None if not."""
    budget.release(len(gif))
    frame = images.gif_last_frame(gif)
    return frame if frame is not None and budget.take(len(frame)) else None


def learning_curve_files(run):
    """Names of the per-metric PNGs nnlab.plots.curves wrote for the run and each study variant (redrawn here)."""
    tables = {"": run.history, **run.variants}
    names = set()
    for variant, table in tables.items():
        metrics = curves.metric_names(table) if table is not None else []
        metrics += [key.removeprefix("val_") for key in run.final if key not in curves.NOT_METRICS]
        names |= {layout.learning_curve(metric, variant) for metric in metrics}
    return names


def module_summary(run):
    """What the experiment's `summarize(job)` hook added to metrics.json (e.g. least squares, a converged verdict)."""
    return {key: value for key, value in run.metrics.items() if key not in RUNNER_KEYS}


def module_summary_blocks(run, run_role):
    """The module's summary as a verdict line (when it has `converged`) and a table of every entry, flattened."""
    summary = module_summary(run)
    if not summary:
        return []
    blocks = [doc.Heading(3, f"Summary of the {run_role} run {run.run_id} (from {run.experiment}'s summarize)")]
    if isinstance(summary.get("converged"), bool):
        verdict = "converged" if summary["converged"] else "not converged"
        detail = summary.get("convergence")
        reason = detail.get("reason") if isinstance(detail, dict) else None
        text = f"Verdict: {verdict}" + (f" — {reason}" if isinstance(reason, str) and reason else ".")
        blocks.append(doc.Text(text) if summary["converged"] else doc.Note(text))
    rows = [[key, _summary_value(value)] for key, value in flatten(summary) if key != "convergence.reason"]
    blocks.append(doc.Table(["entry", "value"], rows))
    return blocks


def flatten(record, prefix=""):
    """[(dotted key, value)] for a nested dict: {"least_squares": {"w": 2.0}} -> [("least_squares.w", 2.0)]."""
    pairs = []
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            pairs += flatten(value, f"{name}.")
        else:
            pairs.append((name, value))
    return pairs


def _summary_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return doc.number(value)
    if isinstance(value, (list, tuple)):
        return doc.plain(value)
    return str(value)[:300]


def study_blocks(run):
    """A study run (several variants in one directory): each variant's final metrics, and their curves overlaid."""
    tables = [table for table in run.variants.values() if table is not None]
    metrics = compiled_metrics([run])
    tracked = list(dict.fromkeys(name for table in tables for name in curves.tracked_names(table.columns, metrics)))
    names = [name for table in tables for name in curves.metric_names(table) if name not in tracked]
    (names, tracked), hidden = fit_columns((list(dict.fromkeys(names)), 2), (tracked, 1))
    columns = ["variant", "epochs"] + [f"{p}{name}" for name in names for p in ("", "val_")] + tracked
    columns += ["test", "seconds"]
    stored_variants = run.metrics.get("variants") if isinstance(run.metrics.get("variants"), dict) else {}
    rows = []
    for variant, history in run.variants.items():
        stored = stored_variants.get(variant) if isinstance(stored_variants.get(variant), dict) else {}
        final = stored.get("final") if isinstance(stored.get("final"), dict) else {}
        if not final and history is not None and len(history):
            final = history.iloc[-1].to_dict()
        test = stored.get("test") if isinstance(stored.get("test"), dict) else {}
        epochs_run = stored.get("epochs_run", len(history) if history is not None else "")
        label = doc.Cell(f"{variant} (best)", "best") if variant == run.best_variant else variant
        row = [label, doc.number(epochs_run)] + [
            doc.number(final.get(p + name)) for name in names for p in ("", "val_")
        ]
        row += [doc.number(final.get(name)) for name in tracked]
        rows.append(
            row + [", ".join(f"{k} {doc.number(v)}" for k, v in test.items()), doc.seconds(stored.get("train_seconds"))]
        )
    best = run.metrics.get("best") if isinstance(run.metrics.get("best"), dict) else {}
    caption = f"Best variant by {best['by']}. " if best.get("by") else ""
    caption += hidden_columns(hidden)
    blocks = [doc.Heading(3, f"Study {run.run_id}: variants"), doc.Table(columns, rows, caption=caption)]
    # The study's own overlay when it drew one; drawn here for a study that stopped before it.
    image, mode = _stored_png(run.path / layout.STUDY_COMPARISON, run.budgets.figures)
    image = image or curves.png_bytes(
        curves.overlay(
            [(recorded.visible(variant), table) for variant, table in run.variants.items()],
            recorded.visible(f"study {run.run_id}: variants"),
            compiled_metrics([run]),
        )
    )
    if image:
        name = doc.file_name(run.experiment, run.run_id, "variants.png")
        blocks.append(doc.Figure(name, image, "Variants overlaid. Dashed: training; solid: validation.", mode))
    return blocks


def _stored_png(path, budget):
    """(bytes, permission bits) of a PNG the run or sweep wrote, or (None, None): missing, unreadable, a link out
    of its directory, or one the report may not embed (then the report draws its own)."""
    try:
        data, mode, _ = report_data.figure(path, budget, kinds=("png",))
    except (OSError, report_data.NotShown):
        return None, None
    return data, mode
