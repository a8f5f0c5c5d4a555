"""A sweep's tidy tables, built from its directory alone: trials.csv (one row per trial) and history.csv
(trial, epoch, every metric), rewritten atomically whenever a trial ends.

Reads keras-tuner's trial_*/trial.json for status and values, and nnlab's per-trial history.csv and
nnlab_trial.json for epochs and timings, so any process (standalone tuner, distributed chief, a later report)
can rebuild them.
"""

import dataclasses
import logging
import math
from pathlib import Path

from nnlab import search_space
from nnlab.results import atomic, bounded, history, layout, limits, text
from nnlab.results.ranking import better

TUNER_DIR = layout.TUNER
log = logging.getLogger(__name__)


@dataclasses.dataclass
class Summary:
    rows: list  # trials.csv rows
    counts: dict  # {"COMPLETED": n, ...}
    best: dict = None  # the trials.csv row of the best COMPLETED trial, or None
    first_failure: str = ""  # the last line of the first failed trial's message


def project_dir(sweep_dir):
    return Path(sweep_dir) / TUNER_DIR


def refresh(sweep_dir, fields, objective, direction, booleans=()):
    """Rewrite trials.csv and history.csv from the sweep directory; return the Summary.

    `booleans` names the swept bool fields, written true/false (keras-tuner keeps a Choice of booleans as 1/0).
    """
    project = project_dir(sweep_dir)
    rows, long_rows = [], []
    failure = ""
    for trial_id, state in sorted(read_trials(project).items()):
        trial_dir = project / layout.trial_dir(trial_id)
        epochs = history.read_rows(trial_dir / layout.TRIAL_HISTORY)
        record = _read_optional(trial_dir / layout.TRIAL_RECORD)
        row = _trial_row(trial_id, state, epochs, record, fields, objective, direction)
        rows.append(
            {key: search_space.shown(value) if key in booleans and value != "" else value for key, value in row.items()}
        )
        long_rows += [{"trial_id": trial_id, **row} for row in epochs]
        if state.get("status") == "FAILED" and not failure:
            failure = _last_line(state.get("message") or "")
    trial_columns = list(rows[0]) if rows else _columns(fields)
    atomic.write_text(Path(sweep_dir) / layout.TRIALS, history.to_csv(rows, trial_columns))
    history_columns = ["trial_id"] + history.columns(
        [{k: v for k, v in r.items() if k != "trial_id"} for r in long_rows]
    )
    atomic.write_text(Path(sweep_dir) / layout.SWEEP_HISTORY, history.to_csv(long_rows, history_columns))
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    completed = [row for row in rows if row["status"] == "COMPLETED" and math.isfinite(row["best_objective"])]
    _warn_unread(sweep_dir, [row for row in rows if row["status"] == "COMPLETED" and not row["epochs_run"]])
    best = None
    for row in completed:  # never the best of a FAILED trial
        if best is None or better(row["best_objective"], best["best_objective"], direction):
            best = row
    return Summary(rows=rows, counts=counts, best=best, first_failure=failure)


_WARNED = set()  # (sweep directory, trial id) already named in this process: refresh runs after every trial


def _warn_unread(sweep_dir, rows):
    """Name each completed trial of whose history.csv no row could be read (deleted, emptied, not a regular file):
    it cannot be the best, and that the best the sweep reports is of the others must not pass unsaid."""
    for row in rows:
        if (str(sweep_dir), row["trial_id"]) not in _WARNED:
            _WARNED.add((str(sweep_dir), row["trial_id"]))
            path = project_dir(sweep_dir) / layout.trial_dir(row["trial_id"]) / layout.TRIAL_HISTORY
            log.warning(
                "trial %s completed, but no epoch of it can be read from %s (missing, emptied, damaged or not a "
                "regular file), so it is left out of the best trial",
                text.visible(row["trial_id"]),
                text.visible(path),
            )


def _trial_row(trial_id, state, epochs, record, fields, objective, direction):
    values = state.get("hyperparameters", {}).get("values", {})
    runs = by_execution(epochs)
    bests = [_best_row(rows, objective, direction) for rows in runs]
    lasts = [scored[-1][objective] for scored in (_scored(rows, objective) for rows in runs) if scored]
    complete = bool(bests) and all(best is not None for best in bests)
    seconds = record.get("seconds") if record else sum(_real(row.get("seconds")) or 0.0 for row in epochs)
    row = {
        "trial_id": trial_id,
        "status": state.get("status", "UNKNOWN"),
        **{field: values.get(field, "") for field in fields},
        # several executions: the mean of each one's best, as keras-tuner scores them; best_epoch is execution 0's
        "best_objective": sum(best[objective] for best in bests) / len(bests) if complete else math.nan,
        "last_objective": sum(lasts) / len(lasts) if lasts else math.nan,
        "best_epoch": bests[0]["epoch"] if complete else "",
        "epochs_run": max((len(rows) for rows in runs), default=0),
        "seconds": seconds,
    }
    if len(runs) > 1:
        row["executions"] = len(runs)
    row["group"] = group_cell(record)  # always the last column
    return row


def group_cell(record):
    """The trial's `group` cell in trials.csv: the number of the group it trained in, "" when it trained alone."""
    group = (record or {}).get("group")
    return group if isinstance(group, int) and not isinstance(group, bool) else ""


def read_groups(sweep_dir):
    """[[trial ids], ...] of the sweep's groups in group-number order, from each trial's nnlab_trial.json."""
    groups = {}
    for path in sorted(project_dir(sweep_dir).glob(f"{layout.trial_dir('*')}/{layout.TRIAL_RECORD}")):
        record = _read_optional(path)
        group = group_cell(record) if isinstance(record, dict) else ""
        if group != "":
            groups.setdefault(group, []).append(str(record.get("trial_id")))
    return [sorted(groups[number], key=trial_order) for number in sorted(groups)]


def trial_order(trial_id):
    return (len(trial_id), trial_id)  # keras-tuner pads ids to one width; this also orders unpadded ones


def by_execution(rows):
    """A trial's history rows split by their `execution` column (one list when there is none), in order."""
    groups = {}
    for row in rows:
        execution = _real(row.get("execution", 0))
        if execution is not None and execution.is_integer():  # a torn or hand-edited cell is no row of any
            groups.setdefault(int(execution), []).append(row)
    return [groups[key] for key in sorted(groups)]


def mean_best(rows, objective, direction):
    """(metrics, best epoch) of a trial: each execution's best epoch by `objective`, each metric averaged over them.

    With one execution that is its best epoch's metrics. The epoch returned is execution 0's best.
    """
    bests = [_best_row(group, objective, direction) for group in by_execution(rows)]
    if not bests or any(best is None for best in bests):
        raise ValueError(f"no epoch reported a finite {objective}")
    ignored = ("epoch", "execution", "seconds", "learning_rate")
    keys = [key for key in bests[0] if key not in ignored and all(_real(best.get(key)) is not None for best in bests)]
    metrics = {key: sum(float(best[key]) for best in bests) / len(bests) for key in keys}
    return metrics, int(bests[0]["epoch"])


def _scored(rows, objective):
    return [row for row in rows if math.isfinite(_real(row.get(objective)) or math.nan)]


def _real(value):
    """`value` as a float when it is a real number (a history cell history.read_rows parsed), else None: a cell
    that is text (a hand edit) is no number, whatever column it is in."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _best_row(rows, objective, direction):
    best = None
    for row in _scored(rows, objective):
        if best is None or better(row[objective], best[objective], direction):
            best = row
    return best


def _columns(fields):
    columns = ["trial_id", "status", *fields, "best_objective", "last_objective", "best_epoch", "epochs_run"]
    return columns + ["seconds", "group"]


def _read_optional(path):
    try:
        return bounded.read_json(path)
    except (OSError, ValueError):
        return None


def _last_line(message):
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def read_trials(tuner_dir):
    """{trial_id: trial.json contents} for every readable trial of the keras-tuner project."""
    trials = {}
    for path in sorted(Path(tuner_dir).glob(layout.ALL_TRIAL_STATES)):
        try:
            state = bounded.read_json(path, max_bytes=limits.TUNER_JSON_MAX_BYTES)
        except (OSError, ValueError):  # bounded.Unreadable included: too large, too deep, not a regular file
            continue  # being written by another process; the next refresh reads it
        if isinstance(state, dict) and isinstance(state.get("trial_id"), str):
            trials[state["trial_id"]] = state
    return trials
