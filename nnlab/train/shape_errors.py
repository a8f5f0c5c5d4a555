"""TensorFlow's shape and type errors at the first batch, as one paragraph instead of a page of graph trace.

A model whose output does not fit the labels or the loss (loss=mse on integer class labels, a last layer of the
wrong width, float labels for a sparse loss) fails inside Keras' traced train step before any epoch ends; the
error is the user's to fix, and its first line says what TensorFlow saw. The same error after an epoch has
finished is something else, a bug, and keeps its traceback, as does an error raised outside Keras/TensorFlow.
"""

import re
import traceback

FIRST_LINE_CHARS = 400
LIBRARIES = ("/keras/", "/tensorflow/", "/tf_keras/")


def is_first_batch_error(error, epochs_before, epochs_after):
    """True for a shape or type error raised inside Keras/TensorFlow before the first epoch of this session ended."""
    import tensorflow as tf

    if epochs_after > epochs_before or not isinstance(error, (ValueError, TypeError, tf.errors.InvalidArgumentError)):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and any(library in frames[-1].filename.replace("\\", "/") for library in LIBRARIES)


def tidy(line):
    """One line of TensorFlow's message without its node and op names (they mean nothing to a user), clipped."""
    line = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:[\w-]+\].*$", "", line).strip()
    return line if len(line) <= FIRST_LINE_CHARS else line[:FIRST_LINE_CHARS] + " ..."


def message(error, where, config):
    """The paragraph: what TensorFlow said (its first meaningful line), and what to check."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    telling = [line for line in lines if re.search(r"shape|incompatible|dtype|expected|cannot|must", line, re.I)]
    said = tidy((telling or lines or [type(error).__name__])[0])
    return (
        f"{where}: training failed at the first batch: TensorFlow raised {type(error).__name__}: {said} "
        f"The model's output, the labels and the loss do not fit together: check loss={config.loss} against the "
        f"labels (integer class labels need sparse_categorical_crossentropy, one-hot labels "
        f"categorical_crossentropy), the width of the last layer, and the input shape build_model expects."
    )
