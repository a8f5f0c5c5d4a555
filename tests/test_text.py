"""Text that cannot lie (nnlab.results.text): hidden characters shown, long values cut, CSV cells inert."""

import pytest

from nnlab.results import limits, text


def test_bidi_and_controls_are_shown_tab_and_newline_kept():
    assert text.visible("run\u202egnp.exe") == "run\\u202egnp.exe"
    assert text.visible("a\tb\nc") == "a\tb\nc"
    assert text.visible("x\x1b[31my\u2028z\u200b") == "x\\u001b[31my\\u2028z\\u200b"
    assert text.visible("plain ünïcode ✓") == "plain ünïcode ✓"


def test_clip_and_quoted():
    assert text.clip("short") == "short"
    long = "v" * 130_000
    cut = text.clip(long, 200)
    assert cut.startswith("v" * 200) and cut.endswith("… (130000 characters in all)")
    assert len(text.quoted(long)) < limits.ERROR_VALUE_CHARS + 40


@pytest.mark.parametrize(
    "cell, written",
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("@SUM(1)", "'@SUM(1)"),
        ("-2+3", "'-2+3"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'quoted", "''quoted"),
        ("-0.5", "-0.5"),
        ("+1e-3", "+1e-3"),
        ("-inf", "-inf"),
        ("nan", "nan"),
        ("relu", "relu"),
        ("", ""),
    ],
)
def test_csv_cells_round_trip(cell, written):
    assert text.csv_cell(cell) == written
    assert text.csv_value(text.csv_cell(cell)) == cell
