"""Reading the dataset's CSV files as text, with errors that name the file and line.

Values are parsed by the callers (``filelist``, ``tracings``) so that a bad cell becomes a
problem on its row rather than a pandas exception for the whole file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from echobeat.data.problems import DatasetFormatError

# Line of the first data row: the header is line 1.
FIRST_DATA_LINE = 2


def read_table(
    path: str | os.PathLike[str], columns: tuple[str, ...], headerless: bool = False
) -> tuple[pd.DataFrame, list[str]]:
    """Read a CSV file with the given required columns, every cell as a stripped string.

    Returns the table (with a ``_line`` column: the 1-based line in the file) and the
    names of extra columns. Raises :class:`DatasetFormatError` naming the file when it is
    missing, unparsable or lacks a required column. With ``headerless``, a file whose first
    line names none of the columns but has exactly as many fields is read as data in the
    order of ``columns`` (the original code writes its prediction files so).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found")
    table = _read_text_csv(path, header=0)
    table.columns = [str(c).strip() for c in table.columns]
    first_line = FIRST_DATA_LINE
    if headerless and len(table.columns) == len(columns) and not set(columns) & set(table.columns):
        table = _read_text_csv(path, header=None, names=list(columns))
        first_line = 1
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DatasetFormatError(
            f"{path}: wrong header: missing column(s) {', '.join(missing)}; "
            f"expected {','.join(columns)}, found {','.join(table.columns)}"
        )
    extra = [c for c in table.columns if c not in columns]
    table = table.map(lambda v: v.strip() if isinstance(v, str) else "")
    table["_line"] = range(first_line, first_line + len(table))
    blank = (table[list(columns)] == "").all(axis=1)
    return table.loc[~blank].reset_index(drop=True), extra


def _read_text_csv(path: Path, **header) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            **header,
        )
    except pd.errors.EmptyDataError:
        raise DatasetFormatError(f"{path}: the file is empty (expected a header row)") from None
    except pd.errors.ParserError as err:
        raise DatasetFormatError(f"{path}: cannot be parsed as CSV: {err}") from None
    except UnicodeDecodeError as err:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def parse_float(text: str) -> float | None:
    """A finite float, or None for text that is not one (empty, 'abc', 'nan', 'inf')."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_int(text: str) -> int | None:
    """An integer (also written as '50.0'), or None for anything else."""
    value = parse_float(text)
    if value is None or not value.is_integer():
        return None
    return int(value)
