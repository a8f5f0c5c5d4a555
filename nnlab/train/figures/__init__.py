"""Experiment-specific figures, declared by name: `FIGURES = ("line_fit",)` in an experiment module.

Each figure is a module here with `draw(job) -> list of paths`, called after training with the finished
`job.TrainingJob` (model, splits, config, history rows, run directory). Learning curves are not here:
every run gets those from history.csv (nnlab.plots.curves). A figure that plots x or y as one array says so
(`ARRAY_INPUTS`, `ARRAY_LABELS`), and a run whose data has several inputs or outputs is refused before training.
"""

import importlib
import pkgutil

from nnlab import structures
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


def check_data(experiment, splits):
    """Before training: each named figure must be able to draw this data (one x array, one y array if it says so).

    Names and FIGURES' type are `check`'s to refuse; what it has not seen (a sweep does not draw figures, so does
    not call it) is skipped here.
    """
    declared = experiment.optional("FIGURES") or ()
    if not isinstance(declared, (tuple, list)):
        return
    x, y = splits.train
    for name in [name for name in declared if isinstance(name, str) and name in names()]:
        module = importlib.import_module(f"nnlab.train.figures.{name}")
        for needed, part, what in (("ARRAY_INPUTS", x, "x (the inputs)"), ("ARRAY_LABELS", y, "y (the labels)")):
            if getattr(module, needed, False) and structures.is_structured(part):
                raise NnlabError(
                    f"{experiment.path}: FIGURES has {name!r}, which draws {what} as one array, but the data's "
                    f"{what.split()[0]} is {structures.describe(part)} per example, not one array. Remove {name!r} "
                    f"from FIGURES."
                )


def draw_all(figure_names, job):
    """Draw each named figure into job.run_dir (names were checked by `check` before the run began)."""
    written = []
    for name in figure_names:
        written += importlib.import_module(f"nnlab.train.figures.{name}").draw(job)
    return written
