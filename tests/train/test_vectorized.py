"""A training group (nnlab.train.vectorized) trains each of its trials as the trial it would be alone: the same
initial weights and batch order bitwise, the same history to float tolerance (without dropout), its own schedule,
early stopping and divergence guard, frozen once it stops; and its program is traced once per structure."""

import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from nnlab import NnlabError
from nnlab.results.history import HistoryFile
from nnlab.sweeps.trial import release_memory
from nnlab.train import controls as controls_lib
from nnlab.train import devices, loop, modeling, runner
from nnlab.train.job import TrainingJob
from nnlab.train.vectorized import group as group_lib
from nnlab.train.vectorized import policy

# A small regression without dropout: groups and lone trials agree to float tolerance. An L2 regularizer (model.losses)
# and BatchNormalization (non-trainable statistics) must be carried per trial.
SMALL = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        optimizer: str = "sgd"
        learning_rate: float = 0.01
        loss: str = "mse"
        metrics: tuple[str, ...] = ("mae",)
        epochs: int = 4
        batch_size: int = 16
        width: int = 8
        momentum: float = 0.0
        data_seed: int = 0

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(230, 3)).astype("float32")
        y = (x @ np.array([1.0, -2.0, 0.5], "float32") + 0.1 * rng.normal(size=230).astype("float32")).reshape(-1, 1)
        return Splits(train=(x[:200], y[:200]), test=(x[200:], y[200:]))

    def build_model(config):
        return keras.Sequential([
            keras.Input(shape=(3,)),
            keras.layers.Dense(config.width, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3)),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(1),
        ])
"""


@pytest.fixture
def small(make_experiment):
    experiment = make_experiment("small", SMALL)
    config = experiment.config()
    return experiment, experiment.load_splits(config), devices.setup(0)


def member(experiment, tmp_path, name, overrides):
    config = experiment.config(overrides)
    return group_lib.Member(name, config, HistoryFile(tmp_path / f"group-{name}.csv"), str(experiment.path))


def alone(experiment, splits, setup, config, path):
    """The trial trained alone, as SweepTuner._train_execution trains it: (history rows, model, error or None)."""
    release_memory()
    keras.utils.set_random_seed(config.seed)
    model = modeling.prepare(experiment, config, splits, setup)
    controls = controls_lib.make(config, model, str(experiment.path))
    job = TrainingJob(experiment, config, splits, model, None, HistoryFile(path), 0, strategy=setup.strategy)
    try:
        loop.train(job, controls)
    except NnlabError as error:
        return job.history.rows, model, error
    return job.history.rows, model, None


def assert_rows_close(group_rows, alone_rows, rtol):
    assert [row["epoch"] for row in group_rows] == [row["epoch"] for row in alone_rows]
    for mine, theirs in zip(group_rows, alone_rows, strict=True):
        assert mine.keys() == theirs.keys()
        assert mine["learning_rate"] == theirs["learning_rate"]
        for key in mine.keys() - {"epoch", "seconds", "learning_rate"}:
            assert mine[key] == pytest.approx(theirs[key], rel=rtol), (mine["epoch"], key)


def test_initial_weights_batch_order_and_one_trace_per_structure(small, tmp_path):
    experiment, splits, setup = small
    programs = group_lib.Programs(splits)
    members = [member(experiment, tmp_path, str(seed), [f"seed={seed}"]) for seed in (3, 11, 5)]
    group = group_lib.TrainingGroup(experiment, setup, splits, members, 4, programs, tmp_path / "g0.npz")
    release_memory()
    assert group.build() == []
    trainable, non_trainable = [v.numpy() for v in group.state["trainable"]], group.state["non_trainable"]
    for slot, trial in enumerate(members):
        release_memory()  # the lone trial's build, exactly: SweepTuner._train_execution
        keras.utils.set_random_seed(trial.config.seed)
        model = modeling.prepare(experiment, trial.config, splits, setup)
        for stacked, variable in zip(trainable, model.trainable_variables, strict=True):
            np.testing.assert_array_equal(stacked[slot], variable.numpy())
        for stacked, variable in zip(non_trainable, model.non_trainable_variables, strict=True):
            np.testing.assert_array_equal(stacked.numpy()[slot], variable.numpy())
    for stacked in trainable:  # the empty fourth slot holds a frozen copy
        np.testing.assert_array_equal(stacked[3], stacked[0])

    program = group.program
    seeds = tf.constant([3, 11, 5, 0], tf.int64)
    for compiled in (True, False):  # the batch order inside the program, with and without XLA
        orders = tf.function(program.orders, jit_compile=compiled, autograph=False)(seeds, tf.constant(2))
        for slot, seed in enumerate((3, 11, 5)):
            np.testing.assert_array_equal(orders.numpy()[slot], loop.order(program.count, seed, 2).numpy())

    group.train()
    again = [member(experiment, tmp_path, str(seed), [f"seed={seed}", "learning_rate=0.02"]) for seed in (7, 8)]
    second = group_lib.TrainingGroup(experiment, setup, splits, again, 4, programs, tmp_path / "g1.npz")
    release_memory()
    second.build()
    second.train()
    assert second.program is program and program.traces == 1 and program.calls >= 2  # one structure, one trace
    wider = [member(experiment, tmp_path, f"w{seed}", [f"seed={seed}", "width=16"]) for seed in (1, 2)]
    third = group_lib.TrainingGroup(experiment, setup, splits, wider, 4, programs, tmp_path / "g2.npz")
    third.build()
    third.train()
    assert third.program is not program and third.program.traces == 1 and len(programs.by_structure) == 2


def test_each_trial_is_the_trial_alone_and_frozen_when_it_stops_or_diverges(small, tmp_path):
    experiment, splits, setup = small
    plans = {
        "plain": ["seed=1", "learning_rate=0.01", "momentum=0.9"],
        "scheduled": ["seed=2", "learning_rate=0.02", "lr_schedule=exponential", "lr_decay=0.5"],
        # monitor=learning_rate (constant, maximised) never improves after epoch 0: stops after epoch 1
        "stops": ["seed=3", "patience=1", "monitor=learning_rate", "restore_best_weights=false"],
        "diverges": ["seed=4", "learning_rate=1000"],
    }
    members = [member(experiment, tmp_path, name, overrides) for name, overrides in plans.items()]
    group = group_lib.TrainingGroup(experiment, setup, splits, members, 4, group_lib.Programs(splits), None)
    release_memory()
    group.build()
    group.train()
    steps = -(-len(splits.train[0]) // 16)  # batches per epoch
    for slot, trial in enumerate(members):
        rows, model, error = alone(experiment, splits, setup, trial.config, tmp_path / f"alone-{trial.name}.csv")
        assert_rows_close(trial.history.rows, rows, rtol=1e-4)
        assert trial.epochs_done == len(rows)
        trained = len(rows) + (trial.name == "diverges")  # the diverging epoch ran, its row is not kept
        assert int(group.state["iterations"][slot]) == steps * trained  # frozen: no step after it stopped
        if trial.name == "diverges":
            assert trial.outcome == group_lib.DIVERGED and len(rows) < 4
            assert str(trial.error) == str(error) and "diverged" in str(error)
            continue
        assert error is None
        stacks = [v.numpy() for v in group.state["trainable"]] + [v.numpy() for v in group.state["non_trainable"]]
        weights = [stacked[slot] for stacked in stacks]
        for mine, theirs in zip(weights, model.trainable_variables + model.non_trainable_variables, strict=True):
            np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-4, atol=1e-6)
    assert [trial.outcome for trial in members[:3]] == [group_lib.DONE, group_lib.DONE, group_lib.STOPPED_EARLY]
    assert [len(trial.history.rows) for trial in members[:3]] == [4, 4, 2]
    assert members[1].history.rows[-1]["learning_rate"] == pytest.approx(0.02 * 0.5**3)


MNIST = ["limit_examples=2000", "epochs=2", "data_seed=0"]
SEEDS = range(8)


def mnist_configs(experiment, dropout_rate):
    return [
        experiment.config([*MNIST, f"dropout_rate={dropout_rate}", f"seed={seed}", f"learning_rate={rate}"])
        for seed, rate in zip(SEEDS, [1e-3, 2e-3, 5e-4, 1e-3, 3e-3, 1e-3, 2e-3, 1e-3], strict=True)
    ]


def grouped_and_alone(experiment, dropout_rate, tmp_path, results_dir):
    """Histories of the 8 configs trained as one group, and by `nnlab run` one at a time."""
    configs = mnist_configs(experiment, dropout_rate)
    splits, setup = experiment.load_splits(configs[0]), devices.setup(0)
    members = [
        group_lib.Member(str(config.seed), config, HistoryFile(tmp_path / f"{dropout_rate}-{config.seed}.csv"), "")
        for config in configs
    ]
    group = group_lib.TrainingGroup(experiment, setup, splits, members, 8, group_lib.Programs(splits), None)
    release_memory()
    group.build()
    group.train()
    runs = []
    for config in configs:
        overrides = [
            *MNIST,
            f"dropout_rate={dropout_rate}",
            f"seed={config.seed}",
            f"learning_rate={config.learning_rate}",
        ]
        result = runner.run("mnist", overrides, results_dir=results_dir, verbose=0)
        runs.append(pd.read_csv(result.run_dir / "history.csv"))
    return group, [pd.read_csv(trial.history.path) for trial in members], runs


def test_mnist_histories_without_dropout_match_nnlab_run(repo_experiments, tmp_path, results_dir, monkeypatch):
    from nnlab import experiment as experiment_lib

    monkeypatch.setattr(policy, "XLA_MIN_STEPS", 0)  # the XLA program, as larger sweeps get it
    group, grouped, runs = grouped_and_alone(experiment_lib.load("mnist"), 0.0, tmp_path, results_dir)
    assert group.program.xla and not group.randomness
    for mine, theirs in zip(grouped, runs, strict=True):
        assert list(mine.columns) == list(theirs.columns)
        for column in ("loss", "val_loss"):
            np.testing.assert_allclose(mine[column], theirs[column], rtol=1e-3)
        np.testing.assert_allclose(mine["accuracy"], theirs["accuracy"], atol=1.0001 / 1800)  # one example
        np.testing.assert_allclose(mine["val_accuracy"], theirs["val_accuracy"], atol=1.0001 / 200)
        np.testing.assert_array_equal(mine["learning_rate"], theirs["learning_rate"])
        np.testing.assert_array_equal(mine["epoch"], theirs["epoch"])


def test_mnist_with_dropout_reaches_the_same_mean_accuracy(repo_experiments, tmp_path, results_dir):
    from nnlab import experiment as experiment_lib

    group, grouped, runs = grouped_and_alone(experiment_lib.load("mnist"), 0.2, tmp_path, results_dir)
    assert group.randomness  # best_config.json then says the dropout masks differ
    mine = np.mean([frame["val_accuracy"].iloc[-1] for frame in grouped])
    theirs = np.mean([frame["val_accuracy"].iloc[-1] for frame in runs])
    assert abs(mine - theirs) <= 0.01, (mine, theirs)


def test_only_qualifying_experiments_train_as_groups(small, make_experiment):
    experiment, splits, setup = small
    names = iter(range(100))

    def reason(source, overrides=()):
        candidate = make_experiment(f"variant{next(names)}", source)
        config = candidate.config(list(overrides))
        model = modeling.prepare(candidate, config, splits, setup)
        return policy.first_failed_rule(candidate, config, model, splits, setup.replicas)

    base = textwrap.dedent(SMALL)
    assert reason(base) == ""
    assert "defines track" in reason(base + "\ndef track(model):\n    return {'w': model.layers[0].kernel[0, 0]}\n")
    assert "optimizer=rmsprop" in reason(base, ["optimizer=rmsprop"])
    assert "not float32" in reason(base, ["precision=mixed_bfloat16"])
    subclassed = base + textwrap.dedent(
        """
        class Stepper(keras.Sequential):
            def train_step(self, data):
                return super().train_step(data)

        plain = build_model

        def build_model(config):
            return Stepper(plain(config).layers)
        """
    )
    assert "Stepper overrides train_step" in reason(subclassed)


def test_an_embedding_under_adam_trains_alone(small, make_experiment):
    """Keras' Adam adds up the squares of an Embedding's repeated rows (its gradient is a tf.IndexedSlices); the group
    program squares their sum, so such a trial would train otherwise in a group. Under SGD both agree and it groups."""
    _, splits, setup = small
    tokens = SMALL.replace('x = rng.normal(size=(230, 3)).astype("float32")', "x = rng.integers(0, 4, size=(230, 3))")
    tokens = tokens.replace(
        "keras.Input(shape=(3,)),",
        "keras.Input(shape=(3,), dtype='int32'), keras.layers.Embedding(4, 2), keras.layers.Flatten(),",
    )
    candidate = make_experiment("tokens", tokens)

    def reason(overrides):
        config = candidate.config(overrides)
        data = candidate.load_splits(config)
        model = modeling.prepare(candidate, config, data, setup)
        return policy.first_failed_rule(candidate, config, model, data, setup.replicas)

    assert "embeddings is sparse" in reason(["optimizer=adam"])
    assert reason(["optimizer=sgd", "momentum=0.9"]) == ""
