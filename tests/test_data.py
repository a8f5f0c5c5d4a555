import numpy as np
import pytest

from nnlab import NnlabError
from nnlab import data as data_lib


def splits(x, y, **more):
    return data_lib.Splits(train=(np.asarray(x), np.asarray(y)), source="fixture", **more)


def test_validation_holdout_is_seeded_and_disjoint():
    x = np.arange(100, dtype=np.float32).reshape(-1, 1)
    a = data_lib.with_validation(splits(x, np.arange(100)), 0.2, seed=3)
    b = data_lib.with_validation(splits(x, np.arange(100)), 0.2, seed=3)
    assert len(a.validation[0]) == 20 and len(a.train[0]) == 80
    np.testing.assert_array_equal(a.validation[1], b.validation[1])
    assert not set(a.train[1]) & set(a.validation[1])
    assert set(a.train[1]) | set(a.validation[1]) == set(range(100))


def test_given_validation_is_kept():
    given = (np.zeros((3, 1)), np.zeros(3))
    result = data_lib.with_validation(splits(np.zeros((10, 1)), np.zeros(10), validation=given), 0.5, 0)
    assert result.validation is given


def test_limited_cuts_every_split():
    result = data_lib.limited(splits(np.zeros((10, 1)), np.zeros(10), test=(np.zeros((8, 1)), np.zeros(8))), 4)
    assert len(result.train[0]) == 4 and len(result.test[0]) == 4


@pytest.mark.parametrize(
    "x, y, match",
    [
        (np.zeros((0, 2)), np.zeros(0), "train split is empty"),
        (np.zeros((3, 2)), np.zeros(2), "3 inputs but 2 labels"),
        (np.array([[0.0, np.nan]]), np.zeros(1), "inputs contain 1 NaN or infinite"),
        (np.array([[0.0, np.inf]]), np.zeros(1), "NaN or infinite"),
        (np.zeros((1, 2)), np.array([np.nan]), "labels contain 1 NaN"),
        (np.array([["a", "b"]]), np.zeros(1), "numeric arrays only"),
    ],
)
def test_bad_arrays(x, y, match):
    with pytest.raises(NnlabError, match=match):
        data_lib.check(splits(x, y))


def test_inconsistent_shapes_between_splits():
    with pytest.raises(NnlabError, match="different shapes"):
        data_lib.check(splits(np.zeros((2, 3)), np.zeros(2), test=(np.zeros((2, 4)), np.zeros(2))))


@pytest.mark.parametrize(
    "y, loss, match",
    [
        ([0, 10], "sparse_categorical_crossentropy", r"labels range over \[0, 10\].*10 outputs"),
        ([-1, 2], "sparse_categorical_crossentropy", "needs labels in"),
        ([0.5, 1.0], "sparse_categorical_crossentropy", "not whole numbers"),
        ([0, 2], "binary_crossentropy", r"labels in \[0, 1\]"),
    ],
)
def test_labels_must_suit_the_loss(y, loss, match):
    with pytest.raises(NnlabError, match=match):
        data_lib.check_labels(splits(np.zeros((2, 1)), np.asarray(y)), loss, num_outputs=10)


def test_good_labels_pass():
    data_lib.check_labels(splits(np.zeros((2, 1)), np.array([0, 9])), "sparse_categorical_crossentropy", 10)
    data_lib.check_labels(splits(np.zeros((2, 1)), np.array([1.5, -3])), "mse", 1)
