"""What dataset verification can find, and how each finding is classed.

A finding is a :class:`Problem`. Its severity decides what happens to the video. The rule:
never stricter than the original on what it tolerates; only what would make results wrong or
crash is an error.

- ``error``: the data would crash the pipeline or make its results wrong (a missing,
  unreadable or truncated video, a broken FileList or VolumeTracings row, a tracing that
  cannot make a mask). ``data.on_error: stop`` stops the workflow listing every error;
  ``exclude`` drops the video and goes on.
- ``exclude``: the video is intact but unusable for this pipeline (fewer than two traced
  frames, as the original drops too; frames of another size than the models take). It is
  always excluded, never stops the workflow.
- ``warning``: something the original ignores, or a known quirk of the real dataset
  (FileList NumberOfFrames, FPS or size differing from the decodable video, whose own values
  are then used; EF inconsistent with EDV and ESV, the FileList EF being used as the original
  does; repeated tracings, coordinates slightly outside the frame, tracings of unknown files).
  Reported; the video is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from echobeat.errors import UserError


class Severity(StrEnum):
    ERROR = "error"
    EXCLUDE = "exclude"
    WARNING = "warning"


# kind -> (severity, title shown in the report). Kinds are stable identifiers for tests and users.
KINDS: dict[str, tuple[Severity, str]] = {
    "filelist_bad_filename": (Severity.ERROR, "FileName with a path, '..', an extension or blank"),
    "filelist_duplicate": (Severity.ERROR, "Duplicate FileName in FileList.csv"),
    "filelist_bad_split": (Severity.ERROR, "Unknown Split"),
    "filelist_bad_number": (Severity.ERROR, "Non-numeric, NaN or impossible value in FileList.csv"),
    "video_missing": (Severity.ERROR, "Video file missing"),
    "video_unreadable": (Severity.ERROR, "Video unreadable"),
    "video_truncated": (Severity.ERROR, "Video truncated (fewer frames decode than it declares)"),
    "tracing_bad_value": (Severity.ERROR, "Non-numeric or NaN value in VolumeTracings.csv"),
    "tracing_malformed": (Severity.ERROR, "Traced frame without whole 21-row tracings"),
    "tracing_frame_outside": (Severity.ERROR, "Traced frame index outside the video"),
    "too_few_traced_frames": (
        Severity.EXCLUDE,
        "Fewer than 2 traced frames (excluded, as the original does)",
    ),
    "frame_size": (Severity.EXCLUDE, "Frame size other than the models take"),
    "video_mismatch": (
        Severity.WARNING,
        "FileList NumberOfFrames, FPS or size differs from the video file (the file's values are used)",
    ),
    "filelist_ef_inconsistent": (
        Severity.WARNING,
        "EF inconsistent with EDV and ESV (the FileList EF is used, as in the original)",
    ),
    "repeated_tracing": (Severity.WARNING, "Repeated tracing of a frame (42, 63 or 84 rows)"),
    "extra_traced_frames": (Severity.WARNING, "More than 2 traced frames"),
    "tracing_outside_frame": (Severity.WARNING, "Tracing coordinates outside the frame (clipped)"),
    "tracing_es_larger": (Severity.WARNING, "ES tracing larger than the ED tracing"),
    "tracing_name_without_avi": (Severity.WARNING, "VolumeTracings FileName without .avi"),
    "tracing_orphan": (Severity.WARNING, "Tracings of a file not in FileList.csv (ignored)"),
    "video_orphan": (Severity.WARNING, "Video in Videos/ without a FileList.csv row (ignored)"),
    "filelist_extra_column": (Severity.WARNING, "Unexpected extra column (ignored)"),
}


@dataclass(frozen=True)
class Problem:
    """One finding: which video, where it was found (file and 1-based line), and what is wrong."""

    kind: str
    file_name: str
    source: str
    line: int | None
    message: str

    @property
    def severity(self) -> Severity:
        return KINDS[self.kind][0]

    def location(self) -> str:
        """``source`` and line, e.g. ``FileList.csv line 12``."""
        return self.source if self.line is None else f"{self.source} line {self.line}"

    def describe(self) -> str:
        """One line naming the video, the file and row, and the problem."""
        who = self.file_name or "(dataset)"
        return f"{who} ({self.location()}): {self.message}"


class DatasetError(UserError):
    """The dataset cannot be used as it is; the message lists every problem found."""


class DatasetFormatError(DatasetError):
    """A CSV file is missing, unparsable or has the wrong header: nothing can be checked."""
