"""Bad input through the `nnlab` command: exit code 2, one paragraph naming the problem, nothing half-written.

Each case feeds one mistake a user makes through the real CLI entry point (in-process, so TensorFlow is
imported once) and checks the message, the exit code and the run directory left behind, if any.
"""

import json
import re
import textwrap
from pathlib import Path

import pytest

from nnlab import cli

GOOD = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 2
        batch_size: int = 16
        width: int = 8
        corrupt: str = ""

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(240, 3)).astype("float32")
        y = (x[:, 0] > 0).astype("int64")
        if config.corrupt == "nan":
            x[7, 2] = np.nan
        elif config.corrupt == "inf":
            x[9, 0] = np.inf
        elif config.corrupt == "labels":
            y[4] = 5
        elif config.corrupt == "fractional":
            y = y.astype("float32") * 0.5
        elif config.corrupt == "negative":
            y[0] = -1
        elif config.corrupt == "empty":
            return Splits(train=(x[:0], y[:0]), test=(x, y))
        elif config.corrupt == "pairs":
            return Splits(train=(x, y[:-3]), test=(x, y))
        elif config.corrupt == "type":
            return (x, y)
        elif config.corrupt == "raise":
            raise OSError("data.bin not found")
        elif config.corrupt == "three items":
            return Splits(train=(x, y, np.ones(len(y))))
        elif config.corrupt == "ragged":
            return Splits(train=([[0.5] * (1 + i % 3) for i in range(240)], y.tolist()))
        elif config.corrupt == "scalar":
            return Splits(train=(np.float32(0.5), y[:1]))
        elif config.corrupt == "complex":
            return Splits(train=(x.astype("complex64") * 1j, y))
        elif config.corrupt == "dataset":
            import tensorflow as tf
            return Splits(train=tf.data.Dataset.from_tensor_slices((x, y)).batch(16))
        elif config.corrupt == "dict":
            return Splits(train=({"features": x}, y))
        return Splits(train=(x[:200], y[:200]), test=(x[200:], y[200:]))

    def build_model(config):
        if config.width < 0:
            raise ValueError("negative width")
        return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(config.width, activation="relu"),
                                 keras.layers.Dense(2, activation="softmax")])
"""

REGRESSION = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "mse"
        optimizer: str = "sgd"
        learning_rate: float = 0.01
        epochs: int = 3
        batch_size: int = 32

    def make_data(config):
        x = np.linspace(-3, 3, 256, dtype="float32")[:, None]
        return Splits(train=(x, 3 * x + 1), test=(x[:32], 3 * x[:32] + 1))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
"""

# (case id, module source or None for GOOD, command-line arguments after the experiment name, expected message)
RUN_CASES = [
    ("syntax error", "def build_model(:\n", [], r"bad\.py failed to import: SyntaxError"),
    ("import raises", "import nnlab\nraise KeyError('x')\n", [], r"bad\.py failed to import: KeyError.*line 2"),
    ("no Config", "def build_model(config):\n    pass\n", [], r"bad\.py must define `Config`"),
    ("no build_model", GOOD.replace("def build_model", "def model"), [], "must define build_model"),
    ("unknown override", None, ["widht=3"], r"unknown config field 'widht'.*width"),
    ("wrong type", None, ["epochs=two"], r"epochs.*two"),
    ("no equals sign", None, ["epochs"], r"epochs"),
    ("zero epochs", None, ["epochs=0"], r"'epochs' must be a positive number"),
    ("zero batch size", None, ["batch_size=0"], r"'batch_size' must be a positive number"),
    ("validation fraction", None, ["validation_fraction=1.5"], r"'validation_fraction' must be in \[0, 1\)"),
    ("missing from file", None, ["from=/nonexistent/best.json"], r"/nonexistent/best\.json"),
    ("empty from", None, ["from="], r"from= is empty"),
    ("from a directory", None, ["from=/"], r"from=/ is a directory"),
    ("from twice", None, ["from=/a.json", "from=/b.json"], r"from= is given twice"),
    ("negative seed", None, ["seed=-1"], r"'seed' must be in \[0, 4294967295\]"),
    ("seed past 2**32", None, ["seed=4294967296"], r"'seed' must be in \[0, 4294967295\]"),
    ("22-digit seed", None, ["seed=1234567890123456789012"], r"field 'seed' is out of range"),
    ("batch size past int64", None, ["batch_size=9223372036854775808"], r"field 'batch_size' is out of range"),
    ("mse on class labels", None, ["loss=mse"], r"mse"),
    ("NaN inputs", None, ["corrupt=nan"], r"NaN"),
    ("infinite inputs", None, ["corrupt=inf"], r"inf"),
    ("labels out of range", None, ["corrupt=labels"], r"labels range over \[0, 5\]"),
    ("negative labels", None, ["corrupt=negative"], r"labels range over \[-1, 1\]"),
    ("fractional labels", None, ["corrupt=fractional"], r"needs integer class labels"),
    ("empty split", None, ["corrupt=empty"], r"train split is empty"),
    ("inputs without labels", None, ["corrupt=pairs"], r"inputs but .* labels"),
    ("make_data wrong type", None, ["corrupt=type"], r"make_data\(config\) must return nnlab\.data\.Splits"),
    ("make_data raises", None, ["corrupt=raise"], r"make_data\(config\) raised OSError: data\.bin not found"),
    ("build_model raises", None, ["width=-1"], r"build_model\(config\) raised ValueError: negative width"),
    ("unknown optimizer", None, ["optimizer=adamm"], r"field 'optimizer' is 'adamm'"),
    ("unknown loss", None, ["loss=hinge_loss_x"], r"field 'loss' names 'hinge_loss_x'"),
    ("wrong input shape", GOOD.replace("keras.Input(shape=(3,))", "keras.Input(shape=(4,))"), [], r"cannot take"),
    ("loss turns NaN", None, ["learning_rate=1e30"], r"training loss became nan.*Lower learning_rate"),
    ("3-item split", None, ["corrupt=three items"], r"train split has three items, \(x, y, sample_weight\)"),
    ("ragged lists", None, ["corrupt=ragged"], r"train split: inputs are ragged .*pad_sequences"),
    ("scalar x", None, ["corrupt=scalar"], r"train split: inputs are a single number"),
    ("complex x", None, ["corrupt=complex"], r"train split: inputs are complex numbers"),
    ("tf.data", None, ["corrupt=dataset"], r"train split is a \w*Dataset\w*; .*out of scope"),
    ("figure needs x as one array", GOOD + "    FIGURES = ('decision_boundary',)\n", ["corrupt=dict"], r"as one array"),
    ("loss explodes, finite", REGRESSION, ["learning_rate=0.5"], r"loss exploded to .*Lower learning_rate"),
]


@pytest.mark.parametrize("source, arguments, match", [case[1:] for case in RUN_CASES], ids=[c[0] for c in RUN_CASES])
def test_bad_run_input(tmp_path, monkeypatch, capsys, source, arguments, match):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "bad.py").write_text(textwrap.dedent(source or GOOD))
    monkeypatch.setenv("NNLAB_EXPERIMENTS", str(experiments))
    results = tmp_path / "results"

    code = cli.main(["--results", str(results), "run", "bad", *arguments])

    stderr = capsys.readouterr().err
    message = [line for line in stderr.splitlines() if line.startswith("nnlab: error:")]
    assert code == 2
    assert len(message) == 1, stderr  # one paragraph, one line
    assert "Traceback" not in stderr
    assert re.search(match, message[0]), message[0]
    for run_dir in (results / "bad").glob("*"):  # a run that started is marked failed, with no stray files
        status = json.loads((run_dir / "status.json").read_text())
        assert status["status"] == "failed" and status["message"] in message[0]
        assert not (run_dir / "metrics.json").exists()
        assert not [path.name for path in run_dir.rglob(".*")], "temporary files left behind"


def test_unknown_experiment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNLAB_EXPERIMENTS", str(tmp_path))
    assert cli.main(["--results", str(tmp_path / "results"), "run", "nope"]) == 2
    assert "No experiment named 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def _one_error(capsys):
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("nnlab: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def test_from_a_file_that_is_not_text(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNLAB_EXPERIMENTS", str(tmp_path))
    (tmp_path / "bad.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "config.json").write_bytes(b'{"epochs": \xff\xfe}')
    assert cli.main(["--results", str(tmp_path / "results"), "run", "bad", f"from={tmp_path}/config.json"]) == 2
    assert "not a text file (the byte at offset 11 is not UTF-8)" in _one_error(capsys)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("command", [["run", "bad"], ["tune", "bad", "max_trials=1"]])
def test_results_pointing_at_a_file(tmp_path, monkeypatch, capsys, command):
    monkeypatch.setenv("NNLAB_EXPERIMENTS", str(tmp_path))
    source = (
        textwrap.dedent(GOOD)
        + "\nfrom nnlab import search_space\nSEARCH_SPACE = {'width': search_space.Choice([4, 8])}\n"
    )
    (tmp_path / "bad.py").write_text(source)
    (tmp_path / "results").write_text("not a directory")
    assert cli.main(["--results", str(tmp_path / "results"), *command, "epochs=1"]) == 2
    assert "a part of that path is a file, not a directory" in _one_error(capsys)
    assert (tmp_path / "results").read_text() == "not a directory"


def test_a_cache_that_is_a_file(tmp_path, monkeypatch, capsys, repo_experiments):
    cached = Path.home() / ".cache" / "nnlab" / "mnist.npz"
    if not cached.exists():
        pytest.skip("needs the MNIST copy in ~/.cache/nnlab")
    (tmp_path / "cache").write_text("a file, not a directory")
    monkeypatch.setenv("NNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NNLAB_MNIST_PATH", str(cached))
    results = tmp_path / "results"
    assert cli.main(["--results", str(results), "run", "mnist", "limit_examples=64", "epochs=1"]) == 2
    message = _one_error(capsys)
    assert f"{tmp_path / 'cache'} (File exists): a file is in the way of a directory nnlab needs" in message
    [run_dir] = (results / "mnist").iterdir()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"


def test_python_lists_train_and_a_model_without_trainable_weights_gets_one_warning(tmp_path, monkeypatch, capsys):
    source = GOOD.replace(
        "return Splits(train=(x[:200], y[:200]), test=(x[200:], y[200:]))",
        "return Splits(train=(x[:200].tolist(), y[:200].tolist()), test=(x[200:].tolist(), list(y[200:])))",
    )
    frozen = source.replace(
        "def build_model(config):",
        "def build_model(config):\n        return frozen_model(config)\n\n    def _unused(config):",
    )
    frozen += """
    def frozen_model(config):
        model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, activation="softmax")])
        model.trainable = False
        return model
"""
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "lists.py").write_text(textwrap.dedent(source))
    (experiments / "frozen.py").write_text(textwrap.dedent(frozen))
    monkeypatch.setenv("NNLAB_EXPERIMENTS", str(experiments))
    results = str(tmp_path / "results")
    assert cli.main(["--results", results, "run", "lists", "epochs=1"]) == 0
    [run_dir] = (tmp_path / "results" / "lists").iterdir()
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"] > 0.5
    assert "nnlab: warning" not in capsys.readouterr().err
    assert cli.main(["--results", results, "run", "frozen", "epochs=1"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("nnlab: warning")]
    assert len(warnings) == 1 and "frozen.py: the model has no trainable weights" in warnings[0]
