"""Directories nnlab will create, checked against the file system's limits before anything is written.

A component over NAME_MAX, or a path over PATH_MAX, otherwise fails deep inside a writer ("File name too long")
after some files exist. The limits are the file system's own (os.pathconf on the nearest existing ancestor);
each check keeps PATH_RESERVE_BYTES free beneath the directory for the files nnlab writes there.
"""

import errno
import os
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.results import limits, text

NAME_MAX_FALLBACK = 255  # where pathconf cannot tell (POSIX's usual values)
PATH_MAX_FALLBACK = 4096


def results_dir(value=None, flag="--results"):
    """The results directory: `value` (the command's flag or a notebook's argument), else $NNLAB_RESULTS, else
    ./results. An empty one is an error rather than the current directory."""
    if value is not None:
        source = flag
    elif "NNLAB_RESULTS" in os.environ:
        value, source = os.environ["NNLAB_RESULTS"], "$NNLAB_RESULTS"
    else:
        return Path("results")
    if not str(value).strip():
        raise NnlabError(
            f"{source} is empty, which would write results into the current directory; give a directory, e.g. "
            f"{source.lstrip('$')}=results, or {'unset it' if source.startswith('$') else 'leave the flag out'} "
            f"for ./results."
        )
    check(value, source, utf8=False)  # reading such a tree works; `run` and `tune` check their own directory
    return Path(value)


def check(path, what, reserve=limits.PATH_RESERVE_BYTES, utf8=True):
    """Raise NnlabError if directory `path` cannot be created with `reserve` bytes of path left beneath it.

    Args:
      path: the directory nnlab will create (or use).
      what: what the user set that made it (`--results`, `NNLAB_RUN_ID`, `sweep=<name>` ...), for the message.
      reserve: path bytes to keep free beneath `path`.
      utf8: the path must be UTF-8, as TensorFlow needs of a directory it writes into (its TensorBoard writer
        raised a UnicodeEncodeError at the first batch, reported as a loss that does not fit the labels).
    """
    absolute = os.path.abspath(path)
    if utf8 and not _is_utf8(absolute):
        raise NnlabError(
            f"{what}: the path {text.quoted(absolute)} holds bytes that are not UTF-8 (shown as \\udcXX), and "
            f"TensorFlow writes its files only under UTF-8 paths; choose a directory whose name is UTF-8."
        )
    try:
        os.stat(absolute)
    except OSError as error:
        if error.errno == errno.ELOOP:  # every later open would fail with the same "Too many levels" traceback
            raise NnlabError(
                f"{what}: {text.quoted(str(path))} leads through a symbolic link that loops (or a chain of more "
                f"than the system follows), so nothing can be read or written there. Fix or remove the link, or "
                f"point {what} elsewhere."
            ) from None
    name_max, path_max = limits_at(absolute)
    for part in Path(absolute).parts[1:]:
        size = len(os.fsencode(part))
        if size > name_max:
            raise NnlabError(
                f"{what}: the path component {text.quoted(part)} is {size} bytes long, more than this file "
                f"system's limit of {name_max} bytes per name (NAME_MAX); choose a shorter name."
            )
    size = len(os.fsencode(absolute))
    if size + reserve >= path_max:
        raise NnlabError(
            f"{what}: the path {text.quoted(absolute)} is {size} bytes long; with the {reserve} bytes nnlab needs "
            f"beneath it, that passes this file system's limit of {path_max} bytes per path (PATH_MAX). Choose a "
            f"shorter path."
        )


def _is_utf8(name):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode's \udcXX for a byte that is not UTF-8
        return False
    return True


def name_max(directory):
    """The longest file name, in bytes, that `directory` (or its nearest existing ancestor) takes."""
    return limits_at(os.path.abspath(directory))[0]


def limits_at(absolute):
    """(NAME_MAX, PATH_MAX) of the file system holding the nearest existing ancestor of `absolute`."""
    existing = absolute
    while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    return _pathconf(existing, "PC_NAME_MAX", NAME_MAX_FALLBACK), _pathconf(existing, "PC_PATH_MAX", PATH_MAX_FALLBACK)


def _pathconf(path, name, fallback):
    try:
        value = os.pathconf(path, name)
    except (OSError, ValueError):
        return fallback
    return value if value and value > 0 else fallback
