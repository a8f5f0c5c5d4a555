"""The one function that trains any experiment: `run(name, overrides)`.

Data flows one way: experiment module -> resolved config -> training -> files in results/<exp>/<run-id>/.
The CLI, the Makefile, tests and notebooks all call `run`.
"""

import dataclasses
import shlex
import sys
from pathlib import Path

from nnlab import config as config_lib
from nnlab import errors
from nnlab import experiment as experiment_lib
from nnlab.errors import NnlabError
from nnlab.results import atomic, layout, rundir, status
from nnlab.train import cluster, environment, figures, precision, system_gpus
from nnlab.train import job as job_lib


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    metrics: dict


def run(name, overrides=(), results_dir="results", verbose=None, experiments_dir=None, resume=False):
    """Train experiment `name` with `overrides` and write a complete run directory.

    Args:
      name: the experiment module's name (experiments/<name>.py).
      overrides: `key=value` strings or a dict of field values.
      results_dir: where results/<name>/<run-id>/ is created.
      verbose: Keras verbosity; default: a progress bar on a terminal, one line per epoch otherwise.
      resume: continue the newest unfinished run with the same config from its last completed epoch (a new
        run if there is none), so that one command can be repeated after a crash or a kill.
    Returns:
      RunResult with the run directory and the metrics.json contents.
    Raises:
      NnlabError: for any user mistake; the run directory (if created) is marked failed.
    """
    results = Path(results_dir).absolute()  # before module code runs: an os.chdir there must not split the run
    experiment = experiment_lib.load(name, experiments_dir)
    with experiment.exits_as_errors():  # module code that exits (Config.check) before the run directory exists
        result = _run(experiment, overrides, results, verbose, resume, results_dir)
    result.run_dir = experiment_lib.as_named(result.run_dir, results, results_dir)
    return result


def _run(experiment, overrides, results_dir, verbose, resume, given_results_dir):
    name = experiment.name
    config = experiment.config(overrides)  # bad overrides fail before anything is written
    figures.check(experiment)
    configs = [config]
    if experiment.optional("VARIANTS") is not None:  # and so do bad variants of a study
        from nnlab.train import study

        configs = list(study.variant_configs(experiment, config).values())
    member = cluster.membership()  # checked before TensorFlow starts; None on one machine
    setup = _setup(experiment, config, configs)
    record = config_lib.run_record(name, config, experiment.config_class())
    if member is not None and not member.is_chief:
        return _run_as_worker(experiment, config, setup, member, Path(results_dir) / name, job_lib.verbosity(verbose))
    if member is not None:  # the chief: the run id was decided before any worker started
        run_dir = cluster.chief_run_dir(Path(results_dir) / name, member, record)
    else:
        run_dir = rundir.open_run(results_dir, name, record, resume)
    run_dir.set_status(status.RUNNING)
    try:
        with status.interruptible():
            job = _train(experiment, config, setup, run_dir, job_lib.verbosity(verbose))
            if member is not None:
                cluster.write_worker_record(run_dir.path, member, "done", job)
    except (status.Interrupted, KeyboardInterrupt):  # SIGTERM or Ctrl-C: say how to continue, keep the signal's code
        again = continue_command(name, record["overrides"], given_results_dir)
        run_dir.mark(status.INTERRUPTED, status.interrupted_message(again))
        raise
    except BaseException as error:  # a crash must not leave the run looking alive
        mapped = user_error(error, experiment)
        if not isinstance(mapped, NnlabError):
            run_dir.mark(status.FAILED, f"{type(error).__name__}: {error}")
            raise
        marked = run_dir.mark(status.FAILED, str(mapped))
        raise NnlabError(f"{mapped} [run {run_dir.path} {'marked failed' if marked else 'not marked: disk'}]") from None
    run_dir.set_status(status.DONE)  # even when a post-training hook failed: metrics.json lists it under "errors"
    for path in [run_dir.file(layout.checkpoint()), *run_dir.path.glob(layout.checkpoint("*"))]:
        path.unlink(missing_ok=True)  # only needed while unfinished
    return RunResult(run_dir=run_dir.path, metrics=job.metrics)


def _run_as_worker(experiment, config, setup, member, experiment_dir, verbose):
    """Train as a worker other than the chief: the same steps in a scratch directory, then only
    workers/<rank>.json in the shared run directory (the chief writes everything else)."""
    import shutil
    import tempfile

    shared = experiment_dir / member.run_id
    with tempfile.TemporaryDirectory(prefix="nnlab-worker-") as scratch:
        # Resume from the chief's last checkpoint, as the chief does, or the workers' weights would differ.
        for pattern in (layout.checkpoint(), layout.checkpoint("*"), layout.history(), layout.history("*")):
            for path in shared.glob(pattern):
                shutil.copy(path, scratch)
        try:
            job = _train(experiment, config, setup, rundir.RunDir(Path(scratch)), verbose)
        except BaseException as error:
            mapped = user_error(error, experiment)
            cluster.write_worker_record(shared, member, "failed", message=str(mapped or error))
            if mapped:
                raise mapped from None
            raise
    cluster.write_worker_record(shared, member, "done", job)
    return RunResult(run_dir=shared, metrics=job.metrics)


def user_error(error, experiment):
    """The NnlabError that `error` stands for, or None for a bug in nnlab (which keeps its traceback): a user mistake,
    module code that called sys.exit (SystemExit also leaves tf.function tracing, so train_step's and track's land
    here) or raised its own BaseException, another worker's stop, or the disk."""
    if isinstance(error, NnlabError):
        return error
    if not isinstance(error, Exception):
        return experiment_lib.module_error(error, experiment.path)
    return cluster.peer_failure(error) or errors.from_os_error(error)


def continue_command(name, overrides, results_dir):
    """The command line that resumes this run."""
    values = [f"{key}={config_lib.command_line_value(value)}" for key, value in overrides.items()]
    words = ["nnlab", "--results", str(results_dir), "run", name, *values, "--resume"]
    return shlex.join(words)


def _setup(experiment, config, configs):
    """Devices and strategy, checked before the run directory exists: a bad NNLAB_CPU_DEVICES, or a batch that
    does not split over the replicas, leaves nothing behind."""
    from nnlab.train import devices  # here, so that config errors above do not pay TensorFlow's import time

    devices.requested_cpu_devices()
    devices.requested_determinism()
    setup = devices.setup(config.seed)
    unseen = system_gpus.unseen_warning(len(setup.devices["gpus"]), system_gpus.listed())
    if unseen:
        print(f"nnlab: {unseen}", file=sys.stderr)
    for checked in configs:
        devices.check_batch_size(checked.batch_size, setup.replicas, experiment.path)
        precision.check(experiment, checked)
    return setup


def _train(experiment, config, setup, run_dir, verbose):
    with experiment_lib.kept_floatx():
        return _train_in_place(experiment, config, setup, run_dir, verbose)


def _train_in_place(experiment, config, setup, run_dir, verbose):
    record = environment.collect(
        config.seed,
        setup.devices,
        setup.strategy_name,
        setup.compile_options,
        setup.deterministic,
        module_path=experiment.path,
    )
    record.update(setup.describe(config.batch_size))  # strategy, replicas, workers, per-replica batch
    record["precision"] = precision.describe(config.precision)  # what `auto` resolved to here
    atomic.write_json(run_dir.file(layout.ENVIRONMENT), record)
    splits = experiment.load_splits(config)
    if experiment.optional("VARIANTS") is not None:  # a study: one model per variant, one run directory
        from nnlab.train import study

        job = study.train_variants(experiment, config, splits, setup, run_dir, verbose)
    else:
        job = job_lib.train_model(experiment, config, splits, setup, run_dir, verbose)
    atomic.write_json(run_dir.file(layout.METRICS), job.metrics)
    try:
        figures.draw_all(experiment.optional("FIGURES") or (), job)
    except Exception as error:  # the run trained; keep it and say what failed
        job.metrics.setdefault("errors", {})["figures"] = f"{type(error).__name__}: {error}"
        atomic.write_json(run_dir.file(layout.METRICS), job.metrics)
    return job
