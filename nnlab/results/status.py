"""The statuses a run (status.json) or a sweep (sweep.json) can record, in one place, and how a signal ends one.

A status says what a reader may do next: `--resume` (runs) or the same command again (sweeps) continues every
status in RESUMABLE; DONE is finished (an early-stopped run is done too). Other issues add statuses here.

A job scheduler, `timeout` or `docker stop` ends a process with SIGTERM, a user with Ctrl-C (SIGINT).
`interruptible()` turns both into `Interrupted`, so that the writer can record INTERRUPTED with the command
that continues, instead of dying with `running` on disk; the CLI then exits with the signal's code (128 + the
signal number: 143 or 130), so a scheduler still sees a pre-emption.
"""

import contextlib
import os
import signal
import threading

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


def pid_exists(pid):
    """Whether process `pid` exists on this host (another user's counts); False for a pid that is not a number."""
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
