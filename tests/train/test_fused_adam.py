"""nnlab.train.fused_adam: TensorFlow's fused Adam kernel must compute exactly what Keras' Adam computes."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import nnlab
from nnlab.train import fused_adam, modeling


def adam_pair(**settings):
    keras_adam = keras.optimizers.Adam(**settings)
    return keras_adam, fused_adam.fuse(keras.optimizers.Adam(**settings))


def train(optimizer, start, gradients):
    """Apply each gradient in turn to a fresh variable; the variable and the optimizer's slots after."""
    variable = keras.Variable(start)
    optimizer.build([variable])
    for gradient in gradients:
        optimizer.apply_gradients([(gradient, variable)])
    return [variable.numpy()] + [slot.numpy() for slot in optimizer.variables]


def gradients(dtype, count=4, size=1000):
    rng = np.random.default_rng(3)
    return [tf.constant(rng.normal(size=size) * scale, dtype) for scale in (1.0, 1e-3, 10.0, 0.5)[:count]]


def test_float64_updates_are_bitwise_keras_adam():
    keras_adam, fused = adam_pair(learning_rate=0.01)
    assert fused_adam.is_fused(fused) and not fused_adam.is_fused(keras_adam)
    start = np.random.default_rng(0).normal(size=1000)
    expected = train(keras_adam, start, gradients(tf.float64))
    for got, want in zip(train(fused, start, gradients(tf.float64)), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_float32_updates_match_keras_adam_to_rounding():
    keras_adam, fused = adam_pair(learning_rate=0.01)
    start = np.random.default_rng(0).normal(size=1000).astype("float32")
    expected = train(keras_adam, start, gradients(tf.float32))
    got = train(fused, start, gradients(tf.float32))
    for value, want in zip(got, expected, strict=True):
        np.testing.assert_allclose(value, want, rtol=1e-4, atol=1e-6)  # last bits differ: 1 - beta in float32


def test_sparse_gradients_take_keras_own_update():
    keras_adam, fused = adam_pair(learning_rate=0.1)
    start = np.arange(12.0).reshape(6, 2)
    rows = tf.IndexedSlices(tf.constant([[1.0, -1.0], [0.5, 2.0]], tf.float64), tf.constant([1, 4]), [6, 2])
    for got, want in zip(train(fused, start, [rows, rows]), train(keras_adam, start, [rows, rows]), strict=True):
        np.testing.assert_array_equal(got, want)


def test_fused_update_compiles_with_xla():
    plain, compiled = adam_pair(learning_rate=0.01)
    start = np.random.default_rng(1).normal(size=1000).astype("float32")
    variable = keras.Variable(start)
    compiled.build([variable])
    step = tf.function(lambda gradient: compiled.apply_gradients([(gradient, variable)]), jit_compile=True)
    for gradient in gradients(tf.float32):
        step(gradient)
    expected = train(plain, start, gradients(tf.float32))[0]
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-4, atol=1e-6)


@dataclasses.dataclass(frozen=True)
class Config(nnlab.Config):
    optimizer: str = "adam"
    learning_rate: float = 1e-3


@pytest.mark.parametrize(
    "made, fused",
    [
        (lambda: modeling.make_optimizer(Config()), True),
        (lambda: modeling.make_optimizer(Config(optimizer="sgd")), False),
        (lambda: modeling.make_optimizer(Config(optimizer="adamw")), False),
        (lambda: fused_adam.fuse(keras.optimizers.Adam(amsgrad=True)), False),
    ],
    ids=["adam", "sgd", "adamw", "amsgrad"],
)
def test_only_plain_adam_is_fused(made, fused):
    assert fused_adam.is_fused(made()) is fused


def test_a_model_trained_with_it_saves_and_loads_as_keras_adam(tmp_path):
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile(optimizer=modeling.make_optimizer(Config()), loss="mse")
    model.fit(np.ones((8, 3), "float32"), np.zeros((8, 2), "float32"), epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer) is keras.optimizers.Adam and not fused_adam.is_fused(loaded.optimizer)
    for got, want in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_the_runners_default_strategy_scope_keeps_it_fused():
    from nnlab.train import devices

    with devices.setup(0).strategy.scope():  # what modeling.prepare builds and compiles under on one device
        assert fused_adam.is_fused(modeling.make_optimizer(Config()))
