"""VolumeTracings.csv: reading, grouping per traced frame, masks and method-of-disks volumes.

A traced frame is 21 rows: the long axis of the left ventricle, then 20 chords across the
cavity perpendicular to it (docs/echonet.md §1). Like the original, the traced
frames of a video are kept in order of first appearance; the first is end-systole (ES,
"small") and the last end-diastole (ED, "large").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import skimage.draw

from echobeat.data.csvtable import read_table
from echobeat.data.names import bare_name
from echobeat.data.problems import Problem

TRACING_COLUMNS = ("FileName", "X1", "Y1", "X2", "Y2", "Frame")
ROWS_PER_TRACING = 21
SOURCE = "VolumeTracings.csv"
REPEATED_TRACING_MODES = ("first", "echonet")


@dataclass
class TracedFrame:
    """The rows of one traced frame, in file order: an (n, 4) array of X1, Y1, X2, Y2."""

    frame: int
    line: int
    coords: np.ndarray


@dataclass
class VideoTracings:
    """All traced frames of one video, in order of first appearance."""

    file_name: str
    line: int
    frames: list[TracedFrame] = field(default_factory=list)

    @property
    def es(self) -> TracedFrame:
        """End-systole: the first traced frame listed (the original's "small")."""
        return self.frames[0]

    @property
    def ed(self) -> TracedFrame:
        """End-diastole: the last traced frame listed (the original's "large")."""
        return self.frames[-1]


def read_tracings(path: str | os.PathLike[str]) -> tuple[dict[str, VideoTracings], list[Problem]]:
    """Read VolumeTracings.csv into per-video tracings keyed by FileName without ``.avi``.

    Rows with a value that is not a finite number (or a frame that is not a non-negative
    integer) are reported and left out. Raises ``DatasetFormatError`` for a wrong header.
    """
    table, _extra = read_table(path, TRACING_COLUMNS)
    problems: list[Problem] = []
    values = table[["X1", "Y1", "X2", "Y2", "Frame"]].apply(pd.to_numeric, errors="coerce")
    finite = np.isfinite(values.to_numpy(dtype=float)).all(axis=1)
    frame = values["Frame"].to_numpy(dtype=float)
    good_frame = finite & (frame >= 0) & (np.mod(np.nan_to_num(frame), 1) == 0)
    names = table["FileName"].to_numpy(dtype=object)
    lines = table["_line"].to_numpy()

    unnamed_avi: set[str] = set()
    for i in np.flatnonzero(~good_frame):
        key = bare_name(names[i])
        cells = ", ".join(f"{c}={table.at[i, c]!r}" for c in ("X1", "Y1", "X2", "Y2", "Frame"))
        problems.append(
            Problem(
                "tracing_bad_value",
                key,
                SOURCE,
                int(lines[i]),
                f"row has a value that is not a finite number or a frame that is not a non-negative integer ({cells})",
            )
        )

    coords = values[["X1", "Y1", "X2", "Y2"]].to_numpy(dtype=float)
    videos: dict[str, VideoTracings] = {}
    # Group rows by (video, frame) keeping first appearance order, as the original does.
    keep = np.flatnonzero(good_frame)
    grouped: dict[str, dict[int, list[int]]] = {}
    for i in keep:
        raw = names[i]
        key = bare_name(raw)
        if key == raw and key not in unnamed_avi:
            unnamed_avi.add(key)
            problems.append(
                Problem(
                    "tracing_name_without_avi",
                    key,
                    SOURCE,
                    int(lines[i]),
                    f"FileName {raw!r} lacks '.avi' (VolumeTracings names carry it); matched to FileList anyway",
                )
            )
        if key not in videos:
            videos[key] = VideoTracings(key, int(lines[i]))
            grouped[key] = {}
        grouped[key].setdefault(int(frame[i]), []).append(int(i))
    for key, per_frame in grouped.items():
        videos[key].frames = [
            TracedFrame(frame=f, line=int(lines[rows[0]]), coords=coords[rows]) for f, rows in per_frame.items()
        ]
    # Videos whose every row was bad still need an entry so that they are not "untraced".
    for i in np.flatnonzero(~good_frame):
        key = bare_name(names[i])
        videos.setdefault(key, VideoTracings(key, int(lines[i])))
    return videos, problems


def select_rows(coords: np.ndarray, repeated_tracings: str) -> np.ndarray:
    """The rows of a traced frame that make its mask.

    ``first`` keeps the first 21-row tracing of a frame traced more than once; ``echonet``
    keeps every row, reproducing the original's malformed polygon (docs/echonet.md §1).
    """
    if repeated_tracings == "first":
        return coords[:ROWS_PER_TRACING]
    if repeated_tracings == "echonet":
        return coords
    raise ValueError(f"repeated_tracings must be one of {REPEATED_TRACING_MODES}, not {repeated_tracings!r}")


def polygon(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygon (x, y) of a tracing: X1[1:] then X2[1:] reversed (likewise y); row 0 dropped."""
    x = np.concatenate([coords[1:, 0], coords[1:, 2][::-1]])
    y = np.concatenate([coords[1:, 1], coords[1:, 3][::-1]])
    return x, y


def tracing_mask(coords: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The filled polygon of a tracing as a uint8 mask of ``shape`` (rows, columns).

    Vertices are rounded half-to-even (``np.rint``) and the polygon is filled with
    ``skimage.draw.polygon``, which clips it to the frame.
    """
    x, y = polygon(coords)
    mask = np.zeros(shape, dtype=np.uint8)
    rr, cc = skimage.draw.polygon(np.rint(y), np.rint(x), shape=shape)
    mask[rr, cc] = 1
    return mask


def disk_volume(coords: np.ndarray, cm_per_pixel: float = 1.0) -> float:
    """Volume by the method of disks (monoplane Simpson) from one 21-row tracing.

    Each chord is the diameter of a disk of height L/20, L the long axis (row 0). With
    ``cm_per_pixel`` the result is in mL (cm³); with 1.0 in cubic pixels.
    """
    rows = coords[:ROWS_PER_TRACING]
    long_axis = math.hypot(rows[0, 2] - rows[0, 0], rows[0, 3] - rows[0, 1])
    chords = np.hypot(rows[1:, 2] - rows[1:, 0], rows[1:, 3] - rows[1:, 1])
    height = long_axis / len(chords)
    return float(np.pi / 4.0 * np.sum(chords**2) * height * cm_per_pixel**3)
