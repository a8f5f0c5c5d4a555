"""TensorFlow's "Basic regression: Predict fuel efficiency", its DNN part, as its page writes it, on given arrays.

https://www.tensorflow.org/tutorials/keras/regression
"""

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers


def build_and_compile_model(norm, learning_rate):
    model = tf.keras.Sequential(
        [norm, layers.Dense(64, activation="relu"), layers.Dense(64, activation="relu"), layers.Dense(1)]
    )
    model.compile(loss="mean_absolute_error", optimizer=tf.keras.optimizers.Adam(learning_rate))
    return model


def train(train, validation, test, epochs, learning_rate, batch_size, seed):
    """Adapt, fit and evaluate the tutorial's dnn_model; returns the test mean absolute error as "loss"."""
    tf.keras.utils.set_random_seed(seed)
    train_features, train_labels = train
    normalizer = tf.keras.layers.Normalization(axis=-1)
    normalizer.adapt(np.array(train_features))
    dnn_model = build_and_compile_model(normalizer, learning_rate)
    dnn_model.fit(
        train_features, train_labels, validation_data=validation, verbose=0, epochs=epochs, batch_size=batch_size
    )
    return {"loss": dnn_model.evaluate(test[0], test[1], verbose=0)}
