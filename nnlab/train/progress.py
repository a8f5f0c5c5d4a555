"""What a run shows while it trains: a progress bar on a terminal, one line per compiled chunk otherwise, and
TensorBoard's per-epoch scalars (train/ and validation/ under the run's tensorboard/, as Keras' callback writes).
"""

import keras
import tensorflow as tf


class Progress:
    """A Keras progress bar over epochs (verbose=1) or one line per compiled chunk (verbose=2)."""

    def __init__(self, epochs, verbose):
        self.epochs, self.verbose = epochs, verbose
        self.bar = None

    def update(self, epochs_done, row, seconds):
        shown = {key: value for key, value in row.items() if key not in ("epoch", "seconds")}
        if self.verbose == 1:
            if self.bar is None:  # values are the latest epoch's, not averaged over updates
                self.bar = keras.utils.Progbar(self.epochs, stateful_metrics=list(shown), unit_name="epoch")
            self.bar.update(epochs_done, values=list(shown.items()), finalize=epochs_done == self.epochs)
        elif self.verbose:
            text = " - ".join(f"{key}: {value:.4g}" for key, value in shown.items())
            print(f"epoch {epochs_done}/{self.epochs} - {text} - {seconds:.2f}s for this chunk", flush=True)


class TensorBoardLog:
    """epoch_<metric> scalars per epoch: training values under train/, val_* ones under validation/."""

    def __init__(self, directory):
        self.writers = {
            "train": tf.summary.create_file_writer(str(directory / "train")),
            "validation": tf.summary.create_file_writer(str(directory / "validation")),
        }

    def write(self, rows):
        for part, writer in self.writers.items():
            with writer.as_default():
                for row in rows:
                    for key, value in row.items():
                        if key == "epoch" or key.startswith("val_") != (part == "validation"):
                            continue
                        tf.summary.scalar(f"epoch_{key.removeprefix('val_')}", value, step=row["epoch"])
            writer.flush()

    def close(self):
        for writer in self.writers.values():
            writer.close()
