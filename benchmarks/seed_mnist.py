"""The MNIST seed program written plainly, the way it was before nnlab: a Keras script fitting NumPy arrays.

    x / 255.0; Sequential([Flatten, Dense(128, relu), Dropout(0.2), Dense(10, softmax)]);
    compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"]); fit(epochs=5); evaluate(test)

Two departures from the seed, both so that it does the same work as `nnlab run mnist`: the data comes from
`nnlab.datasets.mnist.load_arrays()` (the verified offline copy; the seed's `load_data()` needs the internet), and
it trains on the same 54,000 images and validates on the same 6,000 after every epoch that nnlab uses (the seed
trained on all 60,000 without validation). Everything else is the seed's: float64 arrays, `fit` on NumPy, batch 32.

Run:      .venv/bin/python benchmarks/seed_mnist.py [--epochs 5] [--limit-examples 0]
Prints one JSON line; `seconds` is the wall time of `model.fit` alone (tracing, 5 epochs, per-epoch validation).
"""

import argparse
import json
import time

import keras
from keras import layers

from nnlab import data
from nnlab.datasets import mnist


def load_data(limit_examples=0, validation_fraction=0.1, seed=0):
    """(train, validation, test) pairs: pixels / 255.0 as the seed wrote it, split exactly as nnlab splits."""
    arrays = mnist.load_arrays()
    splits = data.Splits(
        train=(arrays["x_train"] / 255.0, arrays["y_train"]), test=(arrays["x_test"] / 255.0, arrays["y_test"])
    )
    splits = data.with_validation(data.limited(splits, limit_examples), validation_fraction, seed)
    return splits.train, splits.validation, splits.test


class EpochTimer(keras.callbacks.Callback):
    """Wall seconds of each epoch (training and validation), as nnlab's history.csv records them."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def train(epochs=5, batch_size=32, limit_examples=0, seed=0, verbose=0):
    """Run the seed program; returns its timings and results.

    Returns:
      dict: seconds (model.fit), wall_seconds (loading, building, fit and evaluate), epoch_seconds (list),
      test_accuracy, val_accuracy, train_examples.
    """
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_data(limit_examples, seed=seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    fit_started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=(x_val, y_val),
        callbacks=[timer],
        verbose=verbose,
    )
    seconds = time.perf_counter() - fit_started
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {
        "seconds": seconds,
        "wall_seconds": time.perf_counter() - started,
        "epoch_seconds": timer.seconds,
        "test_accuracy": float(test_accuracy),
        "val_accuracy": float(history.history["val_accuracy"][-1]),
        "train_examples": len(x_train),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit-examples", type=int, default=0, help="first N examples of each split (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(train(args.epochs, args.batch_size, args.limit_examples, args.seed, verbose=2)))


if __name__ == "__main__":
    main()
