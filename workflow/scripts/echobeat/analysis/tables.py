"""Reading the files the analysis works on, whoever wrote them, with clear errors.

The inputs may also come from elsewhere (a size.csv or predictions written by the original
code, whose prediction files have no header row), so each is read with its required columns
checked and every number parsed, and a bad cell is reported with its file, line and column.
"""

from __future__ import annotations

import pandas as pd

from echobeat.data.csvtable import read_table
from echobeat.data.problems import DatasetFormatError

PREDICTION_COLUMNS = {"Filename": str, "Clip": int, "Prediction": float}
SIZE_COLUMNS = {"Filename": str, "Frame": int, "ComputerSmall": int}
LABEL_COLUMNS = {"FileName": str, "EF": float}


def read_typed(path, columns: dict[str, type], headerless: bool = False) -> pd.DataFrame:
    """The file's required columns, each parsed to its type; a bad cell names file, line and column.
    ``headerless``: a file without a header row is also read (its fields in the columns' order)."""
    table, _ = read_table(path, tuple(columns), headerless)
    typed = pd.DataFrame(index=table.index)
    for column, kind in columns.items():
        if kind is str:
            typed[column] = table[column]
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | ((values % 1 != 0) if kind is int else False)
        if bad.any():
            first = bad.idxmax()
            raise DatasetFormatError(
                f"{path}, line {table.loc[first, '_line']}: column {column} is {table.loc[first, column]!r}, "
                f"not {'an integer' if kind is int else 'a number'} ({int(bad.sum())} such row(s))"
            )
        typed[column] = values.astype(kind)
    return typed


def read_predictions(path) -> pd.DataFrame:
    """All-clip predictions: ours (header ``Filename,Clip,Prediction``) or the original's
    (the same three fields, no header row)."""
    return read_typed(path, PREDICTION_COLUMNS, headerless=True)
