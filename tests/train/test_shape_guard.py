"""The shape guard for a hand-written step stops only the real hazard: labels that would broadcast, or that are
neither class indices nor one-hot; TensorFlow's "Custom training: walkthrough" (sparse integer labels) trains."""

import re

import pandas as pd
import pytest

from nnlab import NnlabError
from nnlab.train import modeling, runner

# TensorFlow's "Custom training: walkthrough" (https://www.tensorflow.org/tutorials/customization/custom_training_walkthrough):
# three classes of iris-like flowers from four measurements, a Dense(10)-Dense(10)-Dense(3) model returning logits,
# SparseCategoricalCrossentropy(from_logits=True) on integer (N,) labels against (N, 3) logits, and its own accuracy.
WALKTHROUGH = """
    import dataclasses
    import keras
    import numpy as np
    import tensorflow as tf
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        optimizer: str = "sgd"
        learning_rate: float = 0.1
        epochs: int = 20
        batch_size: int = 32
        loss: str = "sparse_categorical_crossentropy"
        labels: str = "int64"

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        centres = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
        y = rng.integers(0, 3, size=240)
        x = (centres[y] + 0.3 * rng.normal(size=(240, 4))).astype("float32")
        return Splits(train=(x[:200], y[:200].astype(config.labels)), test=(x[200:], y[200:].astype(config.labels)))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(10, activation="relu"),
                                 keras.layers.Dense(10, activation="relu"), keras.layers.Dense(3)])

    loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_object(y, logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        hits = tf.cast(tf.equal(tf.argmax(logits, axis=1), tf.cast(y, tf.int64)), tf.float32)
        return {"loss": loss, "accuracy": tf.reduce_mean(hits)}
"""


def test_the_walkthrough_trains_with_integer_labels_against_logits(make_experiment, results_dir):
    make_experiment("walkthrough", WALKTHROUGH)
    result = runner.run("walkthrough", results_dir=results_dir, verbose=0)
    table = pd.read_csv(result.run_dir / "history.csv")
    assert list(table.columns)[:3] == ["epoch", "loss", "accuracy"]
    assert table["loss"].iloc[-1] < table["loss"].iloc[0] / 2
    assert table["accuracy"].iloc[-1] > 0.8  # three well separated classes


def test_float_class_labels_in_the_walkthrough_stop_before_training(make_experiment, results_dir):
    make_experiment("walkthrough", WALKTHROUGH)
    with pytest.raises(NnlabError, match=r"labels are floats: neither class indices nor one-hot.*astype\('int64'\)"):
        runner.run("walkthrough", ["labels=float32"], results_dir=results_dir, verbose=0)
    # bool labels (y = frame.target == 1) are class indices 0 and 1, as Keras' sparse losses read them
    boolean = runner.run("walkthrough", ["labels=bool", "epochs=1"], results_dir=results_dir, verbose=0)
    assert boolean.metrics["status"] == "done"


@pytest.mark.parametrize(
    "labels, output, integer",
    [((), (3,), True), ((1,), (3,), True), ((1,), (1,), False), ((2, 3), (2, 3), False)],
    ids=["(N,) ints vs (N,3)", "(N,1) ints vs (N,3)", "equal", "equal 2-d"],
)
def test_a_hand_written_step_trains_on_these(labels, output, integer):
    modeling.check_label_shape(labels, output, "mse", "e.py", custom_step=True, integer_labels=integer)


@pytest.mark.parametrize(
    "labels, output, integer, match",
    [
        ((), (1,), False, r"flat labels against the \(N, 1\) ones.*y\.reshape\(-1, 1\)"),
        ((), (1,), True, r"y\.reshape\(-1, 1\)"),
        ((1,), (), False, r"flat outputs against the \(N, 1\) ones.*y\.reshape\(-1, 1\)"),
        ((), (3,), False, r"labels are floats: neither class indices nor one-hot rows.*keras\.utils\.to_categorical"),
        ((1,), (3,), False, r"would broadcast .*y\.reshape\(-1, 3\)"),
        ((2,), (3,), True, r"would broadcast .*y\.reshape\(-1, 3\)"),
        ((), (3, 2), True, r"would broadcast"),
    ],
    ids=["() vs (1,)", "int () vs (1,)", "(1,) vs ()", "float () vs (3,)", "float (1,) vs (3,)", "(2,)", "(3,2)"],
)
def test_a_hand_written_step_stops_on_these(labels, output, integer, match):
    with pytest.raises(NnlabError, match=match) as caught:
        modeling.check_label_shape(labels, output, "mse", "e.py", custom_step=True, integer_labels=integer)
    assert "\n" not in str(caught.value) and "label/loss" not in str(caught.value)


def test_integer_labels_out_of_the_outputs_range_stop(make_experiment, results_dir):
    source = WALKTHROUGH.replace("y = rng.integers(0, 3, size=240)", "y = rng.integers(0, 4, size=240) % 4")
    source = source.replace("centres[y]", "centres[y % 3]")
    make_experiment("walkthrough", source)
    with pytest.raises(NnlabError, match=r"integer labels range over \[0, 3\], but the model outputs 3 values"):
        runner.run("walkthrough", ["loss=mse"], results_dir=results_dir, verbose=0)


def test_keras_losses_keep_their_rule():
    modeling.check_label_shape((), (1,), "mse", "e.py", custom_step=False)  # Keras reconciles the trailing axis
    modeling.check_label_shape((), (10,), "sparse_categorical_crossentropy", "e.py", custom_step=False)
    with pytest.raises(NnlabError, match="look like class indices for 10 classes"):
        modeling.check_label_shape((), (10,), "categorical_crossentropy", "e.py", custom_step=False)


def test_logits_with_a_probability_loss_stop_keras_step_and_warn_a_hand_written_one(
    make_experiment, results_dir, capsys
):
    """A crossentropy by name reads outputs as probabilities: logits would be clipped and train to chance in
    silence under Keras' own step; a hand-written step's own loss may take logits, so it only gets a warning."""
    make_experiment("walkthrough", WALKTHROUGH)
    runner.run("walkthrough", ["epochs=1"], results_dir=results_dir, verbose=0)
    said = capsys.readouterr().err
    assert said.count("nnlab: warning:") == 1 and "val_loss and the test loss use loss=sparse_categorical" in said
    keras_step = WALKTHROUGH.split("    loss_object =")[0]  # the same model and data, trained by Keras' own step
    make_experiment("logits", keras_step)
    with pytest.raises(NnlabError, match=r"not probabilities, but loss=sparse_categorical_crossentropy .*softmax") as e:
        runner.run("logits", ["epochs=1"], results_dir=results_dir, verbose=0)
    # its other advice, followed as written, keeps the logits (TensorFlow's quickstart: from_logits=True)
    function, setting = re.search(r"define `(.*)` in the module and set (loss=\w+)", str(e.value)).groups()
    make_experiment("keeps_logits", keras_step + "\n    " + function + "\n")
    kept = runner.run("keeps_logits", ["epochs=3", setting], results_dir=results_dir, verbose=0)
    assert kept.metrics["test"]["loss"] < 0.9  # chance is log(3) = 1.1; learning from logits, not clipped ones
    with_softmax = keras_step.replace("keras.layers.Dense(3)", "keras.layers.Dense(3, activation='softmax')")
    make_experiment("probabilities", with_softmax)
    runner.run("probabilities", ["epochs=1"], results_dir=results_dir, verbose=0)  # trains


def test_plain_tf_variables_are_named_in_the_no_weights_warning(make_experiment, results_dir, capsys):
    """TensorFlow's "Custom training: basics" keeps w and b as tf.Variables on a keras.Model: Keras 3 does not
    track them, and the warning says what that means instead of claiming training cannot change the model."""
    make_experiment(
        "basics",
        """
        import dataclasses
        import keras
        import numpy as np
        import tensorflow as tf
        import nnlab
        from nnlab.data import Splits

        @dataclasses.dataclass(frozen=True)
        class Config(nnlab.Config):
            optimizer: str = "sgd"
            learning_rate: float = 0.1
            epochs: int = 2

        class Line(keras.Model):
            def __init__(self):
                super().__init__()
                self.w = tf.Variable(5.0)
                self.b = tf.Variable(0.0)

            def call(self, x):
                return self.w * x + self.b

        def make_data(config):
            x = np.linspace(-1, 1, 100, dtype="float32")[:, None]
            return Splits(train=(x, 3 * x + 2))

        def build_model(config):
            return Line()

        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))
            dw, db = tape.gradient(loss, [model.w, model.b])
            model.w.assign_sub(0.1 * dw)
            model.b.assign_sub(0.1 * db)
            return loss
        """,
    )
    runner.run("basics", results_dir=results_dir, verbose=0)
    said = capsys.readouterr().err
    assert "b, w are plain tf.Variables, which Keras 3 does not track" in said and "add_weight" in said
