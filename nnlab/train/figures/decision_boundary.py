"""decision_boundary.png: each trained model's predicted class over the plane of a 2-feature problem.

One panel per model (per variant in a study): the background is the predicted probability of class 1, the
black line its 0.5 contour (the decision boundary), the dots the test examples coloured by their true class.
"""

import matplotlib.pyplot as plt
import numpy as np

from nnlab.errors import NnlabError
from nnlab.plots import curves
from nnlab.results import layout
from nnlab.train import study

GRID_POINTS = 200
MARGIN = 0.5
ARRAY_INPUTS = ARRAY_LABELS = True  # a plane of 2 features, one class label


def draw(job):
    """Write decision_boundary.png with one panel per model in `job` (a TrainingJob or a study's StudyJob)."""
    jobs = study.jobs_of(job)
    figure, axes_row = plt.subplots(1, len(jobs), figsize=(4.5 * len(jobs), 4.2), squeeze=False)
    for axes, (name, variant) in zip(axes_row[0], jobs.items(), strict=True):
        split_name, (x, y) = variant.splits.items()[-1]  # test if there is one
        x, y = np.asarray(x), np.asarray(y).reshape(-1)
        if x.ndim != 2 or x.shape[1] != 2:
            raise NnlabError(
                f"{variant.where}: FIGURES has 'decision_boundary', which needs inputs of 2 features, but the "
                f"data's inputs have shape {x.shape[1:]}; remove it from FIGURES."
            )
        grid_x, grid_y, probability = probability_grid(variant.model, x)
        image = axes.contourf(grid_x, grid_y, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
        axes.contour(grid_x, grid_y, probability, levels=[0.5], colors="black", linewidths=2)
        axes.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", vmin=0, vmax=1, edgecolors="black", s=120, zorder=3)
        predicted = (np.asarray(variant.model.predict(x, verbose=0))[:, 0] >= 0.5).astype(int)
        accuracy = float(np.mean(predicted == y))
        axes.set(xlabel="x1", title=f"{name or 'model'}: {split_name} accuracy {accuracy:.2f}")
    axes_row[0, 0].set_ylabel("x2")
    figure.colorbar(image, ax=axes_row[0].tolist(), label="P(class 1)")
    return [curves.save(figure, job.run_dir.file(layout.DECISION_BOUNDARY))]


def probability_grid(model, x):
    """A GRID_POINTS^2 mesh around the points `x`, and the model's probability of class 1 at each node."""
    low, high = x.min(axis=0) - MARGIN, x.max(axis=0) + MARGIN
    grid_x, grid_y = np.meshgrid(np.linspace(low[0], high[0], GRID_POINTS), np.linspace(low[1], high[1], GRID_POINTS))
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)
    probability = np.asarray(model.predict(points, batch_size=4096, verbose=0))[:, 0]
    return grid_x, grid_y, probability.reshape(grid_x.shape)
