"""Read results/ into plain records for the report, trusting nothing: any file may be missing or half written.

The report must describe a run that crashed, is still running or was copied half-way, so every reader here
returns what it could read plus a list of `problems` in words, and never raises for a bad file.

A results directory may be shared, so nothing here follows a symlink out of it: a directory counts only when its
real path lies inside the results tree, a file only when its real path lies inside its own run or sweep directory
(a `secret.png` linked to a file elsewhere is neither read nor copied into the report). And nothing here reads
more than nnlab.results.limits allows: a file that breaks a limit marks its run or sweep unreadable, a figure or
history above its size is named as not shown, and the report goes on.
"""

import dataclasses
import datetime
import os
import re
import stat
from pathlib import Path

import pandas as pd

from nnlab.report import csv_table
from nnlab.results import bounded, layout, limits

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
    unreadable: list = dataclasses.field(default_factory=list)  # files that broke a limit
    budgets: "Budgets" = dataclasses.field(default_factory=lambda: Budgets())

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
    unreadable: list = dataclasses.field(default_factory=list)  # files that broke a limit
    budgets: "Budgets" = dataclasses.field(default_factory=lambda: Budgets())

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
    """Every experiment under results_dir with its runs and sweeps, experiments by name, runs newest first.

    Every file is read through one set of Budgets, so one report reads and embeds a bounded amount in all.
    """
    results_dir = Path(results_dir)
    budgets = Budgets()
    experiments = []
    for directory in sorted(_subdirs(results_dir, results_dir)):
        if directory.name == REPORT_FILES:
            continue
        # Newest first, so that when a budget runs out it is the oldest runs and sweeps that are not read.
        paths = sorted((path for path in _subdirs(directory, results_dir) if _looks_like_run(path)), reverse=True)
        runs = [read_run(directory.name, path, budgets) for path in paths]
        paths = sorted(_subdirs(directory / SWEEPS, results_dir), reverse=True)
        sweeps = [read_sweep(directory.name, path, budgets) for path in paths]
        if runs or sweeps:
            experiments.append(ExperimentRecord(directory.name, runs, sweeps))
    return experiments


def read_run(experiment, path, budgets=None):
    run = RunRecord(experiment=experiment, path=path, budgets=budgets or Budgets())
    status = _json(path / layout.STATUS, run)
    run.status = status.get("status") if isinstance(status.get("status"), str) else "unknown"
    if status and run.status == "unknown":
        run.problems.append("status.json has no status")
    run.message, run.updated = str(status.get("message", "")), str(status.get("updated", ""))
    config = _json(path / layout.CONFIG, run)
    run.config, run.overrides = _dict(config.get("config")), _dict(config.get("overrides"))
    if config and not run.config:
        run.problems.append("config.json has no config record")
    run.env = _json(path / layout.ENVIRONMENT, run, required=run.status == "done")
    # A run still training or one that failed has no metrics.json by design; only a "done" run misses it.
    run.metrics = _json(path / layout.METRICS, run, required=run.status == "done")
    for csv_path in sorted(path.glob(layout.history("*"))):
        run.variants[csv_path.stem.removeprefix("history-")] = read_history(csv_path, run.problems, run.budgets)
    if (path / layout.history()).exists() or (run.status == "done" and not run.variants):
        run.history = read_history(path / layout.history(), run.problems, run.budgets)
    return run


def read_sweep(experiment, path, budgets=None):
    sweep = SweepRecord(experiment=experiment, path=path, budgets=budgets or Budgets())
    sweep.spec = _json(path / layout.SWEEP, sweep)
    # A sweep writes trials.csv after its first trial and best_config.json when it ends.
    if (path / layout.TRIALS).exists() or sweep.spec.get("status") == "done":
        sweep.trials = read_csv(
            path / layout.TRIALS, sweep.problems, ("trial_id", "status"), budget=sweep.budgets.history
        )
    if (path / layout.SWEEP_HISTORY).exists():
        sweep.history = read_history(path / layout.SWEEP_HISTORY, sweep.problems, sweep.budgets, ("trial_id",))
    sweep.best = _json(path / layout.BEST_CONFIG, sweep, required=sweep.spec.get("status") == "done")
    return sweep


def read_history(path, problems, budgets=None, text_columns=()):
    """A history CSV with every column but `text_columns` numeric (a torn cell becomes NaN, not text)."""
    budget = budgets.history if budgets is not None else None
    table = read_csv(path, problems, text_columns, numeric=True, kind="history", budget=budget)
    if table is not None and "epoch" in table and table["epoch"].isna().any():
        table = table.dropna(subset=["epoch"])
    return table


def read_csv(path, problems, text_columns=(), numeric=False, kind="table", budget=None):
    """A CSV nnlab wrote as a table; None (and a problem noted) if it cannot be read or breaks a limit.

    A file above HISTORY_MAX_BYTES is not read ("<kind> not shown (N bytes)"), nor one beyond what `budget` has
    left ("<kind> not shown (report full)"), nor one of more than CSV_MAX_COLUMNS columns; the parsing rules (torn
    last line, malformed rows, numbers, the leading ' of csv_cell) are nnlab.report.csv_table's.

    Args:
      text_columns: columns kept as text (trial ids such as "07" are names, not numbers).
      numeric: every other column is a number, a bad cell NaN; otherwise a column with any non-number stays text.
      kind: what the file holds, for the message when it is not read ("history", "table").
      budget: the report's Budget of CSV bytes (None: this file's own limit only).
    """
    room = limits.HISTORY_MAX_BYTES if budget is None else min(limits.HISTORY_MAX_BYTES, budget.left)
    try:
        data, _ = local_file(path, room)
    except FileNotFoundError:
        problems.append(f"{path.name} missing")
        return None
    except bounded.TooLarge as error:
        reason = f"{error.size} bytes" if error.size > limits.HISTORY_MAX_BYTES else REPORT_FULL
        problems.append(f"{path.name}: {kind} not shown ({reason})")
        return None
    except (OSError, ValueError) as error:
        problems.append(_unreadable(path, error))
        return None
    if budget is not None:
        budget.take(len(data))
    return csv_table.parse(data, path.name, problems, text_columns, numeric)


class Budget:
    """An amount (bytes, JSON items) one report may still read or embed, shared by every record of one scan."""

    def __init__(self, total):
        self.left = total

    def take(self, amount):
        """Reserve `amount`; False (and nothing reserved) when it does not fit."""
        if amount > self.left:
            return False
        self.left -= amount
        return True

    def release(self, amount):
        """Give back what was taken for something not kept after all (or kept in another form)."""
        self.left += amount


@dataclasses.dataclass
class Budgets:
    """What one report reads in all: figure bytes it embeds, history bytes it parses, JSON items it keeps.

    Each file has its own limit too; these bound a tree of many files each just under it (limits.REPORT_*).
    """

    figures: Budget = dataclasses.field(default_factory=lambda: Budget(limits.REPORT_FIGURES_MAX_BYTES))
    history: Budget = dataclasses.field(default_factory=lambda: Budget(limits.REPORT_HISTORY_MAX_BYTES))
    json: Budget = dataclasses.field(default_factory=lambda: Budget(limits.REPORT_JSON_MAX_ITEMS))


class NotShown(Exception):
    """A figure the report lists by name but neither embeds nor copies; `reason` says why, in a few words."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


SIZE_OR_TYPE = "size or type"
REPORT_FULL = "report full"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")


def figure(path, budget, kinds=("png", "gif")):
    """(bytes, permission bits, "png" or "gif") of an image file a run or sweep wrote, for the report to show.

    The kind is the file's signature, not its name. The bytes are taken from `budget`.

    Raises:
      NotShown: above FIGURE_MAX_BYTES, or not of one of `kinds` by its signature ("size or type"), or beyond
        what the report may still embed ("report full").
      OSError: missing, unreadable, or a link out of its directory (OutsideError).
    """
    try:
        data, mode = local_file(path, min(limits.FIGURE_MAX_BYTES, budget.left))
    except bounded.TooLarge as error:
        raise NotShown(SIZE_OR_TYPE if error.size > limits.FIGURE_MAX_BYTES else REPORT_FULL) from None
    except bounded.Unreadable:
        raise NotShown(SIZE_OR_TYPE) from None  # a FIFO, a device, a directory named *.png
    kind = "png" if data.startswith(PNG_SIGNATURE) else "gif" if data.startswith(GIF_SIGNATURES) else None
    if kind not in kinds:
        raise NotShown(SIZE_OR_TYPE)
    if not budget.take(len(data)):
        raise NotShown(REPORT_FULL)
    return data, mode, kind


def _json(path, record, required=True):
    """A JSON object from `path`, or {} when missing or broken (noted in the record's problems; missing only if
    required). A file that breaks a limit (size, nesting, digits), or holds more items than the report's JSON
    budget has left, also marks the record unreadable."""
    try:
        content = local_text(path, limits.JSON_MAX_BYTES)
        items, left = bounded.measure(content)[1], record.budgets.json.left
        if not record.budgets.json.take(items):
            raise bounded.OverLimit(f"{path} holds {items} JSON items, more than the {left} the report has left")
        data = bounded.loads(content, where=str(path))
    except FileNotFoundError:
        if required:
            record.problems.append(f"{path.name} missing")
        return {}
    except (OSError, ValueError) as error:  # bounded.Unreadable is a ValueError
        record.problems.append(_unreadable(path, error))
        if isinstance(error, bounded.OverLimit):
            record.unreadable.append(path.name)
        return {}
    if not isinstance(data, dict):
        record.problems.append(f"{path.name} is not a JSON object")
        return {}
    return data


def _unreadable(path, error):
    if isinstance(error, OutsideError):
        return str(error)
    if isinstance(error, bounded.Unreadable):  # its message starts with the path: keep the name and the reason
        return f"{path.name} unreadable ({str(error).removeprefix(str(path)).lstrip(': ').removeprefix('is ')})"
    return f"{path.name} unreadable ({type(error).__name__})"


class OutsideError(OSError):
    """The file is a symlink that leads out of its directory; the report does not read it."""


def inside(path, directory):
    """True when `path`, with symlinks followed, lies inside `directory` (with symlinks followed)."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))
    except (OSError, ValueError):
        return False


def local_text(path, max_bytes, errors="strict"):
    """A file's text, if it lies inside its own directory (raises OutsideError for a symlink that leads out)."""
    data = local_file(path, max_bytes)[0]
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as error:
        raise bounded.Unreadable(f"{path} is not UTF-8 text (byte {error.start})") from None


def local_file(path, max_bytes):
    """(bytes, permission bits) of a regular file of at most `max_bytes` inside its own directory.

    Raises:
      OutsideError (an OSError): a link out of the directory. bounded.Unreadable: not a regular file (a named pipe
      would block the report for ever), or bounded.TooLarge. OSError: missing or unreadable.
    """
    path = Path(path)
    if not inside(path, path.parent):
        raise OutsideError(f"{path.name} is a link to a file outside its directory; not read")
    data, info = bounded.read_file(path, max_bytes)
    return data, stat.S_IMODE(info.st_mode)


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
