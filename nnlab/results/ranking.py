"""Which of two results is better: one rule for runs, study variants, sweep trials and monitored metrics."""

# Metric names containing one of these words, in any case (Keras names a metric given as a class `MeanAbsoluteError`),
# are minimised; every other metric is maximised.
MINIMISED = (
    "loss",
    "error",
    "mse",
    "mae",
    "mape",
    "msle",
    "crossentropy",
    "hinge",
    "divergence",
    "kld",
    "poisson",
    "logcosh",
    "false_positives",
    "false_negatives",
)

# How the best of several runs (or a study's variants) is chosen: the first measure they have.
BEST_BY = (
    ("test", "accuracy", max, "highest test accuracy"),
    ("final", "val_accuracy", max, "highest final validation accuracy"),
    ("test", "loss", min, "lowest test loss"),
    ("final", "val_loss", min, "lowest final validation loss"),
    ("final", "loss", min, "lowest final training loss"),
)


def direction(metric):
    """ "min" for a loss or an error (val_loss, mae, ...), "max" for anything else (accuracy, auc, ...)."""
    name = metric.lower()
    return "min" if any(word in name for word in MINIMISED) else "max"


def better(value, than, direction):
    """True when `value` beats `than` for a metric with this direction ("min" or "max")."""
    return value > than if direction == "max" else value < than
