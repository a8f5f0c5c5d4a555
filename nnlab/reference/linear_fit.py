"""The closed-form answer a one-input line fit should reach, and whether a run got there — and if not, why.

Least squares for y ≈ w·x + b has an exact solution, so a gradient-descent run is checked against it rather than
eyeballed. Full-batch gradient descent on the mean squared error shrinks its gap to that solution by
|1 - learning_rate·λ| per step along each eigenvector of the loss's Hessian (eigenvalues λ), which turns "did not
converge" into "needs about N more steps at this learning rate". Mini-batch SGD instead settles into a noise
floor around the answer; the summary tells the two apart.
"""

import math

import numpy as np


def least_squares(x, y):
    """The (w, b) minimising mean((w·x + b - y)²), in float64."""
    x, y = _flat(x), _flat(y)
    design = np.stack([x, np.ones_like(x)], axis=1)
    (w, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(w), float(b)


def parameters(model):
    """(w, b) of the model's last layer, a Dense(1) on one input: tensors inside tf.function, float() them eagerly."""
    dense = model.layers[-1]
    return dense.kernel[0, 0], dense.bias[0]


def mse(x, y, w, b):
    return float(np.mean((w * _flat(x) + b - _flat(y)) ** 2))


def hessian_eigenvalues(x):
    """Eigenvalues (ascending) of the MSE loss's Hessian in (w, b): 2·[[mean x², mean x], [mean x, 1]]."""
    x = _flat(x)
    return np.linalg.eigvalsh(2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]]))


def summary(job, tolerance):
    """metrics.json entries: least squares beside the learned w, b, their gap, and a converged verdict with its reason.

    Args:
      job: the finished job.TrainingJob (its model, training split, config and history rows).
      tolerance: the largest |learned - least squares| in w and b that counts as converged.
    """
    x, y = job.splits.train
    config = job.config
    w_star, b_star = least_squares(x, y)
    w, b = (float(value) for value in parameters(job.model))
    gap = max(abs(w - w_star), abs(b - b_star))
    steps_per_epoch = math.ceil(len(x) / min(config.batch_size, len(x)))
    steps = steps_per_epoch * len(job.history.rows)
    learning_rate = float(job.history.rows[-1]["learning_rate"])
    smallest, largest = hessian_eigenvalues(x)
    contraction = max(abs(1 - learning_rate * smallest), abs(1 - learning_rate * largest))
    more_steps = _steps_to(gap, tolerance, contraction)
    verdict = {
        "tolerance": tolerance,
        "steps_run": steps,
        "learning_rate": learning_rate,
        "contraction_per_step": contraction,
        "more_full_batch_steps_needed": more_steps,
        "best_constant_learning_rate": 2 / (smallest + largest),  # the fastest worst-case contraction
    }
    verdict["reason"] = _reason(job, tolerance, gap, steps, steps_per_epoch, (smallest, largest), verdict)
    return {
        "least_squares": {"w": w_star, "b": b_star, "loss": mse(x, y, w_star, b_star)},
        "learned": {"w": w, "b": b, "loss": mse(x, y, w, b)},
        "gap": {"w": w - w_star, "b": b - b_star, "max_abs": gap},
        "converged": gap <= tolerance,
        "convergence": verdict,
    }


def _reason(job, tolerance, gap, steps, steps_per_epoch, eigenvalues, verdict):
    rate, contraction, more = (
        verdict["learning_rate"],
        verdict["contraction_per_step"],
        verdict["more_full_batch_steps_needed"],
    )
    if gap <= tolerance:
        return f"within {tolerance:g} of least squares after {steps:,} steps (largest gap {gap:.2g})."
    if contraction >= 1:
        return (
            f"unstable: learning_rate {rate:g} times the loss curvature {eigenvalues[1]:.3g} is "
            f"{rate * eigenvalues[1]:.3g} >= 2, so each step overshoots; use learning_rate < {2 / eigenvalues[1]:.3g}."
        )
    full_batch = steps_per_epoch == 1
    rows = job.history.rows
    if not full_batch and {"w", "b"} <= set(rows[0]) and len(rows) > 1:
        w_star, b_star = least_squares(*job.splits.train)
        first_gap = max(abs(rows[0]["w"] - w_star), abs(rows[0]["b"] - b_star))
        if first_gap * contraction ** (steps - steps_per_epoch) <= tolerance:
            return (
                f"SGD noise floor: with batches of {job.config.batch_size}, each step follows one batch's gradient, "
                f"so at learning_rate {rate:g} the fit keeps moving around the least-squares answer (largest gap "
                f"{gap:.2g} > {tolerance:g}) although full-batch descent would be within tolerance by now; "
                f"lower the learning rate towards the end or use larger batches to close the gap."
            )
    noise = "" if full_batch else f"; on top of that, batches of {job.config.batch_size} make SGD hover around it"
    return (
        f"learning-rate-limited: after {steps:,} steps the largest gap is {gap:.2g} > {tolerance:g}; at learning_rate "
        f"{rate:g} each full-batch step shrinks it only by a factor {contraction:.6f} (slowest direction), so about "
        f"{more:,} more steps are needed; the best constant rate for this data, 2/(λmin+λmax) = "
        f"{verdict['best_constant_learning_rate']:.3g}, converges in far fewer{noise}."
    )


def _steps_to(gap, tolerance, contraction):
    """Full-batch steps for `gap` to shrink to `tolerance` at `contraction` per step (None: it never does)."""
    if gap <= tolerance:
        return 0
    if contraction >= 1:
        return None
    return math.ceil(math.log(gap / tolerance) / -math.log(contraction))


def _flat(values):
    return np.asarray(values, dtype=np.float64).ravel()
