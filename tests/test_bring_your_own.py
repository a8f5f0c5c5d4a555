"""Outside programs ported as new users port them: any Keras model, the shape and label guard, hooks, provenance.

Each port is a small experiment written into the test's tmp dir (the conftest's make_experiment), trained through
the real runner on cheap data for one or a few epochs.
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nnlab import NnlabError, cli, datasets, report
from nnlab import config as config_lib
from nnlab.train import environment, runner, startup

HEADER = """
    import dataclasses
    import keras
    import numpy as np
    import tensorflow as tf
    from keras import layers
    import nnlab
    from nnlab.data import Splits
"""

# TensorFlow's "Custom training: basics": y = w * x + b as a subclassed Model on scalar weights, flat (N,) data,
# and a hand-written step that takes the config as its fifth argument.
SUBCLASSED_LINE = (
    HEADER
    + """
    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        optimizer: str = "sgd"
        learning_rate: float = 0.1
        epochs: int = 20
        batch_size: int = 1000
        validation_fraction: float = 0.0
        loss_scale: float = 1.0

    class Line(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.w = self.add_weight(shape=(), initializer=keras.initializers.Constant(5.0), name="w")
            self.b = self.add_weight(shape=(), initializer="zeros", name="b")

        def call(self, x):
            return self.w * x + self.b

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=1000).astype("float32")
        return Splits(train=(x, (3.0 * x + 2.0 + rng.normal(size=1000)).astype("float32")))

    def build_model(config):
        return Line()

    def train_step(model, optimizer, x, y, config):
        with tf.GradientTape() as tape:
            loss = config.loss_scale * keras.ops.mean(keras.ops.square(y - model(x)))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    def track(model):
        return {"w": model.w, "b": model.b}
"""
)

# The same tutorial with the model most people write first: Dense(1) on (N, 1) inputs, labels left flat (N,).
DENSE_LINE_FLAT_LABELS = (
    HEADER
    + """
    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        optimizer: str = "sgd"
        learning_rate: float = 0.1
        batch_size: int = 100

    def make_data(config):
        x = np.linspace(-1, 1, 100).astype("float32")
        return Splits(train=(x[:, None], 3.0 * x + 2.0))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1)])

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.square(model(x) - y))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss
"""
)

# keras-io's structured data style: a functional model whose first layer adapts to the training split.
NORMALIZED_FUNCTIONAL = (
    HEADER
    + """
    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "binary_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        validation_fraction: float = 0.25
        summary_fails: bool = False

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(loc=[100.0, -5.0], scale=[10.0, 0.1], size=(200, 2)).astype("float32")
        y = (x[:, 0] > 100).astype("float32")  # (N,) labels for a (N, 1) sigmoid: Keras' loss reconciles them
        return Splits(train=(x, y))

    def build_model(config, train):
        normalize = layers.Normalization()
        normalize.adapt(train[0])
        inputs = keras.Input(shape=(2,))
        outputs = layers.Dense(1, activation="sigmoid")(normalize(inputs))
        return keras.Model(inputs, outputs)

    def summarize(job):
        if job.config.summary_fails:
            raise RuntimeError("the summary is broken")
        return {"examples": len(job.splits.train[0])}
"""
)

CLASSIFIER_ON_MNIST = """
    import dataclasses
    import keras
    from keras import layers
    import nnlab

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        dataset: str = "mnist"
        loss: str = "categorical_crossentropy"
        limit_examples: int = 200

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(28, 28)), layers.Flatten(), layers.Dense(10, activation="softmax")])
"""

# keras-io's "Simple MNIST convnet", shrunk to the digits set's 8x8 images.
CONVNET = """
    import dataclasses
    import keras
    from keras import layers
    import nnlab

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        dataset: str = "digits"
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        batch_size: int = 64

    def build_model(config):
        return keras.Sequential(
            [
                keras.Input(shape=(8, 8)),
                layers.Reshape((8, 8, 1)),
                layers.Conv2D(8, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dropout(0.5),
                layers.Dense(10, activation="softmax"),
            ]
        )
"""


def test_a_subclassed_model_on_flat_data_trains_saves_and_loads(make_experiment, results_dir):
    experiment = make_experiment("line", SUBCLASSED_LINE)
    result = runner.run("line", results_dir=results_dir, verbose=0)
    final = result.metrics["final"]
    assert abs(final["w"] - 3.0) < 0.3 and abs(final["b"] - 2.0) < 0.3  # started at w 5, b 0
    loaded = experiment.load_model(result.run_dir / "model.keras")
    assert float(loaded.w) == pytest.approx(final["w"]) and float(loaded.b) == pytest.approx(final["b"])
    scaled = runner.run("line", ["loss_scale=0.0"], results_dir=results_dir, verbose=0)  # config reaches the step
    assert scaled.metrics["final"]["w"] == 5.0
    paths = report.build(results_dir, experiment="line")  # and the report reads its files like any run's
    assert any(result.run_dir.name in path.read_text() for path in paths if path.suffix == ".md")


def test_labels_that_would_broadcast_stop_before_training(make_experiment, results_dir):
    make_experiment("dense_line", DENSE_LINE_FLAT_LABELS)
    with pytest.raises(NnlabError) as caught:
        runner.run("dense_line", results_dir=results_dir, verbose=0)
    message = str(caught.value)
    assert "labels of shape () per example but model outputs of shape (1,)" in message
    assert "y.reshape(-1, 1)" in message and "\n" not in message


def test_a_categorical_loss_on_integer_mnist_labels_is_one_paragraph(make_experiment, results_dir):
    make_experiment("mnist_categorical", CLASSIFIER_ON_MNIST)
    for loss in ("categorical_crossentropy", "mse"):
        with pytest.raises(NnlabError) as caught:
            runner.run("mnist_categorical", [f"loss={loss}"], results_dir=results_dir, verbose=0)
        message = str(caught.value)
        assert "class indices for 10 classes" in message and "sparse_categorical_crossentropy" in message
    result = runner.run("mnist_categorical", ["loss=sparse_categorical_crossentropy"], results_dir=results_dir)
    assert result.metrics["status"] == "done"


def test_a_small_convnet_trains_on_digits(make_experiment, results_dir):
    make_experiment("convnet", CONVNET)
    result = runner.run("convnet", results_dir=results_dir, verbose=0)
    assert result.metrics["test"]["accuracy"] > 0.1  # 10 classes; one epoch on 1,300 images is above chance
    assert (result.run_dir / "model.keras").exists()


def test_normalization_adapts_to_the_training_split_only_and_is_saved(make_experiment, results_dir):
    experiment = make_experiment("normalized", NORMALIZED_FUNCTIONAL)
    result = runner.run("normalized", results_dir=results_dir, verbose=0)
    config = experiment.config()
    splits = experiment.load_splits(config)
    loaded = experiment.load_model(result.run_dir / "model.keras")
    normalize = next(layer for layer in loaded.layers if type(layer).__name__ == "Normalization")
    train_mean = splits.train[0].mean(axis=0)
    all_mean = experiment.module.make_data(config).train[0].mean(axis=0)
    np.testing.assert_allclose(np.ravel(normalize.mean), train_mean, rtol=1e-5)
    assert not np.allclose(np.ravel(normalize.mean), all_mean, rtol=1e-7)  # validation rows were left out


def test_a_failing_summarize_keeps_the_trained_run(make_experiment, results_dir, capsys):
    make_experiment("normalized", NORMALIZED_FUNCTIONAL)
    code = cli.main(["--results", str(results_dir), "run", "normalized", "summary_fails=true"])
    assert code == 1
    assert "after training, summarize failed" in capsys.readouterr().err
    run_dir = next((results_dir / "normalized").iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "the summary is broken" in metrics["errors"]["summarize"] and metrics["epochs_run"] == 1
    assert json.loads((run_dir / "status.json").read_text())["status"] == "done"
    assert (run_dir / "model.keras").exists() and (run_dir / "history.csv").exists()


def test_env_json_says_whether_the_commit_holds_the_module(make_experiment, results_dir, tmp_path):
    make_experiment("line", SUBCLASSED_LINE)
    result = runner.run("line", ["epochs=1"], results_dir=results_dir, verbose=0)
    env = json.loads((result.run_dir / "env.json").read_text())
    source = (tmp_path / "experiments" / "line.py").read_bytes()
    assert env["experiment_sha256"] == hashlib.sha256(source).hexdigest()
    assert env["experiment_tracked"] is False  # tmp_path is no git repository
    repository = tmp_path / "repository"
    repository.mkdir()
    module = repository / "exp.py"
    module.write_text("x = 1\n")
    git = lambda *args: subprocess.run(["git", "-C", str(repository), *args], capture_output=True, check=True)  # noqa: E731
    git("init", "-q")
    git("add", "exp.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "module")
    assert environment.experiment_state(module)["experiment_tracked"] is True
    module.write_text("x = 2\n")
    assert environment.experiment_state(module)["experiment_tracked"] is False


@pytest.mark.parametrize("name", datasets.names())
def test_each_named_data_set_is_what_its_format_says(name):
    form = datasets.formats()[name]
    splits = datasets.load(name, config_lib.Config(dataset=name))
    for _, (x, y) in splits.items():
        assert x.shape[1:] == form.input_shape and str(x.dtype) == form.input_dtype
        assert y.ndim == 1 and str(y.dtype) == form.label_dtype


def test_only_nnlab_messages_carry_its_prefix_and_tensorflow_starts_quietly(tmp_path):
    script = (
        "import logging\n"
        "from nnlab import cli\n"
        "from nnlab.train import startup\n"
        "cli._set_up_logging()\n"
        "startup.import_tensorflow()\n"
        "import tensorflow as tf\n"
        "tf.config.list_physical_devices()\n"
        "logging.getLogger('matplotlib').warning('a library warning')\n"
        "logging.getLogger('nnlab.train').info('our message')\n"
    )
    variables = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=variables)
    lines = result.stderr.splitlines()
    assert "nnlab: our message" in lines
    assert "matplotlib: WARNING: a library warning" in lines
    if not startup.has_nvidia_driver():  # with a GPU, TensorFlow's reasons for not using it stay visible
        noisy = [line for line in lines if (line[:1] in "EWI" and line[1:5].isdigit()) or "absl" in line]
        assert not noisy, noisy
