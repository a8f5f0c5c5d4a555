"""history.csv: one row per epoch, rewritten atomically after every epoch so it is never half a row."""

import csv
import io
import math
from pathlib import Path

from nnlab import atomic

# Fixed leading and trailing columns; metrics go in between, training ones before their val_ twins.
FIRST = ["epoch"]
LAST = ["seconds", "learning_rate"]


class HistoryFile:
    """Accumulates per-epoch records and keeps `path` in sync with them."""

    def __init__(self, path):
        self.path = Path(path)
        self.rows = []

    def append(self, row):
        """Add one epoch's record ({"epoch": 0, "loss": ..., ...}) and rewrite the file."""
        self.rows.append(dict(row))
        atomic.write_text(self.path, to_csv(self.rows))


def columns(rows):
    keys = []
    for row in rows:
        keys += [key for key in row if key not in keys]
    metrics = [key for key in keys if key not in FIRST + LAST]
    training = [key for key in metrics if not key.startswith("val_")]
    ordered = training + [key for key in metrics if key.startswith("val_")]
    return [key for key in FIRST if key in keys] + ordered + [key for key in LAST if key in keys]


def to_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _format(value) for key, value in row.items()})
    return buffer.getvalue()


def _format(value):
    # repr() round-trips floats exactly, so two identical runs give byte-identical files.
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value).lower()
    return value
