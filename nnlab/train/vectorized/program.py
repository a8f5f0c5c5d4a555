"""The compiled program of a group: K trials of one model structure trained as one, epoch by epoch.

One `tf.function` (XLA-compiled where the policy says the device gains) runs a chunk of epochs for all K trials:
per epoch, each trial's own batch order (nnlab.train.loop.order with its seed), its full batches in a loop, the last
smaller batch with its own static shape, and validation, all inside the one function. A step gathers each trial's
batch ([K, batch, ...], never the whole split), computes every trial's loss and gradients with Keras'
`model.stateless_call` and `stateless_compute_loss` under `tf.vectorized_map` (so model.losses, regularizers
included, are in the loss, and non-trainable variables such as BatchNormalization statistics and dropout seed states
are carried per trial), updates the metrics through Keras' stateless metric API, and applies nnlab's batched
update rule (nnlab.train.vectorized.updates). A trial that is not live (stopped, diverged, or an empty slot) keeps
its weights, optimizer state and step count.

State is passed in and returned (nothing is a tf.Variable), so the program is a pure function of (state, epochs,
per-trial settings): traced once per structure (`traces` counts it), its per-epoch arithmetic independent of where
chunks fall, and a group's state saved after a chunk resumes to the same bits.
"""

import contextlib
import logging

import numpy as np
import tensorflow as tf
from keras.src import backend as keras_backend

from nnlab.train import loop
from nnlab.train.vectorized import compile_cache, dropout


class GroupProgram:
    """The group program for `slots` trials built like `model`, on one training split and validation split.

    Args:
      model: a compiled model of the structure (its variables' values are never used: each trial's are passed in).
      slots: K, the number of trials the program trains at once.
      train, validation: (x, y) tensors as nnlab.train.batches.tensors makes them; validation may be None.
      batch_size: the config's batch size.
      rule: a batched update rule (nnlab.train.vectorized.updates).
      xla: compile with XLA.
    """

    def __init__(self, model, slots, train, validation, batch_size, rule, xla):
        self.model, self.slots, self.rule, self.xla = model, slots, rule, xla
        self.x, self.y = train
        self.validation = validation
        self.count = int(self.x.shape[0])
        self.batch_size = min(batch_size, self.count)
        self.full, self.remainder = divmod(self.count, self.batch_size)
        loop.build_metrics(model, self.x, self.y)  # metric variables exist before tracing
        self.metric_keys = sorted(model.get_metrics_result())  # history columns, as the loop writes them
        self.columns = self.metric_keys + [f"val_{key}" for key in self.metric_keys if validation is not None]
        self.columns.append("learning_rate")
        self.initial_metrics = [tf.constant(variable.numpy()) for variable in model.metrics_variables]

        self.traces = 0  # how often Python traced the program: once per structure
        self.calls = 0
        self.function = tf.function(self._epochs, jit_compile=xla, autograph=False)

    def run(self, state, start, count, seeds, rates, momentum, live):
        """Train epochs [start, start + count) for every live trial; returns (epochs done, state, columns).

        `columns` maps each history column to an array [epochs done, K]. A chunk ends early after an epoch in which a
        live trial's loss is not finite (that trial diverged; the loop's rule). `seeds`, `rates` (float32), `momentum`
        (float32) and `live` (bool) hold one value per trial.
        """
        arguments = (
            state,
            tf.constant(start, tf.int32),
            tf.constant(count, tf.int32),
            tf.constant(seeds, tf.int64),
            tf.constant(rates, tf.float32),
            tf.constant(momentum, tf.float32),
            tf.constant(live, tf.bool),
        )
        with dropout.hashed(), _quiet_tensorflow():  # tracing happens inside the first call
            try:
                done, state, columns = self.function(*arguments)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
                if not self.xla or self.calls:
                    raise
                # XLA rejects a few ops; nothing ran (compilation precedes execution), so run it uncompiled.
                self.xla = False
                self.function = tf.function(self._epochs, jit_compile=False, autograph=False)
                done, state, columns = self.function(*arguments)
            except (tf.errors.OutOfRangeError, tf.errors.DataLossError):
                if not self.xla or self.calls or not compile_cache.clear():
                    raise
                # A damaged file in the compile cache (nnlab.train.vectorized.compile_cache): emptied, compile afresh.
                self.function = tf.function(self._epochs, jit_compile=True, autograph=False)
                done, state, columns = self.function(*arguments)
        self.calls += 1
        done = int(done)
        return done, state, {key: values.numpy()[:done] for key, values in columns.items()}

    def _epochs(self, state, start, count, seeds, rates, momentum, live):
        self.traces += 1  # Python runs this body only while tracing
        arrays = {
            key: tf.TensorArray(tf.float32, size=loop.MAX_CHUNK, element_shape=[self.slots]) for key in self.columns
        }

        def keep_going(i, finite, state, arrays):
            return tf.logical_and(i < count, finite)

        def one_epoch(i, finite, state, arrays):
            state, values = self._train_epoch(state, start + i, seeds, rates, momentum, live)
            if self.validation is not None:
                values.update({f"val_{key}": value for key, value in self._evaluate(state, *self.validation).items()})
            values["learning_rate"] = rates
            arrays = {key: arrays[key].write(i, tf.cast(values[key], tf.float32)) for key in self.columns}
            healthy = tf.logical_or(tf.math.is_finite(tf.cast(values["loss"], tf.float32)), tf.logical_not(live))
            return i + 1, tf.reduce_all(healthy), state, arrays

        done, _, state, arrays = tf.while_loop(
            keep_going, one_epoch, (tf.constant(0), tf.constant(True), state, arrays)
        )
        return done, state, {key: array.stack() for key, array in arrays.items()}

    def _train_epoch(self, state, epoch, seeds, rates, momentum, live):
        """One pass over the training split in each trial's own order; each trial's epoch metrics, as [K] vectors."""
        size = self.batch_size
        orders = self.orders(seeds, epoch)
        metrics = [tf.tile(value[None], [self.slots] + [1] * value.shape.rank) for value in self.initial_metrics]

        def batch(begin, length, state, metrics):
            indices = tf.slice(orders, [0, begin], [self.slots, length])  # a static [K, length]
            return self._step(state, metrics, indices, rates, momentum, live)

        if self.full:
            _, state, metrics = tf.while_loop(
                lambda j, state, metrics: j < self.full,
                lambda j, state, metrics: (j + 1, *batch(j * size, size, state, metrics)),
                (tf.constant(0), state, metrics),
            )
        if self.remainder:  # the last, smaller batch with its own static shape
            state, metrics = batch(self.full * size, self.remainder, state, metrics)
        return state, self._results(metrics)

    def orders(self, seeds, epoch):
        """[K, count]: each trial's order of the training examples in `epoch`, the one it has alone (loop.order)."""
        if self.batch_size < self.count:
            return loop.order(self.count, seeds[:, None], epoch)
        return tf.tile(tf.range(self.count, dtype=tf.int32)[None], [self.slots, 1])  # one batch: no shuffling

    def _step(self, state, metrics, indices, rates, momentum, live):
        x, y = tf.gather(self.x, indices), tf.gather(self.y, indices)  # each trial's batch: [K, batch, ...]
        gradients, non_trainable, metrics = _vectorized_map(
            lambda args: self._gradients(*args),
            (state["trainable"], state["non_trainable"], metrics, x, y),
        )
        trainable, slots = self.rule.apply(
            state["trainable"],
            gradients,
            state["slots"],
            state["iterations"],
            rates,
            tf.cast(live, tf.float32),
            momentum,
        )
        keep = lambda new, old: tf.where(_per_trial(live, new), tf.cast(new, old.dtype), old)  # noqa: E731
        state = {
            "trainable": trainable,
            "non_trainable": [keep(new, old) for new, old in zip(non_trainable, state["non_trainable"], strict=True)],
            "slots": slots,
            "iterations": state["iterations"] + tf.cast(live, tf.int64),
        }
        return state, metrics

    def _gradients(self, trainable, non_trainable, metrics, x, y):
        """One trial's step, as Keras' train_step computes it (its JAX trainer's stateless form)."""
        trainable = list(trainable)
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            loss, y_pred, non_trainable, metrics = self._loss(trainable, list(non_trainable), list(metrics), x, y, True)
        gradients = tape.gradient(loss, trainable, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return gradients, non_trainable, self._update_metrics(metrics, loss, x, y, y_pred)

    def initial_state(self, trainable, non_trainable):
        """The state from each trial's weights (lists of arrays, one list per trial), stacked to [K, ...].

        (One flat [K, parameters] vector per trial, for a single fused update, compiled a little faster but ran an
        epoch about 15% slower, splitting and concatenating every step.)
        """
        stacked = lambda per_trial: [tf.constant(np.stack(arrays)) for arrays in zip(*per_trial, strict=True)]  # noqa: E731
        trainable = stacked(trainable)
        return {
            "trainable": trainable,
            "non_trainable": stacked(non_trainable),
            "slots": self.rule.initial_slots(trainable),
            "iterations": tf.zeros([self.slots], tf.int64),
        }

    def _loss(self, trainable, non_trainable, metrics, x, y, training):
        """The total loss (compiled loss plus model.losses), the predictions and the updated non-trainables."""
        model = self.model
        kwargs = {"training": training} if model._call_has_training_arg else {}
        y_pred, non_trainable, losses = model.stateless_call(trainable, non_trainable, x, return_losses=True, **kwargs)
        if losses:  # what the forward pass added (activity regularizers, weight regularizers), for compute_loss
            model._losses_override.clear()
            model._losses_override = losses
        loss, (_, non_trainable, metrics) = model.stateless_compute_loss(
            trainable, non_trainable, metrics, x=x, y=y, y_pred=y_pred, training=training
        )
        if losses:
            model._losses_override.clear()
        return loss, y_pred, non_trainable, metrics

    def _update_metrics(self, metrics, loss, x, y, y_pred):
        """The loss tracker (weighted by batch size) and the compiled metrics, through Keras' stateless metric API."""
        model = self.model
        with keras_backend.StatelessScope(
            state_mapping=list(zip(model.metrics_variables, metrics, strict=True))
        ) as scope:
            model._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
            model.compute_metrics(x, y, y_pred, sample_weight=None)
        updated = [scope.get_current_value(variable) for variable in model.metrics_variables]
        return [old if new is None else new for new, old in zip(updated, metrics, strict=True)]

    def _results(self, metrics):
        """Each metric's result per trial, as [K] vectors keyed by history column."""

        def one(values):
            mapping = list(zip(self.model.metrics_variables, values, strict=True))
            with keras_backend.StatelessScope(state_mapping=mapping):
                results = self.model.get_metrics_result()
            return {key: tf.cast(results[key], tf.float32) for key in self.metric_keys}

        return _vectorized_map(one, metrics)

    def _evaluate(self, state, x, y):
        """Validation as Keras' test_step computes it, over the whole split in the loop's chunks, per trial."""
        metrics = [tf.tile(value[None], [self.slots] + [1] * value.shape.rank) for value in self.initial_metrics]
        count = int(x.shape[0])
        for begin in range(0, count, loop.EVALUATION_CHUNK):
            chunk_x, chunk_y = x[begin : begin + loop.EVALUATION_CHUNK], y[begin : begin + loop.EVALUATION_CHUNK]

            def one(args, chunk_x=chunk_x, chunk_y=chunk_y):
                trainable, non_trainable, metrics = (list(part) for part in args)
                loss, y_pred, _, metrics = self._loss(trainable, non_trainable, metrics, chunk_x, chunk_y, False)
                return self._update_metrics(metrics, loss, chunk_x, chunk_y, y_pred)

            metrics = _vectorized_map(one, (state["trainable"], state["non_trainable"], metrics))
        return self._results(metrics)


def _vectorized_map(function, elements):
    """tf.vectorized_map, without autograph: under XLA it wraps the function in a tf.function, whose autograph then
    converted Keras' own code recursively, which took most of the tracing time. Its fallback notices stay off."""
    return tf.vectorized_map(tf.autograph.experimental.do_not_convert(function), elements, warn=False)


def _per_trial(flags, like):
    return tf.reshape(flags, [-1] + [1] * (like.shape.rank - 1))


@contextlib.contextmanager
def _quiet_tensorflow():
    """tf.vectorized_map's while-loop fallback notices (and pfor's others) kept off the console while tracing."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
