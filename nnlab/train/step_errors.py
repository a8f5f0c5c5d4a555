"""Errors raised while the compiled loop runs, told apart: the module's own code, or a model that does not fit.

Two kinds reach the loop, and they need different paragraphs:
  - The module's own code failing: its train_step or a layer it wrote raising while traced, a tf.debugging assert
    or check_numerics failing at batch 3 of epoch 2, an index out of range in its data. The paragraph quotes the
    error's own first line and names the epoch and the batch.
  - A model whose output does not fit the labels or the loss under Keras' own train_step, which fails at the first
    batch (nnlab.train.shape_errors: the label/loss paragraph).
Anything else (an error in nnlab's own code, or the environment: memory, disk, another worker gone) is left alone.

Where the loop was: `Position` is a variable the compiled loop writes before each batch's step and after an
epoch's last batch (validation and track run then); it places an error without re-running anything.
"""

import os
import re
import traceback

import tensorflow as tf

from nnlab.errors import NnlabError
from nnlab.train import shape_errors

# Errors of the machine or the cluster, not of the module's code: left to the runner's own handling.
ENVIRONMENT = (
    tf.errors.ResourceExhaustedError,
    tf.errors.UnavailableError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
    tf.errors.InternalError,
)


class Position:
    """Epoch and batch of the compiled loop, readable after it failed.

    The loop writes it before each batch's step (the step's ops wait for the write) and once after the epoch's
    batches (validation and track wait for that). The next write waits for every stateful op of the batch before
    (each loop iteration's outputs do), so after an error it names the batch that failed.
    """

    def __init__(self, steps_per_epoch):
        self.span = steps_per_epoch + 1  # batch index `steps_per_epoch` means: after the epoch's batches
        with tf.init_scope():  # a plain variable even when the loop is built under a distribution strategy
            self.variable = tf.Variable(tf.constant(-1, tf.int64), trainable=False, name="nnlab_position")

    def epoch(self, epoch):
        """Epoch `epoch`'s origin, computed once an epoch: a batch's write is then one addition."""
        return tf.cast(epoch, tf.int64) * self.span

    def at(self, origin, batch):
        """Write: batch `batch` of the epoch whose origin is `origin` is about to run."""
        return self.variable.assign(origin + tf.cast(batch, tf.int64))

    def after_batches(self, origin):
        return self.variable.assign(origin + (self.span - 1))

    def read(self):
        """(epoch, batch) of the last write, batch None after the epoch's batches; (None, None) before any."""
        value = int(self.variable.numpy())
        if value < 0:
            return None, None
        epoch, batch = divmod(value, self.span)
        return epoch, (None if batch == self.span - 1 else batch)


def explain(error, *, where, config, handwritten, start, first_call, position):
    """The NnlabError for an error the compiled loop raised, or None to let it through unchanged.

    Args:
      error: what the compiled call raised.
      where: the experiment's path.
      config: the run's config (its loss, for the label/loss paragraph).
      handwritten: whether the step is the module's train_step.
      start: the first epoch of the failed call.
      first_call: True if this was the loop's first compiled call, which traces the step.
      position: the loop's Position.
    """
    step = "train_step (the module's own step)" if handwritten else "the model, in Keras' train_step"
    if not isinstance(error, tf.errors.OpError):  # raised in Python, while the call was traced
        frames = traceback.extract_tb(error.__traceback__)
        last = frames[-1].filename if frames else ""
        if _same_file(last, where):
            return NnlabError(
                f"{where}: {step} raised {type(error).__name__} while nnlab traced it, before epoch {start} "
                f"began: {said(error)}. Fix that code in {where}."
            )
        if first_call and not handwritten and shape_errors.is_first_batch_error(error, 0, 0):
            return NnlabError(shape_errors.message(error, where, config))
        return None
    if isinstance(error, ENVIRONMENT):
        return None
    epoch, batch = position.read()
    if epoch is None:  # failed before the first batch's step began
        epoch, batch = start, 0
    if first_call and not handwritten and epoch == start and batch == 0 and _is_shape_error(error):
        return NnlabError(shape_errors.message(error, where, config))
    if batch is None:
        place = f"in epoch {epoch}, after its last batch (while validating or running track)"
        origin = "the model or track(model)"
    else:
        place = f"in epoch {epoch}, batch {batch} of {position.span - 1} (counting from 0)"
        origin = step
    return NnlabError(
        f"{where}: training stopped {place}: {origin} raised {type(error).__name__}: {said(error)}. An error "
        f"TensorFlow raises while the step runs comes from the module's own code or data (an assert, a numerics "
        f"check, an index out of range): fix that and run again."
    )


def said(error):
    """The error's own first line, without TensorFlow's node and function tags, clipped."""
    lines = str(error).splitlines()
    if lines and lines[0].startswith("Graph execution error"):
        lines = _after_definition_trace(lines)
    lines = [line.strip() for line in lines if line.strip()]
    if lines and lines[0].startswith("Exception encountered when calling"):  # Keras' wrapper of a layer's error
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines[1:]]
    return shape_errors.tidy(lines[0] if lines else "") or type(error).__name__


def _after_definition_trace(lines):
    """The lines after TensorFlow's "Detected at node ... defined at (most recent call last):" block of frames
    ('  File ...' lines, each maybe followed by its indented source line), where the error's own message begins."""
    last = max(
        (index for index, line in enumerate(lines) if line.startswith(("Detected at node", "  File ", "Node:"))),
        default=0,
    )
    return [line for line in lines[last + 1 :] if not line.startswith("    ")]


def _is_shape_error(error):
    """TensorFlow's complaint about shapes or types, not a failed assert of the module's own."""
    text = str(error)
    return (
        isinstance(error, tf.errors.InvalidArgumentError)
        and "assertion failed" not in text
        and bool(re.search(r"shape|incompatible|dtype|rank|dimension", text, re.IGNORECASE))
    )


def _same_file(filename, where):
    try:
        return bool(filename) and os.path.samefile(filename, where)
    except OSError:
        return False
