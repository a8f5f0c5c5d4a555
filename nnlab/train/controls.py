"""Per-epoch controls of a training loop: early stopping and learning-rate schedules, from config fields alone.

The loop (nnlab.train.loop) asks a controls object, around every epoch:
  - `before_epoch(epoch)` -> the learning rate to train this epoch with, or None to leave the optimizer alone;
  - `after_epoch(epoch, row)` -> True to stop after this epoch (`row` is the epoch's history row);
  - `state()` / `restore(state)`: everything needed to continue exactly, saved in the checkpoint with the weights;
  - `finish(model)`: after the last epoch, e.g. put back the best epoch's weights;
  - `summary()`: what metrics.json records about it (where and why training stopped, which weights were kept).

The same rules as Keras' EarlyStopping, LearningRateScheduler and ReduceLROnPlateau callbacks, but as plain Python
with explicit state, so that a resumed run makes the same decisions as one never interrupted and the rules are
tested without a model. `NoControls` is what a config with the defaults gets: the loop then trains exactly as
before these fields existed.
"""

import base64
import math

import numpy as np

from nnlab.errors import NnlabError
from nnlab.results import ranking  # `monitor`'s direction is inferred as a sweep's objective's is


def improves(value, best, direction):
    """True if `value` is strictly better than `best` (None: nothing yet); NaN never improves."""
    return math.isfinite(value) and (best is None or ranking.better(value, best, direction))


def is_active(config):
    """True when the config asks for anything beyond today's plain loop."""
    return config.patience > 0 or config.lr_schedule != "constant" or config.warmup_epochs > 0


def uses_monitor(config):
    return config.patience > 0 or config.lr_schedule == "plateau"


def make(config, model=None, where="config"):
    """The controls for `config`: NoControls with the defaults, else EpochControls bound to `model`."""
    return EpochControls(config, model, where) if is_active(config) else NoControls()


def check_monitor(config, logged, where):
    """Raise NnlabError, before the first epoch, if `monitor` is used but is not among the `logged` metrics."""
    if not uses_monitor(config) or config.monitor in logged:
        return
    metrics = [name for name in logged if name != "learning_rate"]
    validated = any(name.startswith("val_") for name in metrics)
    hint = " (there is no validation split: set validation_fraction > 0)" if not validated else ""
    used_by = "patience" if config.patience > 0 else "lr_schedule=plateau"
    example = "val_loss" if "val_loss" in metrics else metrics[0]
    raise NnlabError(
        f"{where}: field 'monitor' is {config.monitor!r} (used by {used_by}), which this experiment does not log"
        f"{hint}; it logs {', '.join(metrics)}. Pass e.g. monitor={example}."
    )


class NoControls:
    """The default: no schedule, no early stopping; the loop trains every epoch at the optimizer's own rate."""

    active = False
    stopped = False

    def check_logged(self, names):
        pass

    def before_epoch(self, epoch):
        return None

    def after_epoch(self, epoch, row):
        return False

    def state(self):
        return {}

    def restore(self, state):
        pass

    def finish(self, model):
        pass

    def summary(self):
        return {}


class EpochControls:
    """A schedule and, with patience > 0, early stopping on `monitor`; bound to the model whose weights it keeps."""

    active = True

    def __init__(self, config, model=None, where="config"):
        self.config, self.model, self.where = config, model, where
        self.direction = ranking.direction(config.monitor)
        self.schedule = Schedule(config)
        self.stopper = EarlyStopping(config.patience, self.direction) if config.patience > 0 else None
        self.keep_best = self.stopper is not None and config.restore_best_weights
        self.best_weights = None
        self.epochs_seen = 0
        self.stopped_at = None  # the epoch after which training stopped early

    @property
    def stopped(self):
        """True once early stopping has decided, so a run resumed after that decision trains no further epoch."""
        return self.stopped_at is not None

    def check_logged(self, names):
        """Before the first epoch: `monitor` must be among the columns the loop will log."""
        check_monitor(self.config, names, self.where)

    def before_epoch(self, epoch):
        return self.schedule.rate(epoch)

    def after_epoch(self, epoch, row):
        value = self._monitored(row) if uses_monitor(self.config) else None
        self.epochs_seen = epoch + 1
        if self.config.lr_schedule == "plateau":
            self.schedule.observe(epoch, value)
        if self.stopper is None:
            return False
        improved = self.stopper.observe(epoch, value)
        if improved and self.keep_best and self.model is not None:
            self.best_weights = [array.copy() for array in self.model.get_weights()]
        if self.stopper.should_stop():
            self.stopped_at = epoch
            return True
        return False

    def finish(self, model):
        """Put the best epoch's weights back (restore_best_weights), whether or not training stopped early."""
        if self.keep_best and self.best_weights is not None:
            model.set_weights(self.best_weights)

    def kept_epoch(self):
        """The epoch whose weights the model holds after finish()."""
        if self.keep_best and self.best_weights is not None:
            return self.stopper.best_epoch
        return self.epochs_seen - 1

    def summary(self):
        """The `early_stopping` record for metrics.json: where and why it stopped, whose weights were kept."""
        if self.stopper is None:
            return {}
        stopped = self.stopped_at is not None
        return {
            "monitor": self.config.monitor,
            "direction": self.direction,
            "patience": self.config.patience,
            "stopped_early": stopped,
            "stopped_at_epoch": self.stopped_at,
            "reason": (
                f"{self.config.monitor} did not improve for {self.config.patience} "
                f"epoch{'s' if self.config.patience != 1 else ''} after epoch "
                f"{self.stopper.best_epoch}"
                if stopped
                else f"trained all {self.config.epochs} epochs"
            ),
            "best_epoch": self.stopper.best_epoch,
            "best_value": self.stopper.best,
            "kept_epoch": self.kept_epoch(),
            "kept_weights": "best epoch" if self.keep_best and self.best_weights is not None else "last epoch",
            "last_epoch": self.epochs_seen - 1,
        }

    def state(self):
        """All of it as JSON (the checkpoint's `extra`); the best weights as exact base64 bytes."""
        state = {"epochs_seen": self.epochs_seen, "stopped_at": self.stopped_at, "schedule": self.schedule.state()}
        if self.stopper is not None:
            state["early_stopping"] = self.stopper.state()
        if self.best_weights is not None:
            state["best_weights"] = [_encode(array) for array in self.best_weights]
        return state

    def restore(self, state):
        self.epochs_seen = state.get("epochs_seen", 0)
        self.stopped_at = state.get("stopped_at")
        self.schedule.restore(state.get("schedule", {}))
        if self.stopper is not None:
            self.stopper.restore(state.get("early_stopping", {}))
        weights = state.get("best_weights")
        self.best_weights = [_decode(item) for item in weights] if weights is not None else None

    def _monitored(self, row):
        if self.config.monitor not in row:
            raise NnlabError(
                f"{self.where}: field 'monitor' is {self.config.monitor!r}, but epoch {row.get('epoch')} logged "
                f"only {', '.join(key for key in row if key not in ('epoch', 'seconds'))}. Pass one of those."
            )
        return float(row[self.config.monitor])


class EarlyStopping:
    """Keras' EarlyStopping rule: stop once `patience` epochs in a row brought no strict improvement."""

    def __init__(self, patience, direction):
        self.patience, self.direction = patience, direction
        self.best, self.best_epoch, self.wait = None, None, 0

    def observe(self, epoch, value):
        """Record one epoch's monitored value; True if it is the best so far."""
        if improves(value, self.best, self.direction):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True
        self.wait += 1
        return False

    def should_stop(self):
        return self.wait >= self.patience

    def state(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def restore(self, state):
        self.best, self.best_epoch, self.wait = state.get("best"), state.get("best_epoch"), state.get("wait", 0)


class Schedule:
    """The learning rate of each epoch: warm-up, then constant, cosine, exponential or plateau.

    Warm-up rises linearly, learning_rate * (epoch + 1) / (warmup_epochs + 1), so that the first epoch after it
    is the first at the full rate. After warm-up, with t the epochs since warm-up and T the epochs left for it:
    cosine is min + (learning_rate - min) * (1 + cos(pi * t / T)) / 2, the value at the start of the epoch, so no
    epoch trains at the end point; exponential is learning_rate * lr_decay ** t; plateau multiplies the current
    rate by lr_factor once `monitor` has not improved for lr_patience epochs (ReduceLROnPlateau with
    min_delta 0 and no cooldown), never below min_learning_rate.
    """

    def __init__(self, config):
        self.config = config
        self.plateau_rate = config.learning_rate
        self.plateau = EarlyStopping(config.lr_patience, ranking.direction(config.monitor))  # its best and wait
        self.reductions = []  # [epoch after which it fell, new rate] for each plateau reduction

    def rate(self, epoch):
        """The rate for `epoch`, or None when the optimizer's own constant rate applies (the default)."""
        config = self.config
        if epoch < config.warmup_epochs:
            return config.learning_rate * (epoch + 1) / (config.warmup_epochs + 1)
        t, span = epoch - config.warmup_epochs, config.epochs - config.warmup_epochs
        if config.lr_schedule == "cosine":
            low = config.min_learning_rate
            return low + (config.learning_rate - low) * (1 + math.cos(math.pi * t / span)) / 2
        if config.lr_schedule == "exponential":
            return config.learning_rate * config.lr_decay**t
        if config.lr_schedule == "plateau":
            return self.plateau_rate
        return config.learning_rate if config.warmup_epochs else None

    def observe(self, epoch, value):
        """Plateau: epoch `epoch`'s monitored value; may lower the rate for the epochs that follow."""
        if self.plateau.observe(epoch, value):
            return
        if self.plateau.wait >= self.config.lr_patience:  # Keras' rule: lr_patience=0 lowers it at every miss
            new_rate = max(self.plateau_rate * self.config.lr_factor, self.config.min_learning_rate)
            if new_rate < self.plateau_rate:
                self.plateau_rate = new_rate
                self.reductions.append([epoch, new_rate])
            self.plateau.wait = 0

    def state(self):
        return {"plateau_rate": self.plateau_rate, "plateau": self.plateau.state(), "reductions": self.reductions}

    def restore(self, state):
        self.plateau_rate = state.get("plateau_rate", self.config.learning_rate)
        self.plateau.restore(state.get("plateau", {}))
        self.reductions = list(state.get("reductions", []))


def _encode(array):
    array = np.ascontiguousarray(array)
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode()}


def _decode(item):
    data = np.frombuffer(base64.b64decode(item["data"]), dtype=np.dtype(item["dtype"]))
    return data.reshape(item["shape"]).copy()
