"""Read results/ into plain records for the report, trusting nothing: any file may be missing or half written.

The report must describe a run that crashed, is still running or was copied half-way, so every reader here
returns what it could read plus a list of `problems` in words, and never raises for a bad file.

A results directory may be shared, so nothing here follows a symlink out of it: a directory counts only when its
real path lies inside the results tree, a file only when its real path lies inside its own run or sweep directory
(a `secret.png` linked to a file elsewhere is neither read nor copied into the report).
"""

import csv
import dataclasses
import datetime
import io
import json
import math
import os
import re
import stat
from pathlib import Path

import pandas as pd

from nnlab.results import layout

RUN_ID = re.compile(r"^(\d{8}-\d{6})-[0-9a-f]+$")
SWEEPS = layout.SWEEPS
REPORT_FILES = layout.REPORT_FILES  # the report's own image folder, which sits beside the experiments


@dataclasses.dataclass(eq=False)  # compared and hashed by identity: the report picks runs out of lists
class RunRecord:
    experiment: str
    path: Path
    status: str = "unknown"
    message: str = ""
    updated: str = ""
    config: dict = dataclasses.field(default_factory=dict)
    overrides: dict = dataclasses.field(default_factory=dict)
    env: dict = dataclasses.field(default_factory=dict)
    metrics: dict = dataclasses.field(default_factory=dict)
    history: pd.DataFrame | None = None
    variants: dict = dataclasses.field(default_factory=dict)  # study runs: variant name -> its history table
    problems: list = dataclasses.field(default_factory=list)

    @property
    def run_id(self):
        return self.path.name

    @property
    def started(self):
        return started_at(self.run_id)

    @property
    def summary(self):
        """The metrics record that speaks for the run: metrics.json, or a study's best variant's entry in it."""
        variants = _dict(self.metrics.get("variants"))
        best = self.best_variant
        return variants[best] if isinstance(variants.get(best), dict) else self.metrics

    @property
    def best_variant(self):
        """A study's best variant's name (nnlab.train.study writes {"best": {"variant": name, ...}}), else None."""
        best = self.metrics.get("best")
        best = best.get("variant") if isinstance(best, dict) else best
        return best if isinstance(best, str) else None

    @property
    def final(self):
        """The last epoch's row: metrics.json's `final`, else the last row of a (possibly partial) history."""
        if isinstance(self.summary.get("final"), dict):
            return self.summary["final"]
        if self.history is not None and len(self.history):
            return self.history.iloc[-1].dropna().to_dict()
        return {}

    @property
    def test(self):
        return _dict(self.summary.get("test"))

    def images(self):
        """Image files the run wrote, by name (PNG figures and GIF animations); none that leads out of the run."""
        return sorted(
            path
            for path in self.path.glob("*")
            if path.suffix in (".png", ".gif") and path.is_file() and inside(path, self.path)
        )


@dataclasses.dataclass(eq=False)
class SweepRecord:
    experiment: str
    path: Path
    spec: dict = dataclasses.field(default_factory=dict)  # sweep.json
    trials: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    best: dict = dataclasses.field(default_factory=dict)  # best_config.json
    problems: list = dataclasses.field(default_factory=list)

    @property
    def sweep_id(self):
        return self.path.name


@dataclasses.dataclass
class ExperimentRecord:
    name: str
    runs: list  # newest first
    sweeps: list  # newest first


def started_at(run_id):
    """The start time encoded in a run id (20261123-094002-e75c10), or None for a hand-named directory."""
    match = RUN_ID.match(run_id)
    try:
        return datetime.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S") if match else None
    except ValueError:  # digits in the right places, but no real time (20261124-000099-...)
        return None


def scan(results_dir):
    """Every experiment under results_dir with its runs and sweeps, experiments by name, runs newest first."""
    results_dir = Path(results_dir)
    experiments = []
    for directory in sorted(_subdirs(results_dir, results_dir)):
        if directory.name == REPORT_FILES:
            continue
        runs = [read_run(directory.name, path) for path in _subdirs(directory, results_dir) if _looks_like_run(path)]
        sweeps = [read_sweep(directory.name, path) for path in _subdirs(directory / SWEEPS, results_dir)]
        if runs or sweeps:
            runs.sort(key=lambda run: run.run_id, reverse=True)
            sweeps.sort(key=lambda sweep: sweep.sweep_id, reverse=True)
            experiments.append(ExperimentRecord(directory.name, runs, sweeps))
    return experiments


def read_run(experiment, path):
    run = RunRecord(experiment=experiment, path=path)
    status = _json(path / layout.STATUS, run.problems)
    run.status = status.get("status") if isinstance(status.get("status"), str) else "unknown"
    if status and run.status == "unknown":
        run.problems.append("status.json has no status")
    run.message, run.updated = str(status.get("message", "")), str(status.get("updated", ""))
    config = _json(path / layout.CONFIG, run.problems)
    run.config, run.overrides = _dict(config.get("config")), _dict(config.get("overrides"))
    if config and not run.config:
        run.problems.append("config.json has no config record")
    run.env = _json(path / layout.ENVIRONMENT, run.problems, required=run.status == "done")
    # A run still training or one that failed has no metrics.json by design; only a "done" run misses it.
    run.metrics = _json(path / layout.METRICS, run.problems, required=run.status == "done")
    for csv_path in sorted(path.glob(layout.history("*"))):
        run.variants[csv_path.stem.removeprefix("history-")] = read_history(csv_path, run.problems)
    if (path / layout.history()).exists() or (run.status == "done" and not run.variants):
        run.history = read_history(path / layout.history(), run.problems)
    return run


def read_sweep(experiment, path):
    sweep = SweepRecord(experiment=experiment, path=path)
    sweep.spec = _json(path / layout.SWEEP, sweep.problems)
    # A sweep writes trials.csv after its first trial and best_config.json when it ends.
    if (path / layout.TRIALS).exists() or sweep.spec.get("status") == "done":
        sweep.trials = read_csv(path / layout.TRIALS, sweep.problems, text_columns=("trial_id", "status"))
    if (path / layout.SWEEP_HISTORY).exists():
        sweep.history = read_history(path / layout.SWEEP_HISTORY, sweep.problems, text_columns=("trial_id",))
    sweep.best = _json(path / layout.BEST_CONFIG, sweep.problems, required=sweep.spec.get("status") == "done")
    return sweep


def read_history(path, problems, text_columns=()):
    """A history CSV with every column but `text_columns` numeric (a torn cell becomes NaN, not text)."""
    table = read_csv(path, problems, text_columns, numeric=True)
    if table is not None and "epoch" in table and table["epoch"].isna().any():
        table = table.dropna(subset=["epoch"])
    return table


def read_csv(path, problems, text_columns=(), numeric=False):
    """A CSV as a table; None (and a problem noted) if it cannot be read.

    nnlab's writers end every row with a newline, so a file that does not end with one was cut off mid-row
    (copied half-way, disk full): its torn last line is dropped rather than read as a row of wrong numbers.
    Parsed with the csv module rather than pandas' parser, whose fixed cost per call dominates for small files:
    the report reads every run's history, and must stay fast at hundreds of runs.

    Args:
      text_columns: columns kept as text (trial ids such as "07" are names, not numbers).
      numeric: every other column is a number, a bad cell NaN; otherwise a column with any non-number stays text.
    """
    try:
        text = local_text(path, errors="replace")
    except FileNotFoundError:
        problems.append(f"{path.name} missing")
        return None
    except OSError as error:
        problems.append(_unreadable(path, error))
        return None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        problems.append(f"{path.name} truncated (torn last line dropped)")
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        problems.append(f"{path.name} empty")
        return None
    header, body = rows[0], [row for row in rows[1:] if len(row) == len(rows[0])]
    if len(body) < len(rows) - 1:
        problems.append(f"{path.name}: {len(rows) - 1 - len(body)} malformed rows skipped")
    columns = {}
    for index, name in enumerate(header):
        cells = [row[index] for row in body]
        columns[name] = cells if name in text_columns else _numbers(cells, numeric)
    return pd.DataFrame(columns)


def _numbers(cells, force):
    """Cells as ints or floats ('' and, when forced, anything unreadable as NaN); the text itself if not all are."""
    values = []
    for cell in cells:
        try:
            values.append(int(cell))
        except ValueError:
            try:
                values.append(float(cell))
            except ValueError:
                if cell and not force:
                    return [cell or None for cell in cells]
                values.append(math.nan)
    return values


def _json(path, problems, required=True):
    """A JSON object from `path`, or {} when missing or broken (noted in `problems`; missing only if required)."""
    try:
        data = json.loads(local_text(path))
    except FileNotFoundError:
        if required:
            problems.append(f"{path.name} missing")
        return {}
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        problems.append(_unreadable(path, error))
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object")
        return {}
    return data


def _unreadable(path, error):
    return str(error) if isinstance(error, OutsideError) else f"{path.name} unreadable ({type(error).__name__})"


class OutsideError(OSError):
    """The file is a symlink that leads out of its directory; the report does not read it."""


def inside(path, directory):
    """True when `path`, with symlinks followed, lies inside `directory` (with symlinks followed)."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))
    except (OSError, ValueError):
        return False


def local_text(path, errors="strict"):
    """A file's text, if it lies inside its own directory (raises OutsideError for a symlink that leads out)."""
    return local_file(path)[0].decode("utf-8", errors=errors)


def local_file(path):
    """(bytes, permission bits) of a file inside its own directory; raises OSError (OutsideError) otherwise."""
    path = Path(path)
    if not inside(path, path.parent):
        raise OutsideError(f"{path.name} is a link to a file outside its directory; not read")
    mode = os.stat(path).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a named pipe would block the report for ever
        raise OutsideError(f"{path.name} is not a regular file; not read")  # (a directory: IsADirectoryError)
    with open(path, "rb") as stream:
        return stream.read(), stat.S_IMODE(os.fstat(stream.fileno()).st_mode)


def _dict(value):
    return value if isinstance(value, dict) else {}


def _subdirs(path, root):
    """Subdirectories of `path` that lie inside the results tree `root` (a symlink out of it does not count)."""
    try:
        children = [child for child in path.iterdir() if child.is_dir() and not child.name.startswith(".")]
    except OSError:
        return []
    return [child for child in children if inside(child, root)]


def _looks_like_run(path):
    return path.name != SWEEPS and (
        RUN_ID.match(path.name) is not None or (path / layout.CONFIG).exists() or (path / layout.STATUS).exists()
    )
