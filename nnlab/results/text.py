"""Text that cannot lie: control and bidi characters made visible, long values cut, CSV cells no spreadsheet runs.

Recorded strings (directory names, Choice values, overrides, status messages) come from files anyone may have
written, so every place that shows one (report.html, report.md, nnlab's console lines, error messages) passes it
through `visible`, and every CSV cell nnlab writes through `csv_cell`.
"""

import unicodedata

from nnlab.results import limits

HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")  # controls, format (bidi overrides, zero-width), line/paragraph seps
# A lone surrogate (Cs) is no character at all: a file name's byte that is not UTF-8 (os.fsdecode gives \udcXX) or
# a JSON "\ud800". No UTF-8 writer, matplotlib included, takes one, so it is shown as its code too.
UNENCODABLE_CATEGORIES = ("Cs",)
SHOWN_AS_CODE = HIDDEN_CATEGORIES + UNENCODABLE_CATEGORIES
KEPT = ("\t", "\n")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def visible(text):
    """`text` with every Cc, Cf, Zl or Zp character except tab and newline, and every lone surrogate, written as
    \\uXXXX (\\UXXXXXXXX): text any UTF-8 writer takes."""
    text = str(text)
    if text.isprintable() or all(ch in KEPT or not _hidden(ch) for ch in text):
        return text
    return "".join(_escape(ch) if ch not in KEPT and _hidden(ch) else ch for ch in text)


def _hidden(ch):
    return unicodedata.category(ch) in SHOWN_AS_CODE


def _escape(ch):
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def clip(text, limit=limits.TEXT_MAX_CHARS):
    """`text` cut to `limit` characters, then "… (N characters in all)"; unchanged when short enough."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters in all)"


def quoted(value, limit=limits.ERROR_VALUE_CHARS):
    """A bad value as an error message quotes it: repr, made visible, at most `limit` characters."""
    return clip(visible(repr(value)), limit)


def csv_cell(text):
    """A CSV cell a spreadsheet shows as text: a leading ' before =, +, -, @, tab or CR unless it is a number.

    A cell already starting with ' gets one more, so that `csv_value` (strip exactly one) gives it back unchanged.
    """
    if not isinstance(text, str) or not text:
        return text
    if text.startswith("'"):
        return "'" + text
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def csv_value(text):
    """What nnlab's readers make of a cell `csv_cell` wrote: exactly one leading ' stripped."""
    if isinstance(text, str) and text.startswith("'"):
        return text[1:]
    return text


def _is_number(text):
    if text.strip().lower() in ("nan", "inf", "-inf", "+inf"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text and text == text.strip()
