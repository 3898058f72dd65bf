"""Dataset verification: every FileList row, tracing and video checked; the manifest.

The result says, for every video, whether it is usable, and why not. Downstream rules read
the manifest (and the tracings it keeps), never FileList.csv directly. See
:mod:`echobeat.data.problems` for how findings are classed and what ``data.on_error`` does.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from echobeat.data.filelist import SPLITS, FileListRow, filename_problem, read_filelist
from echobeat.data.names import avi_name
from echobeat.data.problems import KINDS, DatasetError, Problem, Severity
from echobeat.data.tracings import (
    REPEATED_TRACING_MODES,
    ROWS_PER_TRACING,
    VideoTracings,
    read_tracings,
    select_rows,
    tracing_mask,
)
from echobeat.data.video_io import VideoInfo, VideoReadError, VideoTruncatedError, probe_video

log = logging.getLogger(__name__)

ON_ERROR_MODES = ("stop", "exclude")
MANIFEST_COLUMNS = [
    "FileName",
    "Split",
    "EF",
    "ESV",
    "EDV",
    "FPS",
    "NumberOfFrames",
    "FrameHeight",
    "FrameWidth",
    "EDFrame",
    "ESFrame",
]
EXCLUDED_COLUMNS = ["FileName", "Split", "reason"]
TRACING_TABLE_COLUMNS = ["FileName", "Phase", "Frame", "X1", "Y1", "X2", "Y2"]


@dataclass(frozen=True)
class VerifySettings:
    """The config's ``data`` section as verification uses it."""

    on_error: str = "stop"
    repeated_tracings: str = "first"
    ef_tolerance: float = 1.0
    fps_tolerance: float = 1.0
    frame_size: int = 112

    def __post_init__(self):
        if self.on_error not in ON_ERROR_MODES:
            raise ValueError(f"data.on_error must be one of {ON_ERROR_MODES}, not {self.on_error!r}")
        if self.repeated_tracings not in REPEATED_TRACING_MODES:
            raise ValueError(
                f"data.repeated_tracings must be one of {REPEATED_TRACING_MODES}, not {self.repeated_tracings!r}"
            )


@dataclass
class Verification:
    """Everything verification found and decided."""

    data_dir: str
    settings: VerifySettings
    rows: list[FileListRow]
    problems: list[Problem]
    manifest: pd.DataFrame
    excluded: pd.DataFrame
    tracings: pd.DataFrame

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def report(self) -> str:
        """The verification report as Markdown."""
        return _report(self)


class DatasetCheckFailed(DatasetError):
    """Verification found errors and ``on_error`` is ``stop``; carries the full result."""

    def __init__(self, verification: Verification):
        self.verification = verification
        errors = verification.errors
        videos = {p.file_name for p in errors}
        lines = [
            f"Dataset check of {verification.data_dir} failed: {len(errors)} problem(s) in {len(videos)} video(s) "
            "(data.on_error: stop).",
            "Fix them, or set data.on_error: exclude to leave these videos out and go on.",
        ]
        lines += [f"  - [{p.kind}] {p.describe()}" for p in errors]
        super().__init__("\n".join(lines))


def _probe(path: Path) -> VideoInfo | VideoReadError:
    try:
        return probe_video(path)
    except VideoReadError as err:
        return err


def _probe_all(videos_dir: Path, names: list[str], threads: int) -> dict[str, VideoInfo | VideoReadError]:
    paths = [videos_dir / avi_name(name) for name in names]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return dict(zip(names, pool.map(_probe, paths), strict=True))


def _declares_fps(info: VideoInfo) -> bool:
    """Whether the file declares a usable frame rate (OpenCV gives 0 when it declares none)."""
    return math.isfinite(info.fps) and info.fps > 0


def _video_fps(row: FileListRow, info: VideoInfo) -> float | None:
    """The frame rate the manifest carries: the file's own, or FileList's where the file declares none."""
    return info.fps if _declares_fps(info) else row.fps


def _video_problems(row: FileListRow, info: VideoInfo | VideoReadError, settings: VerifySettings) -> list[Problem]:
    source = f"Videos/{avi_name(row.file_name)}"
    if isinstance(info, VideoReadError):
        if info.reason == "file not found":
            return [
                Problem(
                    "video_missing",
                    row.file_name,
                    source,
                    None,
                    f"no such file (FileList.csv line {row.line})",
                )
            ]
        kind = "video_truncated" if isinstance(info, VideoTruncatedError) else "video_unreadable"
        where = "" if info.frame is None else f"frame {info.frame}: "
        return [Problem(kind, row.file_name, source, None, where + info.reason)]
    # The original reads only FileName, EF and Split from FileList.csv and takes everything else
    # from the video itself: a FileList value that disagrees with a decodable file is a warning,
    # and the manifest carries the file's own values.
    found = []
    mismatch = []
    if row.n_frames is not None and row.n_frames != info.n_frames:
        mismatch.append(
            f"NumberOfFrames {row.n_frames} but the video has {info.n_frames} frames; {info.n_frames} is used"
        )
    if row.fps is not None:
        if not _declares_fps(info):
            mismatch.append(f"the video declares no frame rate ({info.fps:g}); the FileList FPS {row.fps:g} is used")
        elif abs(row.fps - info.fps) > settings.fps_tolerance:
            mismatch.append(
                f"FPS {row.fps:g} but the video says {info.fps:g}; {info.fps:g} is used "
                f"(tolerance {settings.fps_tolerance:g})"
            )
    takes_size = (info.height, info.width) == (settings.frame_size, settings.frame_size)
    if (row.height, row.width) != (info.height, info.width) and None not in (row.height, row.width):
        mismatch.append(
            f"FrameHeight x FrameWidth {row.height}x{row.width} but the video is {info.height}x{info.width}"
            + (f"; {info.height}x{info.width} is used" if takes_size else "")
        )
    for message in mismatch:
        found.append(Problem("video_mismatch", row.file_name, "FileList.csv", row.line, message))
    if not takes_size:
        found.append(
            Problem(
                "frame_size",
                row.file_name,
                source,
                None,
                f"frames are {info.height}x{info.width}; the models take {settings.frame_size}x{settings.frame_size}",
            )
        )
    return found


def _tracing_problems(
    row: FileListRow,
    traced: VideoTracings | None,
    n_frames: int | None,
    size: tuple[int, int],
    settings: VerifySettings,
) -> list[Problem]:
    name = row.file_name
    frames = [] if traced is None else traced.frames
    if len(frames) < 2:
        where = ("VolumeTracings.csv", traced.line) if traced else ("FileList.csv", row.line)
        return [
            Problem(
                "too_few_traced_frames",
                name,
                *where,
                f"{len(frames)} traced frame(s); 2 are needed (ED and ES)",
            )
        ]
    found = []

    def add(kind: str, line: int, message: str) -> None:
        found.append(Problem(kind, name, "VolumeTracings.csv", line, message))

    if len(frames) > 2:
        add(
            "extra_traced_frames",
            frames[0].line,
            f"{len(frames)} traced frames {[f.frame for f in frames]}; the first listed ({frames[0].frame}) is ES "
            f"and the last ({frames[-1].frame}) ED, as in the original",
        )
    height, width = size
    for traced_frame in frames:
        n_rows = len(traced_frame.coords)
        if n_rows % ROWS_PER_TRACING:
            add(
                "tracing_malformed",
                traced_frame.line,
                f"frame {traced_frame.frame} has {n_rows} rows; a tracing is {ROWS_PER_TRACING} rows "
                "(the long axis and 20 chords)",
            )
        elif n_rows > ROWS_PER_TRACING:
            use = (
                "its first 21 rows are used"
                if settings.repeated_tracings == "first"
                else "all rows are used, like the original"
            )
            add(
                "repeated_tracing",
                traced_frame.line,
                f"frame {traced_frame.frame} is traced {n_rows // ROWS_PER_TRACING} times ({n_rows} rows); "
                f"{use} (data.repeated_tracings: {settings.repeated_tracings})",
            )
        if n_frames is not None and traced_frame.frame >= n_frames:
            add(
                "tracing_frame_outside",
                traced_frame.line,
                f"traced frame {traced_frame.frame} but the video has {n_frames} frames",
            )
        xs, ys = traced_frame.coords[:, [0, 2]], traced_frame.coords[:, [1, 3]]
        if xs.min() < 0 or ys.min() < 0 or xs.max() >= width or ys.max() >= height:
            add(
                "tracing_outside_frame",
                traced_frame.line,
                f"frame {traced_frame.frame}: x in [{xs.min():.2f}, {xs.max():.2f}], "
                f"y in [{ys.min():.2f}, {ys.max():.2f}] "
                f"reaches outside the {height}x{width} frame; the mask is clipped",
            )
    if not any(p.severity is Severity.ERROR for p in found):
        es = tracing_mask(select_rows(traced.es.coords, settings.repeated_tracings), size).sum()
        ed = tracing_mask(select_rows(traced.ed.coords, settings.repeated_tracings), size).sum()
        if es > ed:
            add(
                "tracing_es_larger",
                traced.es.line,
                f"the ES tracing (frame {traced.es.frame}, {es} px) is larger than the ED tracing "
                f"(frame {traced.ed.frame}, {ed} px); the original trusts the file's order and so do we",
            )
    return found


def verify_dataset(data_dir: str | os.PathLike[str], settings: VerifySettings, threads: int = 1) -> Verification:
    """Check the dataset in ``data_dir``; return the verification.

    Raises :class:`~echobeat.data.problems.DatasetFormatError` when a CSV file cannot be read at
    all, and :class:`DatasetCheckFailed` when errors are found and ``on_error`` is ``stop``.
    """
    data_dir = Path(data_dir)
    rows, problems = read_filelist(data_dir / "FileList.csv", settings.ef_tolerance)
    traced_videos, tracing_problems = read_tracings(data_dir / "VolumeTracings.csv")
    problems += tracing_problems

    valid_names = list(dict.fromkeys(r.file_name for r in rows if filename_problem(r.file_name) is None))
    videos_dir = data_dir / "Videos"
    log.info("decoding %d videos in %s with %d threads", len(valid_names), videos_dir, threads)
    infos = _probe_all(videos_dir, valid_names, threads)

    listed = {r.file_name for r in rows}
    for row in rows:
        if row.file_name not in infos:
            continue
        info = infos[row.file_name]
        problems += _video_problems(row, info, settings)
        decoded = isinstance(info, VideoInfo)
        n_frames = info.n_frames if decoded else row.n_frames
        size = (
            (info.height, info.width)
            if decoded
            else (row.height or settings.frame_size, row.width or settings.frame_size)
        )
        problems += _tracing_problems(row, traced_videos.get(row.file_name), n_frames, size, settings)

    orphans = sorted(set(traced_videos) - listed)
    problems += [
        Problem(
            "tracing_orphan",
            name,
            "VolumeTracings.csv",
            traced_videos[name].line,
            "no FileList.csv row has this FileName",
        )
        for name in orphans
    ]
    if videos_dir.is_dir():
        problems += [
            Problem(
                "video_orphan",
                p.stem,
                f"Videos/{p.name}",
                None,
                "no FileList.csv row has this FileName",
            )
            for p in sorted(videos_dir.glob("*.avi"))
            if p.stem not in listed
        ]

    verification = _decide(data_dir, settings, rows, problems, traced_videos, infos)
    if settings.on_error == "stop" and verification.errors:
        raise DatasetCheckFailed(verification)
    return verification


def _decide(
    data_dir: Path,
    settings: VerifySettings,
    rows: list[FileListRow],
    problems: list[Problem],
    traced_videos: dict[str, VideoTracings],
    infos: dict[str, VideoInfo | VideoReadError],
) -> Verification:
    """Which videos are usable; the manifest, exclusions and tracing table."""
    blocking: dict[str, list[Problem]] = {}
    for p in problems:
        if p.severity is not Severity.WARNING and p.file_name:
            blocking.setdefault(p.file_name, []).append(p)
    manifest, excluded, tracing_rows = [], [], []
    excluded_names: set[str] = set()
    for row in rows:
        reasons = blocking.get(row.file_name)
        if reasons:
            if row.file_name not in excluded_names:
                excluded_names.add(row.file_name)
                excluded.append(
                    {
                        "FileName": row.file_name,
                        "Split": row.split,
                        "reason": "; ".join(f"{p.message} [{p.kind}]" for p in reasons),
                    }
                )
            continue
        info = infos[row.file_name]
        traced = traced_videos[row.file_name]
        manifest.append(
            {
                "FileName": row.file_name,
                "Split": row.split,
                "EF": row.ef,
                "ESV": row.esv,
                "EDV": row.edv,
                "FPS": _video_fps(row, info),
                "NumberOfFrames": info.n_frames,
                "FrameHeight": info.height,
                "FrameWidth": info.width,
                "EDFrame": traced.ed.frame,
                "ESFrame": traced.es.frame,
            }
        )
        for phase, traced_frame in (("ES", traced.es), ("ED", traced.ed)):
            for x1, y1, x2, y2 in select_rows(traced_frame.coords, settings.repeated_tracings):
                tracing_rows.append(
                    {
                        "FileName": row.file_name,
                        "Phase": phase,
                        "Frame": traced_frame.frame,
                        "X1": x1,
                        "Y1": y1,
                        "X2": x2,
                        "Y2": y2,
                    }
                )
    return Verification(
        data_dir=str(data_dir),
        settings=settings,
        rows=rows,
        problems=problems,
        manifest=pd.DataFrame(manifest, columns=MANIFEST_COLUMNS),
        excluded=pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS),
        tracings=pd.DataFrame(tracing_rows, columns=TRACING_TABLE_COLUMNS),
    )


def _report(v: Verification) -> str:
    listed = Counter(r.split for r in v.rows)
    usable = Counter(v.manifest["Split"])
    excluded = Counter(v.excluded["Split"])
    out = [
        "# Dataset verification",
        "",
        f"- Data folder: `{v.data_dir}`",
        f"- Policy: `data.on_error: {v.settings.on_error}`, `data.repeated_tracings: {v.settings.repeated_tracings}`, "
        f"EF tolerance {v.settings.ef_tolerance:g}, FPS tolerance {v.settings.fps_tolerance:g}",
        f"- FileList.csv rows: {len(v.rows)}; usable videos: {len(v.manifest)}; excluded: {len(v.excluded)}",
        "",
        "## Videos per split",
        "",
        "| Split | listed | usable | excluded |",
        "|---|---:|---:|---:|",
    ]
    other = sorted(set(listed) - set(SPLITS))
    for split in [*SPLITS, *other]:
        out.append(f"| {split or '(blank)'} | {listed[split]} | {usable[split]} | {excluded[split]} |")
    out.append(f"| all | {len(v.rows)} | {len(v.manifest)} | {len(v.excluded)} |")
    out += ["", "## Problems", ""]
    if not v.problems:
        out.append("None: every row, tracing and video checked out.")
        return "\n".join(out) + "\n"
    by_kind: dict[str, list[Problem]] = {}
    for p in v.problems:
        by_kind.setdefault(p.kind, []).append(p)
    out += ["| problem | severity | count |", "|---|---|---:|"]
    ordered = sorted(by_kind, key=lambda k: (list(Severity).index(KINDS[k][0]), k))
    for kind in ordered:
        out.append(f"| {KINDS[kind][1]} (`{kind}`) | {KINDS[kind][0].value} | {len(by_kind[kind])} |")
    for kind in ordered:
        out += ["", f"### {KINDS[kind][1]} (`{kind}`, {KINDS[kind][0].value})", ""]
        out += [f"- {p.describe()}" for p in by_kind[kind]]
    return "\n".join(out) + "\n"
