"""nnlab's batched update rules: one Adam or SGD step for K trials at once, on variables stacked as [K, ...].

Keras 3's `optimizer.stateless_apply` is "not supported with the TensorFlow backend", and `apply_gradients` updates
one model's variables in place, so the group program (nnlab.train.vectorized.program) updates its stacked variables
with these rules. Each computes, per trial, what the trial alone computes (tests/train/test_vectorized_updates.py
checks both against nnlab/reference/numpy_mlp.py in float64):

- Adam, as nnlab.train.fused_adam hands it to TensorFlow's ResourceApplyAdam kernel (Keras' formula, which is the one
  the trial alone runs): with t the trial's own step count,
      alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
      m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
      w -= m * alpha / (sqrt(v) + epsilon)
  epsilon is added to sqrt(v), before the bias correction folded into alpha (not to sqrt(v_hat), as the paper's
  first form and the prototypes did). The powers take beta as Keras' ops.cast gives it (through float32); 1 - beta
  and epsilon are formed in the variables' dtype, as the fused kernel does.
- SGD with momentum, as Keras defines it: velocity = momentum * velocity - lr * g; w += velocity. Momentum 0 gives
  w - lr * g, plain SGD, so a group mixes trials with and without momentum.

Each trial has its own learning rate, step count and momentum (vectors of K), and a `live` flag: a trial that is not
live (stopped, diverged, an empty slot) keeps its variables and slots. The flag enters the formulas as a factor of 1
or 0 (x * 1 is exact, so a live trial's arithmetic is unchanged), which XLA fuses into the one pass over each
variable; selecting old against new values afterwards cost a third of a step in memory traffic.
"""

import tensorflow as tf


def _per_trial(vector, like):
    """A [K] vector shaped to broadcast against a stacked variable [K, ...], in its dtype."""
    return tf.reshape(tf.cast(vector, like.dtype), [-1] + [1] * (like.shape.rank - 1))


class Adam:
    """Keras' Adam (no amsgrad, weight decay or clipping) for stacked variables; two slots per variable: m, v."""

    name = "adam"

    def __init__(self, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def initial_slots(self, variables):
        return [[tf.zeros_like(variable) for variable in variables] for _ in range(2)]

    def apply(self, variables, gradients, slots, iterations, rates, live, momentum=None):
        """(new variables, new slots) after one step; `iterations` counts each trial's steps before this one."""
        del momentum
        moments, velocities = slots
        new_variables, new_moments, new_velocities = [], [], []
        for variable, gradient, m, v in zip(variables, gradients, moments, velocities, strict=True):
            dtype = variable.dtype
            step = _per_trial(iterations + 1, variable)
            one, on = tf.constant(1, dtype), _per_trial(live, variable)
            beta_1_power = tf.pow(tf.cast(self.beta_1, dtype), step)  # as Keras' ops.cast(beta_1): via float32
            beta_2_power = tf.pow(tf.cast(self.beta_2, dtype), step)
            alpha = _per_trial(rates, variable) * tf.sqrt(one - beta_2_power) / (one - beta_1_power)
            gradient = tf.cast(gradient, dtype)
            m = m + (gradient - m) * ((one - tf.constant(self.beta_1, dtype)) * on)
            v = v + (tf.square(gradient) - v) * ((one - tf.constant(self.beta_2, dtype)) * on)
            new_variables.append(variable - m * (alpha * on) / (tf.sqrt(v) + tf.constant(self.epsilon, dtype)))
            new_moments.append(m)
            new_velocities.append(v)
        return new_variables, [new_moments, new_velocities]


class SGD:
    """Keras' SGD with (heavy-ball) momentum, per trial, for stacked variables; one slot per variable: velocity."""

    name = "sgd"

    def initial_slots(self, variables):
        return [[tf.zeros_like(variable) for variable in variables]]

    def apply(self, variables, gradients, slots, iterations, rates, live, momentum):
        del iterations
        new_variables, new_velocities = [], []
        for variable, gradient, velocity in zip(variables, gradients, slots[0], strict=True):
            gradient = tf.cast(gradient, variable.dtype)
            on = _per_trial(live, variable)
            kept = _per_trial(momentum, variable) * on + (tf.constant(1, variable.dtype) - on)  # 1 when frozen
            velocity = velocity * kept - gradient * (_per_trial(rates, variable) * on)
            new_variables.append(variable + velocity * on)
            new_velocities.append(velocity)
        return new_variables, [new_velocities]


def for_optimizer(optimizer):
    """The batched rule computing what Keras optimizer `optimizer` computes, or None when there is none.

    Only what nnlab builds from a config (nnlab.train.modeling.make_optimizer): Adam or SGD at Keras' defaults apart
    from the learning rate and momentum, with no weight decay, clipping, EMA, loss scaling or gradient accumulation.
    """
    import keras

    extras = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor")
    if any(getattr(optimizer, name, None) for name in extras) or getattr(optimizer, "use_ema", False):
        return None
    if (getattr(optimizer, "gradient_accumulation_steps", None) or 1) > 1:
        return None
    if type(optimizer) is keras.optimizers.Adam and not optimizer.amsgrad:
        return Adam(optimizer.beta_1, optimizer.beta_2, optimizer.epsilon)
    if type(optimizer) is keras.optimizers.SGD and not optimizer.nesterov:
        return SGD()
    return None
