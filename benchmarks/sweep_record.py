"""What a finished sweep directory says, for the benchmarks and `make gpu-check`: read from its own files only.

- sweep.json: `seconds` (the time around the tuner's search, summed over sessions), `status`, `direction`, and the
  `vectorize` record {requested, k, rule, groups: [[trial ids]], xla, reason} of sweeps that group trials. A sweep
  without that record (one from before grouping) reads as k, groups and XLA unknown, shown as "-".
- trials.csv: each trial's id, status, swept values and best objective;
- best_config.json: the best trial's objective value.
"""

import csv
import dataclasses
import io
import math
import shutil
from pathlib import Path

from nnlab.results import atomic, layout

TEXT_COLUMNS = ("trial_id", "status")
KEPT = (layout.SWEEP, layout.TRIALS, layout.BEST_CONFIG)  # what the bench keeps of each sweep it ran


@dataclasses.dataclass
class Grouping:
    """sweep.json's `vectorize` record, None where the sweep did not write one."""

    requested: object = None
    k: object = None
    groups: object = None  # how many groups formed
    xla: object = None
    rule: object = None
    reason: object = None

    def text(self):
        """'k 8, 1 group, XLA on' (or 'k -, groups -, XLA -' for a sweep without the record)."""
        groups = "groups -" if self.groups is None else f"{self.groups} group{'' if self.groups == 1 else 's'}"
        words = [f"k {'-' if self.k is None else self.k}", groups, f"XLA {_switch(self.xla)}"]
        return ", ".join(words) + (f" ({self.reason})" if self.reason else "")


@dataclasses.dataclass
class Sweep:
    status: str
    seconds: float
    objective: str
    direction: str
    best: float  # the best trial's objective (nan without one)
    trials: list  # trials.csv rows: trial_id, status, each swept field, best_objective (floats where numbers)
    grouping: Grouping


def read(sweep_dir):
    """The sweep in `sweep_dir`; OSError or ValueError when it has no readable sweep.json."""
    sweep_dir = Path(sweep_dir)
    record = atomic.read_json(sweep_dir / layout.SWEEP)
    try:
        best = float(atomic.read_json(sweep_dir / layout.BEST_CONFIG)["objective"]["value"])
    except (OSError, ValueError, KeyError, TypeError):
        best = math.nan
    return Sweep(
        status=str(record.get("status", "")),
        seconds=float(record.get("seconds") or math.nan),
        objective=str(record.get("objective", "")),
        direction=record.get("direction", "max"),
        best=best,
        trials=read_trials(sweep_dir / layout.TRIALS),
        grouping=grouping(record.get("vectorize")),
    )


def grouping(record):
    """A Grouping from sweep.json's `vectorize` entry (None or not a dict: all unknown)."""
    if not isinstance(record, dict):
        return Grouping()
    groups = record.get("groups")
    return Grouping(
        requested=record.get("requested"),
        k=record.get("k"),
        groups=len(groups) if isinstance(groups, list) else None,
        xla=record.get("xla"),
        rule=record.get("rule"),
        reason=record.get("reason") or None,
    )


def read_trials(path):
    """trials.csv's rows, numbers as floats, in trial-id order; [] without the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    rows = [
        {key: value if key in TEXT_COLUMNS else _number(value) for key, value in row.items()}
        for row in csv.DictReader(io.StringIO(text))
    ]
    return sorted(rows, key=lambda row: _trial_order(row.get("trial_id", "")))


def keep(sweep_dir, destination):
    """Copy the sweep's small record files (sweep.json, trials.csv, best_config.json) to `destination`."""
    for name in KEPT:
        source = Path(sweep_dir) / name
        if source.exists():
            with atomic.replacing(Path(destination) / name) as tmp:
                shutil.copyfile(source, tmp)


def _switch(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _trial_order(trial_id):
    """Trial ids sort as numbers ('2' before '10'); keras-tuner writes them as digits."""
    return (0, int(trial_id), trial_id) if trial_id.isdigit() else (1, 0, trial_id)
