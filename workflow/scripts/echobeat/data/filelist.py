"""FileList.csv: reading each row into a typed record and checking it on its own.

Checks that need the video or the tracings live in :mod:`echobeat.data.verify`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from echobeat.data.csvtable import parse_float, parse_int, read_table
from echobeat.data.problems import Problem

FILELIST_COLUMNS = (
    "FileName",
    "EF",
    "ESV",
    "EDV",
    "FrameHeight",
    "FrameWidth",
    "FPS",
    "NumberOfFrames",
    "Split",
)
# Case-sensitive, as the original matches them.
SPLITS = ("TRAIN", "VAL", "TEST")
SOURCE = "FileList.csv"


@dataclass(frozen=True)
class FileListRow:
    """One FileList.csv row; a field is None where its text did not parse."""

    line: int
    file_name: str
    split: str
    ef: float | None
    esv: float | None
    edv: float | None
    height: int | None
    width: int | None
    fps: float | None
    n_frames: int | None


def ejection_fraction(edv: float, esv: float) -> float:
    """EF in percent from end-diastolic and end-systolic volumes."""
    return 100.0 * (edv - esv) / edv


def filename_problem(name: str) -> str | None:
    """Why ``name`` is not a valid FileList FileName, or None if it is."""
    if not name:
        return "FileName is empty"
    if "/" in name or "\\" in name or os.sep in name:
        return f"FileName {name!r} contains a path separator"
    if ".." in name:
        return f"FileName {name!r} contains '..'"
    if "." in name:
        return f"FileName {name!r} has an extension; FileList names carry none (the video is <FileName>.avi)"
    return None


def read_filelist(path: str | os.PathLike[str], ef_tolerance: float) -> tuple[list[FileListRow], list[Problem]]:
    """Read FileList.csv; return its rows and the problems of each row taken alone.

    Raises :class:`~echobeat.data.problems.DatasetFormatError` for a missing file or wrong header.
    """
    table, extra = read_table(path, FILELIST_COLUMNS)
    problems = [Problem("filelist_extra_column", "", SOURCE, 1, f"extra column {c!r} is ignored") for c in extra]
    rows: list[FileListRow] = []
    for record in table.to_dict("records"):
        line = int(record["_line"])
        name = record["FileName"]
        row = FileListRow(
            line=line,
            file_name=name,
            split=record["Split"],
            ef=parse_float(record["EF"]),
            esv=parse_float(record["ESV"]),
            edv=parse_float(record["EDV"]),
            height=parse_int(record["FrameHeight"]),
            width=parse_int(record["FrameWidth"]),
            fps=parse_float(record["FPS"]),
            n_frames=parse_int(record["NumberOfFrames"]),
        )
        rows.append(row)
        problems.extend(_row_problems(row, record, ef_tolerance))
    problems.extend(_duplicate_problems(rows))
    return rows, problems


def _row_problems(row: FileListRow, record: dict, ef_tolerance: float) -> list[Problem]:
    found: list[Problem] = []

    def add(kind: str, message: str) -> None:
        found.append(Problem(kind, row.file_name, SOURCE, row.line, message))

    bad_name = filename_problem(row.file_name)
    if bad_name:
        add("filelist_bad_filename", bad_name)
    if row.split not in SPLITS:
        add(
            "filelist_bad_split",
            f"Split {row.split!r} is not one of {', '.join(SPLITS)} (matched case-sensitively, like the original)",
        )
    for column, value in (("EF", row.ef), ("ESV", row.esv), ("EDV", row.edv)):
        if value is None:
            add("filelist_bad_number", f"{column} {record[column]!r} is not a finite number")
    if row.ef is not None and not 0.0 <= row.ef <= 100.0:
        add("filelist_bad_number", f"EF {row.ef} is outside 0-100")
    if row.edv is not None and row.edv <= 0:
        add("filelist_bad_number", f"EDV {row.edv} is not positive")
    if row.esv is not None and row.esv < 0:
        add("filelist_bad_number", f"ESV {row.esv} is negative")
    for column, value in (
        ("FrameHeight", row.height),
        ("FrameWidth", row.width),
        ("NumberOfFrames", row.n_frames),
    ):
        if value is None or value <= 0:
            add("filelist_bad_number", f"{column} {record[column]!r} is not a positive integer")
    if row.fps is None or row.fps <= 0:
        add("filelist_bad_number", f"FPS {record['FPS']!r} is not a positive number")
    if row.ef is not None and row.esv is not None and row.edv is not None and row.edv > 0:
        expected = ejection_fraction(row.edv, row.esv)
        if abs(expected - row.ef) > ef_tolerance:
            add(
                "filelist_ef_inconsistent",
                f"EF {row.ef:g} but 100*(EDV-ESV)/EDV = {expected:.2f} "
                f"(EDV {row.edv:g}, ESV {row.esv:g}; tolerance {ef_tolerance:g}); "
                f"the FileList EF {row.ef:g} is used, as in the original",
            )
    return found


def _duplicate_problems(rows: list[FileListRow]) -> list[Problem]:
    lines: dict[str, list[int]] = {}
    for row in rows:
        lines.setdefault(row.file_name, []).append(row.line)
    return [
        Problem(
            "filelist_duplicate",
            name,
            SOURCE,
            where[0],
            f"FileName appears {len(where)} times (lines {', '.join(map(str, where))})",
        )
        for name, where in lines.items()
        if len(where) > 1 and name
    ]
