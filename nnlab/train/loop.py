"""The one training loop: every run, study variant and sweep trial trains here, on one device or several.

Why nnlab owns the loop: Keras 3's `fit` fails under MirroredStrategy with steps_per_execution > 1
(keras-team/keras#19246) and does not run under MultiWorkerMirroredStrategy at all (keras-team/keras#20585), while
calling a step through `strategy.run` inside our own `tf.function` works under every strategy.

The step has two sources: Keras' own `model.train_step` (what `fit` runs) for ordinary experiments, and the module's
`train_step(model, optimizer, x, y)` for experiments where the loop is the lesson (it returns the batch's loss, or a
dict of scalars that includes "loss"). Everything around it is the same for both:
  - Data: the whole training split lives in tensors (x and y each one array or a structure of arrays, plus the
    class weights' sample weights; nnlab.train.batches); epoch e's order is a hash of (seed, e) (`order`), so a run
    resumed at epoch k sees the batches an uninterrupted one would. `batch_size` is the global batch: each replica
    trains on its own equal slice of every batch (its replica id picks the slice), so a config means the same
    math on any device count. Under several replicas the epoch's last, smaller batch is trimmed to a multiple of
    the replica count, so that every replica's share stays equal and the averages exact.
  - Compiled chunks: a chunk of epochs runs inside one `tf.function` (while loops over epochs and batches), and
    returns every epoch's numbers as tensors. A chunk is sized to take about a second, so progress and
    history.csv update as training runs, and a checkpoint is saved after each; the arithmetic does not depend on
    where chunks fall, so a seed's history does not either. Linreg's 5,000 one-step epochs take a few calls.
  - Epoch numbers: Keras' step keeps its running means in the model's metrics (read across replicas at the end of
    the epoch); a hand-written step's values are averaged over batches weighted by batch size. Validation runs
    `model.test_step` on the whole validation split after every epoch, with the epoch's final weights.
  - The divergence guard stops at a non-finite loss inside the chunk, or at an epoch loss above EXPLOSION times
    the first epoch's, with an error naming the learning rate.
  - The module's extra columns (train_step's extra values, track(model)) are checked before training
    (nnlab.train.columns); an error while a chunk runs is placed at its epoch and batch (nnlab.train.step_errors).
"""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from nnlab.errors import NnlabError, first_line
from nnlab.results import checkpoint, console
from nnlab.train import batches, class_weights, columns, modeling, startup, step_errors
from nnlab.train.controls import NoControls
from nnlab.train.progress import Progress, TensorBoardLog

# XLA fuses a hand-written step's small ops (linreg's many tiny steps) but takes a second or two to compile and
# rounds differently; so the choice follows the config's total step count, never timing or the epoch a resumed
# run starts from, keeping a seed's history identical. Keras' steps stay uncompiled: per-step dispatch dominates
# the MNIST MLP's small batches on a CPU, and XLA made them slower there.
JIT_MIN_STEPS = 2000
CHUNK_SECONDS = 1.0  # how long one compiled call aims to run: progress and history.csv update this often
MAX_CHUNK = 1000  # epochs per call at most; bounds the per-epoch result buffers
# Several workers (MultiWorkerMirroredStrategy) must cut chunks at the same epochs, or one worker's end-of-call
# collectives meet another's mid-chunk ones and both wait forever; so their chunks follow the step count (about
# this many steps a call), never each worker's own clock.
WORKER_CHUNK_STEPS = 1000
EVALUATION_CHUNK = 8192  # examples per test_step call when validating or testing; bounds the activations' memory
EXPLOSION = 10.0  # an epoch's loss above this many times the first epoch's counts as diverged


def train(job, controls=None):
    """Train job.model from job.initial_epoch to job.config.epochs; returns the last history row.

    Args:
      job: a nnlab.train.job.TrainingJob (model compiled under job.strategy, splits, history, checkpoint path).
      controls: per-epoch controls (nnlab.train.controls); default: none.
    """
    config = job.config
    controls = controls or NoControls()
    loop = EpochLoop(job)
    progress = Progress(config.epochs, job.verbose)
    board = TensorBoardLog(job.tensorboard_dir) if job.tensorboard_dir is not None else None
    controls.check_logged(loop.columns())  # an unknown `monitor` stops here, before the first epoch
    # A run resumed after early stopping decided (killed before it finished) trains no further epoch.
    epoch, chunk, stop = job.initial_epoch, 1, controls.stopped  # the first call also traces, so it runs one epoch
    try:
        while epoch < config.epochs and not stop:
            count = 1 if controls.active or loop.one_epoch_per_call else min(chunk, config.epochs - epoch)
            rate = controls.before_epoch(epoch)
            if rate is not None:
                loop.optimizer.learning_rate.assign(rate)
            started = time.perf_counter()
            columns = loop.run(epoch, count)
            seconds = time.perf_counter() - started
            rows = [
                {"epoch": epoch + i, **{key: float(values[i]) for key, values in columns.items()}}
                for i in range(len(columns["loss"]))
            ]
            for row in rows:
                row["seconds"] = seconds / count
            healthy = healthy_rows(rows, job.history.rows)
            if healthy:
                # append() rewrites the whole file; add a chunk's earlier rows first so it is rewritten once a chunk.
                job.history.rows.extend(healthy[:-1])
                job.history.append(healthy[-1])
                if board is not None:
                    board.write(healthy)
            if len(healthy) < len(rows):
                raise diverged(job, rows[len(healthy)], job.history.rows)
            epoch += count
            stop = any([controls.after_epoch(row["epoch"], row) for row in rows])
            if job.checkpoint_path is not None:  # after history.csv has the rows
                checkpoint.save(job.model, job.checkpoint_path, next_epoch=epoch, extra=controls.state())
            progress.update(epoch, rows[-1], seconds)
            timed = int(CHUNK_SECONDS * count / max(seconds, 1e-9))
            chunk = max(1, min(MAX_CHUNK, 10 * count, timed if loop.agreed_chunk is None else loop.agreed_chunk))
    finally:
        if board is not None:
            board.close()
    controls.finish(job.model)
    return job.history.rows[-1]


def healthy_rows(rows, earlier):
    """The leading rows before the loss turns non-finite or exceeds EXPLOSION times the first epoch's loss."""
    first = (earlier or rows)[0]["loss"]
    for index, row in enumerate(rows):
        if not math.isfinite(row["loss"]) or (first > 0 and row["loss"] > EXPLOSION * first):
            return rows[:index]
    return rows


def diverged(job, row, earlier):
    """The error for a run whose loss went non-finite or exploded, naming the epoch and the learning rate."""
    loss, first, rate = row["loss"], (earlier or [row])[0]["loss"], job.config.learning_rate
    what = (
        f"the training loss became {loss} in epoch {row['epoch']}"
        if not math.isfinite(loss)
        else f"the training loss exploded to {loss:.4g} in epoch {row['epoch']}, {loss / first:.3g} times its "
        f"first epoch's {first:.4g}"
    )
    return NnlabError(
        f"{job.where}: {what}; the run diverged. Lower learning_rate (now {rate:g}), e.g. "
        f"learning_rate={rate / 10:g}, or check the data's scale."
    )


def evaluate(model, strategy, split):
    """Loss and compiled metrics of `model` on a held-out split (x, y), as a {name: float} dict."""
    x, y = batches.tensors(tuple(split))
    with strategy.scope():
        build_metrics(model, x, y)
    values = tf.function(lambda: evaluate_graph(model, x, y), autograph=False)()
    return {key: float(value) for key, value in values.items()}


def evaluate_graph(model, x, y):
    """Keras' test_step over (x, y) in chunks, read once at the end: the metrics average over every example."""
    model.reset_metrics()
    for start in range(0, batches.count(x), EVALUATION_CHUNK):
        model.test_step(batches.rows((x, y), start, start + EVALUATION_CHUNK))
    return model.get_metrics_result()


def build_metrics(model, x, y):
    """Create the compiled metrics' variables now: a tf.function that creates them on first use fails under
    MirroredStrategy (the "must feed a value for placeholder" of keras-team/keras#19246).

    Returns whether that test_step updated a metric the model reports: a model that overrides `metrics` with its
    own trackers and `train_step`, but not `test_step` (Keras' guide "Customizing what happens in fit", going
    lower-level), reports trackers that Keras' test_step never updates, so its val_ and test numbers stay 0.
    """
    before = {id(variable): np.array(variable.numpy()) for variable in model.metrics_variables}
    model.test_step(batches.rows((x, y), None, 2))
    updated = any(
        id(variable) not in before or not np.array_equal(np.asarray(variable.numpy()), before[id(variable)])
        for variable in model.metrics_variables
    )
    model.reset_metrics()
    return updated


def _steps(optimizer):
    """How many steps `optimizer` has applied (its iterations variable may be mirrored over replicas)."""
    return int(keras.ops.convert_to_numpy(optimizer.iterations.value))


class EpochLoop:
    """The step inside compiled epochs under the job's strategy: `run(start, count)` trains [start, start + count)."""

    def __init__(self, job):
        config = job.config
        startup.hide_own_retracing_warnings()  # a sweep or study compiles one loop per model, on purpose
        self.model, self.where, self.strategy = job.model, job.where, job.strategy
        self.optimizer = self.model.optimizer
        self.replicas = self.strategy.num_replicas_in_sync
        step = job.experiment.optional("train_step")
        self.handwritten = step is not None
        self.module = job.experiment.module
        self.user_step = None if step is None else _graph_step(step)
        self.user_step_extra = (config,) if step is not None and modeling.takes_arguments(step, 5) else ()
        self.config = config
        self.x, self.y = batches.tensors(tuple(job.splits.train))
        self.validation = None if job.splits.validation is None else batches.tensors(tuple(job.splits.validation))
        count = batches.count(self.x)
        self.batch_size = min(config.batch_size, count)
        self.batch_size -= self.batch_size % self.replicas  # only when the data is smaller than one global batch
        self.steps_per_epoch = math.ceil(count / self.batch_size)
        several_workers = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
        self.agreed_chunk = WORKER_CHUNK_STEPS // self.steps_per_epoch if several_workers else None
        self.seed = config.seed
        # (x, y), or (x, y, sample_weight) with class_weight: what Keras' train_step takes, gathered and sliced alike
        self.data = (self.x, self.y)
        if config.class_weight:
            weights = class_weights.sample_weights(
                config, job.splits.train, self.handwritten, self.where, outputs=_output_width(self.model, self.x)
            )
            self.data += (tf.constant(weights),)
        remainder = count % self.batch_size
        batches_per_epoch = count // self.batch_size + (1 if remainder - remainder % self.replicas else 0)
        self.position = step_errors.Position(batches_per_epoch)  # where an error happened, if one does
        with self.strategy.scope():
            if not self.optimizer.built:  # variables cannot be created inside the compiled loop
                self.optimizer.build(self.model.trainable_variables)
            evaluates = build_metrics(self.model, self.x, self.y)
        if not evaluates:
            console.say_once(
                ("test_step updates no metric", self.where),
                f"nnlab: warning: {self.where}: the model's test_step updates none of the metrics it reports "
                f"({', '.join(metric.name for metric in self.model.metrics) or 'none'}), so its val_ and test "
                f"numbers read 0, as they do in Keras' fit. A model that reports its own trackers (overriding "
                f"`metrics`) must update them in a test_step of its own too (Keras' guide \"Customizing what "
                f'happens in fit", "Providing your own evaluation step").',
            )
        # history.csv's columns as fit wrote them: Keras' metrics by name; a hand-written step's loss first.
        names = list(self.model.get_metrics_result())
        self.metric_keys = ["loss"] + [name for name in names if name != "loss"] if step else sorted(names)
        if self.handwritten and self.replicas > 1:
            _average_gradients_over_replicas(self.optimizer, self.replicas)
        self.step_keys = self._check_step() if self.handwritten else self.metric_keys
        track = job.experiment.optional("track")
        self.track = None if track is None else columns.Track(track, self.model, self.where)
        if self.track is not None:
            self.track.prepare(self.step_keys + self.metric_keys + self._validation_keys())
        # track that cannot be compiled runs between calls, after every epoch
        self.one_epoch_per_call = self.track is not None and self.track.eager
        steps = config.epochs * self.steps_per_epoch
        self.jit = self.handwritten and self.replicas == 1 and steps >= JIT_MIN_STEPS
        self.compiled = tf.function(self._epochs, jit_compile=self.jit, autograph=False)
        self.calls = 0

    def run(self, start, count):
        """Train `count` epochs from epoch `start`; {column: per-epoch values}, cut at a non-finite loss."""
        try:
            done, values = self._call(start, count)
        except Exception as error:  # not BaseException: a module's SystemExit or a Ctrl-C passes untouched
            explained = step_errors.explain(
                error,
                where=self.where,
                config=self.config,
                handwritten=self.handwritten,
                start=start,
                first_call=not self.calls,
                position=self.position,
            )
            if explained is None:
                raise
            raise explained from None
        self.calls += 1
        done = int(done)
        if self.handwritten and done and not _steps(self.optimizer):
            self._warn_unused_optimizer()
        values = {key: array.numpy()[:done] for key, array in values.items()}
        if self.one_epoch_per_call and done:  # the track that runs eagerly, after this call's one epoch
            values.update({key: np.array([value]) for key, value in self.track.eager_values(start).items()})
        return {key: values[key] for key in self.columns()}

    def _call(self, start, count):
        try:
            return self.compiled(tf.constant(start), tf.constant(count))
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as error:
            if not self.jit or self.calls:
                raise
            # XLA rejects a few ops; nothing ran yet (compilation precedes execution), so retry without it.
            print(f"{self.where}: XLA cannot compile train_step ({first_line(error)}); running it uncompiled.")
            self.jit = False
            self.compiled = tf.function(self._epochs, jit_compile=False, autograph=False)
            return self.compiled(tf.constant(start), tf.constant(count))

    def _warn_unused_optimizer(self):
        """A train_step that steps an optimizer of its own (a module-level one, as a tutorial's script has) trains,
        but without the config's optimizer, learning rate and schedule, and its optimizer's state is not in the
        checkpoint; the learning_rate column would name a rate that was never used. One line says so. (A step that
        updates the weights by hand, `w.assign_sub(config.learning_rate * dw)`, steps no optimizer: no line.)"""
        own = [
            name
            for name, value in vars(self.module).items()
            if isinstance(value, keras.optimizers.Optimizer) and value is not self.optimizer and _steps(value)
        ]
        if not own:
            return
        console.say_once(
            ("own optimizer", self.where),
            f"nnlab: warning: {self.where}: train_step stepped the module's own optimizer {own[0]}, not the one "
            f"nnlab handed it, so config's optimizer, learning_rate and lr_schedule do not apply, the learning_rate "
            f"column is not the rate that trained, and --resume cannot restore {own[0]}'s state. Call "
            f"apply_gradients on train_step's `optimizer` argument instead.",
        )

    def columns(self):
        """The history columns each epoch produces, apart from epoch and seconds."""
        track_keys = [] if self.track is None else self.track.keys
        return self.step_keys + self._validation_keys() + track_keys + ["learning_rate"]

    def _epochs(self, start, count):
        compiled_track = self.track is not None and not self.track.eager
        eager_keys = [] if self.track is None or compiled_track else self.track.keys
        keys = [key for key in self.columns() if key not in eager_keys]
        arrays = {key: tf.TensorArray(tf.float32, size=MAX_CHUNK) for key in keys}

        def keep_going(i, finite, arrays):
            return tf.logical_and(i < count, finite)

        def one_epoch(i, finite, arrays):
            origin = self.position.epoch(start + i)
            values = self._train_epoch(start + i, origin)
            # Written once the batches are done, before validation and track: an error there is placed after them.
            with tf.control_dependencies(tf.nest.flatten(values)):
                batches_done = self.position.after_batches(origin)
            with tf.control_dependencies([batches_done]):
                if self.validation is not None:
                    x, y = self.validation
                    values.update({f"val_{key}": value for key, value in evaluate_graph(self.model, x, y).items()})
                if compiled_track:
                    values.update(self.track.graph_values())
            values["learning_rate"] = self.optimizer.learning_rate
            arrays = {key: arrays[key].write(i, tf.cast(values[key], tf.float32)) for key in keys}
            return i + 1, tf.math.is_finite(tf.cast(values["loss"], tf.float32)), arrays

        done, _, arrays = tf.while_loop(keep_going, one_epoch, (tf.constant(0), tf.constant(True), arrays))
        return done, {key: array.stack() for key, array in arrays.items()}

    def _train_epoch(self, epoch, origin):
        """One pass over the training data in global batches, reshuffled per epoch; the epoch's numbers.

        `origin` is the epoch's position origin (step_errors.Position), written with the batch index before each step.
        """
        data, size = self.data, self.batch_size
        count = batches.count(data)
        if not self.handwritten:
            self.model.reset_metrics()
        if size < count:  # a full batch needs no shuffling
            data = batches.gather(data, order(count, self.seed, epoch))
        full = count // size
        remainder = count - full * size
        remainder -= remainder % self.replicas  # equal shares for every replica (see the module docstring)
        sums = {key: tf.constant(0.0) for key in self.step_keys} if self.handwritten else {}
        used = full * size + remainder

        def add(sums, batch, index):
            with tf.control_dependencies([self.position.at(origin, index)]):  # the step waits: an error is placed
                values = self._step(batch)
            weight = tf.cast(batches.size(batch), tf.float32)
            return {key: sums[key] + weight * tf.cast(values[key], tf.float32) for key in sums}

        if full == 1 and not remainder:  # one full batch (linreg): no slicing, no inner loop
            sums = add(sums, batches.rows(data, None, size), 0)
        elif not self.jit:
            # One loop over every batch, the last one smaller: the step is traced once, for a batch of unknown
            # size, instead of twice (tracing is most of a first epoch's extra time).
            def next_batch(j, sums):
                begin = j * size
                end = tf.minimum(begin + size, used)
                return j + 1, add(sums, batches.rows(data, begin, end), j)

            steps = full + (1 if remainder else 0)
            _, sums = tf.while_loop(lambda j, sums: j < steps, next_batch, (0, sums))
        else:  # XLA needs static shapes: full batches in a loop, then the smaller one with its own shape
            stacked = batches.stacked(data, full, size)
            _, sums = tf.while_loop(
                lambda j, sums: j < full, lambda j, sums: (j + 1, add(sums, batches.pick(stacked, j), j)), (0, sums)
            )
            if remainder:
                sums = add(sums, batches.rows(data, full * size, used), full)
        if not self.handwritten:
            return dict(self.model.get_metrics_result())  # read across replicas: sums of every replica's totals
        return {key: total / used for key, total in sums.items()}

    def _step(self, batch):
        """One global batch through every replica; a hand-written step's values averaged over replicas."""
        outputs = self.strategy.run(self._replica_step, args=(batch,))
        if not self.handwritten:
            return {}
        return {
            key: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for key, value in outputs.items()
        }

    def _replica_step(self, batch):
        if self.replicas > 1:  # this replica's equal slice of the global batch
            index = tf.distribute.get_replica_context().replica_id_in_sync_group
            share = batches.size(batch) // self.replicas
            batch = batches.rows(batch, index * share, (index + 1) * share)
        if not self.handwritten:
            self.model.train_step(batch)  # (x, y), or (x, y, sample_weight) with class_weight
            return {}
        x, y = batch
        result = self.user_step(self.model, self.optimizer, x, y, *self.user_step_extra)
        return columns.step_outputs(result, self.where)

    def _validation_keys(self):
        return [] if self.validation is None else [f"val_{key}" for key in self.metric_keys]

    def _check_step(self):
        """Trace the step once on one batch (nothing runs) to learn what it returns; user errors name the module."""

        def one_step(batch):
            outputs = self.strategy.run(self._replica_step, args=(batch,))
            return self.strategy.experimental_local_results(outputs)[0]

        try:
            traced = tf.function(one_step, autograph=False).get_concrete_function(
                batches.specs((self.x, self.y), self.batch_size)
            )
        except NnlabError:
            raise
        except Exception as error:
            raise NnlabError(
                f"{self.where}: train_step(model, optimizer, x, y) failed on a batch of {self.batch_size} "
                f"(x {batches.per_example(self.x)}, y {batches.per_example(self.y)} per example): "
                f"{type(error).__name__}: {first_line(error)}. Fix the step."
            ) from None
        return columns.check_step_outputs(traced.structured_outputs, (), self.where)


def _average_gradients_over_replicas(optimizer, replicas):
    """Make the optimizer average, not sum, the replicas' gradients: a hand-written step returns its slice's mean
    loss, as on one device, and should not have to scale it by the replica count (Keras' own step does that)."""
    summed = optimizer._all_reduce_sum_gradients  # Keras' TensorFlow optimizer's one cross-replica reduction

    def averaged(grads_and_vars):
        return [
            (None if gradient is None else gradient / replicas, variable)
            for gradient, variable in summed(grads_and_vars)
        ]

    optimizer._all_reduce_sum_gradients = averaged


def _graph_step(step):
    """The step with its own Python `if`/`for` on tensors made graph ops, but not the Keras code it calls.

    Autograph converting Keras' code recursively made tracing linreg's loop slower by a second, so the compiled
    loop runs with autograph off and only the experiment's step is converted.
    """
    try:
        return tf.autograph.to_graph(step, recursive=False)
    except Exception:  # no source to convert (a lambda typed into a notebook): trace it as written
        return step


def order(count, seed, epoch):
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


def _output_width(model, x):
    """The width of the model's output per example (1 for a sigmoid, K for a softmax), from one example."""
    outputs = model(batches.rows(x, None, 1), training=False)
    return int(np.prod(keras.tree.flatten(outputs)[0].shape[1:]))
