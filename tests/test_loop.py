"""The loop's per-epoch controls (nnlab.train.controls): a learning rate set before an epoch, a stop after one, and
their state saved with the checkpoint."""

from nnlab.results import checkpoint, rundir
from nnlab.train import devices
from nnlab.train import job as job_lib
from nnlab.train.controls import NoControls

TINY = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 6
        batch_size: int = 16

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(200, 2)).astype("float32")
        y = (x[:, 0] > 0).astype("int64")
        return Splits(train=(x[:160], y[:160]), test=(x[160:], y[160:]))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2, activation="softmax")])
"""


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


def test_controls_set_the_rate_stop_early_and_are_checkpointed(make_experiment, results_dir):
    experiment = make_experiment("tiny", TINY)
    config = experiment.config([])
    splits = experiment.load_splits(config)
    run_dir = rundir.create(results_dir, "tiny")
    controls = HalveThenStop()
    job = job_lib.train_model(experiment, config, splits, devices.setup(0), run_dir, verbose=0, controls=controls)
    rows = job.history.rows
    assert [row["epoch"] for row in rows] == [0, 1, 2] and controls.seen == [0, 1, 2]
    assert abs(rows[0]["learning_rate"] - 0.001) < 1e-6 and abs(rows[1]["learning_rate"] - 0.005) < 1e-6
    assert checkpoint.extra(job.checkpoint_path) == {"seen": [0, 1, 2]}
    assert checkpoint.resumes_at(job.checkpoint_path) == 3
