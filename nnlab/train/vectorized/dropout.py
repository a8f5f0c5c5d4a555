"""Dropout masks from integer hashing while the group program is traced, so that K trials' masks vectorize.

Keras' Dropout draws its mask with tf.random.stateless_uniform, which tf.vectorized_map cannot vectorize (it falls
back to a while loop over the K trials), and whose XLA kernel is slow on a CPU (README, "Where the time goes"). While
the group program is traced, Keras' TensorFlow `dropout` is replaced by one that keeps its contract (the same seed
drawn from the layer's SeedGenerator, advancing its state exactly as the trial alone does; keep with probability
1 - rate, kept values scaled by 1 / (1 - rate)) but makes the uniform numbers with a 32-bit integer hash of (seed,
element index): a few elementwise integer ops, which vectorize over trials and fuse under XLA.

The masks therefore differ from the trial trained alone (whose XLA-free kernel draws other numbers from the same
seed anyway); best_config.json says so for a grouped trial with dropout.
"""

import contextlib

import tensorflow as tf

MASK32 = 0xFFFFFFFF


def uniform(seed, shape, dtype):
    """Numbers in [0, 1) of `shape` from a [2] integer `seed`: a 32-bit hash of the element index and the seed."""
    seed = tf.cast(seed, tf.int64)
    key = (seed[0] * 0x9E3779B1 + seed[1] * 0x85EBCA77 + 0x165667B1) & MASK32
    count = tf.cast(tf.reduce_prod(shape), tf.int64)
    mixed = (tf.range(count, dtype=tf.int64) * 0x27D4EB2F + key) & MASK32
    sixteen = tf.constant(16, tf.int64)
    for _ in range(3):  # rounds of xor-shift and multiply: each input bit reaches every output bit
        mixed = (tf.bitwise.bitwise_xor(mixed, tf.bitwise.right_shift(mixed, sixteen)) * 0x45D9F3B) & MASK32
    mixed = tf.bitwise.bitwise_xor(mixed, tf.bitwise.right_shift(mixed, sixteen))
    top24 = tf.bitwise.right_shift(mixed, tf.constant(8, tf.int64))  # 24 bits: exact in float32
    return tf.reshape(tf.cast(top24, dtype) * (1.0 / (1 << 24)), shape)


def hashed_dropout(inputs, rate, noise_shape=None, seed=None):
    """keras.src.backend.tensorflow.random.dropout's contract, with `uniform` for the mask."""
    from keras.src.backend.tensorflow import random as keras_random
    from keras.src.random.seed_generator import draw_seed

    if rate == 1.0:
        return tf.zeros_like(inputs)
    if rate == 0.0:
        return inputs
    seed = draw_seed(seed)
    shape = tf.shape(inputs) if noise_shape is None else keras_random._get_concrete_noise_shape(inputs, noise_shape)
    keep = uniform(seed, tf.convert_to_tensor(shape, tf.int32), inputs.dtype) >= rate
    scaled = inputs * tf.constant(1 / (1 - rate), inputs.dtype)
    return tf.where(keep, scaled, tf.zeros_like(scaled))


@contextlib.contextmanager
def hashed():
    """Keras' TensorFlow dropout replaced by `hashed_dropout` inside the block (tracing only; restored after)."""
    from keras.src.backend.tensorflow import random as keras_random

    original = keras_random.dropout
    keras_random.dropout = hashed_dropout
    try:
        yield
    finally:
        keras_random.dropout = original
