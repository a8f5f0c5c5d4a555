"""The one exception type for user mistakes.

Anything a user can fix (a bad override, a broken experiment module, bad data) raises `NnlabError` with one
paragraph naming the file or field and the fix. The CLI prints that paragraph alone; every other exception is a
bug in nnlab and keeps its traceback.
"""

import errno
import os
import re


class NnlabError(ValueError):
    """A user-fixable problem; `str(error)` is the whole message."""


def first_line(error):
    """The first line of an exception's message (or its type's name): what a one-paragraph error quotes of it."""
    text = message(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def message(error):
    """`str(error)`, or a line saying it cannot be shown: module code may raise an exception whose own `__str__`
    fails, and the paragraph reporting it must not turn into a traceback of that second failure."""
    try:
        return str(error)
    except Exception as broken:  # noqa: BLE001 - anything its __str__ raises
        return f"(its message cannot be shown: str() raised {type(broken).__name__})"


# Errors of the user's file system rather than of nnlab: each gets a paragraph with its fix instead of a traceback.
_ENVIRONMENT_ADVICE = {
    errno.ENOSPC: "the disk is full. Free space there and run the same command again (add --resume to continue a run)",
    errno.EDQUOT: "the disk quota is exhausted. Free space there and run the same command again",
    errno.EROFS: "the file system is read-only. Point --results (or $NNLAB_RESULTS, $NNLAB_CACHE) at a writable "
    "directory",
    errno.EACCES: "permission denied. Make it writable for this user, or point --results (or $NNLAB_RESULTS, "
    "$NNLAB_CACHE) at a directory you own",
    errno.EPERM: "operation not permitted. Make it writable for this user, or point --results (or $NNLAB_RESULTS, "
    "$NNLAB_CACHE) at a directory you own",
    errno.ENOTDIR: "a part of that path is a file, not a directory. Point --results (or $NNLAB_RESULTS, "
    "$NNLAB_CACHE) at a directory, or move the file away",
    errno.EISDIR: "it is a directory where nnlab expects a file. Move the directory away or name a file",
    errno.EEXIST: "a file is in the way of a directory nnlab needs. Move it away or point --results elsewhere",
}


def from_os_error(error):
    """The NnlabError for an error a user's environment causes (disk full, read-only, not a directory ...), or
    None for any other error, which stays a bug with its traceback.

    Takes an OSError, or TensorFlow's own error for the same cause: TensorFlow writes its event and checkpoint
    files in C++ and reports a full disk as ResourceExhaustedError, not as an OSError.
    """
    if isinstance(error, OSError):
        advice = _ENVIRONMENT_ADVICE.get(error.errno)
        if advice is None:
            return None
        where = " -> ".join(str(name) for name in (error.filename, error.filename2) if name) or "a results file"
        return NnlabError(f"cannot write or read {where} ({error.strerror or error}): {advice}.")
    if not type(error).__module__.startswith("tensorflow"):
        return None
    said = re.sub(r"\{\{.*?\}\}\s*", "", str(error).strip().splitlines()[0] if str(error).strip() else "")
    for code, advice in _ENVIRONMENT_ADVICE.items():
        if os.strerror(code).lower() in said.lower():  # TensorFlow writes "... is not a directory"
            return NnlabError(f"TensorFlow cannot write {said[:300]}: {advice}.")
    return None
