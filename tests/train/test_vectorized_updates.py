"""nnlab's batched update rules (nnlab.train.vectorized.updates) against nnlab/reference/numpy_mlp.py in float64:
K trials stacked along a leading axis, each with its own learning rate (and momentum), must each take the step the
reference optimizer takes for that trial alone."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from nnlab.reference import numpy_mlp as reference
from nnlab.train.vectorized import updates

SIZES = [5, 8, 3]
STEPS = 6
# As in tests/test_numpy_reference.py: hyperparameters float32 holds exactly run the same arithmetic as the
# reference; the usual ones reach the powers through float32 (Keras' ops.cast), so they agree to ~1e-6.
EXACT = {"rates": [0.125, 0.0625, 0.25], "momentum": [0.875, 0.0, 0.5], "beta_1": 0.875, "beta_2": 1 - 2**-10}
USUAL = {"rates": [0.1, 0.01, 0.003], "momentum": [0.9, 0.0, 0.5], "beta_1": 0.9, "beta_2": 0.999}


def trials(count=3):
    """`count` reference MLPs of one structure with their own weights and batches."""
    rng = np.random.default_rng(7)
    mlps = [reference.MLP.initialised(SIZES, seed, "relu", "sparse_categorical_crossentropy") for seed in range(count)]
    batches = [(rng.normal(size=(16, SIZES[0])), rng.integers(0, SIZES[-1], size=16)) for _ in range(count)]
    return mlps, batches


def stacked(mlps):
    return [tf.constant(np.stack(params)) for params in zip(*(mlp.params for mlp in mlps), strict=True)]


@pytest.mark.parametrize("settings, rtol, atol", [(EXACT, 1e-12, 1e-15), (USUAL, 1e-6, 1e-6)], ids=["exact", "usual"])
@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_batched_rules_match_the_numpy_reference_per_trial(name, settings, rtol, atol):
    """Three live trials, each as the reference steps it alone, and a fourth, frozen, that keeps its values."""
    mlps, batches = trials(4)
    frozen, mlps, batches = mlps[3], mlps[:3], batches[:3]
    rates = np.array(settings["rates"]) / (8 if name == "adam" else 1)  # Adam takes smaller steps; /8 stays exact
    if name == "adam":
        rule = updates.Adam(settings["beta_1"], settings["beta_2"], 1e-7)
        theirs = [reference.Adam(rate, settings["beta_1"], settings["beta_2"], 1e-7) for rate in rates]
    else:
        rule = updates.SGD()
        theirs = [reference.SGD(rate, momentum) for rate, momentum in zip(rates, settings["momentum"], strict=True)]
    variables = stacked([*mlps, frozen])
    slots = rule.initial_slots(variables)
    start = [variable.numpy()[3] for variable in variables]
    iterations = tf.zeros([4], tf.int64)
    for _ in range(STEPS):
        gradients = [mlp.gradients(*batch)[1] for mlp, batch in zip(mlps, batches, strict=True)]
        ignored = frozen.gradients(*batches[0])[1]  # a frozen trial's gradient is computed, and must not count
        variables, slots = rule.apply(
            variables,
            [tf.constant(np.stack(parts)) for parts in zip(*gradients, ignored, strict=True)],
            slots,
            iterations,
            tf.constant([*rates, 0.5], tf.float32),  # the program's per-trial rates are float32, as Keras' variable
            tf.constant([1, 1, 1, 0], tf.float64),
            tf.constant([*settings["momentum"], 0.9], tf.float32),
        )
        iterations += [1, 1, 1, 0]
        for mlp, optimizer, trial_gradients in zip(mlps, theirs, gradients, strict=True):
            optimizer.apply(mlp.params, trial_gradients)
        for index, variable in enumerate(variables):
            for trial, mlp in enumerate(mlps):
                np.testing.assert_allclose(variable.numpy()[trial], mlp.params[index], rtol=rtol, atol=atol)
            np.testing.assert_array_equal(variable.numpy()[3], start[index])
    assert all(not np.any(slot.numpy()[3]) for part in slots for slot in part)  # its optimizer state too
    assert all(variable.dtype == tf.float64 for variable in variables)


def test_adam_rule_is_bitwise_keras_adam_in_float64():
    """What the trial alone runs: Keras' Adam (nnlab's fused kernel is bitwise Keras' in float64)."""
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 40))
    gradients = [rng.normal(size=(3, 40)) * scale for scale in (1.0, 1e-3, 10.0, 0.5)]
    rates = np.array([0.01, 0.001, 0.1])
    rule = updates.Adam()
    variables, slots = [tf.constant(start)], rule.initial_slots([tf.constant(start)])
    for step, gradient in enumerate(gradients):
        variables, slots = rule.apply(
            variables,
            [tf.constant(gradient)],
            slots,
            tf.fill([3], tf.constant(step, tf.int64)),
            tf.constant(rates, tf.float32),
            tf.ones([3], tf.float64),
        )
    for trial, rate in enumerate(rates):
        variable = keras.Variable(start[trial])
        optimizer = keras.optimizers.Adam(learning_rate=rate)
        optimizer.build([variable])
        for gradient in gradients:
            optimizer.apply_gradients([(tf.constant(gradient[trial]), variable)])
        np.testing.assert_array_equal(variables[0].numpy()[trial], variable.numpy())


def test_only_adam_and_sgd_at_keras_defaults_have_a_batched_rule():
    assert isinstance(updates.for_optimizer(keras.optimizers.Adam(0.01)), updates.Adam)
    assert isinstance(updates.for_optimizer(keras.optimizers.SGD(0.01, momentum=0.9)), updates.SGD)
    for optimizer in (
        keras.optimizers.RMSprop(),
        keras.optimizers.Adam(amsgrad=True),
        keras.optimizers.Adam(clipnorm=1.0),
        keras.optimizers.SGD(nesterov=True, momentum=0.9),
        keras.optimizers.AdamW(),
    ):
        assert updates.for_optimizer(optimizer) is None, optimizer


def test_the_compile_cache_is_per_machine_and_can_be_turned_off(tmp_path, monkeypatch):
    from nnlab.train.vectorized import compile_cache

    monkeypatch.setenv("NNLAB_CACHE", str(tmp_path))
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    monkeypatch.setenv("NNLAB_XLA_CACHE", "0")
    assert compile_cache.enable() is None and os.environ["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=0"
    monkeypatch.setenv("NNLAB_XLA_CACHE", "1")
    path = compile_cache.enable()
    assert path.parent == tmp_path / "xla" and len(path.name) == 16 and path.is_dir()
    assert os.environ["TF_XLA_FLAGS"] == f"--tf_xla_auto_jit=0 --tf_xla_persistent_cache_directory={path}"
    assert compile_cache.enable() is None  # a cache directory already named is left alone
    (path / "entry.pb").write_bytes(b"damaged")
    assert compile_cache.clear() and not list(path.iterdir())
