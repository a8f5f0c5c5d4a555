"""Experiment-specific figures, declared by name: `FIGURES = ("line_fit",)` in an experiment module.

Each figure is a module here with `draw(job) -> list of paths`, called after training with the finished
`job.TrainingJob` (model, splits, config, history rows, run directory). Learning curves are not here:
every run gets those from history.csv (nnlab.plots.curves).
"""

import importlib
import pkgutil

from nnlab.errors import NnlabError


def names():
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def check(experiment):
    """Every name in the experiment's FIGURES must be a figure here; checked before a run directory exists."""
    unknown = [name for name in experiment.optional("FIGURES") or () if name not in names()]
    if unknown:
        raise NnlabError(
            f"{experiment.path}: FIGURES names {', '.join(map(repr, unknown))}, which nnlab does not have; "
            f"known figures: {', '.join(names()) or 'none'}."
        )


def draw_all(figure_names, job):
    """Draw each named figure into job.run_dir (names were checked by `check` before the run began)."""
    written = []
    for name in figure_names:
        written += importlib.import_module(f"nnlab.train.figures.{name}").draw(job)
    return written
