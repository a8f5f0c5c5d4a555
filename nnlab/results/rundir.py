"""One fresh directory per run, `results/<exp>/<run-id>/`, and the small files that describe it.

Run ids sort by start time and never collide: the id carries random bits and the directory is created with
an exclusive mkdir, so two runs started in the same second get two directories.
"""

import dataclasses
import datetime
import os
import secrets
import socket
import time
from pathlib import Path

from nnlab.errors import NnlabError, first_line
from nnlab.results import atomic, bounded, console, layout, limits, paths, text
from nnlab.results import status as status_lib

MESSAGE_CHARS = 1000


@dataclasses.dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self):
        return self.path.name

    def file(self, name):
        return self.path / name

    def set_status(self, status, message=None, **extra):
        """Record one of nnlab.results.status.STATUSES (with the user-facing message) in status.json."""
        record = {"status": status, "updated": _now(), "pid": os.getpid(), "host": socket.gethostname(), **extra}
        if message:
            record["message"] = message
        atomic.write_json(self.file(layout.STATUS), record)

    def mark(self, status, message):
        """Record a final status where the disk still allows it; returns False when it did not (full, read-only).

        The message is cut to its first MESSAGE_CHARS characters: status.json is read by people and the report,
        and a TensorFlow error can run to pages.
        """
        try:
            self.set_status(status, message=message[:MESSAGE_CHARS])
        except OSError:
            return False
        return True

    def status(self):
        return self._record().get("status", status_lib.UNKNOWN)

    def _record(self):
        try:
            record = bounded.read_json(self.file(layout.STATUS))
        except (OSError, ValueError):  # missing, damaged, or breaking a limit (bounded.Unreadable): no record
            return {}
        return record if isinstance(record, dict) else {}

    def is_alive(self):
        """True if the process that last wrote `running` still exists (on this host); a record whose pid is no
        process id is stale (one line says so)."""
        record = self._record()
        if record.get("status") != status_lib.RUNNING or record.get("host") != socket.gethostname():
            return False
        return status_lib.pid_exists(status_lib.recorded_pid(record, self.file(layout.STATUS)))


def create(results_dir, experiment_name):
    """Make and return a new, empty run directory under results_dir/experiment_name."""
    parent = Path(results_dir) / experiment_name
    paths.check(parent / _new_id(), "the run directory (under --results or $NNLAB_RESULTS)")
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = _new_id()
        try:
            (parent / run_id).mkdir()
        except FileExistsError:
            continue
        return RunDir(parent / run_id)


def _new_id():
    """`20261206-063939-1f4a2c`: the start second, then its milliseconds as three hex digits (so that runs started
    in one second still sort newest last, as the report, nnlab.runs and --resume read them), then three random ones."""
    now = time.time()
    milliseconds = int(now % 1 * 1000)
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{milliseconds:03x}{secrets.token_hex(2)[:3]}"


def open_run(results_dir, experiment_name, record, resume=False):
    """The run directory for `record` (config.json's contents): with `resume`, the newest unfinished run of the same
    config; otherwise (or if there is none, which one line says) a new one, with config.json written."""
    run_dir = unfinished(results_dir, experiment_name, record["config"], record.get("overrides")) if resume else None
    if resume and run_dir is None:
        console.say(
            f"nnlab: --resume: no unfinished run of {experiment_name} with this config in "
            f"{Path(results_dir) / experiment_name}; starting a new run"
        )
    if run_dir is None:
        run_dir = create(results_dir, experiment_name)
        atomic.write_json(run_dir.file(layout.CONFIG), record)
    else:
        console.say(f"resuming run {run_dir.path}")
    return run_dir


def unfinished(results_dir, experiment_name, config, overrides=None):
    """The newest run of the experiment with `config` (see `same_config`) that did not finish, or None.

    Raises:
      NnlabError: that run's process is still alive, so resuming it would mean two writers.
    """
    parent = Path(results_dir) / experiment_name
    for path in sorted(parent.glob("*-*-*"), reverse=True):
        run_dir = RunDir(path)
        try:
            same = same_config(bounded.read_json(run_dir.file(layout.CONFIG))["config"], config, overrides)
        except (OSError, ValueError, KeyError, TypeError) as error:  # ValueError: bounded.Unreadable too
            _skip_unreadable(run_dir, error)
            continue
        if not same or run_dir.status() not in (*status_lib.RESUMABLE, status_lib.UNKNOWN):
            continue
        if run_dir.is_alive():
            raise NnlabError(
                f"Run {path} with this config is still running (pid {run_dir._record().get('pid')}); wait for "
                f"it or stop it before resuming, or drop --resume to start a separate run."
            )
        return run_dir
    return None


def same_config(recorded, config, overrides=None):
    """Whether a run that recorded `recorded` trained `config`: equal in every field it recorded.

    A field the run did not record was added (to nnlab.Config or the experiment) after it started; it matches
    only while it holds its default (it is not among `overrides`), so a new base field with a default, such as
    class_weight, does not orphan every unfinished run. Without `overrides`, every field must be recorded.
    """
    if not isinstance(recorded, dict) or set(recorded) - set(config):
        return False
    added = set(config) - set(recorded)
    if added and (overrides is None or added & set(overrides)):
        return False
    return all(recorded[key] == value for key, value in config.items() if key in recorded)


def _skip_unreadable(run_dir, error):
    """A run whose config.json is damaged cannot be matched to a config, so --resume cannot continue it: say so,
    and mark it failed when its process is gone, so that it does not show as running for ever."""
    if run_dir.status() == status_lib.DONE:
        return
    message = (
        f"{run_dir.file(layout.CONFIG)} cannot be read ({_why(error)}), so --resume cannot tell whether "
        f"this run has your config and does not continue it. Start a new run, or restore config.json and resume."
    )
    console.say(f"nnlab: skipping {run_dir.path}: {message}")
    if not run_dir.is_alive():
        run_dir.mark(status_lib.FAILED, message)


def _why(error):
    """What is wrong with a config.json, briefly: what bounded.read_json found (not JSON, a limit broken), or the
    error's type (a missing `config` entry)."""
    if isinstance(error, bounded.Unreadable):
        return text.clip(first_line(error), limits.ERROR_VALUE_CHARS)
    return type(error).__name__


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
