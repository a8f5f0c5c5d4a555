"""Handwritten digits as 8x8 images (scikit-learn's copy of the UCI optdigits set): 1,797 images, 10 classes.

A small MNIST stand-in that ships inside scikit-learn, so nothing downloads and a study that trains several
models finishes in seconds on a CPU. Pixels (0..16) are scaled to [0, 1], as MNIST's are; the test split is a
fixed stratified 20% (360 images, the same for every seed); validation is held out later with config.seed.
"""

import numpy as np
from sklearn import datasets, model_selection

from nnlab.data import Splits

TEST_FRACTION = 0.2
SPLIT_SEED = 0  # fixed, so that runs with different seeds are scored on the same test images


def load(config):
    """float32 8x8 images in [0, 1] and int64 labels 0-9, with train and test splits."""
    bunch = datasets.load_digits()
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        bunch.images, bunch.target, test_size=TEST_FRACTION, stratify=bunch.target, random_state=SPLIT_SEED
    )
    scale = np.float32(1 / 16)
    return Splits(
        train=(x_train.astype(np.float32) * scale, y_train.astype(np.int64)),
        test=(x_test.astype(np.float32) * scale, y_test.astype(np.int64)),
        source="digits (scikit-learn)",
    )
