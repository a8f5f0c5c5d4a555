"""keras-io's functional API guide, multi-input part, as a plain Keras script: named inputs, x fitted as a dict.

https://keras.io/guides/functional_api/#models-with-multiple-inputs-and-outputs
"""

import keras
from keras import layers


def train(train, validation, test, epochs, batch_size, seed, units=16, learning_rate=1e-3):
    """Build, fit and evaluate the two-input model on ({name: array}, y) splits; returns test loss and accuracy."""
    keras.utils.set_random_seed(seed)
    worst_input = keras.Input(shape=(10,), name="worst")
    worst_norm = layers.Normalization()
    worst_norm.adapt(train[0]["worst"])
    worst_features = layers.Dense(units, activation="relu")(worst_norm(worst_input))
    mean_input = keras.Input(shape=(10,), name="mean")
    mean_norm = layers.Normalization()
    mean_norm.adapt(train[0]["mean"])
    mean_features = layers.Dense(units, activation="relu")(mean_norm(mean_input))
    x = layers.concatenate([worst_features, mean_features])
    benign = layers.Dense(1, activation="sigmoid", name="benign")(x)
    model = keras.Model(inputs=[worst_input, mean_input], outputs=benign)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )
    model.fit(
        {"mean": train[0]["mean"], "worst": train[0]["worst"]},
        train[1],
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation,
        verbose=0,
    )
    return model.evaluate(test[0], test[1], verbose=0, return_dict=True)
