"""File-name conventions of the EchoNet layout, in one place.

FileList.csv names a video without extension; the video file, VolumeTracings.csv, size.csv and
the prediction files name it with ``.avi``. Joins use the bare name (:func:`video_key`).
"""

from __future__ import annotations

import re
from pathlib import PurePath

import pandas as pd

VIDEO_SUFFIX = ".avi"
# Written by the synthetic generator into the dataset folder; a folder without it is never written over.
SYNTHETIC_MARKER = ".echobeat-synthetic"


def avi_name(name: str) -> str:
    """The file name of video ``name`` (a FileList name): ``name.avi``."""
    return f"{name}{VIDEO_SUFFIX}"


def bare_name(name: str) -> str:
    """A video's name without a trailing ``.avi`` (any case)."""
    return name[: -len(VIDEO_SUFFIX)] if name.lower().endswith(VIDEO_SUFFIX) else name


def video_key(names: pd.Series) -> pd.Series:
    """File names without surrounding blanks or a trailing ``.avi`` (any case): the join key."""
    names = names.astype(str).str.strip()
    return names.str.replace(r"\.avi$", "", case=False, regex=True)


def video_id(relative: PurePath) -> str:
    """A name for a user's video file (its path below the input folder) that is unique within the
    folder and safe as a file name: folders joined by ``__``, other characters than letters,
    digits, ``-`` and ``_`` (dots and spaces included) replaced by ``_``; so it never ends in
    ``.avi`` and two files of one name in different folders stay distinct."""
    parts = [re.sub(r"[^\w-]", "_", part) for part in PurePath(relative).parts]
    return "__".join(parts)
