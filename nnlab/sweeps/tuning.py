"""Hyperparameter sweeps: `tune(name, overrides)` searches an experiment's SEARCH_SPACE with keras-tuner.

    make tune EXP=mnist ARGS="max_trials=6 epochs=2"                 # random search, 6 trials
    make tune EXP=mnist ARGS="algorithm=hyperband max_trials=20"     # or grid, bayesian
    make tune EXP=mnist ARGS="max_trials=6 epochs=2" WORKERS=2       # chief + 2 workers on this machine

Overrides are config fields (epochs=2, limit_examples=2000; a swept field given here is pinned, not swept) or
sweep settings: algorithm=random|grid|bayesian|hyperband, max_trials=N, objective=val_accuracy,
direction=max|min, factor=3 (Hyperband), executions_per_trial=N, sweep=<name>, and vectorize=auto|N: how many
same-structure trials train at once as one compiled program (nnlab.sweeps.groups; auto, the default, picks N for the
device and model; vectorize=1 trains one trial at a time).

Resume: the sweep id is `<algorithm>-<hash of experiment, settings, config overrides and search space>`, so running
the same command again continues the same sweep in results/<exp>/sweeps/<id>/: finished trials are kept, an
interrupted trial resumes from its last finished epoch. `sweep=<name>` names a sweep explicitly; re-running it with
different settings is an error. `workers` does not enter the id: a sweep started alone may continue distributed.

Several machines (a results directory on a shared file system, the same command on each machine):
    chief:    KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=0.0.0.0 KERASTUNER_ORACLE_PORT=8000 \
              nnlab tune mnist max_trials=20
    worker i: KERASTUNER_TUNER_ID=worker<i> KERASTUNER_ORACLE_IP=<chief host> KERASTUNER_ORACLE_PORT=8000 \
              nnlab tune mnist max_trials=20
Restart a dead worker with its own id: it takes up its unfinished trial where the last epoch ended.
"""

import dataclasses
import os
import shlex
import time
from contextlib import nullcontext, suppress
from pathlib import Path

from nnlab import config as config_lib
from nnlab import experiment as experiment_lib
from nnlab.errors import NnlabError, from_os_error
from nnlab.results import atomic, bounded, console, layout, limits, lock, status
from nnlab.sweeps import hparams, tables, vectorize
from nnlab.sweeps.plan import plan_settings
from nnlab.sweeps.progress import SweepProgress
from nnlab.train import job

FAIL_FAST = 3  # this many failed trials before any completes: stop, the sweep is failed
LAUNCHED = "NNLAB_SWEEP_LAUNCHED"  # set by nnlab's own launcher for the chief and workers it starts


@dataclasses.dataclass
class SweepResult:
    sweep_dir: object
    best_config: object  # path of best_config.json
    best_trial: str
    counts: dict


def tune(name, overrides=(), results_dir="results", workers=0, verbose=None, experiments_dir=None):
    """Run (or continue) the sweep of experiment `name`; return a SweepResult.

    Args:
      name: the experiment module's name (experiments/<name>.py), which must define SEARCH_SPACE.
      overrides: `key=value` strings or a dict: config fields and sweep settings (see the module docstring).
      results_dir: the sweep lives in results_dir/<name>/sweeps/<sweep-id>/.
      workers: 0 runs trials in this process; N > 0 starts a keras-tuner chief and N workers and supervises them.
    Raises:
      NnlabError: bad settings or search space, an unusable objective, or every trial failed.
    """
    results = Path(results_dir).absolute()  # before module code runs: an os.chdir there must not split the sweep
    sweep = plan(name, overrides, results, workers, experiments_dir)
    verbose = job.verbosity(verbose)
    role = os.environ.get("KERASTUNER_TUNER_ID")
    # One chief per sweep (nnlab.results.lock); workers join, and a launched chief runs under its launcher's lock.
    chief = not role or ("chief" in role and os.environ.get(LAUNCHED) != "1")
    again = continue_command(sweep, results_dir, workers)
    guard = lock.held(sweep.sweep_dir, f"sweep ({sweep.sweep_dir})", f"run `{again}`") if chief else nullcontext()
    with status.interruptible(), guard:
        try:
            with experiment_lib.kept_floatx():  # as a run does: module code's set_floatx stays in this sweep
                result = _run(sweep, role, workers, verbose)
            result.sweep_dir = experiment_lib.as_named(result.sweep_dir, results, results_dir)
            return result
        except (status.Interrupted, KeyboardInterrupt):  # SIGTERM, Ctrl-C: say how to continue
            if chief:
                with suppress(OSError):  # a full disk must not hide the interruption
                    _write_status(sweep, status.INTERRUPTED, status.interrupted_message(again))
            raise
        except BaseException as error:  # a full or read-only disk, module code that exits: one paragraph
            mapped = user_error(error, sweep)
            if mapped is None:
                raise
            if chief:
                with suppress(Exception):
                    _write_status(sweep, status.FAILED, str(mapped))
            raise mapped from None


def _run(sweep, role, workers, verbose):
    if role:
        return _run_role(sweep, role, verbose)
    _prepare(sweep)
    if workers > 0:
        from nnlab.sweeps import distributed

        distributed.launch(sweep, command_line(sweep.raw_overrides), workers)
        return finish(sweep)
    tuner = sweep.make_tuner(verbose)
    progress = SweepProgress(sweep.max_trials, sweep.objective, sweep_dir=sweep.sweep_dir)
    tuner.on_trial_finished = lambda trial: _refresh(sweep, fail_fast=True, progress=progress)
    _search(sweep, tuner)
    return finish(sweep)


def continue_command(sweep, results_dir, workers):
    """The command that continues this sweep: the same one (workers do not change the sweep's id)."""
    words = ["nnlab", "--results", str(results_dir), "tune", sweep.experiment.name]
    words += command_line(sweep.raw_overrides)
    return shlex.join(words + (["--workers", str(workers)] if workers else []))


def command_line(overrides):
    """The overrides as `key=value` words another `nnlab tune` reads back to the same values (a notebook's dict of
    typed values included)."""
    return [f"{key}={config_lib.command_line_value(value)}" for key, value in overrides.items()]


def user_error(error, sweep):
    """The NnlabError for a full or read-only disk, or for module code that called sys.exit or raised its own
    BaseException; None for a bug."""
    if not isinstance(error, Exception):
        return experiment_lib.module_error(error, sweep.experiment.path)
    return from_os_error(error)


def plan(name, overrides, results_dir, workers=0, experiments_dir=None):
    """Everything the sweep is, resolved and checked before anything is written or trained."""
    experiment = experiment_lib.load(name, experiments_dir)
    return plan_settings(experiment, overrides, results_dir, workers)


def _prepare(sweep):
    """Check the sweep can resume, load the data and check the objective, then mark the sweep running."""
    sweep.check_resumable()
    sweep.check_trial_conversion()
    sweep.preflight()
    hparams.write_search_space(sweep.sweep_dir, sweep.space, sweep.objective, sweep.direction)
    _write_status(sweep, status.RUNNING, "")


def _search(sweep, tuner):
    from keras_tuner.errors import FatalError

    started = time.perf_counter()
    try:
        tuner.search(verbose=tuner.verbose)
    except FatalError as error:  # trial.SweepTuner stopped the search: the disk is full, read-only, ...
        mapped = from_os_error(error.__cause__) if error.__cause__ is not None else None
        if mapped is None:
            raise
        message = f"{mapped} The sweep {sweep.sweep_dir} stopped with its trial unfinished; it resumes from there."
        with suppress(OSError):  # the disk may not even take sweep.json
            _write_status(sweep, status.FAILED, message)
        raise NnlabError(message) from None
    finally:  # an interrupted sweep's time counts too: `seconds` is cumulative over every session
        sweep.seconds += time.perf_counter() - started


def _run_role(sweep, role, verbose):
    """This process is one part of a distributed sweep: the chief serves the oracle, a worker runs trials."""
    launched = os.environ.get(LAUNCHED) == "1"
    if "chief" in role:
        from nnlab.sweeps import distributed

        if not launched:
            _prepare(sweep)
        tuner = sweep.make_tuner(verbose)
        progress = SweepProgress(sweep.max_trials, sweep.objective, workers=sweep.workers, sweep_dir=sweep.sweep_dir)
        distributed.serve(tuner.oracle, lambda: _refresh(sweep, fail_fast=True, progress=progress))
        return finish(sweep) if not launched else SweepResult(sweep.sweep_dir, None, None, {})
    sweep.load_data()
    tuner = sweep.make_tuner(verbose)
    tuner.search(verbose=verbose)
    return SweepResult(sweep.sweep_dir, None, None, {})


def _refresh(sweep, fail_fast=False, progress=None):
    summary = tables.refresh(sweep.sweep_dir, list(sweep.space), sweep.objective, sweep.direction, sweep.booleans)
    hparams.write_trials(sweep.sweep_dir, summary.rows, list(sweep.space))
    _write_status(sweep, status.RUNNING, "", summary)
    if progress is not None:
        progress.update(summary)
    ended_failed = summary.counts.get("FAILED", 0)
    if fail_fast and ended_failed >= FAIL_FAST and not summary.counts.get("COMPLETED"):
        message = _failed_message(sweep, summary)
        _write_status(sweep, status.FAILED, message, summary)
        raise NnlabError(message)
    return summary


def finish(sweep):
    """Final tables, plots, best_config.json and sweep.json; raises NnlabError when no trial completed."""
    from nnlab.plots import sweeps as sweep_plots

    summary = tables.refresh(sweep.sweep_dir, list(sweep.space), sweep.objective, sweep.direction, sweep.booleans)
    hparams.write_trials(sweep.sweep_dir, summary.rows, list(sweep.space))
    axes = sweep.axes if sweep.axes[0] else sweep_plots.sweep_axes(sweep.space)
    sweep_plots.draw_all(sweep.sweep_dir, sweep.objective, sweep.direction, axes)
    if summary.best is None:
        message = _failed_message(sweep, summary)
        _write_status(sweep, status.FAILED, message, summary)
        raise NnlabError(message)
    best_path = _write_best_config(sweep, summary.best)
    unfinished = {state: n for state, n in summary.counts.items() if state not in ("COMPLETED", "FAILED")}
    message = f"unfinished trials: {unfinished}; run the same command again to finish them" if unfinished else ""
    _write_status(sweep, status.DONE if not unfinished else status.FAILED, message, summary)
    best = summary.best
    console.say(
        f"sweep {sweep.sweep_id}: {summary.counts.get('COMPLETED', 0)} trials completed; best trial {best['trial_id']} "
        f"{sweep.objective} {best['best_objective']:.4f}; re-run it with: nnlab run {sweep.experiment.name} "
        f"from={best_path}"
    )
    return SweepResult(sweep.sweep_dir, best_path, best["trial_id"], summary.counts)


def _failed_message(sweep, summary):
    counts = ", ".join(f"{n} {state}" for state, n in sorted(summary.counts.items())) or "no trials"
    cause = f" The first failure: {summary.first_failure}" if summary.first_failure else ""
    if "No space left on device" in summary.first_failure or "Errno 28" in summary.first_failure:
        fix = "free space on that disk and run the same command again"
    else:
        fix = "start a new sweep with sweep=<new-name>"
    return (
        f"Sweep {sweep.sweep_dir} has no completed trial ({counts}), so it has no best config.{cause} "
        f"Fix the cause (each failed trial's traceback is in {sweep.sweep_dir}/{layout.TUNER}/"
        f"{layout.trial_dir('<id>')}/{layout.TRIAL_ERROR_LOG}), then {fix}."
    )


def _write_best_config(sweep, best):
    """best_config.json: a config that repeats the best trial's training (execution 0 of several) with `nnlab run`.

    The trial trained from its own trial seed on data drawn with the sweep's seed; the config says both, as
    seed and data_seed. A Hyperband trial that continued another trial's weights cannot be repeated from a config.
    """
    values = {field: best[field] for field in sweep.space}
    trial_dir = tables.project_dir(sweep.sweep_dir) / layout.trial_dir(best["trial_id"])
    state = bounded.read_json(trial_dir / layout.TRIAL_STATE, max_bytes=limits.TUNER_JSON_MAX_BYTES)
    tuner_values = state["hyperparameters"]["values"]
    epochs = tuner_values.get("tuner/epochs")  # Hyperband trains its trials for fewer
    if epochs:
        values["epochs"] = epochs
    record = bounded.read_json(trial_dir / layout.TRIAL_RECORD) if (trial_dir / layout.TRIAL_RECORD).exists() else {}
    if record.get("seed") is not None:
        values["seed"] = record["seed"]
        values["data_seed"] = sweep.config.seed if sweep.config.data_seed < 0 else sweep.config.data_seed
    config = config_lib.resolve(sweep.experiment.config_class, {**config_lib.to_dict(sweep.config), **values})
    continued = tuner_values.get("tuner/trial_id")
    repeatable = (
        f"no: this Hyperband trial continued the weights of trial {continued} from epoch "
        f"{tuner_values.get('tuner/initial_epoch')}; `nnlab run from=` trains the same config from scratch, "
        f"which is a fair re-run but not this trial's numbers"
        if continued
        else "yes: same data split, initialisation and batch order as the trial"
        + (f" (its execution 0 of {sweep.executions})" if sweep.executions > 1 else "")
    )
    repeatable = vectorize.repeatable(record, repeatable)  # a trial trained in a group: within tolerance
    path = sweep.sweep_dir / layout.BEST_CONFIG
    atomic.write_json(
        path,
        {
            "experiment": sweep.experiment.name,
            "config": config_lib.to_dict(config),
            "overrides": config_lib.changed_fields(config, sweep.experiment.config_class()),
            "sweep": sweep.sweep_id,
            "trial_id": best["trial_id"],
            "objective": {"name": sweep.objective, "value": best["best_objective"], "direction": sweep.direction},
            "best_epoch": best["best_epoch"],
            "trial_seed": record.get("seed"),
            "executions_per_trial": sweep.executions,
            "repeatable": repeatable,
        },
    )
    return path


def _write_status(sweep, state, message, summary=None):
    record = {**sweep.describe(), "status": state, "message": message, "seconds": sweep.seconds}
    record["vectorize"] = vectorize.record(sweep)
    if summary is not None:
        record["counts"] = summary.counts
        record["best_trial"] = summary.best["trial_id"] if summary.best else None
    else:
        record.setdefault("counts", {})
        record.setdefault("best_trial", None)
    atomic.write_json(sweep.sweep_dir / layout.SWEEP, record)
