"""Wisconsin diagnostic breast cancer: 569 tumours, 30 measured features, malignant (0) or benign (1).

Shipped inside scikit-learn (`sklearn.datasets.load_breast_cancer` reads a CSV from the installed package), so
nothing downloads. The test split is a fixed stratified 20% (the same 114 tumours for every run and seed);
validation is held out from the rest with config.seed; then every feature is standardised with the mean and
standard deviation of the training split alone, so nothing about validation or test leaks into training.
"""

import numpy as np
from sklearn import datasets

from nnlab import data
from nnlab.data import Splits
from nnlab.datasets import Format
from nnlab.datasets._sklearn import fixed_test_split

CLASS_NAMES = ("malignant", "benign")
FORMAT = Format(
    input_shape=(30,),
    input_dtype="float32",
    inputs="30 measurements, standardised with the training split's mean and std",
    label_dtype="int64",
    labels="integer 0 malignant, 1 benign (sparse_categorical_crossentropy with 2 outputs, or binary_crossentropy)",
    splits="train 455, test 114 (fixed, stratified); validation: validation_fraction of train, held out with seed",
)


def load(config):
    """Standardised float32 features and int64 labels (1 = benign), with train, validation and test splits."""
    bunch = datasets.load_breast_cancer()
    x_train, x_test, y_train, y_test = fixed_test_split(bunch.data, bunch.target)
    splits = Splits(train=(x_train, y_train), test=(x_test, y_test), source="breast cancer (scikit-learn)")
    return standardised(data.with_validation(splits, config.validation_fraction, config.seed))


def standardised(splits):
    """Every split scaled by the training split's per-feature mean and standard deviation."""
    train_x = splits.train[0]
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant feature stays constant instead of dividing by zero

    def scale(pair):
        return None if pair is None else (((pair[0] - mean) / std).astype(np.float32), pair[1].astype(np.int64))

    return Splits(
        train=scale(splits.train), validation=scale(splits.validation), test=scale(splits.test), source=splits.source
    )
