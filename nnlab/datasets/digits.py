"""Handwritten digits as 8x8 images (scikit-learn's copy of the UCI optdigits set): 1,797 images, 10 classes.

A small MNIST stand-in that ships inside scikit-learn, so nothing downloads and a study that trains several
models finishes in seconds on a CPU. Pixels (0..16) are scaled to [0, 1], as MNIST's are; the test split is a
fixed stratified 20% (360 images, the same for every seed); validation is held out later with config.seed.
"""

import numpy as np
from sklearn import datasets

from nnlab.data import Splits
from nnlab.datasets import Format
from nnlab.datasets._sklearn import fixed_test_split

FORMAT = Format(
    input_shape=(8, 8),
    input_dtype="float32",
    inputs="grey pixels 0..16 scaled to [0, 1]",
    label_dtype="int64",
    labels="integer class index 0-9 (sparse_categorical_crossentropy)",
    splits="train 1,437, test 360 (fixed, stratified); validation: validation_fraction of train, held out with seed",
)


def load(config):
    """float32 8x8 images in [0, 1] and int64 labels 0-9, with train and test splits."""
    bunch = datasets.load_digits()
    x_train, x_test, y_train, y_test = fixed_test_split(bunch.images, bunch.target)
    scale = np.float32(1 / 16)
    return Splits(
        train=(x_train.astype(np.float32) * scale, y_train.astype(np.int64)),
        test=(x_test.astype(np.float32) * scale, y_test.astype(np.int64)),
        source="digits (scikit-learn)",
    )
