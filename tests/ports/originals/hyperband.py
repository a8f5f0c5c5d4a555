"""keras-tuner's Hyperband tutorial ("Introduction to the Keras Tuner"), as its page writes it, on given arrays.

https://www.tensorflow.org/tutorials/keras/keras_tuner
"""

import keras
import keras_tuner as kt


def model_builder(hp):
    model = keras.Sequential()
    model.add(keras.Input(shape=(28, 28)))
    model.add(keras.layers.Flatten())
    # Tune the number of units in the first Dense layer: an optimal value between 32-512
    hp_units = hp.Int("units", min_value=32, max_value=512, step=32)
    model.add(keras.layers.Dense(units=hp_units, activation="relu"))
    model.add(keras.layers.Dense(10))
    # Tune the learning rate for the optimizer: 0.01, 0.001, or 0.0001
    hp_learning_rate = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hp_learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def search(train, validation, test, max_epochs, seed, directory):
    """Search, then retrain the best hyperparameters for their best epoch count and evaluate on the test split.

    The tutorial's `validation_split=0.2` becomes `validation_data=`, so that the port holds out the same images.
    Returns the best hyperparameters, the search's best val_accuracy, the trial count and the test accuracy.
    """
    keras.utils.set_random_seed(seed)
    tuner = kt.Hyperband(
        model_builder,
        objective="val_accuracy",
        max_epochs=max_epochs,
        factor=3,
        seed=seed + 1,  # keras-tuner replaces a seed of 0 by a random one
        directory=directory,
        project_name="intro_to_kt",
    )
    stop_early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    tuner.search(*train, epochs=50, validation_data=validation, callbacks=[stop_early], verbose=0)
    best_hps = tuner.get_best_hyperparameters(num_trials=1)[0]
    best_trial = tuner.oracle.get_best_trials(num_trials=1)[0]

    # Build the model with the optimal hyperparameters and train it to find the best number of epochs.
    model = tuner.hypermodel.build(best_hps)
    history = model.fit(*train, epochs=max_epochs, validation_data=validation, verbose=0)
    val_acc_per_epoch = history.history["val_accuracy"]
    best_epoch = val_acc_per_epoch.index(max(val_acc_per_epoch)) + 1

    hypermodel = tuner.hypermodel.build(best_hps)
    hypermodel.fit(*train, epochs=best_epoch, validation_data=validation, verbose=0)
    eval_result = hypermodel.evaluate(*test, verbose=0, return_dict=True)
    return {
        "hyperparameters": {"units": best_hps.get("units"), "learning_rate": best_hps.get("learning_rate")},
        "best_val_accuracy": best_trial.score,
        "trials": len(tuner.oracle.trials),
        "accuracy": eval_result["accuracy"],
    }
