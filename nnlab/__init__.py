"""nnlab: declarative Keras experiments, trained, swept and reported by one package.

An experiment author imports only the top level: `nnlab.Config` (config.py: typed fields, key=value overrides),
`nnlab.search_space` (Float, Int, Choice for SEARCH_SPACE), `nnlab.data.Splits` (data.py) and, for a line fit,
`nnlab.reference.linear_fit`. The contract a module meets is in experiment.py.

The package map (imports flow downwards; tests/test_layout.py checks it):

    cli.py            the `nnlab` command: parses arguments, calls one wing's entry function
    train/            `nnlab run`    -> train.run         (runner.py: checks, run directory; job.py: one model)
    sweeps/           `nnlab tune`   -> sweeps.tune       (plan.py: what a sweep is; trial.py, oracle.py,
                                                           distributed.py, tables.py)
    report/           `nnlab report` -> report.build      (read.py: files only; runs, sweeps, compare, render)
    plots/            every generic chart, drawn from CSV tables
    notebook.py       nnlab.load / runs / trials: results as pandas tables (files only, no TensorFlow)
    experiment.py  config.py  data.py  datasets/  search_space.py  reference/  errors.py
    results/          the floor: the on-disk format of run and sweep directories (layout.py names every file);
                      standard library and numpy only, never TensorFlow

From a notebook (each function imports what it needs when called, so `import nnlab` loads no TensorFlow, and the
reading functions never do):

    result = nnlab.run("mnist", {"epochs": 2})          # or ["epochs=2", "from=best_config.json"]
    run = nnlab.load(result.run_dir)                    # .config, .metrics, .history (DataFrame), .model()
    nnlab.runs("mnist")                                 # one row per run
    sweep = nnlab.tune("mnist", {"max_trials": 4})
    nnlab.trials(sweep.sweep_dir)                       # one row per trial
    nnlab.write_report()                                # results/report.html and report.md
"""

from nnlab.config import Config
from nnlab.errors import NnlabError

__all__ = ["Config", "NnlabError", "run", "tune", "write_report", "load", "runs", "trials"]
__version__ = "0.1.0"


def run(name, overrides=(), *, results_dir=None, resume=False):
    """Train experiment `name` (`nnlab run`); returns a RunResult with `.run_dir` and `.metrics`.

    `overrides` is a dict of field values or a list of `key=value` strings; `from` names a saved config.
    """
    from nnlab import notebook
    from nnlab.train import runner

    return runner.run(name, overrides, results_dir=notebook.default_results_dir(results_dir), resume=resume)


def tune(name, overrides=(), *, results_dir=None, workers=0):
    """Run or continue a sweep (`nnlab tune`); returns a SweepResult with `.sweep_dir` and `.best_config`."""
    from nnlab import notebook
    from nnlab.sweeps import tuning

    return tuning.tune(name, overrides, results_dir=notebook.default_results_dir(results_dir), workers=workers)


def write_report(results_dir=None, *, experiment=None, runs=()):
    """Write report.html and report.md over the results directory (`nnlab report`); returns their paths."""
    from nnlab import notebook
    from nnlab.report import writer

    return writer.build(notebook.default_results_dir(results_dir), experiment=experiment, runs=runs)


def __getattr__(name):
    # The reading functions import pandas; only when first used.
    if name in ("load", "runs", "trials"):
        from nnlab import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'nnlab' has no attribute {name!r}")
