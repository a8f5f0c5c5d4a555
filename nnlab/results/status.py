"""The statuses a run (status.json) or a sweep (sweep.json) can record, in one place, and how a signal ends one.

A status says what a reader may do next: `--resume` (runs) or the same command again (sweeps) continues every
status in RESUMABLE; DONE is finished (an early-stopped run is done too). Other issues add statuses here.

A job scheduler, `timeout` or `docker stop` ends a process with SIGTERM, a user with Ctrl-C (SIGINT).
`interruptible()` turns both into `Interrupted`, so that the writer can record INTERRUPTED with the command
that continues, instead of dying with `running` on disk; the CLI then exits with the signal's code (128 + the
signal number: 143 or 130), so a scheduler still sees a pre-emption.
"""

import contextlib
import logging
import os
import signal
import threading

from nnlab.results import bounded, limits, text

log = logging.getLogger(__name__)
PID_MAX_FILE = "/proc/sys/kernel/pid_max"

RUNNING = "running"
DONE = "done"
FAILED = "failed"
INTERRUPTED = "interrupted"

UNKNOWN = "unknown"  # not a status anyone writes: what a reader says when status.json is missing or unreadable

STATUSES = (RUNNING, DONE, FAILED, INTERRUPTED)
RESUMABLE = (RUNNING, FAILED, INTERRUPTED)  # a RUNNING one only once its process is gone (single-writer rule)


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived; a BaseException, like KeyboardInterrupt, so `except Exception` cannot swallow it."""

    def __init__(self, signum):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self):
        return 128 + self.signum


def interrupted_message(continue_with):
    """The sentence recorded with INTERRUPTED (and printed by the CLI) naming the command that continues."""
    return f"interrupted; continue it with: {continue_with}"


@contextlib.contextmanager
def interruptible():
    """Within the block, SIGTERM and SIGINT raise Interrupted (in the main thread only, where Python runs handlers).

    A KeyboardInterrupt raised otherwise (a test, an embedding program) passes through unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def pid_max():
    """The largest pid this host hands out: /proc/sys/kernel/pid_max, or limits.PID_MAX_FALLBACK without it."""
    try:
        value = int(bounded.read_text(PID_MAX_FILE, 64).strip())
    except (OSError, ValueError):
        return limits.PID_MAX_FALLBACK
    return value if value >= 1 else limits.PID_MAX_FALLBACK


def valid_pid(value, local=True):
    """`value` if it can be a process id, else None: a JSON integer (not a bool) in [1, pid_max].

    A record written on another host (`local=False`) is bounded by PID_MAX_FALLBACK, Linux's ceiling, since this
    host's pid_max says nothing about that one's.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= (pid_max() if local else limits.PID_MAX_FALLBACK) else None


def recorded_pid(record, where, local=True):
    """The pid a status record or lock names, or None when it names none: then the record is stale, and one line
    says so (1e30, 0, -1, true or "12" in a hand-edited or damaged file would otherwise crash or live for ever)."""
    pid = valid_pid(record.get("pid"), local)
    if pid is None:
        ceiling = pid_max() if local else limits.PID_MAX_FALLBACK
        log.warning(
            "%s records pid %s, which is no process id (an integer from 1 to %d); treating it as stale",
            where,
            text.quoted(record.get("pid")),
            ceiling,
        )
    return pid


def pid_exists(pid):
    """Whether process `pid` exists on this host (another user's counts); False for anything `valid_pid` refuses."""
    pid = valid_pid(pid)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
