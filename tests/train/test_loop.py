"""The loop's per-epoch controls (nnlab.train.controls): a learning rate set before an epoch, a stop after one, and
their state saved with the checkpoint."""

import pytest

from nnlab.results import checkpoint, rundir
from nnlab.train import devices
from nnlab.train import job as job_lib
from nnlab.train.controls import NoControls


class HalveThenStop(NoControls):
    """Halve the learning rate from epoch 1 on and stop after epoch 2: what a schedule and early stopping do."""

    active = True

    def __init__(self):
        self.seen = []

    def before_epoch(self, epoch):
        return 0.005 if epoch >= 1 else None

    def after_epoch(self, epoch, row):
        self.seen.append(epoch)
        return epoch == 2

    def state(self):
        return {"seen": self.seen}


def test_controls_set_the_rate_stop_early_and_are_checkpointed(tiny_classifier, results_dir):
    experiment = tiny_classifier()
    config = experiment.config(["epochs=6", "learning_rate=0.001"])
    splits = experiment.load_splits(config)
    run_dir = rundir.create(results_dir, "tiny")
    controls = HalveThenStop()
    job = job_lib.train_model(experiment, config, splits, devices.setup(0), run_dir, verbose=0, controls=controls)
    rows = job.history.rows
    assert [row["epoch"] for row in rows] == [0, 1, 2] and controls.seen == [0, 1, 2]
    assert abs(rows[0]["learning_rate"] - 0.001) < 1e-6 and abs(rows[1]["learning_rate"] - 0.005) < 1e-6
    assert checkpoint.extra(job.checkpoint_path) == {"seen": [0, 1, 2]}
    assert checkpoint.resumes_at(job.checkpoint_path) == 3


OWN_TRACKERS = """
    import tensorflow as tf

    class Tracked(keras.Sequential):
        '''Keras' guide "Customizing what happens in fit", going lower-level: its own trackers, no test_step.'''

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = keras.losses.sparse_categorical_crossentropy(y, self(x, training=True))
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

        @property
        def metrics(self):
            return [self.loss_tracker]

    plain = build_model

    def build_model(config):
        return Tracked(plain(config).layers)
"""


def test_a_model_whose_test_step_updates_none_of_its_metrics_is_warned_about(tiny_classifier, results_dir, capsys):
    """Its val_loss and test loss read 0, as in Keras' fit: one warning line says why, instead of silence."""
    from nnlab.train import runner

    tiny_classifier("tracked", OWN_TRACKERS)
    result = runner.run("tracked", ["epochs=1"], results_dir=results_dir, verbose=0)
    assert result.metrics["test"]["loss"] == 0.0 and result.metrics["final"]["loss"] > 0
    warning = capsys.readouterr().err
    assert "test_step updates none of the metrics it reports (loss), so its val_ and test numbers read 0" in warning
    tiny_classifier("plain")
    runner.run("plain", ["epochs=1"], results_dir=results_dir, verbose=0)
    assert "test_step updates none" not in capsys.readouterr().err


OWN_LOSS = """
    from keras import ops

    def my_crossentropy(y_true, y_pred):
        '''Keras' guide "Training & evaluation with built-in methods": a custom loss is a function of two tensors.'''
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    class Hits(keras.metrics.Mean):
        def __init__(self, name="hits", **kwargs):
            super().__init__(name=name, **kwargs)

        def update_state(self, y_true, y_pred, sample_weight=None):
            right = ops.equal(ops.cast(ops.reshape(y_true, [-1]), "int64"), ops.argmax(y_pred, axis=-1))
            return super().update_state(ops.cast(right, "float32"), sample_weight)
"""


def test_a_loss_or_metric_the_module_defines_is_compiled_by_name(tiny_classifier, results_dir, capsys):
    from nnlab import cli
    from nnlab import experiment as experiment_lib
    from nnlab.train import runner

    tiny_classifier("own", OWN_LOSS)
    result = runner.run("own", ["loss=my_crossentropy", "metrics=accuracy,Hits"], results_dir=results_dir, verbose=0)
    reference = runner.run("own", [], results_dir=results_dir, verbose=0).metrics["test"]
    test = result.metrics["test"]
    assert test["loss"] == pytest.approx(reference["loss"], rel=1e-6)  # the same function, by another name
    assert test["hits"] == pytest.approx(test["accuracy"]) and test["accuracy"] == reference["accuracy"]
    loaded = experiment_lib.load("own").load_model(result.run_dir / "model.keras")  # compiled with them: found
    assert loaded.loss.__name__ == "my_crossentropy"
    assert cli.main(["--results", str(results_dir), "run", "own", "loss=my_crossentropi"]) == 2
    assert "or the name of a function (or keras.losses.Loss class) defined in the module" in capsys.readouterr().err


COMPILED = """
    _uncompiled = build_model

    def build_model(config):
        '''keras-tuner's build(hp) style: the model comes back compiled.'''
        model = _uncompiled(config)
        model.compile(optimizer=OPTIMIZER, loss=LOSS, metrics=["accuracy"])
        return model
"""


def test_a_model_build_model_compiled_otherwise_is_warned_about(tiny_classifier, results_dir, capsys):
    """nnlab compiles from Config: a loss, optimizer or learning rate build_model chose differently is named in one
    warning line instead of being replaced in silence; the same settings say nothing."""
    from nnlab.train import runner

    tiny_classifier("other", '    OPTIMIZER, LOSS = keras.optimizers.SGD(0.05), "mse"\n' + COMPILED)
    runner.run("other", ["epochs=1"], results_dir=results_dir, verbose=0)
    warning = [line for line in capsys.readouterr().err.splitlines() if "compiled model" in line]
    assert len(warning) == 1 and warning[0].startswith("nnlab: warning:"), warning
    assert "loss mean_squared_error becomes sparse_categorical_crossentropy" in warning[0]
    assert "optimizer SGD becomes adam; learning rate 0.05 becomes 0.01" in warning[0]
    same = "    OPTIMIZER, LOSS = keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy()\n"
    tiny_classifier("same", same + COMPILED)
    runner.run("same", ["epochs=1"], results_dir=results_dir, verbose=0)
    assert "compiled model" not in capsys.readouterr().err
