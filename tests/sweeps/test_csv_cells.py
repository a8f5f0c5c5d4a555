"""Spreadsheet formulas as Choice values (issue 19, Why 7): a real grid sweep writes them into trials.csv as text a
spreadsheet does not run, and nnlab's readers (nnlab.trials, the plots, the report) give back the values."""

import csv
import textwrap

from nnlab import report, trials
from nnlab.plots import tables as plot_tables
from nnlab.sweeps import tuning
from tests.tiny import TINY

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "@SUM(1)\u202e", "'quoted"]  # + - \t \r: test_history_csv
EXTRA = f"""
    @dataclasses.dataclass(frozen=True)
    class Config(Config):
        note: str = "plain"

    SEARCH_SPACE = {{"note": search_space.Choice({FORMULAS!r})}}
"""


def _cells(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def _inert(cell):
    if not cell.startswith(("=", "+", "-", "@", "\t", "\r")):
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_formula_choice_values_are_written_inert_and_read_back(make_experiment, results_dir):
    make_experiment("formulas", textwrap.dedent(TINY) + textwrap.dedent(EXTRA))
    overrides = ["algorithm=grid", f"max_trials={len(FORMULAS)}", "epochs=1", "examples=40"]
    sweep_dir = tuning.tune("formulas", overrides, results_dir=results_dir, verbose=0).sweep_dir

    rows = _cells(sweep_dir / "trials.csv")
    column = rows[0].index("note")
    assert sorted(row[column] for row in rows[1:]) == sorted("'" + value for value in FORMULAS)
    for name in ("trials.csv", "history.csv"):
        unsafe = [cell for row in _cells(sweep_dir / name) for cell in row if not _inert(cell)]
        assert not unsafe, (name, unsafe)

    assert sorted(trials(sweep_dir)["note"]) == sorted(FORMULAS), "nnlab.trials strips exactly one '"
    assert sorted(plot_tables.read_csv(sweep_dir / "trials.csv")["note"]) == sorted(FORMULAS)
    page = report.build(results_dir)[0].read_text()
    assert "@SUM(1)\\u202e" in page and "&#x27;quoted" in page and "&#x27;&#x27;quoted" not in page

    before = (sweep_dir / "trials.csv").read_bytes()
    tuning.tune("formulas", overrides, results_dir=results_dir, verbose=0)  # the sweep rebuilds its tables
    assert (sweep_dir / "trials.csv").read_bytes() == before
