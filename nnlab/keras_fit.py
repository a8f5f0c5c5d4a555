"""Train with `model.fit` over a tf.data pipeline: the route for every experiment without its own loop."""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from nnlab.errors import NnlabError


def pipeline(x, y, batch_size, shuffle_seed=None):
    """A batched tf.data pipeline; with a seed, reshuffled every epoch in a reproducible order."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def train(job):
    """Fit job.model on job.splits for job.config.epochs; returns the last epoch's metrics."""
    config = job.config
    train_data = pipeline(*job.splits.train, config.batch_size, shuffle_seed=config.seed)
    validation = job.splits.validation
    val_data = pipeline(*validation, config.batch_size) if validation is not None else None
    callbacks = [
        HistoryCallback(job.history),
        FiniteLossGuard(job.where, config),
        keras.callbacks.TensorBoard(log_dir=str(job.run_dir.file("tensorboard")), write_graph=False),
    ]
    job.model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        verbose=job.verbose,
        callbacks=callbacks,
        shuffle=False,
    )  # the pipeline shuffles, reproducibly
    return job.history.rows[-1]


def current_learning_rate(optimizer):
    return float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate)))


class HistoryCallback(keras.callbacks.Callback):
    """Append each epoch's logs, wall seconds and learning rate to a HistoryFile as training goes."""

    def __init__(self, history):
        super().__init__()
        self.history = history

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{key: float(value) for key, value in (logs or {}).items()}}
        row.pop("learning_rate", None)  # Keras may log it; ours is read the same way for every trainer
        row["seconds"] = time.perf_counter() - self.started
        row["learning_rate"] = current_learning_rate(self.model.optimizer)
        self.history.append(row)


class FiniteLossGuard(keras.callbacks.Callback):
    """Stop with a clear error as soon as the training loss is NaN or infinite."""

    def __init__(self, where, config):
        super().__init__()
        self.where, self.config = where, config
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NnlabError(
                f"{self.where}: the training loss became {float(loss)} in epoch {self.epoch} (batch {batch}); "
                f"the run diverged. Lower learning_rate (now {self.config.learning_rate:g}), e.g. "
                f"learning_rate={self.config.learning_rate / 10:g}, or check the data's scale."
            )
