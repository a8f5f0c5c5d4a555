"""`class_weight` as Keras' fit has it: per-class weights on the training loss, through Keras' sample weights.

`config.class_weight` is "" (off), "balanced" (n / (k * count_c) over the training split after the validation
holdout, k the classes present, as scikit-learn's compute_class_weight) or explicit weights "0:1.0,1:5.0"
(a class not listed weighs 1.0, as in fit). Each training example gets its class's weight, and the loop hands
the batch to Keras' step as (x, y, sample_weight): the training loss and training metrics are weighted exactly as
fit weights them, and validation and test numbers are not weighted at all.

Refused, with one paragraph: a model with several outputs (which output's classes?), a hand-written train_step
(its loss is its own; Keras' sample weights never reach it) and labels that are neither class indices nor one-hot.
"""

import numpy as np

from nnlab import structures
from nnlab.config import class_weight_values
from nnlab.errors import NnlabError


def sample_weights(config, train, handwritten, where, outputs=2):
    """One float32 weight per training example, or None when class_weight is off.

    Args:
      config: the run's config (its class_weight field).
      train: the training split (x, y), after the validation holdout.
      handwritten: whether the module defines its own train_step.
      where: the experiment's path, for messages.
      outputs: the width of the model's output (1 for a sigmoid: two classes); classes named beyond it are refused.
    """
    setting = class_weight_values(config.class_weight)
    if setting is None:
        return None
    said = f"{where}: class_weight={config.class_weight}"
    if handwritten:
        raise NnlabError(
            f"{said} weights the loss through Keras' own train_step, as fit does, but the module's hand-written "
            f"train_step computes its own loss, which those weights never reach. Weight the loss in train_step "
            f"itself and leave class_weight empty."
        )
    labels = train[1]
    if structures.is_structured(labels):
        raise NnlabError(
            f"{said}: the model has several outputs (y is {structures.describe(labels)} per example), and class "
            f"weights name the classes of one output. Leave class_weight empty for this model."
        )
    classes = class_indices(np.asarray(labels), said)
    count = max(2, outputs)
    if setting == "balanced":
        present, counts = np.unique(classes, return_counts=True)
        table = dict(zip(present.tolist(), (len(classes) / (len(present) * counts)).tolist(), strict=True))
    else:
        table = setting
        unknown = sorted(label for label in table if label >= count)
        if unknown:
            raise NnlabError(
                f"{said} names class {unknown[0]}, but the model tells {count} classes apart (0 to {count - 1}). "
                f"Name classes by their index, e.g. class_weight=0:1.0,1:5.0."
            )
    return np.array([table.get(label, 1.0) for label in classes.tolist()], dtype=np.float32)


def class_indices(labels, said):
    """The class index of each example, from class-index labels, (N,) or (N, 1), or one-hot rows (N, K)."""
    shape = labels.shape[1:]
    whole = np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool or np.all(np.mod(labels, 1) == 0)
    if shape in ((), (1,)) and whole and labels.min() >= 0:
        return labels.reshape(-1).astype(np.int64)
    if len(shape) == 1 and shape[0] >= 2 and np.isin(labels, (0, 1)).all() and (labels.sum(axis=1) == 1).all():
        return labels.argmax(axis=1)
    raise NnlabError(
        f"{said} needs class labels: class indices (0, 1, 2, ... of shape (N,) or (N, 1)) or one-hot rows, but "
        f"the training labels have shape {shape} per example and dtype {labels.dtype}"
        f"{'' if not whole else ' with values outside 0/1 rows'}. Leave class_weight empty for labels of this kind."
    )
