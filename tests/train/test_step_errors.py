"""Errors inside the module's own code end the run failed (exit 2) with one paragraph that quotes the error's first
line and places it (epoch, and batch where the optimizer's step counter tells); Keras' own shape errors at the first
batch keep the label/loss paragraph."""

import json

import pytest

from nnlab import cli
from nnlab.train import loop

MODULE = """
    import dataclasses
    import keras
    import numpy as np
    import tensorflow as tf
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        optimizer: str = "sgd"
        learning_rate: float = 0.01
        epochs: int = 5
        batch_size: int = 4
        validation_fraction: float = 0.0
        fails: str = ""

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(40, 2)).astype("float32")
        return Splits(train=(x, x[:, :1] - x[:, 1:]))

    class Checked(keras.layers.Layer):
        '''A layer of the module's own: counts the training batches it sees and checks them.'''

        def build(self, shape):
            self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

        def call(self, x, training=False):
            if training and FAILS == "layer raises":
                raise RuntimeError("this layer cannot train")
            if training and FAILS == "layer asserts":
                self.seen.assign_add(1.0)
                tf.debugging.assert_less_equal(self.seen, 35.0, message="more batches than budgeted")
            if training and FAILS == "layer reshapes":
                return tf.concat([x, x], axis=0)  # twice the rows: TensorFlow's shape error at the first batch
            return x

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1), Checked()])

    def python_check(step):
        if step >= 5:
            raise ValueError(f"step {step} is past the budget")
        return np.float32(0.0)

    def train_step(model, optimizer, x, y):
        if FAILS == "numpy_function":  # a result of unknown shape when traced, and a Python error when run
            extra = tf.numpy_function(python_check, [optimizer.iterations], tf.float32)
        else:
            budget = tf.constant(3, optimizer.iterations.dtype)
            tf.debugging.assert_less(optimizer.iterations, budget, message="step budget")
            extra = 0.0
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.square(model(x, training=True) - y)) + extra
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    FAILS = ""
"""


def run(make_experiment, results_dir, capsys, fails, hand_written=False):
    source = MODULE.replace('FAILS = ""', f"FAILS = {fails!r}")
    make_experiment("failing", source if hand_written else source.replace("def train_step", "def unused_step"))
    code = cli.main(["--results", str(results_dir), "run", "failing"])
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("nnlab: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in stderr, stderr
    [run_dir] = (results_dir / "failing").iterdir()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and status["message"] in errors[0]
    return errors[0]


def test_an_assert_in_the_hand_written_step_at_step_3_is_placed_and_quoted(make_experiment, results_dir, capsys):
    message = run(make_experiment, results_dir, capsys, "", hand_written=True)
    assert "training stopped in epoch 0, batch 3 of 10 (counting from 0)" in message
    assert "train_step (the module's own step) raised InvalidArgumentError: assertion failed: [step budget]" in message
    assert "first batch" not in message and "labels" not in message and "loss do not fit" not in message


def test_a_python_error_inside_the_step_is_placed_too(make_experiment, results_dir, capsys):
    message = run(make_experiment, results_dir, capsys, "numpy_function", hand_written=True)
    assert "training stopped in epoch 0, batch 5 of 10 (counting from 0): train_step" in message
    assert "ValueError: step 5 is past the budget" in message


def test_an_assert_in_a_module_layer_in_a_later_chunk_names_its_epoch(
    make_experiment, results_dir, capsys, monkeypatch
):
    monkeypatch.setattr(loop, "CHUNK_SECONDS", 1e9)  # compiled calls: epoch 0 (it traces), then epochs 1-4 at once
    message = run(make_experiment, results_dir, capsys, "layer asserts")
    # 10 batches an epoch: the 36th batch is epoch 3's batch 5, inside the call that began at epoch 1
    assert "training stopped in epoch 3, batch 5 of 10 (counting from 0): the model, in Keras' train_step" in message
    assert "assertion failed: [more batches than budgeted]" in message and "do not fit together" not in message
    history = (results_dir / "failing").glob("*/history.csv")
    assert [len(path.read_text().splitlines()) for path in history] == [2]  # epoch 0's row, from the call that ended


def test_a_module_layer_raising_while_traced_is_named_as_the_modules(make_experiment, results_dir, capsys):
    message = run(make_experiment, results_dir, capsys, "layer raises")
    assert "the model, in Keras' train_step raised RuntimeError while nnlab traced it, before epoch 0 began" in message
    assert "this layer cannot train" in message and "failing.py" in message


def test_a_shape_error_at_keras_first_batch_keeps_the_label_loss_paragraph(make_experiment, results_dir, capsys):
    message = run(make_experiment, results_dir, capsys, "layer reshapes")
    assert "training failed at the first batch" in message and "do not fit together" in message


@pytest.mark.parametrize("text", ["assertion failed: [x] [y]", "Graph execution error:"])
def test_the_quoted_line_drops_tensorflows_tags_and_definition_trace(text):
    import tensorflow as tf

    from nnlab.train import step_errors

    text = "{{function_node __inference_f_1}} " + text
    if "Graph" in text:
        text = (
            "Graph execution error:\n\nDetected at node while/a/Assert defined at (most recent call last):\n"
            '  File "m.py", line 3, in step\n\n  File "m.py", line 9, in body\n    tf.debugging.assert_less(x, 1)\n\n'
            "assertion failed: [x] [y]\n\t [[{{node while/a/Assert}}]] [Op:__inference_f_12]"
        )
    error = tf.errors.InvalidArgumentError(None, None, text)
    assert step_errors.said(error) == "assertion failed: [x] [y]"
