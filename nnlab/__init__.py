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
    experiment.py  config.py  data.py  datasets/  search_space.py  reference/  errors.py
    results/          the floor: the on-disk format of run and sweep directories (layout.py names every file);
                      standard library and numpy only, never TensorFlow
"""

from nnlab.config import Config
from nnlab.errors import NnlabError

__all__ = ["Config", "NnlabError"]
__version__ = "0.1.0"
