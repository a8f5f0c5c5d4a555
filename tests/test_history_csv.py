"""CSV cells nnlab writes (nnlab.results.history.to_csv) are inert in a spreadsheet, headers included, and every
reader of nnlab's CSVs takes exactly one leading ' off again."""

import csv
import io

import pytest

from nnlab.plots import tables as plot_tables
from nnlab.report import read as report_data
from nnlab.results import history, limits

ROWS = [
    {"epoch": 0, "loss": -0.5, "=w": 1.5, "label": "=1+2", "note": "'x", "tab": "\tcell", "sign": "-inf"},
    {"epoch": 1, "loss": float("nan"), "=w": -2.0, "label": "@SUM(A1)", "note": "plain", "tab": "-3", "sign": "+x"},
]


def test_formula_like_cells_and_headers_get_a_leading_quote():
    text = history.to_csv(ROWS)
    header, first, second = list(csv.reader(io.StringIO(text)))
    assert header == ["epoch", "loss", "'=w", "label", "note", "tab", "sign"]
    assert first == ["0", "-0.5", "1.5", "'=1+2", "''x", "'\tcell", "-inf"], "numbers and -inf stay numbers"
    assert second == ["1", "nan", "-2.0", "'@SUM(A1)", "plain", "-3", "'+x"]


def test_every_reader_strips_exactly_one_quote(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(history.to_csv(ROWS))
    rows = history.read_rows(path)
    assert rows[0]["=w"] == 1.5 and rows[0]["label"] == "=1+2" and rows[0]["note"] == "'x"
    assert rows[0]["tab"] == "\tcell"
    assert rows[1]["label"] == "@SUM(A1)" and rows[1]["sign"] == "+x" and rows[1]["tab"] == -3.0
    assert list(csv.reader(io.StringIO(history.to_csv(rows))))[0][2] == "'=w", "written again, marked again"

    table = plot_tables.read_csv(path)
    assert list(table.columns) == ["epoch", "loss", "=w", "label", "note", "tab", "sign"]
    assert list(table["label"]) == ["=1+2", "@SUM(A1)"] and list(table["note"]) == ["'x", "plain"]

    problems = []
    report_table = report_data.read_csv(path, problems, text_columns=("label", "note"))
    assert "=w" in report_table and list(report_table["label"]) == ["=1+2", "@SUM(A1)"]
    assert list(report_table["note"]) == ["'x", "plain"] and not problems


def test_the_report_reader_keeps_its_rules(tmp_path):
    path = tmp_path / "history.csv"
    path.write_bytes(b"epoch,loss,'-w\n0,0.5,'1\n1,abc,2\n2,0.25\n3,0.125,3\n4,0.1")  # short row, torn last line
    problems = []
    table = report_data.read_history(path, problems)
    assert list(table.columns) == ["epoch", "loss", "-w"] and list(table["epoch"]) == [0, 1, 3]
    assert table["loss"].isna().tolist() == [False, True, False] and table["-w"].tolist() == [1, 2, 3]
    assert problems == ["history.csv truncated (torn last line dropped)", "history.csv: 1 malformed rows skipped"]


@pytest.mark.parametrize("quoted", [False, True])
def test_a_line_of_millions_of_cells_is_not_parsed_into_them(tmp_path, quoted):
    path = tmp_path / "history.csv"
    cells = ",".join(["ab"] * (64 * limits.CSV_MAX_COLUMNS + 1))
    prefix = '"q",' if quoted else ""
    path.write_text(f"epoch,loss\n0,0.5\n{prefix}{cells}\n1,0.25\n")
    problems = []
    table = report_data.read_history(path, problems)
    assert list(table["epoch"]) == [0, 1] and problems == ["history.csv: 1 malformed rows skipped"]
    path.write_text(",".join(["ab"] * (limits.CSV_MAX_COLUMNS + 1)) + "\n")
    assert report_data.read_history(path, problems) is None and "more than 1000 columns" in problems[-1]
