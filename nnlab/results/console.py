"""nnlab's own console lines: hidden characters shown, long values cut, and never fatal to the work.

Two jobs, both for the `nnlab` command's output:
- **Best effort.** A run's output may go to a pipe whose reader has gone (`nnlab run ... | head -1`), or to a
  descriptor closed from the start (`>&-`, `2>&-`); neither is a reason to stop training. Inside
  `best_effort_streams()` (the command runs in it) Python's stdout and stderr never raise: the first write that
  fails points that descriptor at /dev/null, so later writes by Python, TensorFlow's C++ logging, Keras' progress
  bar and the interpreter's flush at exit all succeed. Descriptors 0-2 closed at start are opened on /dev/null
  first, so that no file nnlab opens later takes their number and receives other programs' output.
- **Text that cannot lie.** A recorded string (a Choice value, a directory name, a module's docstring) may hold
  U+202E or a terminal escape, and a bad value may be 130 KB long. nnlab's own lines go through `say` (and the
  `nnlab` logger's `Handler`), which shows every hidden character as \\uXXXX (text.visible); an error paragraph
  goes through `error`, which also cuts every over-long value (`shown_error`), wherever the message was built.
"""

import contextlib
import logging
import os
import re
import sys

from nnlab.results import limits, text

_LONG_WORD = re.compile(rf"\S{{{limits.ERROR_VALUE_CHARS + 1},}}")  # a value or path too long to quote whole
_SENTENCE_END = re.compile(r"[.,;:)]{0,2}$")


def say(line, stream=None):
    """Print one of nnlab's own lines, every hidden character made visible; a failing stream is not an error."""
    stream = stream if stream is not None else sys.stderr
    if stream is None:  # a library caller whose descriptor was closed at start
        return
    try:
        _encodable_write(stream, text.visible(line) + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


said = set()  # the keys of `say_once` lines already printed by this process


def say_once(key, line):
    """`say(line)` the first time this process meets `key`, nothing after; True if it was said. A sweep or a study
    builds a model per trial, and a warning about the module is worth one line, not one per trial."""
    if key in said:
        return False
    said.add(key)
    say(line)
    return True


def is_terminal(stream):
    """Whether `stream` is a terminal; False for None (a library caller's closed descriptor) or a closed stream."""
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


def error(message, prefix="nnlab: error: "):
    """Print an error paragraph to stderr: visible, with every value cut to ERROR_VALUE_CHARS (`shown_error`)."""
    say(prefix + shown_error(message))


def shown_error(message):
    """`message` as an error paragraph shows it: hidden characters visible, no value longer than it should be.

    Messages are built in many places from values a user or a file supplied, so the cut happens here, once:
    a run of ERROR_VALUE_CHARS+ characters without a space (a value, a path) keeps ERROR_VALUE_CHARS of them
    and says how long it was; a paragraph still over ERROR_MESSAGE_CHARS (a long value with spaces in it)
    keeps its start and its end, where the fix is written.
    """
    shown = _LONG_WORD.sub(_clipped_word, text.visible(message))
    if len(shown) <= limits.ERROR_MESSAGE_CHARS:
        return shown
    tail = limits.ERROR_MESSAGE_CHARS // 4
    head = limits.ERROR_MESSAGE_CHARS - tail
    return f"{shown[:head]}… ({len(shown) - head - tail} characters left out) …{shown[-tail:]}"


def _clipped_word(match):
    """A long word cut to ERROR_VALUE_CHARS, less the punctuation that ends its sentence; a value `text.quoted`
    already cut (ERROR_VALUE_CHARS characters and "…") is left as it is."""
    word = match.group(0)
    ending = _SENTENCE_END.search(word).group(0)
    body = word[: len(word) - len(ending)]
    if len(body) <= limits.ERROR_VALUE_CHARS or (len(body) == limits.ERROR_VALUE_CHARS + 1 and body.endswith("…")):
        return word
    return text.clip(body, limits.ERROR_VALUE_CHARS) + ending


class Handler(logging.Handler):
    """The `nnlab` logger's console handler: `nnlab: <message>` through `say`, on the stderr of the moment.

    It looks sys.stderr up at each record rather than holding the stream it was created with, so a handler set up
    by one command in a process (a test, a notebook) never writes to a stream that has since been replaced.
    """

    def emit(self, record):
        try:
            line = self.format(record)
        except Exception:  # a bad format string in a log call: logging's own report, not a crash
            self.handleError(record)
            return
        say(line)


class _BestEffortStream:
    """A text stream whose write and flush never raise: the first failure sends its descriptor to /dev/null."""

    def __init__(self, stream):
        self._stream = stream
        self._broken = False

    def write(self, data):
        if not self._broken:
            try:
                return _encodable_write(self._stream, data)
            except (OSError, ValueError):  # EPIPE, EBADF, ENOSPC on a redirect; ValueError: the file was closed
                self._give_up()
        return len(data)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if not self._broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._give_up()

    def isatty(self):
        try:
            return not self._broken and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name):  # encoding, fileno, buffer, ...: the real stream's
        return getattr(self._stream, name)

    def _give_up(self):
        """Drop this stream's output from now on, at the descriptor too, so nobody else fails on it either."""
        self._broken = True
        try:
            descriptor = self._stream.fileno()
        except (OSError, ValueError, AttributeError):
            return  # no descriptor (an in-memory stream): dropping Python's writes is all there is to do
        _point_at_null(descriptor)
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()  # what was buffered for the dead reader now drains into /dev/null


def _encodable_write(stream, data):
    """stream.write(data); characters the stream's encoding lacks (an ASCII terminal) are written as escapes."""
    try:
        return stream.write(data)
    except UnicodeEncodeError:  # a ValueError, but the stream is fine: only these characters are not
        encoding = getattr(stream, "encoding", None) or "ascii"
        return stream.write(data.encode(encoding, "backslashreplace").decode(encoding))


def _point_at_null(descriptor):
    null = os.open(os.devnull, os.O_RDWR)
    if null != descriptor:
        os.dup2(null, descriptor)
        os.close(null)


def _open_closed_descriptors():
    """Put /dev/null on any of descriptors 0-2 that is closed, so a file opened later never takes its number."""
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            _point_at_null(descriptor)


@contextlib.contextmanager
def best_effort_streams():
    """Within the block sys.stdout and sys.stderr never raise (see the module docstring); restored after, flushed.

    The streams are flushed on the way out, so that nothing is left for the interpreter's own flush at exit to
    fail on (which would turn a finished run's exit code into 120).
    """
    _open_closed_descriptors()
    saved = sys.stdout, sys.stderr
    made = []  # text streams on /dev/null for descriptors that were closed at start (sys.stdout is then None)
    for descriptor, stream in ((1, saved[0]), (2, saved[1])):
        if stream is None:
            made.append(_null_text(descriptor))
    replacements = iter(made)
    sys.stdout = _BestEffortStream(saved[0] if saved[0] is not None else next(replacements))
    sys.stderr = _BestEffortStream(saved[1] if saved[1] is not None else next(replacements))
    ours = sys.stdout, sys.stderr
    try:
        yield
    finally:
        for stream in ours:
            stream.flush()
        if sys.stdout is ours[0] and sys.stderr is ours[1]:  # unless someone swapped them meanwhile
            sys.stdout, sys.stderr = saved
        for stream in made:
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def _null_text(descriptor):
    """A text stream on `descriptor`, which `_open_closed_descriptors` has pointed at /dev/null."""
    return open(descriptor, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
