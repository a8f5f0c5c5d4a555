"""Write files so that a reader, or a process killed mid-write, never sees half of one.

Every file nnlab writes goes through here: write a temporary file beside the target, flush it to disk, then
rename it over the target (rename is atomic on POSIX file systems). The temporary file is created with the final
file's permission bits (O_EXCL, so never through a link someone left at its name), and removed on any error,
SIGTERM or Ctrl-C included (those arrive as exceptions: nnlab.results.status.interruptible).
"""

import contextlib
import json
import math
import os
import secrets
from pathlib import Path

from nnlab.results import bounded

FILE_MODE = 0o666  # the process's umask applies, as for any file a program creates
TEMPORARY_SUFFIX = ".tmp"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@contextlib.contextmanager
def replacing(path, suffix="", mode=FILE_MODE):
    """Yield a temporary path beside `path`; on success rename it over `path`, on error delete it.

    Args:
      suffix: keeps the extension for writers that insist on one (Keras only saves to `*.keras`).
      mode: permission bits the temporary file is created with (less the umask), so the final file's.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    claimed = []
    try:
        name, descriptor = _create(path.parent, path.name, suffix or TEMPORARY_SUFFIX, mode, None, claimed)
        os.close(descriptor)
        tmp = path.parent / name
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
        claimed.clear()
    except OSError as error:
        if error.filename is not None or error.errno is None:
            raise
        # A write to a full disk names no file; name the one being written, for the user's error message.
        raise type(error)(error.errno, error.strerror, str(path)) from error
    finally:
        for name in claimed:
            (path.parent / name).unlink(missing_ok=True)


def write_in(directory_fd, name, chunks, mode=FILE_MODE):
    """Atomically replace `name` inside an open directory with `chunks` (bytes, or an iterable of bytes/str).

    Follows no symlink: the temporary file is created O_EXCL|O_NOFOLLOW relative to `directory_fd`, and the rename
    replaces whatever entry `name` is (a link included), never the file a link points to. Writing chunk by chunk
    keeps a large report from being held in memory twice.
    """
    claimed = []
    try:
        tmp, descriptor = _create(None, name, TEMPORARY_SUFFIX, mode, directory_fd, claimed)
        with os.fdopen(descriptor, "wb") as stream:
            for chunk in [chunks] if isinstance(chunks, (bytes, str)) else chunks:
                stream.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
        claimed.clear()
    finally:
        for leftover in claimed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover, dir_fd=directory_fd)


def temporary_name_of(name, temporary):
    """Whether `temporary` is a name this module gives a temporary file of `name` (.<name>.<random>.tmp)."""
    return temporary.startswith(f".{_stem(name)}.") and temporary.endswith(TEMPORARY_SUFFIX)


def _create(directory, name, suffix, mode, directory_fd, claimed):
    """(name, open descriptor) of a new, empty temporary file beside `name`.

    Each candidate name goes into `claimed` before the file is created, so a signal that arrives just after the
    creation still finds it in the caller's clean-up list.
    """
    for _ in range(100):
        candidate = f".{_stem(name)}.{secrets.token_hex(6)}{suffix}"
        claimed.append(candidate)
        target = candidate if directory is None else os.path.join(directory, candidate)
        try:
            return candidate, os.open(target, _CREATE, mode, dir_fd=directory_fd)
        except FileExistsError:
            claimed.pop()  # someone else's file: never ours to delete
    raise FileExistsError(f"no free temporary name beside {name}")


def _stem(name):
    return name[:200]  # room for the random part and suffix within the 255 bytes of a file name


def write_text(path, text, mode=FILE_MODE):
    """Atomically replace `path` with `text`."""
    with replacing(path, mode=mode) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, data):
    """Atomically replace `path` with `data` as indented JSON (NaN written as null, never as bare NaN)."""
    write_text(path, json.dumps(_finite(data), indent=2, sort_keys=False) + "\n")


def read_json(path):
    """Read a JSON file written by `write_json`, within nnlab.results.bounded's limits (Unreadable, a ValueError)."""
    return bounded.read_json(path)


def _finite(value):
    # Strict JSON has no NaN/Infinity; browsers and pandas choke on them, so store null.
    if hasattr(value, "item") and not hasattr(value, "__len__"):
        value = value.item()  # numpy scalar -> Python number
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
