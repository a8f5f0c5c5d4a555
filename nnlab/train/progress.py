"""What a run shows while it trains: a progress bar on a terminal, one line per compiled chunk otherwise, and
TensorBoard's per-epoch scalars (train/ and validation/ under the run's tensorboard/, as Keras' callback writes).
"""

import sys
import time

import keras
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from nnlab.results import console


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
            line = f"epoch {epochs_done}/{self.epochs} - {text} - {seconds:.2f}s for this chunk"
            console.say(line, sys.stdout)  # the keys of `track` are the module's text: shown visibly


class TensorBoardLog:
    """epoch_<metric> scalars per epoch: training values under train/, val_* ones under validation/.

    Written as plain scalar events with TensorBoard's own event writer rather than eager tf.summary ops, which cost
    far more per value than a tiny epoch's training does (linreg trains thousands of one-step epochs).
    """

    def __init__(self, directory):
        self.writers = {part: EventFileWriter(str(directory / part)) for part in ("train", "validation")}

    def write(self, rows):
        now = time.time()
        for part, writer in self.writers.items():
            for row in rows:
                values = [
                    summary_pb2.Summary.Value(tag=f"epoch_{key.removeprefix('val_')}", simple_value=float(value))
                    for key, value in row.items()
                    if key != "epoch" and key.startswith("val_") == (part == "validation")
                ]
                if values:
                    event = event_pb2.Event(
                        step=int(row["epoch"]), wall_time=now, summary=summary_pb2.Summary(value=values)
                    )
                    writer.add_event(event)
            writer.flush()

    def close(self):
        for writer in self.writers.values():
            writer.close()
