"""One writer per sweep: a lock file in the sweep directory naming the process that plays the sweep's chief role.

Two identical `nnlab tune` commands would otherwise both train every trial into the same tuner/trial_N/
directories. The lock is a file created with O_EXCL (atomic on POSIX and on NFSv3+) holding the owner's pid and
host. Only the chief role takes it: a sweep started alone, nnlab's own launcher of a chief and workers, or a chief
started by hand. Workers joining a distributed sweep never take it; they are expected.

A lock whose pid is dead on this host is stale (a kill -9, a power cut) and is taken over, so it never blocks
`--resume` or running the same command again. So is a lock whose pid is no process id at all (1e30, 0, -1, true:
status.valid_pid), wherever it was written, and one that cannot be read once FRESH_SECONDS have passed. What the
lock cannot see: a lock written on another host cannot be checked from here (its pid means nothing here), so it is
honoured until removed by hand; the message says how. A dead pid that the system has since given to an unrelated
process on this host also looks alive.
"""

import contextlib
import datetime
import json
import os
import socket
import time
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.results import bounded, layout, status

FILE = layout.CHIEF_LOCK
FRESH_SECONDS = 5  # an empty or unreadable lock this young is being written by its owner right now


@contextlib.contextmanager
def held(directory, what="sweep", again="run the same command again"):
    """Hold the lock of `directory` for the block; raise NnlabError if a live process holds it.

    Args:
      directory: the sweep directory (created if missing).
      what: the thing locked, for the message.
      again: what the user does once the other writer has ended.
    """
    path = Path(directory) / FILE
    acquire(path, what, again)
    try:
        yield path
    finally:
        release(path)


def acquire(path, what, again):
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    for _ in range(3):  # a stale lock removed, then taken; a race with another taker ends in one of us refusing
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = _read(path)
            if _alive(owner, path) or (not owner and _younger_than(path, FRESH_SECONDS)):
                raise NnlabError(_refusal(path, owner, what, again)) from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(descriptor, "w") as stream:
            json.dump(record, stream)
        return
    raise NnlabError(_refusal(path, _read(path), what, again))


def release(path):
    """Remove the lock if this process holds it (a taken-over stale lock belongs to someone else now)."""
    owner = _read(path)
    if owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a sweep that failed its checks before writing anything leaves no folder
            path.parent.rmdir()


def _read(path):
    try:
        owner = bounded.read_json(path)
    except (OSError, ValueError):
        return {}  # being written this instant (see FRESH_SECONDS), damaged, or breaking a limit (bounded.Unreadable)
    return owner if isinstance(owner, dict) else {}


def _younger_than(path, seconds):
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False


def _alive(owner, path):
    if not owner:
        return False  # unreadable: no owner to wait for
    local = owner.get("host") == socket.gethostname()
    pid = status.recorded_pid(owner, path, local)  # no process id at all (1e30, 0, -1): stale, wherever it ran
    if pid is None:
        return False
    return status.pid_exists(pid) if local else True  # another machine's pid cannot be checked from here


def _refusal(path, owner, what, again):
    host = owner.get("host", "?")
    where = "on this machine" if host == socket.gethostname() else f"on host {host}"
    return (
        f"This {what} is already being run by process {owner.get('pid', '?')} {where} (since "
        f"{owner.get('started', '?')}; lock file {path}). Two chiefs would train the same trials into the same "
        f"directories. Wait for it to end or stop it, then {again}; to add this machine to a distributed sweep, "
        f"start it as a worker (KERASTUNER_TUNER_ID=worker<i>). If that process is gone on another host, delete "
        f"{path}."
    )
