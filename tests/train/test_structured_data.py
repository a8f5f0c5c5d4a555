"""Structured data through the whole training path: x as a dict or list of arrays (several inputs), y as a dict of
arrays (several outputs), in run, study, sweep, holdout, limit_examples, build_model(config, train) and testing."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from nnlab import NnlabError, cli
from nnlab.sweeps import plan as plan_lib
from nnlab.sweeps import tuning
from nnlab.train import runner

# keras-io's multi-input pattern: a functional model with two named inputs, x a dict matched to them by name; the
# numeric input is normalised by a layer adapted to the training split (build_model(config, train)).
TWO_INPUTS = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from keras import layers
    from nnlab import search_space
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 3
        batch_size: int = 32
        learning_rate: float = 0.02
        validation_fraction: float = 0.25
        as_list: bool = False

    SEARCH_SPACE = {"learning_rate": search_space.Choice([0.01, 0.02])}
    VARIANTS_OFF = None

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        n = 400
        amount = rng.normal(100.0, 20.0, size=(n, 1))        # unscaled: the Normalization layer matters
        category = rng.integers(0, 4, size=(n, 3)).astype("float32")
        y = ((amount[:, 0] - 100) / 20 + category[:, 0] - 1.5 > 0).astype("int64")  # needs both inputs
        x = [amount, category] if config.as_list else {"amount": amount, "category": category}
        cut = lambda part, rows: [a[rows] for a in part] if config.as_list else {k: v[rows] for k, v in part.items()}
        return Splits(train=(cut(x, slice(0, 320)), y[:320]), test=(cut(x, slice(320, None)), y[320:]))

    def build_model(config, train):
        x = train[0]
        amount = keras.Input(shape=(1,), name="amount")
        category = keras.Input(shape=(3,), name="category")
        normalize = layers.Normalization()
        normalize.adapt(x[0] if config.as_list else x["amount"])
        hidden = layers.Concatenate()([normalize(amount), category])
        hidden = layers.Dense(16, activation="relu")(hidden)
        outputs = layers.Dense(2, activation="softmax")(hidden)
        return keras.Model([amount, category] if config.as_list else {"amount": amount, "category": category}, outputs)
"""

# Two inputs given as a tuple (by position) and two outputs: the loss and every metric applied to each, history
# columns named as Keras names them.
TWO_OUTPUTS = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from keras import layers
    from nnlab import search_space
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "mse"
        metrics: tuple[str, ...] = ("mae",)
        epochs: int = 2
        batch_size: int = 16
        learning_rate: float = 0.01

    SEARCH_SPACE = {"learning_rate": search_space.Choice([0.01, 0.02])}

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(120, 3)).astype("float32")
        y = {"total": x.sum(axis=1, keepdims=True), "spread": x.std(axis=1, keepdims=True)}
        return Splits(train=((x[:100, :2], x[:100, 2:]), {k: v[:100] for k, v in y.items()}),
                      test=((x[100:, :2], x[100:, 2:]), {k: v[100:] for k, v in y.items()}))

    def build_model(config):
        first, second = keras.Input(shape=(2,)), keras.Input(shape=(1,))
        hidden = layers.Dense(8, activation="relu")(layers.Concatenate()([first, second]))
        return keras.Model((first, second), {"total": layers.Dense(1, name="total")(hidden),
                                             "spread": layers.Dense(1, name="spread")(hidden)})
"""


def history(run_dir, name="history.csv"):
    return pd.read_csv(run_dir / name)


def test_a_two_input_model_trains_validates_tests_and_adapts_to_the_training_split(make_experiment, results_dir):
    experiment = make_experiment("inputs", TWO_INPUTS)
    as_list = False
    result = runner.run("inputs", [f"as_list={as_list}", "limit_examples=300"], results_dir=results_dir, verbose=0)
    table = history(result.run_dir)
    assert list(table.columns) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss", "seconds", "learning_rate"]
    assert table["loss"].iloc[-1] < table["loss"].iloc[0]
    assert result.metrics["test"]["accuracy"] > 0.75  # the label needs both inputs; one alone gets about 0.7
    config = experiment.config([f"as_list={as_list}", "limit_examples=300"])
    splits = experiment.load_splits(config)
    train_x = splits.train[0]
    amount = train_x[0] if as_list else train_x["amount"]
    assert len(amount) == 225  # limit_examples=300, then a quarter held out for validation
    model = experiment.load_model(result.run_dir / "model.keras")
    normalize = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    np.testing.assert_allclose(np.ravel(normalize.mean), amount.mean(), rtol=1e-5)  # the training split only


def test_a_two_output_model_gets_the_loss_and_metrics_on_each_output(make_experiment, results_dir):
    make_experiment("outputs", TWO_OUTPUTS)
    # under mixed precision too: both output layers are made to compute in float32 from a tuple x's forward pass
    result = runner.run("outputs", ["precision=mixed_bfloat16"], results_dir=results_dir, verbose=0)
    model = keras.saving.load_model(result.run_dir / "model.keras")
    assert {layer.name: layer.dtype_policy.name for layer in model.layers if layer.name in ("total", "spread")} == {
        "total": "float32",
        "spread": "float32",
    }
    table = history(result.run_dir)
    named = ["loss", "spread_loss", "spread_mae", "total_loss", "total_mae"]
    assert list(table.columns) == ["epoch", *named, *[f"val_{name}" for name in named], "seconds", "learning_rate"]
    last = table.iloc[-1]  # validation is one batch: the total is the sum of the outputs' losses
    assert last["val_loss"] == pytest.approx(last["val_spread_loss"] + last["val_total_loss"], rel=1e-5)
    test = result.metrics["test"]
    assert set(test) == set(named) and test["loss"] == pytest.approx(test["spread_loss"] + test["total_loss"], 1e-5)
    assert (result.run_dir / "total_mae.png").exists()


def test_a_sweep_over_two_outputs_must_name_its_objective(make_experiment, results_dir):
    experiment = make_experiment("outputs", TWO_OUTPUTS)
    plan = plan_lib.plan_settings(experiment, ["max_trials=1", "epochs=1"], results_dir, workers=0)
    with pytest.raises(NnlabError, match=r"has 2 outputs, so the sweep's objective must be named.*val_spread_loss"):
        plan.preflight()
    result = tuning.tune("outputs", ["max_trials=1", "epochs=1", "objective=val_total_mae"], results_dir=results_dir)
    trials = pd.read_csv(result.sweep_dir / "trials.csv")
    assert list(trials["status"]) == ["COMPLETED"] and np.isfinite(trials["best_objective"]).all()
    per_output = TWO_OUTPUTS.replace(  # metrics by output name: no first metric to default to
        'metrics: tuple[str, ...] = ("mae",)',
        'metrics: dict[str, str] = dataclasses.field(default_factory=lambda: {"spread": "mae"})',
    )
    plan = plan_lib.plan_settings(
        make_experiment("per_output", per_output), ["max_trials=1", "epochs=1"], results_dir, workers=0
    )
    with pytest.raises(NnlabError, match=r"has 2 outputs, so the sweep's objective must be named"):
        plan.preflight()


def test_a_study_trains_on_list_inputs(make_experiment, results_dir):
    make_experiment("inputs", TWO_INPUTS.replace("VARIANTS_OFF = None", 'VARIANTS = {"slow": {"learning_rate": 0.01}}'))
    study = runner.run("inputs", ["epochs=1", "as_list=true"], results_dir=results_dir, verbose=0)
    assert study.metrics["variants"]["slow"]["test"]["accuracy"] > 0
    assert len(history(study.run_dir, "history-slow.csv")) == 1


def test_labels_that_do_not_match_the_outputs_are_one_paragraph(make_experiment, results_dir, capsys):
    make_experiment("outputs", TWO_OUTPUTS.replace('"spread": x.std', '"sprad": x.std'))
    code = cli.main(["--results", str(results_dir), "run", "outputs"])
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error
    assert "the model has 2 outputs (spread, total) but y is {'total': (1,), 'sprad': (1,)} per example" in error
    [run_dir] = (results_dir / "outputs").iterdir()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"


def test_a_hand_written_step_gets_x_as_the_dict_make_data_gave(make_experiment, results_dir):
    step = """
    import tensorflow as tf

    def train_step(model, optimizer, x, y):
        assert sorted(x) == ["amount", "category"]
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True)))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss
    """
    make_experiment("inputs", TWO_INPUTS + step)
    result = runner.run("inputs", ["epochs=4"], results_dir=results_dir, verbose=0)
    table = history(result.run_dir)
    assert list(table.columns)[:2] == ["epoch", "loss"] and table["loss"].iloc[-1] < table["loss"].iloc[0]


def test_heads_with_their_own_losses_and_weights_as_compile_takes_them(make_experiment, results_dir, capsys):
    """keras-io's functional-API guide compiles two heads with a loss each and loss_weights; a module gives `loss` as
    a dict by output name (or a tuple by position) and may declare `loss_weights`, both handed to compile."""
    per_output = TWO_OUTPUTS.replace(
        'loss: str = "mse"',
        'loss: dict[str, str] = dataclasses.field(default_factory=lambda: {"total": "mse", "spread": "mae"})\n'
        "        loss_weights: dict[str, float] = dataclasses.field(\n"
        '            default_factory=lambda: {"total": 1.0, "spread": 0.5})',
    )
    make_experiment("outputs", per_output)
    result = runner.run("outputs", ["epochs=1"], results_dir=results_dir, verbose=0)
    test = result.metrics["test"]
    assert test["spread_loss"] == pytest.approx(test["spread_mae"], rel=1e-5)  # mae on that head, mse on the other
    assert test["total_loss"] != pytest.approx(test["total_mae"], rel=1e-2)
    assert test["loss"] == pytest.approx(test["total_loss"] + 0.5 * test["spread_loss"], rel=1e-5)
    positions = TWO_OUTPUTS.replace('loss: str = "mse"', 'loss: tuple[str, ...] = ("mae", "mse")').replace(
        'metrics: tuple[str, ...] = ("mae",)',
        'metrics: dict[str, str] = dataclasses.field(default_factory=lambda: {"spread": "mae"})',
    )
    make_experiment("positions", positions)
    by_position = runner.run("positions", ["epochs=1"], results_dir=results_dir, verbose=0).metrics["test"]
    assert by_position["spread_loss"] == pytest.approx(by_position["spread_mae"], rel=1e-5)  # sorted names: spread
    assert "total_mae" not in by_position  # a dict of metrics: each on its own output
    assert cli.main(["--results", str(results_dir), "run", "positions", 'metrics={"sprad": "mae"}']) == 2
    assert (
        "field 'metrics' names the output 'sprad', but the model's outputs are spread, total" in capsys.readouterr().err
    )
    for bad, said in (
        ('loss={"total": "mse"}', "field 'loss' names the outputs total, but the model has spread, total"),
        ('loss={"total": "mse", "spread": "msq"}', "field 'loss' names 'msq', which Keras does not know"),
        ('loss_weights={"total": 1.0}', "field 'loss_weights' names the outputs total, but the model has spread"),
    ):
        assert cli.main(["--results", str(results_dir), "run", "outputs", bad]) == 2
        error = capsys.readouterr().err
        assert said in error and "Traceback" not in error


def test_a_dataframe_reaches_build_model_as_its_values_and_a_column_name_says_so(make_experiment, results_dir):
    frame = """
    import dataclasses
    import keras
    import numpy as np
    import pandas as pd
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "mse"
        metrics: tuple[str, ...] = ()
        epochs: int = 1
        by_name: bool = False

    def make_data(config):
        rng = np.random.default_rng(0)
        df = pd.DataFrame({"horsepower": rng.normal(100, 30, 80), "smoker": rng.random(80) > 0.5})
        return Splits(train=(df, 0.1 * df["horsepower"]))

    def build_model(config, train):
        normalize = keras.layers.Normalization(axis=None)
        normalize.adapt(train[0]["horsepower"] if config.by_name else train[0][:, 0])
        return keras.Sequential([keras.Input(shape=(2,)), normalize, keras.layers.Dense(1)])
    """
    make_experiment("frame", frame)
    assert runner.run("frame", [], results_dir=results_dir, verbose=0).metrics["status"] == "done"
    with pytest.raises(NnlabError, match=r"build_model\(config, train\) raised IndexError: .*as its NumPy values"):
        runner.run("frame", ["by_name=true"], results_dir=results_dir, verbose=0)
