"""A CSV nnlab wrote (history, trials) as a pandas table, in memory about the size of its numbers.

nnlab's writers end every row with a newline, so a file that does not end with one was cut off mid-row (copied
half-way, disk full): its torn last line is dropped rather than read as a row of wrong numbers. A row of another
length than the header, or one the csv module cannot parse, is skipped and counted. Every header and cell loses
exactly one leading ' (nnlab.results.text.csv_value: the mark csv_cell puts before a cell a spreadsheet would run).

Parsed with the csv module rather than pandas' parser, whose fixed cost per call dominates for small files (the
report reads every run's history, and must stay fast at hundreds of runs). Numeric columns are collected as machine
floats while parsing, so a history near HISTORY_MAX_BYTES costs about its own size in memory, not ten times it.
"""

import csv
import io
import itertools

import numpy as np
import pandas as pd

from nnlab.results import limits, text

BLOCK_BYTES = 1 << 20  # bytes decoded at once
BATCH_ROWS = 4096  # rows parsed as text before their numbers are converted: the text held at once
BYTE_ORDER_MARK = b"\xef\xbb\xbf"  # a spreadsheet's UTF-8 mark before the first header: not part of its name
TOO_WIDE = "\0too wide"  # the one cell a line of too many cells is read as (a malformed row)


def parse(data, name, problems, text_columns=(), numeric=False):
    """The table in `data` (a CSV's bytes), or None with a problem noted in `problems` (named by `name`).

    Args:
      text_columns: columns kept as text (trial ids such as "07" are names, not numbers).
      numeric: every other column is a number, a bad cell NaN; otherwise a column with any non-number stays text.
    """
    data = data.removeprefix(BYTE_ORDER_MARK)
    end = data.rfind(b"\n") + 1
    if data.count(b"\n", 0, end) > limits.CSV_MAX_ROWS + 1:  # the header and CSV_MAX_ROWS rows
        problems.append(f"{name} not shown (more than {limits.CSV_MAX_ROWS} rows)")
        return None
    if end < len(data):
        problems.append(f"{name} truncated (torn last line dropped)")
    rows = _rows(data, end)
    header = next((row for row in rows if row), None)
    if header is None:
        problems.append(f"{name} empty")
        return None
    if len(header) > limits.CSV_MAX_COLUMNS or header == [TOO_WIDE]:
        problems.append(f"{name} not shown (more than {limits.CSV_MAX_COLUMNS} columns)")
        return None
    header = [text.csv_value(cell) for cell in header]
    columns = [_Text() if column in text_columns else _Numbers() if numeric else _Cells() for column in header]
    skipped, batch, marked = 0, [], b"'" in data  # no ' anywhere: no cell to unmark
    for row in rows:
        if row is None or (row and len(row) != len(header)):
            skipped += 1
        elif row:
            batch.append(row)
            if len(batch) == BATCH_ROWS:
                _add(columns, batch, marked)
                batch = []
    _add(columns, batch, marked)
    if skipped:
        problems.append(f"{name}: {skipped} malformed rows skipped")
    return pd.DataFrame({column: values.values() for column, values in zip(header, columns, strict=True)})


def _add(columns, batch, marked):
    if not batch:
        return
    for column, cells in zip(columns, zip(*batch, strict=True), strict=True):
        if marked and "\0'" in "\0" + "\0".join(cells):  # one string search finds a cell csv_cell marked
            cells = [text.csv_value(cell) for cell in cells]
        column.extend(list(cells))


def _rows(data, end):
    """The csv module's rows of data[:end]; None for a line it cannot parse (a stray carriage return, a huge
    field). Every error consumes at least a line, so the number of lines bounds the loop."""
    reader = csv.reader(_lines(data, end))
    for _ in range(data.count(b"\n", 0, end) + 1):
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield None


def _lines(data, end):
    """The lines of data[:end] as text, split at newlines only; a line with more commas than a row of
    CSV_MAX_COLUMNS cells can hold (64 times as many where quotes may hide some) is replaced by TOO_WIDE, so that
    the csv module never makes millions of cells out of one line."""
    return itertools.chain.from_iterable(_blocks(data, end))


def _blocks(data, end):
    """Iterators over the lines of data[:end], about BLOCK_BYTES at a time (whole lines, so whole characters)."""
    start = 0
    while start < end:
        stop = data.rfind(b"\n", start, min(start + BLOCK_BYTES, end)) + 1
        if stop <= start:  # one line longer than a block
            stop = data.index(b"\n", start, end) + 1
        block = data[start:stop]
        start = stop
        if max(map(len, block.split(b"\n"))) < limits.CSV_MAX_COLUMNS:  # too short to hold too many cells
            yield io.StringIO(block.decode("utf-8", errors="replace"), newline="\n")
        else:
            yield map(_guarded, block.split(b"\n")[:-1])


def _guarded(line):
    commas = line.count(b",")
    if commas >= limits.CSV_MAX_COLUMNS and (commas >= 64 * limits.CSV_MAX_COLUMNS or b'"' not in line):
        return TOO_WIDE + "\n"
    return line.decode("utf-8", errors="replace") + "\n"


class _Text:
    def __init__(self):
        self.cells = []

    def extend(self, cells):
        self.cells += cells

    def values(self):
        return self.cells


class _Cells(_Text):
    """A column that is numbers if every cell is one (ints kept whole), else text."""

    def values(self):
        if any(cell and not _number(cell) for cell in self.cells):
            return [cell or None for cell in self.cells]
        numbers = _Numbers()
        numbers.extend(self.cells)
        return numbers.values()


class _Numbers:
    """A column of numbers, a cell that is none NaN: int64 while every cell is an integer, else float64."""

    def __init__(self):
        self.parts = []

    def extend(self, cells):
        if cells:
            self.parts.append(pd.to_numeric(cells, errors="coerce"))

    def values(self):
        return np.concatenate(self.parts) if self.parts else []


def _number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True
