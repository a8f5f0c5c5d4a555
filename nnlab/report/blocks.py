"""The report as a list of plain blocks, written once and rendered twice (HTML and Markdown).

Sections build blocks; renderers turn blocks into text. Keeping the content out of the renderers is what keeps
report.html and report.md saying the same thing.
"""

import dataclasses
import math
import re


@dataclasses.dataclass
class Heading:
    level: int
    text: str


@dataclasses.dataclass
class Text:
    text: str


@dataclasses.dataclass
class Note:
    """Something the reader should not miss: a failed run, a missing file."""

    text: str


@dataclasses.dataclass
class Code:
    text: str


@dataclasses.dataclass
class Cell:
    """A table cell with a style hint ("done", "failed", "best", ...) that the HTML renderer turns into a class."""

    text: str
    style: str = ""
    href: str = ""  # a link relative to the report's folder


@dataclasses.dataclass
class Table:
    columns: list
    rows: list  # of lists of str or Cell
    caption: str = ""


@dataclasses.dataclass
class Figure:
    """An image: `name` is its unique file name under report_files/, `data` its bytes."""

    name: str
    data: bytes
    caption: str
    mode: int | None = None  # permission bits of the file it was copied from; its copy gets these or stricter

    @property
    def mime(self):
        return "image/gif" if self.name.endswith(".gif") else "image/png"


def file_name(*parts):
    """A safe, unique-per-parts file name stem for a figure."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(str(part) for part in parts if part))


def number(value, digits=4):
    """A metric for a table: 4 significant digits, '' for missing, integers kept whole."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "" if math.isnan(value) else str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


def seconds(value):
    """Wall time as '4.3 s', '2 min 5 s' or '1 h 3 min'; '' when unknown."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(value):
        return ""
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60)} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60)} min"


def plain(value):
    """A config or env value as short text: lists joined by commas, floats compact."""
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(item) for item in value)
    if isinstance(value, float):
        return number(value, digits=6)
    if value is None:
        return ""
    return str(value)


def count(n, noun):
    """'1 run', '3 runs'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
