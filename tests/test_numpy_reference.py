"""The NumPy reference MLP is right (finite differences), and TensorFlow and Keras agree with it in float64."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nnlab import NnlabError
from nnlab.reference import numpy_mlp as reference

# (hidden activation, loss, layer sizes): classifiers, a regressor, and a single (linear) neuron.
CASES = [
    ("relu", "sparse_categorical_crossentropy", [5, 8, 6, 3]),
    ("tanh", "mse", [4, 7, 2]),
    ("sigmoid", "sparse_categorical_crossentropy", [3, 5, 2]),
    ("linear", "mse", [3, 1]),
]
STEPS = 5


@pytest.fixture
def float64():
    # Keras fixes its global dtype policy from floatx the first time any layer is built, so set both.
    previous, previous_policy = keras.backend.floatx(), keras.config.dtype_policy()
    keras.backend.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.backend.set_floatx(previous)
    keras.config.set_dtype_policy(previous_policy)


def problem(activation, loss, sizes, seed=0):
    """A reference MLP with non-zero biases, and a batch of 16 examples for it."""
    rng = np.random.default_rng(seed)
    mlp = reference.MLP.initialised(sizes, seed, activation, loss)
    for bias in mlp.params[1::2]:
        bias += rng.normal(scale=0.1, size=bias.shape)  # zero biases would hide a wrong bias gradient
    x = rng.normal(size=(16, sizes[0]))
    y = rng.integers(0, sizes[-1], size=16) if loss.startswith("sparse") else rng.normal(size=(16, sizes[-1]))
    return mlp, x, y


def keras_twin(mlp, sizes):
    """The same network as a Keras Sequential holding the reference's current weights."""
    hidden = [keras.layers.Dense(units, activation=mlp.activation) for units in sizes[1:-1]]
    model = keras.Sequential([keras.Input(shape=(sizes[0],)), *hidden, keras.layers.Dense(sizes[-1])])
    model.set_weights(mlp.params)
    return model


def keras_loss(name):
    if name.startswith("sparse"):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()


def tensorflow_gradients(model, loss, x, y):
    with tf.GradientTape() as tape:
        value = loss(y, model(x))
    return float(value), [gradient.numpy() for gradient in tape.gradient(value, model.trainable_variables)]


def assert_all_close(actual, expected, rtol=1e-6, atol=1e-10):
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"parameter {index}")


@pytest.mark.parametrize("activation, loss, sizes", CASES)
def test_backpropagation_matches_finite_differences(activation, loss, sizes):
    mlp, x, y = problem(activation, loss, sizes)
    _, gradients = mlp.gradients(x, y)
    assert_all_close(gradients, reference.numerical_gradients(mlp, x, y), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("activation, loss, sizes", CASES)
def test_tensorflow_gradients_match_the_reference(float64, activation, loss, sizes):
    mlp, x, y = problem(activation, loss, sizes)
    model = keras_twin(mlp, sizes)
    assert all(variable.dtype == "float64" for variable in model.trainable_variables)
    tf_loss, tf_gradients = tensorflow_gradients(model, keras_loss(loss), x, y)
    ref_loss, ref_gradients = mlp.gradients(x, y)
    assert tf_loss == pytest.approx(ref_loss, rel=1e-9)
    assert_all_close(tf_gradients, ref_gradients)


# Keras casts Python-float hyperparameters to the variables' dtype through a float32 tensor (tf.cast(0.9, float64)
# is 0.8999999761581421), so momentum 0.9 and Adam's betas 0.9/0.999 act as their float32 roundings. With
# hyperparameters that float32 holds exactly, Keras and the reference run the same arithmetic; with the usual
# values they still agree to ~1e-6.
EXACT = {"learning_rate": 0.125, "momentum": 0.875, "beta_1": 0.875, "beta_2": 1 - 2**-10}
USUAL = {"learning_rate": 0.1, "momentum": 0.9, "beta_1": 0.9, "beta_2": 0.999}
OPTIMIZERS = {
    "sgd": (lambda h: keras.optimizers.SGD(h["learning_rate"]), lambda h: reference.SGD(h["learning_rate"])),
    "momentum": (
        lambda h: keras.optimizers.SGD(h["learning_rate"], momentum=h["momentum"]),
        lambda h: reference.SGD(h["learning_rate"], momentum=h["momentum"]),
    ),
    "adam": (
        lambda h: keras.optimizers.Adam(h["learning_rate"] / 10, beta_1=h["beta_1"], beta_2=h["beta_2"]),
        lambda h: reference.Adam(h["learning_rate"] / 10, beta_1=h["beta_1"], beta_2=h["beta_2"]),
    ),
}


@pytest.mark.parametrize(
    "hyperparameters, rtol, atol", [(EXACT, 1e-9, 1e-12), (USUAL, 1e-6, 1e-6)], ids=["exact", "usual"]
)
@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("activation, loss, sizes", CASES[:2])
def test_keras_updates_match_the_reference(
    float64, optimizer_name, hyperparameters, rtol, atol, activation, loss, sizes
):
    mlp, x, y = problem(activation, loss, sizes)
    make_keras, make_reference = OPTIMIZERS[optimizer_name]
    model, optimizer, ours = keras_twin(mlp, sizes), make_keras(hyperparameters), make_reference(hyperparameters)
    start = [param.copy() for param in mlp.params]
    for _ in range(STEPS):
        _, gradients = tensorflow_gradients(model, keras_loss(loss), x, y)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        reference.train_step(mlp, ours, x, y)
    moved = max(np.abs(param - before).max() for param, before in zip(mlp.params, start, strict=True))
    assert moved > 1e-3, "the optimizers must actually move the weights for the comparison to mean anything"
    assert_all_close([variable.numpy() for variable in model.trainable_variables], mlp.params, rtol=rtol, atol=atol)


def test_adam_differs_from_sgd_so_the_comparison_can_fail(float64):
    activation, loss, sizes = CASES[0]
    mlp, x, y = problem(activation, loss, sizes)
    other = reference.MLP([param.copy() for param in mlp.params], activation, loss)
    adam, sgd = reference.Adam(learning_rate=0.01), reference.SGD(learning_rate=0.01)
    for _ in range(STEPS):
        reference.train_step(mlp, adam, x, y)
        reference.train_step(other, sgd, x, y)
    assert not np.allclose(mlp.params[0], other.params[0], rtol=1e-6, atol=1e-10)


def test_the_reference_learns_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    mlp = reference.MLP.initialised([2, 4, 2], seed=0, activation="tanh", loss="sparse_categorical_crossentropy")
    optimizer = reference.Adam(learning_rate=0.05)
    losses = [reference.train_step(mlp, optimizer, x, y) for _ in range(300)]
    assert losses[-1] < 0.05 < losses[0]
    assert (mlp.forward(x)[0].argmax(axis=1) == y).all()


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(NnlabError, match="activation must be one of .*'swish'"):
        reference.MLP.initialised([2, 1], activation="swish")
