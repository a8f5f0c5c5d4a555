"""Train with an experiment's own `train_step`: a tf.GradientTape step, for experiments where the loop is the lesson.

The experiment writes one step, `train_step(model, optimizer, x, y)`, returning the batch's loss (or a dict of
scalars that includes "loss"). Everything around it is owned here, the same for every such experiment: epochs,
seeded shuffling, batch-size-weighted averages, validation with `config.loss` and `config.metrics`, one
history.csv row per epoch, progress and the divergence check. An optional `track(model)` hook names scalars
(a line's w and b) to record in history.csv after every epoch.

Speed: a Python loop pays dispatch costs on every step, and they dominate when steps are tiny (linreg's 5,000
full-batch steps take 207 s in model.fit). So chunks of epochs run inside one compiled call (while loops over
epochs and batches; XLA-compiled for runs of many steps) that returns every epoch's numbers as tensors. A chunk
is sized to take about a second, so progress and history.csv still update as training runs, and a checkpoint is
saved after each; the arithmetic does not depend on where chunks fall, so a seed's history does not either.
"""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from nnlab.errors import NnlabError
from nnlab.results import checkpoint
from nnlab.train import keras_fit, modeling

# XLA fuses a step's small ops (linreg: about 2x faster per step than the uncompiled graph on the 2-core CPU)
# but takes 0.5-2 s to compile, and rounds differently; so the choice follows the config's total step count,
# never timing or the epoch a resumed run starts from, keeping a seed's history identical.
JIT_MIN_STEPS = 2000
CHUNK_SECONDS = 1.0  # how long one compiled call aims to run: progress and history.csv update this often
MAX_CHUNK = 1000  # epochs per call at most; bounds the per-epoch result buffers


def train(job):
    """Run the experiment's train_step from job.initial_epoch to job.config.epochs; returns the last history row."""
    config = job.config
    loop = EpochLoop(job)
    progress = Progress(config.epochs, job.verbose)
    epoch, chunk = job.initial_epoch, 1  # the first call also traces and compiles, so it runs one epoch
    while epoch < config.epochs:
        count = min(chunk, config.epochs - epoch)
        started = time.perf_counter()
        columns = loop.run(epoch, count)
        seconds = time.perf_counter() - started
        rows = [
            {
                "epoch": epoch + i,
                **{key: float(values[i]) for key, values in columns.items()},
                "seconds": seconds / count,
            }
            for i in range(len(columns["loss"]))
        ]
        healthy = _healthy_rows(rows, job.history.rows)
        if healthy:
            # append() rewrites the whole file; add a chunk's earlier rows first so it is rewritten once per chunk.
            job.history.rows.extend(healthy[:-1])
            job.history.append(healthy[-1])
        if len(healthy) < len(rows):
            raise _diverged(job, rows[len(healthy)], job.history.rows)
        epoch += count
        if job.checkpoint_path is not None:  # after history.csv has the rows, as keras_fit does
            checkpoint.save(job.model, job.checkpoint_path, next_epoch=epoch)
        progress.update(epoch, rows[-1], seconds)
        chunk = max(1, min(MAX_CHUNK, 10 * count, int(CHUNK_SECONDS * count / max(seconds, 1e-9))))
    return job.history.rows[-1]


def _healthy_rows(rows, earlier):
    """The leading rows before the loss turns non-finite or explodes (keras_fit.FiniteLossGuard's rule)."""
    first = (earlier or rows)[0]["loss"]
    for index, row in enumerate(rows):
        if not math.isfinite(row["loss"]) or (first > 0 and row["loss"] > keras_fit.FiniteLossGuard.EXPLOSION * first):
            return rows[:index]
    return rows


def _diverged(job, row, earlier):
    loss, first, rate = row["loss"], (earlier or [row])[0]["loss"], job.config.learning_rate
    what = (
        f"the training loss became {loss} in epoch {row['epoch']}"
        if not math.isfinite(loss)
        else f"the training loss exploded to {loss:.4g} in epoch {row['epoch']}, {loss / first:.3g} times its "
        f"first epoch's {first:.4g}"
    )
    return keras_fit.diverged(job.where, what, rate)


class EpochLoop:
    """The experiment's step inside compiled epochs: `run(start, count)` trains epochs [start, start + count)."""

    def __init__(self, job):
        config = job.config
        self.model, self.optimizer, self.where = job.model, job.model.optimizer, job.where
        self.step = _graph_step(job.experiment.module.train_step)
        self.step_extra = (config,) if modeling.takes_arguments(job.experiment.module.train_step, 5) else ()
        self.track = job.experiment.optional("track")
        self.x, self.y = _tensors(job.splits.train)
        self.validation = None if job.splits.validation is None else _tensors(job.splits.validation)
        self.batch_size = min(config.batch_size, len(self.x))
        self.seed = config.seed
        self.loss_fn = keras.losses.get(config.loss)
        self.metrics = {name: _metric(name, config.loss) for name in config.metrics}
        if not self.optimizer.built:  # variables cannot be created inside the compiled loop
            self.optimizer.build(self.model.trainable_variables)
        self.step_keys = self._check_step()
        self.track_keys = self._check_track()
        steps = config.epochs * math.ceil(len(self.x) / self.batch_size)
        self.jit = steps >= JIT_MIN_STEPS
        self.compiled = tf.function(self._epochs, jit_compile=self.jit, autograph=False)
        self.calls = 0

    def run(self, start, count):
        """Train `count` epochs from epoch `start`; {column: per-epoch values}, cut at a non-finite loss."""
        try:
            done, columns = self.compiled(tf.constant(start), tf.constant(count))
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as error:
            if not self.jit or self.calls:
                raise
            # XLA rejects a few ops; nothing ran yet (compilation precedes execution), so retry without it.
            print(f"{self.where}: XLA cannot compile train_step ({_first_line(error)}); running it uncompiled.")
            self.jit = False
            self.compiled = tf.function(self._epochs, jit_compile=False)
            done, columns = self.compiled(tf.constant(start), tf.constant(count))
        self.calls += 1
        done = int(done)
        return {key: values.numpy()[:done] for key, values in columns.items()}

    def _epochs(self, start, count):
        keys = self.step_keys + self._validation_keys() + self.track_keys + ["learning_rate"]
        arrays = {key: tf.TensorArray(tf.float32, size=MAX_CHUNK) for key in keys}

        def keep_going(i, finite, arrays):
            return tf.logical_and(i < count, finite)

        def one_epoch(i, finite, arrays):
            values = self._train_epoch(start + i)
            values.update(self._validate())
            if self.track is not None:
                values.update({key: tf.reshape(value, []) for key, value in self.track(self.model).items()})
            values["learning_rate"] = self.optimizer.learning_rate
            arrays = {key: arrays[key].write(i, tf.cast(values[key], tf.float32)) for key in keys}
            return i + 1, tf.math.is_finite(tf.cast(values["loss"], tf.float32)), arrays

        done, _, arrays = tf.while_loop(keep_going, one_epoch, (tf.constant(0), tf.constant(True), arrays))
        return done, {key: array.stack() for key, array in arrays.items()}

    def _train_epoch(self, epoch):
        """One pass over the training data in batches (reshuffled per epoch, seeded); batch-weighted means."""
        x, y, size = self.x, self.y, self.batch_size
        n = int(x.shape[0])
        if size == n:  # one full batch: no order, no slicing, no inner loop (linreg: about 1.2 s of its 2.7 s)
            values = self._call_step(x, y)
            return {key: tf.cast(values[key], tf.float32) for key in self.step_keys}
        if size < n:  # a full batch needs no shuffling
            order = _order(n, self.seed, epoch)
            x, y = tf.gather(x, order), tf.gather(y, order)
        full = n // size
        batches_x = tf.reshape(x[: full * size], [full, size, *x.shape[1:]])
        batches_y = tf.reshape(y[: full * size], [full, size, *y.shape[1:]])
        sums = {key: tf.constant(0.0) for key in self.step_keys}

        def add(sums, batch_x, batch_y):
            values = self._call_step(batch_x, batch_y)
            weight = float(batch_x.shape[0])
            return {key: sums[key] + weight * tf.cast(values[key], tf.float32) for key in sums}

        _, sums = tf.while_loop(
            lambda j, sums: j < full, lambda j, sums: (j + 1, add(sums, batches_x[j], batches_y[j])), (0, sums)
        )
        if n % size:  # the last, smaller batch has its own static shape
            sums = add(sums, x[full * size :], y[full * size :])
        return {key: total / n for key, total in sums.items()}

    def _call_step(self, x, y):
        result = self.step(self.model, self.optimizer, x, y, *self.step_extra)
        return dict(result) if isinstance(result, dict) else {"loss": result}

    def _validation_keys(self):
        if self.validation is None:
            return []
        return ["val_loss"] + [f"val_{name}" for name in self.metrics]

    def _validate(self):
        if self.validation is None:
            return {}
        x, y = self.validation
        predictions = self.model(x, training=False)
        values = {"val_loss": keras.ops.mean(self.loss_fn(y, predictions))}
        for name, metric in self.metrics.items():
            metric.reset_state()
            metric.update_state(y, predictions)
            values[f"val_{name}"] = metric.result()
        return values

    def _check_step(self):
        """Trace the step once on one batch (nothing runs) to learn what it returns; user errors name the module."""
        spec = lambda tensor: tf.TensorSpec([self.batch_size, *tensor.shape[1:]], tensor.dtype)
        try:
            traced = tf.function(self._call_step, autograph=False).get_concrete_function(spec(self.x), spec(self.y))
        except Exception as error:
            raise NnlabError(
                f"{self.where}: train_step(model, optimizer, x, y) failed on a batch of {self.batch_size} "
                f"(x {tuple(self.x.shape[1:])}, y {tuple(self.y.shape[1:])} per example): "
                f"{type(error).__name__}: {_first_line(error)}. Fix the step."
            ) from None
        outputs = traced.structured_outputs
        bad = [key for key, value in outputs.items() if not isinstance(value, tf.Tensor) or value.shape.rank != 0]
        if "loss" not in outputs or bad:
            raise NnlabError(
                f"{self.where}: train_step must return the batch's loss as a scalar tensor (or a dict of scalars "
                f"with a 'loss' entry); it returned {_describe(outputs)}. Return e.g. keras.ops.mean(...)."
            )
        return ["loss"] + [key for key in outputs if key != "loss"]

    def _check_track(self):
        if self.track is None:
            return []
        values = self.track(self.model)
        if not isinstance(values, dict) or any(np.size(value) != 1 for value in values.values()):
            raise NnlabError(
                f"{self.where}: track(model) must return a dict of single numbers to record per epoch, "
                f"e.g. {{'w': dense.kernel[0, 0]}}; it returned {values!r}."
            )
        return list(values)


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


def _graph_step(step):
    """The step with its own Python `if`/`for` on tensors made graph ops, but not the Keras code it calls.

    Autograph converting Keras' code recursively made tracing linreg's loop take a second longer, so the compiled
    loop runs with autograph off and only the experiment's step is converted.
    """
    try:
        return tf.autograph.to_graph(step, recursive=False)
    except Exception:  # no source to convert (a lambda typed into a notebook): trace it as written
        return step


def _order(count, seed, epoch):
    """Epoch `epoch`'s shuffle of range(count): indices sorted by an integer hash of (seed, epoch, index).

    Plain integer ops, because TensorFlow's and XLA's random kernels give different numbers for the same seed,
    and the order must not depend on which route ran (or on where a resumed run restarted).
    """
    low31 = tf.constant(0x7FFFFFFF, tf.int64)
    index = tf.range(count, dtype=tf.int64)
    key = (tf.cast(seed, tf.int64) * 0x2545F491 + tf.cast(epoch, tf.int64) * 0x9E3779B) & low31
    mixed = tf.bitwise.bitwise_xor(index & low31, key)
    for _ in range(3):  # a 31-bit integer hash's rounds: shift-xor, multiply
        mixed = (
            tf.bitwise.bitwise_xor(mixed, tf.bitwise.right_shift(mixed, tf.constant(16, tf.int64))) * 0x45D9F3B
        ) & low31
    return tf.argsort(tf.bitwise.left_shift(mixed, tf.constant(32, tf.int64)) | index)  # index breaks ties


def _tensors(pair):
    """x, y as tensors; floating arrays in Keras' float type, so a float64 make_data cannot clash with float32."""
    return tuple(
        tf.constant(array, dtype=keras.backend.floatx() if np.issubdtype(array.dtype, np.floating) else None)
        for array in map(np.asarray, pair)
    )


def _metric(name, loss):
    """A fresh metric object, resolving "accuracy" the way model.compile does for the loss."""
    if name in ("accuracy", "acc"):
        name = next((f"{kind}_accuracy" for kind in ("sparse_categorical", "binary") if kind in loss), "accuracy")
        name = "categorical_accuracy" if name == "accuracy" and "categorical" in loss else name
    return keras.metrics.get(name)


def _describe(outputs):
    return ", ".join(f"{key}: {getattr(value, 'shape', type(value).__name__)}" for key, value in outputs.items())


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
