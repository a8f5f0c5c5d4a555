"""Write files so that a reader, or a process killed mid-write, never sees half of one.

Every file nnlab writes goes through here: write a temporary file beside the target, flush it to disk, then
rename it over the target (rename is atomic on POSIX file systems).
"""

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def replacing(path, suffix=""):
    """Yield a temporary path beside `path`; on success rename it over `path`, on error delete it.

    `suffix` keeps the extension for writers that insist on one (Keras only saves to `*.keras`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(handle)
    os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; results should read like any other file
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except OSError as error:
        if error.filename is not None or error.errno is None:
            raise
        # A write to a full disk names no file; name the one being written, for the user's error message.
        raise type(error)(error.errno, error.strerror, str(path)) from error
    finally:
        tmp.unlink(missing_ok=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text):
    """Atomically replace `path` with `text`."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, data):
    """Atomically replace `path` with `data` as indented JSON (NaN written as null, never as bare NaN)."""
    write_text(path, json.dumps(_finite(data), indent=2, sort_keys=False) + "\n")


def read_json(path):
    """Read a JSON file written by `write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


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
