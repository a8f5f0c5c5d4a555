"""Bounded reads: a file nnlab reads must be a regular file under a size cap, and JSON must nest shallowly.

`/dev/zero`, a FIFO, a 1 GB file or a 2 KB JSON nested 100,000 levels each count as unreadable (an
`Unreadable` error, a ValueError), never as a hang, an exhausted memory or a RecursionError traceback.
"""

import json
import os
import re
import stat

import numpy as np

from nnlab.results import limits

_ESCAPED = re.compile(rb"\\.", re.DOTALL)


class Unreadable(ValueError):
    """The file breaks a limit (not a regular file, too large, too deep) or is not what it should be."""


class OverLimit(Unreadable):
    """The file breaks one of nnlab's limits (size, nesting, digits): not damaged, but more than nnlab reads."""


class TooLarge(OverLimit):
    """The file holds more bytes than the limit; `size` is how many (for a message such as "not shown (N bytes)")."""

    def __init__(self, message, size):
        super().__init__(message)
        self.size = size


def read_bytes(path, max_bytes):
    """The bytes of `path`, a regular file of at most `max_bytes` (`open_regular`); raises Unreadable otherwise
    (OSError as is)."""
    return read_file(path, max_bytes)[0]


def read_file(path, max_bytes, *, dir_fd=None, follow_symlinks=True):
    """(bytes, os.stat_result) of a regular file of at most `max_bytes`, both from the one open descriptor.

    Args:
      dir_fd: open directory that a relative `path` is taken in (as os.open's).
      follow_symlinks: False refuses a symlink at `path` itself (OSError ELOOP), as a writer's own files need.
    Raises:
      Unreadable: not a regular file; TooLarge (an Unreadable): more than `max_bytes`. OSError as is.
    """
    with open_regular(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks) as stream:
        descriptor = stream.fileno()
        info = os.fstat(descriptor)
        if info.st_size > max_bytes:
            raise TooLarge(f"{path} holds {info.st_size} bytes, more than the {max_bytes} nnlab reads", info.st_size)
        chunks, size = [], 0
        while True:
            chunk = os.read(descriptor, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:  # grew while being read
                raise TooLarge(f"{path} holds more than the {max_bytes} bytes nnlab reads", size)
        return b"".join(chunks), info


def open_regular(path, *, dir_fd=None, follow_symlinks=True):
    """`path` opened to read bytes, if it is a regular file; raises Unreadable otherwise (OSError as is).

    Opened non-blocking, so a FIFO does not wait for a writer; checked with fstat on the open descriptor, so a
    file swapped in between the check and the read is the one checked.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    descriptor = os.open(path, flags, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise Unreadable(f"{path} is not a regular file")
    except BaseException:
        os.close(descriptor)
        raise
    return open(descriptor, "rb")


def read_text(path, max_bytes):
    """`read_bytes` decoded as UTF-8 (Unreadable if it is not)."""
    data = read_bytes(path, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Unreadable(f"{path} is not UTF-8 text (byte {error.start})") from None


def read_json(path, max_bytes=limits.JSON_MAX_BYTES, max_depth=limits.JSON_MAX_DEPTH):
    """Parse `path` as JSON within the limits; raises Unreadable (a ValueError) for anything else."""
    return loads(read_text(path, max_bytes), where=path, max_depth=max_depth)


def loads(text, where="JSON", max_depth=limits.JSON_MAX_DEPTH):
    """json.loads with a nesting limit checked before parsing and integers of at most JSON_MAX_INT_DIGITS."""
    depth = nesting_depth(text)
    if depth > max_depth:
        raise OverLimit(f"{where} nests {depth} levels deep, more than the {max_depth} nnlab reads")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except (ValueError, RecursionError) as error:
        if isinstance(error, Unreadable):
            raise type(error)(f"{where}: {error}") from None
        raise Unreadable(f"{where} is not valid JSON ({str(error)[:200]})") from None


def nesting_depth(text, chunk_bytes=1 << 20):
    """The deepest nesting of [ and { in JSON text, brackets inside strings not counted (no recursion)."""
    return measure(text, chunk_bytes)[0]


def measure(text, chunk_bytes=1 << 20):
    """(deepest nesting, items) of JSON text without parsing it: items counts the commas and opening brackets
    outside strings (about one per value parsed), a measure of the memory its parsed form takes.

    Counted a chunk at a time, so a 256 MB tuner file costs a few MB of working memory, not several GB.
    """
    raw = _ESCAPED.sub(b"__", text.encode("utf-8"))  # an escaped quote or backslash is no string boundary
    inside_string, depth, deepest, items = 0, 0, 0, 1
    for start in range(0, len(raw), chunk_bytes):
        data = np.frombuffer(raw, dtype=np.uint8, count=min(chunk_bytes, len(raw) - start), offset=start)
        quote = data == ord('"')
        outside = (np.cumsum(quote, dtype=np.int64) - quote + inside_string) % 2 == 0  # after an even number
        opening = (data == ord("[")) | (data == ord("{"))
        step = opening.astype(np.int8) - (data == ord("]")) - (data == ord("}"))
        step[~outside] = 0
        levels = np.cumsum(step, dtype=np.int64) + depth
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
        inside_string = (inside_string + int(quote.sum())) % 2
        items += int(np.count_nonzero(outside & (opening | (data == ord(",")))))
    return deepest, items


def _bounded_int(text):
    digits = len(text.lstrip("-"))
    if digits > limits.JSON_MAX_INT_DIGITS:
        raise OverLimit(f"an integer of {digits} digits, more than the {limits.JSON_MAX_INT_DIGITS} nnlab reads")
    return int(text)
