"""One sweep trial, trained through the same spine as `make run`, inside a keras-tuner `BaseTuner`.

Per trial: a fresh Keras session, seeds derived from (sweep seed, trial id), the experiment's model built and
compiled by nnlab.train.modeling, and nnlab's own loop (nnlab.train.loop: history, divergence guard, a checkpoint per
compiled chunk, so a killed trial resumes from its last finished epoch, as runs do). The loop orders epoch e by
(seed, e) alone, so a resumed trial repeats the batches a clean one would have seen.
"""

import contextlib
import ctypes
import ctypes.util
import dataclasses
import gc
import hashlib
import io
import math
import os
import resource
import time
import traceback
import warnings
from pathlib import Path

import keras
from keras_tuner.errors import FailedTrialError, FatalError
from keras_tuner.src.engine import base_tuner
from keras_tuner.src.engine import trial as trial_module

from nnlab import config as config_lib
from nnlab.errors import NnlabError, first_line, from_os_error
from nnlab.experiment import module_failure
from nnlab.results import atomic, bounded, checkpoint, layout
from nnlab.results.history import HistoryFile, read_rows, to_csv
from nnlab.sweeps import tables
from nnlab.sweeps.oracle import TUNER_KEYS
from nnlab.train import controls as controls_lib
from nnlab.train import devices, loop, modeling
from nnlab.train.job import TrainingJob


def trial_seed(sweep_seed, trial_id):
    """The seed a trial trains with: the same for the same (sweep seed, trial id), in any process, any order."""
    digest = hashlib.sha256(f"{sweep_seed}:{trial_id}".encode()).hexdigest()
    return int(digest[:8], 16) % (2**31 - 1)


class SweepTuner(base_tuner.BaseTuner):
    """Runs each trial as nnlab would run the experiment with the trial's values."""

    def __init__(self, oracle, sweep, directory, project_name, verbose=0):
        self.reloaded = False
        quiet(oracle)
        # Never overwrite=True: a late worker would delete everyone's trials.
        with contextlib.redirect_stdout(io.StringIO()):  # keras-tuner prints "Reloading Tuner from ..."
            super().__init__(oracle, hypermodel=None, directory=directory, project_name=project_name, overwrite=False)
        self.sweep = sweep  # nnlab.sweeps.plan.SweepPlan: experiment, base config, objective, data
        self.verbose = verbose
        self.on_trial_finished = None  # called with the trial after the oracle has recorded its end
        oracle_file = Path(self.project_dir) / layout.ORACLE
        if not self._is_worker() and not self.reloaded and oracle_file.exists():
            self.oracle.reload()  # killed before keras-tuner wrote its tuner file: the oracle's state still counts
        if not self._is_worker():
            self.save()

    def _get_tuner_fname(self):
        # A standalone tuner and a chief share one file, so a sweep may switch between the two and still resume.
        name = self.tuner_id if self._is_worker() else "tuner0"
        return os.path.join(str(self.project_dir), layout.tuner_state(name))

    def reload(self):
        super().reload()
        self.reloaded = True

    def search(self, *args, verbose=1, **kwargs):
        """keras-tuner's trial loop, waiting a second when the oracle answers IDLE instead of asking again at once."""
        self.on_search_begin()
        while True:
            trial = self.oracle.create_trial(self.tuner_id)
            if trial.status == "STOPPED":
                break
            if trial.status == "IDLE":
                time.sleep(1)
                continue
            self.on_trial_begin(trial)
            self._try_run_and_update_trial(trial)
            self.on_trial_end(trial)
        self.on_search_end()

    # keras-tuner writes its own state with a plain open(); nnlab's copy goes through temp file + rename.
    def save(self):
        if not self._is_worker():
            self.oracle.save()
        atomic.write_json(self._get_tuner_fname(), self.get_state())

    def _try_run_and_update_trial(self, trial, *args, **kwargs):
        """keras-tuner's, without printing the traceback (its DEBUG flag is on): a failed trial's error goes to
        tuner/trial_<id>/error.log, which the trial's line on the console names. Module code that calls sys.exit
        (or raises its own BaseException) fails its trial instead of ending the sweep."""
        error_log = Path(self.get_trial_dir(trial.trial_id)) / layout.TRIAL_ERROR_LOG
        try:
            self._run_and_update_trial(trial, *args, **kwargs)
            trial.status = trial_module.TrialStatus.COMPLETED
            error_log.unlink(missing_ok=True)  # an earlier attempt's, should keras-tuner have retried the trial
            return
        except FatalError:
            raise
        except BaseException as error:
            failure = module_failure(error, self.sweep.experiment.path)
            if failure is None:  # Ctrl-C, SIGTERM: the sweep stops, the trial stays unfinished
                raise
            trial.message = traceback.format_exc()  # trial.json keeps it, as keras-tuner does
        # keras-tuner's rule: FailedTrialError fails the trial now; any other error may be retried first
        failed = isinstance(failure, FailedTrialError)
        trial.status = trial_module.TrialStatus.FAILED if failed else trial_module.TrialStatus.INVALID
        write_error_log(error_log, failure, trial.message, self.sweep.experiment.path)

    def _run_and_update_trial(self, trial, *args, **kwargs):
        try:
            metrics, best_epoch = self.run_trial(trial)
        except Exception as error:
            if from_os_error(error) is None:  # a full or read-only disk, as an OSError or as TensorFlow's error
                raise
            # The disk, not the trial: keras-tuner would record the trial FAILED for good. Stop the sweep instead,
            # with the trial unfinished, so that the same command resumes it once the user has freed space.
            raise FatalError(str(error)) from error
        self.oracle.update_trial(trial.trial_id, metrics, step=best_epoch)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.on_trial_finished is not None:
            self.on_trial_finished(trial)

    def run_trial(self, trial, *args, **kwargs):
        """Train the trial's executions; returns (the mean of each execution's best-epoch metrics, best epoch).

        Execution k trains from execution_seed(trial seed, k), execution 0 from the trial seed itself, so that
        best_config.json's seed repeats it. Raises on any failure.
        """
        sweep = self.sweep
        values = {key: value for key, value in trial.hyperparameters.values.items() if key not in TUNER_KEYS}
        config = trial_config(sweep, values)
        values = {key: getattr(config, key) for key in values}  # typed: a Choice of booleans comes back as 1/0
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        seed = trial_seed(config.seed, trial.trial_id)
        started = time.perf_counter()
        epochs = int(trial.hyperparameters.values.get("tuner/epochs", config.epochs))
        saved_state = trial_dir / checkpoint.FILE
        history = ExecutionHistory(trial_dir / layout.TRIAL_HISTORY, sweep.executions)
        for execution in history.pending(epochs, interrupted=saved_state.exists()):
            self._train_execution(trial, config, execution_seed(seed, execution), history, execution, saved_state)
            if execution < sweep.executions - 1:
                saved_state.unlink(missing_ok=True)  # the next execution starts fresh; its rows mark this one done
        rows = read_rows(trial_dir / layout.TRIAL_HISTORY)
        record_path = trial_dir / layout.TRIAL_RECORD
        previous = bounded.read_json(record_path) if record_path.exists() else {}
        atomic.write_json(
            record_path,
            {
                "trial_id": trial.trial_id,
                "seed": seed,
                "executions": sweep.executions,
                "execution_seeds": [execution_seed(seed, k) for k in range(sweep.executions)],
                "values": values,
                "seconds": previous.get("seconds", 0.0) + time.perf_counter() - started,
                "rss_mb": rss_mb(),
                "peak_rss_mb": peak_rss_mb(),
                "pid": os.getpid(),
            },
        )
        saved_state.unlink(missing_ok=True)  # the record above marks the trial trained; a re-run would redo it exactly
        return tables.mean_best(rows, sweep.objective, sweep.direction)

    def _train_execution(self, trial, config, seed, history, execution, saved_state):
        """One training of the trial's config from `seed`, continuing after its last finished epoch if interrupted."""
        sweep = self.sweep
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        release_memory()
        keras.utils.set_random_seed(seed)
        tuner_values = trial.hyperparameters.values
        epochs = int(tuner_values.get("tuner/epochs", config.epochs))
        initial_epoch = int(tuner_values.get("tuner/initial_epoch", 0))
        devices.check_batch_size(config.batch_size, sweep.setup.replicas, sweep.experiment.path)
        model = modeling.prepare(sweep.experiment, config, sweep.splits, sweep.setup)
        if tuner_values.get("tuner/trial_id"):  # Hyperband continues a trial of the previous round
            with warnings.catch_warnings():
                # The weights, not the optimizer's moments (not built yet), as keras-tuner's Hyperband continues a
                # trial; Keras warns about it on every continued trial.
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(Path(self.get_trial_dir(tuner_values["tuner/trial_id"])) / layout.TRIAL_WEIGHTS)
        else:
            initial_epoch = 0
        trial_config = dataclasses.replace(config, epochs=epochs, seed=seed)  # the loop orders batches by its seed
        controls = controls_lib.make(trial_config, model, str(sweep.experiment.path))  # patience, lr_schedule
        if saved_state.exists():  # this execution was interrupted: continue after its last finished epoch
            with sweep.setup.strategy.scope():
                initial_epoch = checkpoint.restore(model, saved_state)
            controls.restore(checkpoint.extra(saved_state))
        history.start(execution, before_epoch=initial_epoch)
        job = TrainingJob(
            experiment=sweep.experiment,
            config=trial_config,
            splits=sweep.splits,
            model=model,
            run_dir=None,
            history=history,
            verbose=0,  # a sweep prints one line per ended trial (nnlab.sweeps.progress), not each trial's epochs
            strategy=sweep.setup.strategy,
            initial_epoch=initial_epoch,
            checkpoint_path=saved_state,
        )
        if initial_epoch < epochs:
            loop.train(job, controls)  # its objective: the best epoch (tables.mean_best)
        if "tuner/epochs" in tuner_values:
            save_weights(model, trial_dir / layout.TRIAL_WEIGHTS)


def trial_config(sweep, values, source="a sweep trial's values"):
    """The config a trial trains: the sweep's base config as config.json holds it, with the trial's values, through
    the conversion `nnlab run` gives overrides and `from=` (the sweep's preflight sends a sample through it too)."""
    where = f"{sweep.experiment.path}: {source}"
    return config_lib.resolve(sweep.experiment.config_class, {**config_lib.to_dict(sweep.config), **values}, where)


def quiet(oracle):
    """No keras-tuner display ("Search: Running Trial #1", "Best val_accuracy So Far"): the sweep's own progress
    prints one line per ended trial instead."""
    oracle.verbose = 0


def write_error_log(path, error, trace, module_path):
    """error.log of a failed trial: the error in one line (what the console shows; the module's path, which begins
    nnlab's messages about it, left out), a blank line, the traceback.

    nnlab turns an error in module code into one paragraph (`raise NnlabError(...) from None`), which hides the
    module's own frames from `trace`; the log puts that original traceback first, so it shows the module's line.
    """
    summary = str(error) if isinstance(error, NnlabError) else f"{type(error).__name__}: {first_line(error)}"
    summary = summary.removeprefix(f"{module_path}: ").splitlines()[0] if summary.strip() else type(error).__name__
    cause = error.__context__ if error.__suppress_context__ else None
    if cause is not None:
        trace = "".join(traceback.format_exception(cause)) + "\nnnlab reported it as:\n\n" + trace
    atomic.write_text(path, f"{summary}\n\n{trace}")


def execution_seed(seed, execution):
    """The seed of a trial's execution `execution`: the trial seed for execution 0, else derived from both."""
    return seed if execution == 0 else trial_seed(seed, f"execution-{execution}")


class ExecutionHistory(HistoryFile):
    """A trial's history.csv over its executions, one after another; with several, rows carry `execution`.

    `rows` holds the current execution's rows only (what the loop reads back); the file holds every execution's.
    Executions run in order and the checkpoint is removed when one ends, so the file itself says where a killed
    trial stopped: executions before the last one in the file are finished; the last one is finished when it
    reached the final epoch and no checkpoint is left, else it continues from the checkpoint (or from scratch).
    """

    def __init__(self, path, executions):
        super().__init__(path)
        self.executions, self.execution, self.earlier = executions, 0, []

    def pending(self, epochs, interrupted):
        """The executions still to train, in order."""
        if self.executions == 1:
            return [0]
        rows = read_rows(self.path)
        current = max((int(row.get("execution", 0)) for row in rows), default=0)
        current_epochs = [row["epoch"] for row in rows if int(row.get("execution", 0)) == current]
        finished = not interrupted and current_epochs and max(current_epochs) >= epochs - 1
        return list(range(current + 1 if finished else current, self.executions))

    def start(self, execution, before_epoch):
        """Train `execution` from `before_epoch`: keep earlier executions' rows and its own rows before that epoch."""
        rows = read_rows(self.path)
        self.execution = execution
        self.earlier = [row for row in rows if int(row.get("execution", 0)) < execution]
        self.rows = [row for row in rows if int(row.get("execution", 0)) == execution and row["epoch"] < before_epoch]
        if self.path.exists():
            self._write()

    def append(self, row):
        self.rows.append(dict(row))
        self._write()

    def _write(self):
        if self.executions == 1:
            atomic.write_text(self.path, to_csv(self.rows))
            return
        tagged = [{"epoch": row["epoch"], "execution": self.execution, **row} for row in self.rows]
        atomic.write_text(self.path, to_csv(self.earlier + tagged))


def release_memory():
    """Drop the previous trial's graphs and variables, and hand freed heap pages back to the OS.

    Each trial's traced train step outlives clear_session: TensorFlow registers the @custom_gradient of
    tf.distribute's all_reduce (called by every Keras train step) in a process-wide gradient registry and never
    removes it, and the entry's closure holds the whole traced graph (tensorflow/tensorflow#97697): about 6 MiB a
    trial, the growth keras-tuner #873 reports. Dropping those entries lets gc free the graphs; glibc's
    malloc_trim returns the pages they held.
    """
    keras.backend.clear_session()
    _drop_custom_gradients()
    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc:
        try:
            ctypes.CDLL(libc).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc: nothing to trim
            pass


def _drop_custom_gradients():
    """Forget TF's gradient functions registered by earlier traces; no earlier trial's graph is differentiated again.

    The registry is private: should TensorFlow rename it, this does nothing (the leak returns; nothing breaks).
    """
    from tensorflow.python.framework import ops as tf_ops

    registry = getattr(getattr(tf_ops, "_gradient_registry", None), "_registry", None)
    if isinstance(registry, dict):
        for name in [name for name in registry if name.startswith("CustomGradient-")]:
            del registry[name]


def save_weights(model, path):
    with atomic.replacing(path, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)


def rss_mb():
    """This process's resident memory now, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def peak_rss_mb():
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
