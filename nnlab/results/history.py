"""history.csv: one row per epoch, rewritten atomically after every epoch so it is never half a row."""

import csv
import io
import math
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.results import atomic, bounded, limits, text

# Fixed leading and trailing columns; metrics go in between, training ones before their val_ twins.
FIRST = ["epoch"]
LAST = ["seconds", "learning_rate"]


class HistoryFile:
    """Accumulates per-epoch records and keeps `path` in sync with them."""

    def __init__(self, path):
        self.path = Path(path)
        self.rows = []

    def resume(self, before_epoch, checkpoint=None):
        """Continue a file a killed run left: keep the last row of each epoch before `before_epoch`, drop the rest.

        A kill between writing an epoch's row and its checkpoint leaves a row the resumed run will write again.
        With `checkpoint` (the file that resumes at `before_epoch`), every earlier epoch must have its row: a run
        that trained on past lost rows would end `done` with a history that silently starts late.

        Raises:
          NnlabError: with `checkpoint`, the file is missing, unreadable or lacks some epoch before `before_epoch`.
        """
        latest = {row["epoch"]: row for row in read_rows(self.path) if row["epoch"] < before_epoch}
        missing = sorted(set(range(before_epoch)) - set(latest))
        if checkpoint is not None and missing:
            raise NnlabError(
                f"{self.path} lacks the rows of epochs {_ranges(missing)} that {checkpoint} has already trained "
                f"(the file is missing, empty, unreadable or cut short), so a resumed run would have a history with "
                f"a hole in it. Restart this run from epoch 0: delete {checkpoint} and run the same command with "
                f"--resume again; or start a new run without --resume."
            )
        self.rows = [latest[epoch] for epoch in sorted(latest)]
        if self.path.exists() or self.rows:
            atomic.write_text(self.path, to_csv(self.rows))  # rebuilt from the rows that could be read

    def append(self, row):
        """Add one epoch's record ({"epoch": 0, "loss": ..., ...}) and rewrite the file."""
        self.rows.append(dict(row))
        atomic.write_text(self.path, to_csv(self.rows))


def read_rows(path):
    """A history CSV's rows as dicts (epoch an int, numbers floats, empty cells left out); [] without a file.

    Only whole rows count: a last line without its newline (the disk filled, a copy stopped half-way) and a row
    whose epoch or numbers cannot be read (bytes that are not text, a hand edit) are not data, and are left out.
    A file that is not a regular one, or holds more than HISTORY_MAX_BYTES, has no rows nnlab reads. Headers and
    cells lose the one leading ' that `to_csv` puts before a formula-like text (text.csv_value).
    """
    try:
        # utf-8-sig: a byte-order mark (a spreadsheet saved the file) is not part of the first header, `epoch`
        content = bounded.read_bytes(path, limits.HISTORY_MAX_BYTES).decode("utf-8-sig", errors="replace")
    except (FileNotFoundError, bounded.Unreadable):
        return []
    content = content[: content.rfind("\n") + 1]  # nnlab ends every row with a newline; anything after is torn
    rows = []
    for row in _records(content):
        if None in row:  # extra cells
            continue
        row = {text.csv_value(key): text.csv_value(value) for key, value in row.items()}
        try:
            epoch = int(row["epoch"])
            values = {key: _parse(value) for key, value in row.items() if key != "epoch" and value}
        except (KeyError, TypeError, ValueError):
            continue
        if any("\ufffd" in str(value) for value in values.values()):  # not text
            continue
        rows.append({"epoch": epoch, **values})
    return rows


def _records(text):
    """csv.DictReader's rows, skipping the lines the csv module cannot parse (a stray carriage return or NUL)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for _ in range(text.count("\n") + 1):  # every csv.Error consumes a line, so this bounds the loop
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue


def _ranges(numbers):
    """'0-2, 5' for [0, 1, 2, 5]."""
    spans, start = [], numbers[0]
    for previous, current in zip(numbers, [*numbers[1:], None], strict=True):
        if current != previous + 1 if current is not None else True:
            spans.append(f"{start}-{previous}" if previous != start else f"{start}")
            start = current
    return ", ".join(spans)


def columns(rows):
    keys = []
    for row in rows:
        keys += [key for key in row if key not in keys]
    metrics = [key for key in keys if key not in FIRST + LAST]
    training = [key for key in metrics if not key.startswith("val_")]
    ordered = training + [key for key in metrics if key.startswith("val_")]
    return [key for key in FIRST if key in keys] + ordered + [key for key in LAST if key in keys]


def to_csv(rows, fieldnames=None):
    """CSV text of `rows` in `fieldnames` order (default: columns(rows)); keys not among them are left out.

    Every header and text cell goes through text.csv_cell, so a spreadsheet shows `=HYPERLINK(...)` as text.
    """
    fieldnames = fieldnames or columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([text.csv_cell(str(name)) for name in fieldnames])
    for row in rows:
        writer.writerow([_format(row.get(name, "")) for name in fieldnames])
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
    return text.csv_cell(value) if isinstance(value, str) else value
