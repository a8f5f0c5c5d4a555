"""A small multilayer perceptron in plain NumPy — forward pass, backpropagation, SGD and Adam — to check against.

The from-scratch lesson, written to be right rather than short: tests/test_numpy_reference.py checks these
gradients against finite differences, then checks that TensorFlow's gradients and Keras' SGD and Adam updates
match them to ~1e-6 in float64 on the same weights. A single neuron is the MLP with no hidden layer.

Parameters are a flat list [W1, b1, W2, b2, ...], the order of a Keras Sequential of Dense layers'
`trainable_variables`; W has shape (inputs, outputs) as a Keras kernel does. The last layer is linear: its
outputs are the logits or the regression values, and the losses below take them as such.
"""

import numpy as np

from nnlab.errors import NnlabError


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))  # = 1 / (1 + exp(-z)), without overflow for large |z|


ACTIVATIONS = {
    # name: (f(z), f'(z)) — the derivative as a function of the pre-activation z
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
}


def mse(outputs, targets):
    """Mean squared error over every output of every example, and its gradient w.r.t. the outputs."""
    difference = outputs - targets.reshape(outputs.shape)
    return np.mean(difference**2), 2 * difference / difference.size


def sparse_softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient w.r.t. the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)  # softmax is shift-invariant; this keeps exp finite
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    loss = -np.mean(log_probabilities[rows, labels])
    gradient = np.exp(log_probabilities)
    gradient[rows, labels] -= 1
    return loss, gradient / len(labels)


LOSSES = {"mse": mse, "sparse_categorical_crossentropy": sparse_softmax_cross_entropy}


class MLP:
    """Dense layers with one hidden activation and a linear output layer."""

    def __init__(self, params, activation="relu", loss="mse"):
        if activation not in ACTIVATIONS or loss not in LOSSES:
            raise NnlabError(
                f"numpy_reference.MLP: activation must be one of {sorted(ACTIVATIONS)} and loss one of "
                f"{sorted(LOSSES)}; got activation={activation!r}, loss={loss!r}."
            )
        self.params = [np.array(param, dtype=np.float64) for param in params]
        self.activation, self.loss_name = activation, loss

    @classmethod
    def initialised(cls, sizes, seed=0, activation="relu", loss="mse"):
        """Glorot-uniform kernels and zero biases for layer sizes like [inputs, hidden..., outputs]."""
        rng = np.random.default_rng(seed)
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            limit = np.sqrt(6 / (fan_in + fan_out))
            params += [rng.uniform(-limit, limit, size=(fan_in, fan_out)), np.zeros(fan_out)]
        return cls(params, activation, loss)

    def forward(self, x):
        """The outputs, and the pre-activations of every layer (what backward needs)."""
        function = ACTIVATIONS[self.activation][0]
        value, pre_activations = np.asarray(x, dtype=np.float64), []
        layers = len(self.params) // 2
        for index in range(layers):
            kernel, bias = self.params[2 * index], self.params[2 * index + 1]
            pre_activations.append(value @ kernel + bias)
            value = pre_activations[-1] if index == layers - 1 else function(pre_activations[-1])
        return value, pre_activations

    def loss(self, x, y):
        return LOSSES[self.loss_name](self.forward(x)[0], np.asarray(y))[0]

    def gradients(self, x, y):
        """The loss and its gradient w.r.t. every parameter (same order as params), by backpropagation."""
        function, derivative = ACTIVATIONS[self.activation]
        outputs, pre_activations = self.forward(x)
        loss, delta = LOSSES[self.loss_name](outputs, np.asarray(y))  # delta: d loss / d pre-activation
        gradients = [None] * len(self.params)
        for index in reversed(range(len(pre_activations))):
            below = np.asarray(x, dtype=np.float64) if index == 0 else function(pre_activations[index - 1])
            gradients[2 * index] = below.T @ delta
            gradients[2 * index + 1] = delta.sum(axis=0)
            if index > 0:
                delta = (delta @ self.params[2 * index].T) * derivative(pre_activations[index - 1])
        return loss, gradients


def numerical_gradients(mlp, x, y, step=1e-6):
    """Central finite differences of mlp.loss w.r.t. every parameter: slow, but independent of backward."""
    gradients = []
    for param in mlp.params:
        gradient = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            original = param[index]
            param[index] = original + step
            above = mlp.loss(x, y)
            param[index] = original - step
            below = mlp.loss(x, y)
            param[index] = original
            gradient[index] = (above - below) / (2 * step)
        gradients.append(gradient)
    return gradients


class SGD:
    """Stochastic gradient descent, with optional (heavy-ball) momentum as Keras defines it:
    velocity = momentum * velocity - learning_rate * gradient; param += velocity."""

    def __init__(self, learning_rate=0.01, momentum=0.0):
        self.learning_rate, self.momentum = learning_rate, momentum
        self.velocities = None

    def apply(self, params, gradients):
        """Update `params` in place."""
        if self.velocities is None:
            self.velocities = [np.zeros_like(param) for param in params]
        for param, gradient, velocity in zip(params, gradients, self.velocities, strict=True):
            velocity *= self.momentum
            velocity -= self.learning_rate * gradient
            param += velocity


class Adam:
    """Adam (Kingma & Ba 2015) in the form the paper gives at the end of its section 2, which Keras uses:
    the bias corrections fold into the step size, alpha_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), and
    epsilon is added to sqrt(v_t) rather than to the bias-corrected sqrt(v_hat_t)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.step = 0
        self.first_moments = self.second_moments = None

    def apply(self, params, gradients):
        """Update `params` in place."""
        if self.first_moments is None:
            self.first_moments = [np.zeros_like(param) for param in params]
            self.second_moments = [np.zeros_like(param) for param in params]
        self.step += 1
        alpha = self.learning_rate * np.sqrt(1 - self.beta_2**self.step) / (1 - self.beta_1**self.step)
        for param, gradient, m, v in zip(params, gradients, self.first_moments, self.second_moments, strict=True):
            m += (1 - self.beta_1) * (gradient - m)
            v += (1 - self.beta_2) * (gradient**2 - v)
            param -= alpha * m / (np.sqrt(v) + self.epsilon)


def train_step(mlp, optimizer, x, y):
    """One gradient step on (x, y); returns the loss before the step."""
    loss, gradients = mlp.gradients(x, y)
    optimizer.apply(mlp.params, gradients)
    return loss
