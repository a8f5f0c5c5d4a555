"""TensorFlow's "Basic regression: Predict fuel efficiency", ported: its DNN behind a Normalization layer.

https://www.tensorflow.org/tutorials/keras/regression

The tutorial's `dnn_model`: a `Normalization` layer adapted to the training features, Dense(64, ReLU) twice, Dense(1),
mean absolute error, Adam. The Auto MPG file needs a download, so the data is scikit-learn's diabetes set (442
patients, 10 numeric features, a disease-progression score of 25-346), split as the tutorial splits its data: 80%
for training, 20% test, and 20% of the training rows held out for validation. `build_model(config, train)` adapts
the normalizer to the training rows. To get near its best error in 10 epochs instead of the tutorial's 100, Adam
runs at 0.01 instead of 0.001 on batches of 16.

Run:      NNLAB_EXPERIMENTS=tests/ports/modules nnlab run regression_diabetes
"""

import dataclasses

import keras
import numpy as np
from keras import layers
from sklearn import datasets, model_selection

import nnlab
from nnlab.data import Splits


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    optimizer: str = "adam"
    learning_rate: float = 0.01
    loss: str = "mean_absolute_error"
    epochs: int = 10
    batch_size: int = 16


def make_data(config):
    diabetes = datasets.load_diabetes()
    x, y = diabetes.data.astype(np.float32), diabetes.target.astype(np.float32).reshape(-1, 1)
    x_rest, x_test, y_rest, y_test = model_selection.train_test_split(x, y, test_size=0.2, random_state=0)
    x_train, x_val, y_train, y_val = model_selection.train_test_split(x_rest, y_rest, test_size=0.2, random_state=0)
    return Splits(train=(x_train, y_train), validation=(x_val, y_val), test=(x_test, y_test))


def build_model(config, train):
    normalizer = layers.Normalization(axis=-1)
    normalizer.adapt(np.array(train[0]))
    return keras.Sequential(
        [
            keras.Input(shape=(10,)),
            normalizer,
            layers.Dense(64, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(1),
        ]
    )
