"""history.csv: one row per epoch, rewritten atomically after every epoch so it is never half a row."""

import csv
import io
import math
from pathlib import Path

from nnlab.results import atomic

# Fixed leading and trailing columns; metrics go in between, training ones before their val_ twins.
FIRST = ["epoch"]
LAST = ["seconds", "learning_rate"]


class HistoryFile:
    """Accumulates per-epoch records and keeps `path` in sync with them."""

    def __init__(self, path):
        self.path = Path(path)
        self.rows = []

    def resume(self, before_epoch):
        """Continue a file a killed run left: keep the last row of each epoch before `before_epoch`, drop the rest.

        A kill between writing an epoch's row and its checkpoint leaves a row the resumed run will write again.
        """
        latest = {row["epoch"]: row for row in read_rows(self.path) if row["epoch"] < before_epoch}
        self.rows = [latest[epoch] for epoch in sorted(latest)]
        if self.path.exists():
            atomic.write_text(self.path, to_csv(self.rows))

    def append(self, row):
        """Add one epoch's record ({"epoch": 0, "loss": ..., ...}) and rewrite the file."""
        self.rows.append(dict(row))
        atomic.write_text(self.path, to_csv(self.rows))


def read_rows(path):
    """A history CSV's rows as dicts (epoch an int, numbers floats, empty cells left out); [] without a file.

    A row without a readable epoch, cut short by a kill in an older, non-atomic writer, is skipped.
    """
    if not Path(path).exists():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            try:
                epoch = int(row["epoch"])
            except (KeyError, TypeError, ValueError):
                continue
            values = {key: _parse(value) for key, value in row.items() if key not in (None, "epoch") and value}
            rows.append({"epoch": epoch, **values})
    return rows


def columns(rows):
    keys = []
    for row in rows:
        keys += [key for key in row if key not in keys]
    metrics = [key for key in keys if key not in FIRST + LAST]
    training = [key for key in metrics if not key.startswith("val_")]
    ordered = training + [key for key in metrics if key.startswith("val_")]
    return [key for key in FIRST if key in keys] + ordered + [key for key in LAST if key in keys]


def to_csv(rows, fieldnames=None):
    """CSV text of `rows` in `fieldnames` order (default: columns(rows)); keys not among them are left out."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames or columns(rows), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _format(value) for key, value in row.items()})
    return buffer.getvalue()


def _parse(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _format(value):
    # repr() round-trips floats exactly, so two identical runs give byte-identical files.
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value).lower()
    return value
