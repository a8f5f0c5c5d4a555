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


# Structured data: x as a tuple/list/dict of arrays, y as a structure for several outputs, Python lists converted.


def test_python_lists_are_converted_as_keras_reads_them():
    made = data_lib.Splits(train=([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], [0, 1, 0]))  # nested numbers: one array
    x, y = made.train
    assert isinstance(x, np.ndarray) and x.shape == (3, 2) and y.tolist() == [0, 1, 0]
    several = data_lib.Splits(train=([np.zeros((3, 2)), [[1], [2], [3]]], {"out": [1.0, 2.0, 3.0]}))
    x, y = several.train
    assert isinstance(x, list) and x[1].shape == (3, 1) and y["out"].shape == (3,)  # a list holding arrays: inputs
    numpy_scalars = data_lib.Splits(train=(np.zeros((2, 1)), [np.float32(0.5), np.float32(1.5)])).train[1]
    assert isinstance(numpy_scalars, np.ndarray) and numpy_scalars.shape == (2,)
    data_lib.check(made)
    data_lib.check(several)


def test_structured_splits_are_held_out_limited_and_checked_alike():
    x = {"a": np.arange(20, dtype=np.float32).reshape(10, 2), "b": np.arange(10, dtype=np.float32)[:, None]}
    y = (np.arange(10), np.arange(10, dtype=np.float32) * 2)
    splits = data_lib.Splits(train=(x, y), source="fixture")
    held = data_lib.with_validation(splits, 0.3, seed=1)
    (tx, ty), (vx, vy) = held.train, held.validation
    assert len(tx["a"]) == 7 and len(vx["b"]) == 3 and isinstance(ty, tuple)
    np.testing.assert_array_equal(tx["a"][:, 0] / 2, ty[0])  # rows stay together across every array
    np.testing.assert_array_equal(vx["b"][:, 0] * 2, vy[1])
    cut = data_lib.limited(held, 2)
    assert len(cut.train[0]["a"]) == 2 and len(cut.validation[1][1]) == 2
    data_lib.check(held)


@pytest.mark.parametrize(
    "train, match",
    [
        ((np.zeros((3, 2)), np.zeros(3), np.ones(3)), r"fixture, train split has three items.*class_weight"),
        ((np.float32(1.0), np.zeros(1)), r"train split: inputs are a single number"),
        (([[1.0, 2.0], [3.0]], [0, 1]), r"train split: inputs are ragged"),
        ((np.array([[1.0], [2.0]], dtype=object), np.zeros(2)), r"inputs have dtype object"),
        ((np.array([[1 + 2j], [3 + 4j]]), np.zeros(2)), r"inputs are complex numbers.*x\.real, x\.imag"),
        (
            ({"a": np.zeros((3, 1)), "b": np.zeros((2, 1))}, np.zeros(3)),
            r"x\['a'\] holds 3 examples but x\['b'\] holds 2",
        ),
        (({"a": np.zeros((3, 1)), 1: np.zeros((3, 1))}, np.zeros(3)), r"has the key 1; its keys must be"),
        (({"a": np.zeros((2, 1)), "b": np.array([np.nan, 1.0])}, np.zeros(2)), r"inputs x\['b'\] contain 1 NaN"),
        ((iter([np.zeros(2)]), None), r"train split is a list_iterator; .*out of scope"),
        ((np.zeros((2, 1)), (value for value in [0, 1])), r"train split is a generator; .*out of scope"),
        ("abc", r"train split is str, not a pair"),
    ],
    ids=[
        "three items",
        "scalar x",
        "ragged",
        "object",
        "complex",
        "lengths",
        "key",
        "nan",
        "iterator",
        "generator",
        "str",
    ],
)
def test_what_cannot_train_is_one_paragraph_naming_the_split(train, match):
    if isinstance(train, tuple) and train[1] is None:
        train = train[0]
    with pytest.raises(NnlabError, match=match) as caught:
        data_lib.check(data_lib.Splits(train=train, source="fixture"))
    assert "\n" not in str(caught.value)


def test_a_tf_data_dataset_is_refused_naming_the_split():
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2)), np.zeros(4))).batch(2)
    with pytest.raises(NnlabError, match=r"fixture, test split is a .*Dataset.*tf\.data datasets"):
        data_lib.check(data_lib.Splits(train=(np.zeros((4, 2)), np.zeros(4)), test=dataset, source="fixture"))


def test_splits_must_hold_the_same_arrays():
    train = ({"a": np.zeros((2, 1)), "b": np.zeros((2, 3))}, np.zeros(2))
    other = ({"a": np.zeros((2, 1)), "b": np.zeros((2, 4))}, np.zeros(2))
    with pytest.raises(NnlabError, match=r"different shapes per example \(train: x\['a'\] \(1,\), x\['b'\] \(3,\)"):
        data_lib.check(data_lib.Splits(train=train, test=other, source="fixture"))
    with pytest.raises(NnlabError, match="labels are made of different arrays"):
        data_lib.check(
            data_lib.Splits(train=(np.zeros((2, 1)), [np.zeros(2), np.zeros(2)]), test=(np.zeros((2, 1)), np.zeros(2)))
        )


def test_labels_of_one_output_among_several_are_checked_by_path():
    y = {"kind": np.array([0, 3]), "size": np.array([0.5, 9.0])}
    splits = data_lib.Splits(train=(np.zeros((2, 1)), y), source="fixture")
    data_lib.check_labels(splits, "sparse_categorical_crossentropy", 4, path=("kind",), output="kind")
    with pytest.raises(NnlabError, match=r"labels of output 'kind': labels range over \[0, 3\] but the model has 3"):
        data_lib.check_labels(splits, "sparse_categorical_crossentropy", 3, path=("kind",), output="kind")


def test_pandas_frames_of_mixed_numeric_columns_train_as_keras_fit_takes_them():
    """NumPy reads a frame mixing float with bool or nullable Int64 columns as objects; Keras' fit casts it to floats,
    and so does nnlab (<NA> becomes NaN, refused as any NaN). Columns of text are named in one paragraph."""
    import pandas as pd

    frame = pd.DataFrame({"age": [31.0, 45.5, 27.0], "smoker": [True, False, True], "visits": [1, 0, 3]})
    labels = pd.Series([True, False, True])
    made = data_lib.Splits(train=(frame.astype({"visits": "Int64"}), labels), source="fixture")
    x, y = made.train
    assert x.dtype == np.float64 and x.tolist() == [[31.0, 1.0, 1.0], [45.5, 0.0, 0.0], [27.0, 1.0, 3.0]]
    assert y.dtype == bool and y.shape == (3,)
    data_lib.check(made)
    missing = frame.astype({"visits": "Int64"}).assign(visits=pd.array([1, None, 3], dtype="Int64"))
    with pytest.raises(NnlabError, match=r"inputs contain 1 NaN"):
        data_lib.check(data_lib.Splits(train=(missing, labels), source="fixture"))
    with pytest.raises(NnlabError, match=r"inputs are a DataFrame whose columns 'city' hold no numbers.*get_dummies"):
        data_lib.check(data_lib.Splits(train=(frame.assign(city=["a", "b", "c"]), labels), source="fixture"))
    with pytest.raises(NnlabError, match=r"labels are a Series of .* values, not numbers.*pd\.factorize"):
        data_lib.check(data_lib.Splits(train=(frame, pd.Series(["cat", "dog", "cat"])), source="fixture"))
