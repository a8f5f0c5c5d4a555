"""keras-io's "Imbalanced classification: credit card fraud detection", as its page writes it, on given arrays.

https://keras.io/examples/structured_data/imbalanced_classification/
"""

import keras
import numpy as np


def train(train, validation, epochs, seed, weighted=True):
    """The example's model, fitted with class weights 1/count (or none); returns its metrics on the validation split."""
    keras.utils.set_random_seed(seed)
    train_features, train_targets = train
    val_features, val_targets = validation
    counts = np.bincount(train_targets[:, 0])
    weight_for_0 = 1.0 / counts[0]
    weight_for_1 = 1.0 / counts[1]

    model = keras.Sequential(
        [
            keras.Input(shape=train_features.shape[1:]),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    metrics = [
        keras.metrics.FalseNegatives(name="fn"),
        keras.metrics.FalsePositives(name="fp"),
        keras.metrics.TrueNegatives(name="tn"),
        keras.metrics.TruePositives(name="tp"),
        keras.metrics.Precision(name="precision"),
        keras.metrics.Recall(name="recall"),
    ]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics)
    class_weight = {0: weight_for_0, 1: weight_for_1}
    model.fit(
        train_features,
        train_targets,
        batch_size=2048,
        epochs=epochs,
        verbose=0,
        validation_data=(val_features, val_targets),
        class_weight=class_weight if weighted else None,
    )
    return model.evaluate(val_features, val_targets, verbose=0, return_dict=True)
