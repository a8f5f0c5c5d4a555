"""Train with `model.fit` over a tf.data pipeline: the route for every experiment without its own loop."""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from nnlab.errors import NnlabError
from nnlab.results import layout


def pipeline(x, y, batch_size, shuffle_seed=None, epoch=None):
    """A batched tf.data pipeline over one epoch; with a seed, in an order set by `epoch` (a tf.Variable).

    Epoch e's order is a stateless function of (seed, e), not of how many times this process has iterated the
    data, so a run resumed at epoch k sees exactly the batches an uninterrupted run would (EpochCounter sets
    the variable as each epoch begins). Batches are gathered by index, which is also faster than shuffling
    (image, label) elements one by one.
    """
    if shuffle_seed is None:
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    x, y = tf.constant(x), tf.constant(y)
    count = int(x.shape[0])

    def epoch_batches(_):
        seed = tf.stack([tf.constant(shuffle_seed, tf.int64), tf.cast(epoch, tf.int64)])
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=seed)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    batch_count = -(-count // batch_size)  # told to tf.data so that Keras' progress bar knows the epoch's length
    batches = (
        tf.data.Dataset.range(1).flat_map(epoch_batches).apply(tf.data.experimental.assert_cardinality(batch_count))
    )
    gather = lambda index: (tf.gather(x, index), tf.gather(y, index))  # noqa: E731
    return batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class EpochCounter(keras.callbacks.Callback):
    """Tell the training pipeline which epoch is starting, before Keras opens its iterator for it."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


def train(job):
    """Fit job.model on job.splits for job.config.epochs; returns the last epoch's metrics."""
    config = job.config
    epoch = tf.Variable(job.initial_epoch, dtype=tf.int64, trainable=False)
    train_data = pipeline(*job.splits.train, config.batch_size, shuffle_seed=config.seed, epoch=epoch)
    validation = job.splits.validation
    val_data = pipeline(*validation, config.batch_size) if validation is not None else None
    callbacks = [
        EpochCounter(epoch),
        HistoryCallback(job.history),
        FiniteLossGuard(job.where, config),
        keras.callbacks.TensorBoard(log_dir=str(job.run_dir.file(layout.TENSORBOARD)), write_graph=False),
    ]
    if job.checkpoint_path is not None:
        callbacks.append(CheckpointCallback(job.checkpoint_path))
    if job.initial_epoch < config.epochs:
        job.model.fit(
            train_data,
            validation_data=val_data,
            epochs=config.epochs,
            initial_epoch=job.initial_epoch,
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


class CheckpointCallback(keras.callbacks.Callback):
    """Save the full training state after every epoch (nnlab.results.checkpoint), after history.csv has its row."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        from nnlab.results import checkpoint

        checkpoint.save(self.model, self.path, next_epoch=epoch + 1)


class FiniteLossGuard(keras.callbacks.Callback):
    """Stop with a clear error when training diverges: a NaN/infinite loss, or one that explodes while finite.

    "Explodes" means an epoch's mean training loss above EXPLOSION times the loss of the very first batch, which
    a run that is learning never reaches; a learning rate too large for the data can send a regression's loss
    to 1e30 without ever producing a NaN, and that must not end as a "done" run.
    """

    EXPLOSION = 10.0

    def __init__(self, where, config):
        super().__init__()
        self.where, self.config = where, config
        self.epoch = 0
        self.initial_loss = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self._fail(f"the training loss became {loss} in epoch {self.epoch} (batch {batch})")
        if self.initial_loss is None:
            self.initial_loss = loss

    def on_epoch_end(self, epoch, logs=None):
        loss = float((logs or {}).get("loss", math.nan))
        if self.initial_loss is not None and self.initial_loss > 0 and loss > self.EXPLOSION * self.initial_loss:
            self._fail(
                f"the training loss exploded to {loss:.4g} in epoch {epoch}, {loss / self.initial_loss:.3g} times "
                f"its first value {self.initial_loss:.4g}"
            )

    def _fail(self, what):
        raise diverged(self.where, what, self.config.learning_rate)


def diverged(where, what, learning_rate):
    """The error for a run whose loss went non-finite or exploded (`what` says which, and when)."""
    return NnlabError(
        f"{where}: {what}; the run diverged. Lower learning_rate (now {learning_rate:g}), e.g. "
        f"learning_rate={learning_rate / 10:g}, or check the data's scale."
    )
