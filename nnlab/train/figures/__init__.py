"""Experiment-specific figures, declared by name: `FIGURES = ("line_fit",)` in an experiment module.

Each figure is a module here with `draw(job) -> list of paths`, called after training with the finished
`job.TrainingJob` (model, splits, config, history rows, run directory). Learning curves are not here:
every run gets those from history.csv (nnlab.plots.curves).
"""

import importlib
import pkgutil


def names():
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def draw_all(figure_names, job):
    """Draw each named figure into job.run_dir (names were checked when the experiment loaded)."""
    written = []
    for name in figure_names:
        written += importlib.import_module(f"nnlab.train.figures.{name}").draw(job)
    return written
