"""The one function that trains any experiment: `run(name, overrides)`.

Data flows one way: experiment module -> resolved config -> training -> files in results/<exp>/<run-id>/.
The CLI, the Makefile, tests and notebooks all call `run`.
"""

import dataclasses
import sys
from pathlib import Path

from nnlab import config as config_lib
from nnlab import data as data_lib
from nnlab import datasets
from nnlab import experiment as experiment_lib
from nnlab.errors import NnlabError
from nnlab.results import atomic, checkpoint, rundir
from nnlab.train import devices, environment


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
    experiment = experiment_lib.load(name, experiments_dir)
    config = experiment.config(overrides)  # bad overrides fail before anything is written
    configs = [config]
    if experiment.optional("VARIANTS") is not None:  # a study's variants are checked up front too
        from nnlab.train import study

        configs = list(study.variant_configs(experiment, config).values())
    devices.requested_cpu_devices()  # a bad NNLAB_CPU_DEVICES fails before TensorFlow starts
    setup = devices.setup(config.seed)
    for checked in configs:
        devices.check_batch_size(checked.batch_size, setup.replicas, experiment.path)
    record = {
        "experiment": name,
        "config": config_lib.to_dict(config),
        "overrides": changed_fields(config, experiment.config_class()),
    }
    run_dir = rundir.unfinished(results_dir, name, record["config"]) if resume else None
    if run_dir is None:
        run_dir = rundir.create(results_dir, name)
        atomic.write_json(run_dir.file("config.json"), record)
    else:
        print(f"resuming run {run_dir.path}", file=sys.stderr)
    run_dir.set_status("running")
    try:
        metrics = _train(experiment, config, setup, run_dir, _verbosity(verbose))
    except NnlabError as error:
        run_dir.set_status("failed", message=str(error))
        raise NnlabError(f"{error} [run {run_dir.path} marked failed]") from None
    except BaseException as error:  # a crash or Ctrl-C must not leave the run looking alive
        run_dir.set_status("failed", message=f"{type(error).__name__}: {error}")
        raise
    run_dir.set_status("done")
    for path in run_dir.path.glob(checkpoint.FILE.replace(".", "*.")):  # only needed while unfinished
        path.unlink()
    return RunResult(run_dir=run_dir.path, metrics=metrics)


def changed_fields(config, defaults):
    """Fields whose value differs from the experiment's defaults."""
    current, default = config_lib.to_dict(config), config_lib.to_dict(defaults)
    return {key: value for key, value in current.items() if default.get(key) != value}


def load_splits(experiment, config):
    """The experiment's data: make_data(config) if it defines one, else the named data set; then checked."""
    make_data = experiment.optional("make_data")
    if make_data is not None:
        try:
            splits = make_data(config)
        except NnlabError:
            raise
        except Exception as error:
            raise NnlabError(
                f"{experiment.path}: make_data(config) raised {type(error).__name__}: {error}. Fix the data definition."
            ) from None
        if not isinstance(splits, data_lib.Splits):
            raise NnlabError(
                f"{experiment.path}: make_data(config) must return nnlab.data.Splits, got {type(splits).__name__}."
            )
        splits = dataclasses.replace(splits, source=f"{experiment.path} make_data")
    else:
        splits = datasets.load(config.dataset, config)
    data_lib.check(splits)  # as given, so that the messages describe the user's data, not our holdout of it
    splits = data_lib.limited(splits, config.limit_examples)
    splits = data_lib.with_validation(splits, config.validation_fraction, config.seed)
    data_lib.check(splits)
    return splits


def _train(experiment, config, setup, run_dir, verbose):
    # Imported here so that config errors above are reported without paying TensorFlow's import time.
    from nnlab.train import figures, job

    record = environment.collect(
        config.seed, setup.devices, setup.strategy_name, setup.compile_options, setup.deterministic
    )
    record.update(setup.describe(config.batch_size))
    atomic.write_json(run_dir.file("env.json"), record)
    splits = load_splits(experiment, config)
    if experiment.optional("VARIANTS") is not None:  # a study: one model per variant, one run directory
        from nnlab.train import study

        finished = study.train_variants(experiment, config, splits, setup, run_dir, verbose)
    else:
        finished = job.train_model(experiment, config, splits, setup, run_dir, verbose)
    atomic.write_json(run_dir.file("metrics.json"), finished.metrics)
    figures.draw_all(experiment.optional("FIGURES") or (), finished)
    return finished.metrics


def _verbosity(verbose):
    if verbose is not None:
        return verbose
    return 1 if sys.stdout.isatty() else 2
