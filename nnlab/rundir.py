"""One fresh directory per run, `results/<exp>/<run-id>/`, and the small files that describe it.

Run ids sort by start time and never collide: the id carries random bits and the directory is created with
an exclusive mkdir, so two runs started in the same second get two directories.
"""

import dataclasses
import datetime
import secrets
import time
from pathlib import Path

from nnlab import atomic

STATUS_FILE = "status.json"


@dataclasses.dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self):
        return self.path.name

    def file(self, name):
        return self.path / name

    def set_status(self, status, message=None, **extra):
        """Record running / done / failed (with the user-facing message) in status.json."""
        record = {"status": status, "updated": _now(), **extra}
        if message:
            record["message"] = message
        atomic.write_json(self.file(STATUS_FILE), record)

    def status(self):
        try:
            return atomic.read_json(self.file(STATUS_FILE))["status"]
        except (OSError, ValueError, KeyError):
            return "unknown"


def create(results_dir, experiment_name):
    """Make and return a new, empty run directory under results_dir/experiment_name."""
    parent = Path(results_dir) / experiment_name
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        try:
            (parent / run_id).mkdir()
        except FileExistsError:
            continue
        return RunDir(parent / run_id)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
