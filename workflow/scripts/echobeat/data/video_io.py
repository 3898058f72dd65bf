"""Reading and writing AVI videos with OpenCV, with errors that name the file and frame.

Arrays follow the original's layout: uint8, RGB, shape (channels, frames, height, width).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from echobeat.atomic import atomic_path


class VideoReadError(Exception):
    """A video could not be read; names the file and, where known, the frame that failed."""

    def __init__(self, path: str | os.PathLike[str], message: str, frame: int | None = None):
        self.path = str(path)
        self.frame = frame
        self.reason = message
        where = "" if frame is None else f" at frame {frame}"
        super().__init__(f"{self.path}{where}: {message}")


class VideoTruncatedError(VideoReadError):
    """Fewer frames decode than the file declares."""


@dataclass(frozen=True)
class VideoInfo:
    """What decoding a whole video tells about it."""

    n_frames: int
    fps: float
    height: int
    width: int
    grey: bool  # every frame has three identical channels


def _open(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise VideoReadError(path, "file not found")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "file is empty")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoReadError(path, "cannot be opened as a video")
    return capture


def _decode(capture: cv2.VideoCapture, path: Path) -> Iterator[np.ndarray]:
    """Every frame of an open capture (released at the end), with the checks of ``bgr_frames``."""
    try:
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        count = 0
        shape = None
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if shape is None:
                shape = frame.shape
            elif frame.shape != shape:
                raise VideoReadError(path, f"frame size {frame.shape[:2]} differs from frame 0's {shape[:2]}", count)
            yield frame
            count += 1
    finally:
        capture.release()
    if count == 0:
        raise VideoReadError(path, "no frame could be decoded", 0)
    if declared > count:
        raise VideoTruncatedError(
            path,
            f"frame {count} failed to decode; the file declares {declared} frames (truncated)",
            count,
        )


def bgr_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Yield every frame of a video as a BGR uint8 (H, W, 3) array.

    Raises :class:`VideoTruncatedError` when the file declares more frames than decode,
    :class:`VideoReadError` when none decodes or the frame size changes.
    """
    path = Path(path)
    return _decode(_open(path), path)


def read_video(path: str | os.PathLike[str]) -> np.ndarray:
    """The whole video as uint8 RGB, shape (3, frames, height, width)."""
    frames = [frame[:, :, ::-1] for frame in bgr_frames(path)]
    return np.ascontiguousarray(np.stack(frames).transpose(3, 0, 1, 2))


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Decode every frame (without keeping them) and describe the video."""
    path = Path(path)
    capture = _open(path)
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    n_frames = 0
    grey = True
    height = width = 0
    for frame in _decode(capture, path):
        height, width = frame.shape[:2]
        if grey:
            grey = bool(
                np.array_equal(frame[:, :, 0], frame[:, :, 1]) and np.array_equal(frame[:, :, 1], frame[:, :, 2])
            )
        n_frames += 1
    return VideoInfo(n_frames, fps, height, width, grey)


def write_video(path: str | os.PathLike[str], frames: np.ndarray, fps: float, codec: str = "FFV1") -> None:
    """Write frames as an AVI file, atomically.

    ``frames`` is uint8 (F, H, W) grey (written as three identical channels) or
    (F, H, W, 3) BGR. ``codec`` is a FourCC; FFV1 is lossless, MJPG lossy.
    """
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=3)
    n, height, width, _ = frames.shape
    with atomic_path(path) as tmp:
        # OpenCV picks the container from the name's extension, so the partial file must end in .avi.
        tmp_avi = tmp.with_name(tmp.name + ".avi")
        writer = cv2.VideoWriter(str(tmp_avi), cv2.VideoWriter_fourcc(*codec), float(fps), (width, height))
        if not writer.isOpened():
            raise RuntimeError(f"{path}: OpenCV cannot write AVI with codec {codec!r}")
        try:
            for frame in frames:
                writer.write(np.ascontiguousarray(frame))
        finally:
            writer.release()
        os.replace(tmp_avi, tmp)
