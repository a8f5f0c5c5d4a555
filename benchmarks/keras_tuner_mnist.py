"""keras-tuner's own RandomSearch over MNIST learning rates, written plainly: the baseline of nnlab's sweep rows.

    def build_model(hp):
        Sequential([Input((28, 28)), Flatten, Dense(128, relu), Dropout(0.2), Dense(10, softmax)])
        compile(Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")), "sparse_categorical_crossentropy",
                metrics=["accuracy"])
    tuner = keras_tuner.RandomSearch(build_model, objective="val_accuracy", max_trials=8)
    tuner.search(x_train, y_train, epochs=3, batch_size=32, validation_data=(x_val, y_val))

It does the work of `nnlab tune mnist width=128 max_trials=8 epochs=3 limit_examples=20000`: the model, optimizer,
loss, metric and learning-rate range of experiments/mnist.py and its SEARCH_SPACE, and the same 18,000 training and
2,000 validation examples, taken through nnlab's own data code (MNIST's float32 pixels / 255, the first 20,000
training images, 10% of them held out with the seed: what nnlab's sweep trains on). The learning rates drawn
differ (keras-tuner's oracle is not nnlab's); the amount of work does not.

Run:      .venv/bin/python benchmarks/keras_tuner_mnist.py [--trials 8] [--epochs 3] [--limit-examples 20000]
Prints one JSON line (also written to --output): search_seconds, the wall time of tuner.search alone;
script_seconds, from the script's first line (imports included) to the end of the search; best_val_accuracy, the
best trial's best epoch, as keras-tuner scores it; and each trial's learning rate and score. Exits 1 when a trial
did not complete (keras-tuner's search returns normally even when every trial failed).
"""

import time

STARTED = time.perf_counter()  # before the imports: TensorFlow's import is part of the whole script

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import keras  # noqa: E402
import keras_tuner  # noqa: E402
from keras import layers  # noqa: E402

from nnlab import data  # noqa: E402
from nnlab.datasets import mnist  # noqa: E402
from nnlab.results import atomic  # noqa: E402


def load_data(limit_examples=20_000, seed=0, validation_fraction=0.1):
    """(train, validation) pairs exactly as nnlab's sweep gets them for these fields (the sweep's seed)."""
    splits = mnist.load(config=None)  # float32 pixels / 255, uint8 labels; the loader reads no config field
    splits = data.with_validation(data.limited(splits, limit_examples), validation_fraction, seed)
    return splits.train, splits.validation


def build_model(hp, width=128, dropout_rate=0.2):
    """experiments/mnist.py's model with the learning rate its SEARCH_SPACE sweeps."""
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            layers.Flatten(),
            layers.Dense(width, activation="relu"),
            layers.Dropout(dropout_rate),
            layers.Dense(10, activation="softmax"),
        ]
    )
    learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def search(trials=8, epochs=3, batch_size=32, limit_examples=20_000, seed=0, directory=None, verbose=0):
    """Run the search in `directory` (a temporary one by default); returns its timings and results."""
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_val, y_val) = load_data(limit_examples, seed)
    with tempfile.TemporaryDirectory(prefix="keras-tuner-mnist-") as scratch:
        tuner = keras_tuner.RandomSearch(
            build_model,
            objective="val_accuracy",
            max_trials=trials,
            seed=seed + 1,  # keras-tuner replaces a seed of 0 by a random one
            directory=directory or scratch,
            project_name="mnist",
            overwrite=True,
        )
        search_started = time.perf_counter()
        tuner.search(
            x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=(x_val, y_val), verbose=verbose
        )
        search_seconds = time.perf_counter() - search_started
        ended = sorted(tuner.oracle.trials.values(), key=lambda trial: int(trial.trial_id))  # ids are digits
        best = tuner.oracle.get_best_trials(1)
    return {
        "search_seconds": search_seconds,
        "script_seconds": time.perf_counter() - STARTED,
        "best_val_accuracy": best[0].score if best else None,
        "completed": sum(trial.status == "COMPLETED" for trial in ended),
        "trials": [
            {
                "trial_id": trial.trial_id,
                "status": trial.status,
                "learning_rate": trial.hyperparameters.get("learning_rate"),
                "val_accuracy": trial.score,
                "message": _last_line(trial.message),
            }
            for trial in ended
        ],
        "train_examples": len(x_train),
        "validation_examples": len(x_val),
        "settings": f"trials={trials} epochs={epochs} batch_size={batch_size} limit_examples={limit_examples} "
        f"seed={seed}",
    }


def _last_line(message):
    lines = (message or "").strip().splitlines()
    return lines[-1] if lines else ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit-examples", type=int, default=20_000, help="first N examples of each split (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="data holdout, weights and (plus one) the oracle")
    parser.add_argument("--output", help="also write the JSON result to this file")
    parser.add_argument("--verbose", type=int, default=0, help="keras fit's verbose for each trial")
    args = parser.parse_args(argv)
    result = search(args.trials, args.epochs, args.batch_size, args.limit_examples, args.seed, verbose=args.verbose)
    text = json.dumps(result)
    if args.output:
        atomic.write_text(args.output, text + "\n")
    print(text, flush=True)
    if result["completed"] < args.trials:
        failed = next((trial for trial in result["trials"] if trial["status"] != "COMPLETED"), None)
        why = f": trial {failed['trial_id']} {failed['status']}: {failed['message']}" if failed else ""
        print(f"keras_tuner_mnist: {result['completed']} of {args.trials} trials completed{why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
