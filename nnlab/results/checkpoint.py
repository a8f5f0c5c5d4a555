"""Per-epoch training state, saved atomically, so a killed run resumes to the same bits.

Keras' BackupAndRestore writes its files in place (a kill mid-write leaves a 0-byte file) and does not promise
to restore the dropout seed generators, so nnlab keeps its own: every model variable (weights, seed-generator
states) and every optimizer variable (iteration count, moments), in one .npz replaced by rename after each epoch.
With the per-epoch data order of nnlab.train.loop, training resumed from epoch k ends bitwise equal to a
run that was never interrupted (tests/test_resume.py).
"""

import contextlib
import json
import zipfile

import numpy as np

from nnlab.errors import NnlabError
from nnlab.results import atomic, bounded, layout

FILE = layout.checkpoint()


def _variables(model):
    return list(model.variables) + list(model.optimizer.variables)


def save(model, path, next_epoch, extra=None):
    """Write every variable of `model` and its optimizer, the epoch to resume from, and `extra` (JSON-able)."""
    arrays = {f"v{index}": np.asarray(variable.numpy()) for index, variable in enumerate(_variables(model))}
    meta = {
        "next_epoch": int(next_epoch),
        "paths": [variable.path for variable in _variables(model)],
        "extra": extra or {},
    }
    with atomic.replacing(path, suffix=".npz") as tmp:
        np.savez(tmp, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


def restore(model, path):
    """Load a checkpoint into a compiled `model`; returns the epoch to resume from.

    Raises:
      NnlabError: the file is unreadable or was written by a different model.
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    variables = _variables(model)
    try:
        with _load(path) as stored:
            meta = _meta(stored)
            arrays = [stored[f"v{index}"] for index in range(len(meta["paths"]))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise NnlabError(
            f"{path} cannot be read ({type(error).__name__}: {error}); the run cannot resume from it. "
            f"Delete the file to restart this run from epoch 0, or start a new run without --resume."
        ) from None
    # Shapes, not paths: Keras numbers auto-generated layer names per process, so paths differ in a notebook.
    if len(arrays) != len(variables) or any(
        array.shape != tuple(variable.shape) for array, variable in zip(arrays, variables, strict=True)
    ):
        raise NnlabError(
            f"{path} holds a different model's state (variables or shapes differ from what build_model "
            f"builds now); the run cannot resume from it. Start a new run without --resume."
        )
    for variable, array in zip(variables, arrays, strict=True):
        variable.assign(array)
    return int(meta["next_epoch"])


def resumes_at(path):
    """The epoch a checkpoint file resumes from, read without a model."""
    with _load(path) as stored:
        return int(_meta(stored)["next_epoch"])


def extra(path):
    """The `extra` dict saved with a checkpoint (per-epoch controls' state), read without a model."""
    with _load(path) as stored:
        return _meta(stored).get("extra", {})


def save_arrays(path, arrays, meta):
    """Write named arrays and a JSON-able `meta` dict atomically: the state of a training group (several trials)."""
    with atomic.replacing(path, suffix=".npz") as tmp:
        np.savez(tmp, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


def read_arrays(path):
    """(arrays, meta) of a file save_arrays wrote.

    Raises:
      NnlabError: the file cannot be read.
    """
    try:
        with _load(path) as stored:
            meta = _meta(stored)
            arrays = {name: stored[name] for name in stored.files if name != "meta"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise NnlabError(
            f"{path} cannot be read ({type(error).__name__}: {error}); the training group it holds cannot resume "
            f"from it. Delete the file to train that group's trials again from epoch 0."
        ) from None
    return arrays, meta


@contextlib.contextmanager
def _load(path):
    """np.load of a regular file holding an .npz archive, else bounded.Unreadable (a ValueError): opened by
    bounded.open_regular, so that a named pipe in the run directory is an unreadable checkpoint rather
    than a resume that waits for ever, and a lone .npy array is not mistaken for one."""
    with bounded.open_regular(path) as stream:
        stored = np.load(stream, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise bounded.Unreadable(f"{path} is not an .npz archive")
        with stored:
            yield stored


def _meta(stored):
    return bounded.loads(bytes(stored["meta"]).decode(), where="the checkpoint's meta record")
