"""Keras' Adam, updating each variable with TensorFlow's one fused kernel instead of about twenty small ops.

Keras 3 writes Adam's update as separate ops per variable (powers, alpha, two moment updates, the step), and on a
CPU each op costs a few microseconds of dispatch however small the tensors; for a small MLP at batch 32 the update
is a large share of a step (README, "Where the time goes", has the `make profile` figures). TensorFlow's
ResourceApplyAdam does the same update in one kernel per variable. It computes Keras' formula on Keras' own slot
variables (m, v), so checkpoints, resumed runs and model.keras files are unchanged, and the optimizer is still a
keras.optimizers.Adam that saves and loads as one. In float64 the two agree bit for bit. In float32 the kernel forms
1 - beta from float32 beta (1 - 0.999f = 0.00099998713) where Keras rounds the double 0.001, so m and v differ in
their last bits, and training amplifies that as it does any rounding change; MNIST's test accuracy stays within its
seed-to-seed spread (README).
"""

import types

import keras
import tensorflow as tf


def fuse(optimizer):
    """Give a Keras Adam TensorFlow's fused update; any other optimizer comes back unchanged.

    Left alone: AMSGrad (the kernel has no v_hat), subclasses (they may change update_step), and optimizers made
    under a tf.distribute strategy (their slots are mirrored; Keras' own ops already handle that).
    """
    if type(optimizer) is not keras.optimizers.Adam or optimizer.amsgrad or tf.distribute.has_strategy():
        return optimizer
    optimizer.update_step = types.MethodType(_fused_update_step, optimizer)
    return optimizer


def is_fused(optimizer):
    return getattr(optimizer.update_step, "__func__", None) is _fused_update_step


def _fused_update_step(self, gradient, variable, learning_rate):
    if isinstance(gradient, tf.IndexedSlices):  # the kernel is dense; Keras' update handles sparse rows
        return type(self).update_step(self, gradient, variable, learning_rate)
    dtype = variable.dtype
    step = tf.cast(self.iterations + 1, dtype)
    index = self._get_variable_index(variable)
    # Each number reaches the kernel as Keras' update_step computes it: the powers from ops.cast(beta), which
    # rounds a Python float through float32; 1 - beta and epsilon from Python floats, exact in `dtype`.
    constant = lambda value: tf.cast(value, dtype) if tf.is_tensor(value) else tf.constant(value, dtype)  # noqa: E731
    tf.raw_ops.ResourceApplyAdam(
        var=_handle(variable),
        m=_handle(self._momentums[index]),
        v=_handle(self._velocities[index]),
        beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
        beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
        lr=constant(learning_rate),
        beta1=constant(self.beta_1),
        beta2=constant(self.beta_2),
        epsilon=constant(self.epsilon),
        grad=constant(gradient),
    )


def _handle(variable):
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle
