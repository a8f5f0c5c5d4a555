"""The training data as tensors, and the batch operations of the loop, for one array or a structure of arrays.

x may be one array, a tuple/list or a dict of arrays (several inputs), y likewise (several outputs), and a batch
may carry a third part, the class weights' per-example sample weights (nnlab.train.class_weights). Every
operation maps over the structure with tf.nest, which calls the function on a single tensor directly, so an
experiment with one x and one y array traces exactly the ops it did before structures were allowed.
"""

import keras
import numpy as np
import tensorflow as tf


def tensors(value):
    """Every array of `value` as a tensor; floating arrays in Keras' float type, so float64 data cannot clash
    with float32 weights."""

    def tensor(array):
        array = np.asarray(array)
        return tf.constant(array, dtype=keras.backend.floatx() if np.issubdtype(array.dtype, np.floating) else None)

    return tf.nest.map_structure(tensor, value)


def count(value):
    """The number of examples (static): the first axis of the first array."""
    return int(tf.nest.flatten(value)[0].shape[0])


def size(value):
    """The number of examples of a batch, as a tensor (a batch's size may be unknown while tracing)."""
    return tf.shape(tf.nest.flatten(value)[0])[0]


def gather(value, indices):
    """The examples `indices` of every array, in that order."""
    return tf.nest.map_structure(lambda tensor: tf.gather(tensor, indices), value)


def rows(value, begin, end):
    """Examples [begin, end) of every array."""
    return tf.nest.map_structure(lambda tensor: tensor[begin:end], value)


def stacked(value, batches, batch_size):
    """The first `batches` * `batch_size` examples of every array as [batches, batch_size, ...] (static shapes)."""
    return tf.nest.map_structure(
        lambda tensor: tf.reshape(tensor[: batches * batch_size], [batches, batch_size, *tensor.shape[1:]]), value
    )


def pick(value, index):
    """Entry `index` of every array's first axis (one batch of `stacked`)."""
    return tf.nest.map_structure(lambda tensor: tensor[index], value)


def specs(value, batch_size):
    """TensorSpecs of a batch of `batch_size` examples of `value`, to trace a step without running it."""
    return tf.nest.map_structure(lambda tensor: tf.TensorSpec([batch_size, *tensor.shape[1:]], tensor.dtype), value)


def per_example(value):
    """Shapes per example for messages: '(3,)' for one array, "{'a': (3,), 'b': (2,)}" for a dict."""
    shapes = tf.nest.map_structure(lambda tensor: tuple(tensor.shape[1:]), value)
    return str(shapes)
