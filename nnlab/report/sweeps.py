"""The report's section for one sweep: counts, the best config, trials sorted by objective, and its figures.

The sweep's own PNGs (written by nnlab.sweeps.tuning) are embedded as they are; when a sweep stopped before writing
one, the report draws it from trials.csv / history.csv with the same nnlab.plots.sweeps function, so a half-finished
sweep still shows what it has.
"""

import json

import pandas as pd

from nnlab.plots import curves
from nnlab.plots import sweeps as sweep_plots
from nnlab.report import blocks as doc
from nnlab.report import read as report_data
from nnlab.report import runs as report_runs
from nnlab.results import layout

OBJECTIVE = sweep_plots.OBJECTIVE  # trials.csv column holding each trial's best value of the sweep's objective
NOT_PARAMETERS = {"trial_id", "status", OBJECTIVE, "last_objective", "best_epoch", "epochs_run", "seconds"}


def section(sweep):
    spec = sweep.spec
    objective, direction = str(spec.get("objective", "objective")), str(spec.get("direction", "max"))
    trials = sorted_trials(sweep.trials, direction)
    best_trial = best_trial_id(sweep, trials)
    blocks = [
        doc.Heading(3, f"Sweep {sweep.sweep_id}"),
        doc.Text(describe(sweep, objective, direction, trials)),
    ]
    if spec.get("message"):
        blocks.append(doc.Note(f"Sweep message: {spec['message']}"))
    if sweep.unreadable:
        files = ", ".join(sweep.unreadable)
        blocks.append(doc.Note(f"Unreadable sweep: {files} broke nnlab's limits (README: Limits); the rest is shown."))
    if sweep.problems:
        blocks.append(doc.Note("Incomplete sweep files: " + "; ".join(sweep.problems)))
    blocks += best_config_blocks(sweep, objective)
    if trials is not None and len(trials):
        blocks += [doc.Heading(4, f"Trials by {objective} ({direction})"), trials_table(trials, best_trial)]
    blocks += figures(sweep, trials, parameters(sweep, trials), objective, direction, best_trial)
    return blocks


def sorted_trials(trials, direction):
    """Trials best first by objective; trials without one (failed, running) last."""
    if trials is None or OBJECTIVE not in trials:
        return trials
    trials = trials.copy()
    trials[OBJECTIVE] = pd.to_numeric(trials[OBJECTIVE], errors="coerce")
    return trials.sort_values(OBJECTIVE, ascending=direction == "min", na_position="last", kind="stable")


def best_trial_id(sweep, trials):
    for value in (sweep.spec.get("best_trial"), sweep.best.get("trial_id")):
        if value is not None and value != "":
            return str(value)
    if trials is not None and OBJECTIVE in trials and trials[OBJECTIVE].notna().any() and "trial_id" in trials:
        return str(trials["trial_id"].iloc[0])
    return None


def counts(sweep, trials):
    """{"COMPLETED": n, "FAILED": n, ...} from sweep.json, else counted from trials.csv."""
    stored = sweep.spec.get("counts")
    if isinstance(stored, dict) and stored:
        return {str(key): value for key, value in stored.items()}
    if trials is not None and "status" in trials:
        return {str(key): int(value) for key, value in trials["status"].value_counts().items()}
    return {}


def describe(sweep, objective, direction, trials):
    spec = sweep.spec
    tally = counts(sweep, trials)
    parts = [
        f"Status: {spec.get('status', 'unknown')}",
        f"{spec.get('algorithm', '?')} search, objective {objective} ({direction})",
        f"{tally.get('COMPLETED', 0)} completed, {tally.get('FAILED', 0)} failed"
        + "".join(f", {n} {key.lower()}" for key, n in tally.items() if key not in ("COMPLETED", "FAILED"))
        + (f" of {spec['max_trials']} trials" if spec.get("max_trials") else ""),
    ]
    if spec.get("seconds") is not None:
        parts.append(f"took {doc.seconds(spec['seconds'])}")
    if spec.get("workers"):
        parts.append(f"{spec['workers']} workers")
    if spec.get("overrides") and isinstance(spec["overrides"], dict):
        parts.append("fixed overrides " + ", ".join(f"{k}={doc.plain(v)}" for k, v in spec["overrides"].items()))
    return "; ".join(parts) + "."


def best_config_blocks(sweep, objective):
    best = sweep.best
    if not best:
        return []
    value = best.get("objective") if isinstance(best.get("objective"), dict) else {}
    path = sweep.path / layout.BEST_CONFIG
    text = (
        f"Best trial {best.get('trial_id', '?')}: {value.get('name', objective)} = {doc.number(value.get('value'))}. "
        f'Re-run it with `make run EXP={sweep.experiment} ARGS="from={path}"`.'
    )
    overrides = best.get("overrides") if isinstance(best.get("overrides"), dict) else {}
    return [
        doc.Heading(4, "Best config"),
        doc.Text(text),
        doc.Code(inert_json(overrides or best.get("config", {}))),
    ]


def inert_json(value):
    """Indented JSON with < > & written as \\u escapes: the same values, and no tag in report.md even as text."""
    text = json.dumps(value, indent=2)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def parameters(sweep, trials):
    """The hyperparameters the sweep varied: sweep.json's search space, else trials.csv's other columns."""
    space = sweep.spec.get("search_space")
    if isinstance(space, dict) and space:
        return list(space)
    return [column for column in trials.columns if column not in NOT_PARAMETERS] if trials is not None else []


def trials_table(trials, best_trial):
    swept = [column for column in trials.columns if column not in NOT_PARAMETERS]
    (kept,), hidden = report_runs.fit_columns((swept, 1))
    columns = [column for column in trials.columns if column in NOT_PARAMETERS or column in kept]
    rows = []
    for record in trials.to_dict("records"):
        row = []
        for column in columns:
            value = record[column]
            if column == "seconds":
                row.append(doc.seconds(value))
            else:  # numbers compact; text (trial ids such as "07") as written
                row.append(doc.number(value) if _is_number(value) else str(value))
        status = str(record.get("status", ""))
        if best_trial is not None and str(record.get("trial_id")) == best_trial:
            row[0] = doc.Cell(f"{row[0]} (best)", "best")
        if "status" in columns:
            row[columns.index("status")] = doc.Cell(status, "failed" if status == "FAILED" else status.lower())
        rows.append(row)
    return doc.Table(columns, rows, caption=report_runs.hidden_columns(hidden))


def axes(sweep, params):
    """The two fields the sweep's figures show: sweep.json's `axes`, else the rule applied to its search space."""
    recorded = sweep.spec.get("axes")
    if isinstance(recorded, list) and recorded and all(isinstance(name, str) for name in recorded):
        return recorded[0], recorded[1] if len(recorded) > 1 else None
    return sweep_plots.sweep_axes(params)


def figures(sweep, trials, params, objective, direction, best_trial):
    """The sweep's figures: its own PNGs where it wrote them, otherwise drawn here from its CSVs."""
    name = sweep.experiment, "sweep", sweep.sweep_id
    first, second = axes(sweep, params)
    best = "lowest" if direction == "min" else "highest"
    coloured = f", coloured by {second}" if second else ""
    wanted = [
        (
            [layout.objective_vs(first)] if first else [],
            f"best {objective} against {first}, one point per trial{coloured}",
            lambda: sweep_plots.objective_vs(trials, first, objective, direction, colour_field=second),
        ),
        (
            [layout.heatmap(first, second)],
            f"{best} {objective} over {first} × {second or 'all trials'} ({direction}imised objective)",
            lambda: sweep_plots.heatmap(trials, first, second, objective, direction),
        ),
        (
            [layout.PARALLEL_COORDINATES],
            "All hyperparameters at once: one line per trial, coloured by objective, best in red",
            lambda: sweep_plots.parallel_coordinates(trials, params, objective, direction, best_trial),
        ),
        (
            [layout.TRIAL_CURVES],
            f"{objective} per epoch, one line per trial",
            lambda: sweep_plots.trial_curves(sweep.history, objective, f"{objective} per trial"),
        ),
    ]
    blocks, not_shown = [], []
    for file_names, caption, draw in wanted:
        # A sweep from before sweep.json recorded its axes drew its heatmap with max even for a minimised
        # objective: that picture is redrawn rather than shown.
        trusted = "axes" in sweep.spec or file_names != [layout.heatmap(first, second)]
        found = None
        for file in file_names if trusted else []:
            try:  # a copy keeps the stored PNG's permissions
                data, mode, _ = report_data.figure(sweep.path / file, sweep.budgets.figures, kinds=("png",))
            except report_data.NotShown as refusal:
                not_shown.append(f"{file} not shown ({refusal.reason}; drawn by the report instead)")
                continue
            except OSError:  # missing, unreadable, or a link out of the sweep
                continue
            found = file, data, mode
            break
        if found is None and file_names:
            found = file_names[0], curves.png_bytes(draw()), None
            caption = f"{caption} (drawn by the report)"
        if found and found[1]:
            blocks.append(doc.Figure(doc.file_name(*name, found[0]), found[1], caption, found[2]))
    blocks += [doc.Note("; ".join(not_shown) + ".")] if not_shown else []
    return ([doc.Heading(4, "Figures")] + blocks) if blocks else []


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
