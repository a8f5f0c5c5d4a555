"""nnlab's own CSVs (history.csv, trials.csv) as pandas tables for drawing, read as nnlab wrote them.

nnlab.results.text.csv_cell puts a ' before any cell a spreadsheet would run as a formula (=, +, -, @, ...), so
every reader takes exactly one leading ' off again (csv_value): a tracked value named `-w` or a Choice value
`=x` is drawn under its own name, not as `'-w`.
"""

import pandas as pd

from nnlab.results import text


def read_csv(path, **options):
    """pd.read_csv(path, **options) with one leading ' taken off every header and text cell."""
    table = pd.read_csv(path, **options)
    for index in range(table.shape[1]):  # by position: two headers may be one name once unmarked
        column = table.iloc[:, index]
        if not pd.api.types.is_numeric_dtype(column):  # object, or pandas 3's str
            table.isetitem(index, column.map(text.csv_value))
    table.columns = [text.csv_value(name) for name in table.columns]
    return table
