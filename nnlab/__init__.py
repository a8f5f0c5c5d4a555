"""nnlab: declarative Keras experiments, trained, swept and reported by one package.

From a notebook (each function imports what it needs when called, so `import nnlab` loads no TensorFlow, and the
reading functions never do):

    result = nnlab.run("mnist", {"epochs": 2})          # or ["epochs=2", "from=best_config.json"]
    run = nnlab.load(result.run_dir)                    # .config, .metrics, .history (DataFrame), .model()
    nnlab.runs("mnist")                                 # one row per run
    sweep = nnlab.tune("mnist", {"max_trials": 4})
    nnlab.trials(sweep.sweep_dir)                       # one row per trial
    nnlab.write_report()                                # results/report.html and report.md

Map: `cli` parses the command; the wings `train/` (run), `sweeps/` (tune) and `report/` (write_report) stand on
`results/`, the on-disk format; `notebook` reads results into tables.
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
