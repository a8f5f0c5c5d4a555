"""The loop's per-epoch controls (nnlab.train.controls): a learning rate set before an epoch, a stop after one, and
their state saved with the checkpoint."""

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
