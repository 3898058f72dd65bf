"""Turning a user's echo video into the model's input: uint8 grey frames, size x size (112 x 112), with provenance.

Three methods, chosen with ``preprocess``:

- ``none``: the source is already size x size and is used as is, bit for bit (channel 0; colour frames, whose
  channels differ, go through OpenCV's RGB2GRAY, which leaves identical channels unchanged).
- ``echonet``: the authors' DICOM-to-AVI steps (docs/echonet.md section 9), their geometry computed from frame 0:
  cut the header band above the first row of frame 0 whose mean is below 1, centre-crop to a square, keep
  channel 0, cut 10% of the height from every border, resize bicubically and zero the corners outside the sector.
- ``fit``: a data-driven crop. A first pass over the frames takes the per-pixel maximum of the grey video; pixels
  that are ever brighter than 10 are the candidates; a morphological opening breaks thin links (text strokes, an
  ECG trace) and the largest connected component is the scan sector. Its convex hull is the sector mask; its
  bounding box, squared around its centre (zero-padded where the square leaves the frame), is resized to
  size x size with area interpolation in a second pass, and pixels outside the resized mask are zeroed.

``auto`` (the default) is ``none`` when the source is already size x size, else ``fit``. An EchoNet-like
112 x 112 file must reach the model bit for bit, as the original reads it; any processing would change what the
model was trained on. Large scanner exports vary in layout (header bands, ECG traces, side panels, sector
position and width), and the authors' fixed steps are tuned to their scanner's exports: a dark row in the wrong
place or a sector off centre cuts the heart or leaves overlays in. Finding the sector in the data is safer.

``fps`` resamples by nearest frame in time: output frame k is source frame floor(k * src_fps / fps + 0.5)
(rounding halves up, so the spacing stays regular) while that index is within the source. ``None`` keeps the
source rate, as the original does.

Memory: the output frames, one or two source frames, and for ``fit`` the running maximum; the source is decoded
twice for ``fit`` rather than held.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from echobeat.data.readers import FrameStream, InputError, SourceInfo, open_stream

__all__ = ["PREPROCESS", "ConvertedVideo", "convert"]

PREPROCESS = ("auto", "none", "echonet", "fit")
SECTOR_THRESHOLD = 10  # grey level a pixel must exceed, in some frame, to be part of the scan sector


@dataclass(frozen=True)
class ConvertedVideo:
    """A source converted to the model's input, and what was done to it."""

    frames: np.ndarray  # uint8 (F, size, size) grey
    fps: float  # rate of `frames` (after any resampling)
    source: SourceInfo
    preprocess: str  # the method actually applied: "none", "echonet" or "fit"
    steps: str  # one human-readable line of what was done


def convert(
    path: str | os.PathLike[str], preprocess: str = "auto", fps: float | None = None, size: int = 112
) -> ConvertedVideo:
    """Convert one file; raises :class:`InputError` (one line naming the file) when it cannot be predicted on."""
    if preprocess not in PREPROCESS:
        raise ValueError(f"preprocess must be one of {', '.join(PREPROCESS)}, not {preprocess!r}")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number or None, not {fps!r}")
    if int(size) != size or size < 8:
        raise ValueError(f"size must be an integer of at least 8, not {size!r}")
    size = int(size)
    path = Path(path)

    stream = open_stream(path)
    source = stream.source
    method = preprocess
    if method == "auto":
        method = "none" if (source.height, source.width) == (size, size) else "fit"

    if method == "none":
        if (source.height, source.width) != (size, size):
            stream.close()
            raise InputError(path, f"is {source.height}x{source.width}; preprocess: none needs {size}x{size}")
        transform = _NoneTransform()
    elif method == "echonet":
        transform = _EchonetTransform(path, size)
    else:
        transform = _fit_transform(path, stream, size)
        stream = open_stream(path)  # the first pass consumed the frames: decode again

    src_fps = source.fps
    resample = fps is not None and not math.isclose(fps, src_fps, rel_tol=1e-9)
    out: list[np.ndarray] = []
    with stream:
        k = 0  # next output frame
        for i, frame in enumerate(stream):
            copies = 0
            if resample:
                while _nearest(k, src_fps, fps) == i:
                    copies += 1
                    k += 1
            else:
                copies = 1
            if copies:
                grey = transform(frame)
                out.extend([grey] * copies)
    source = stream.source  # corrected when fewer frames decoded than declared
    if not out:
        raise InputError(path, "no frames after conversion")
    frames = np.stack(out)

    timing = f"{src_fps:g} fps -> {fps:g} fps (nearest frame)" if resample else f"{src_fps:g} fps kept"
    steps = f"{method}: {transform.describe()}; {timing}"
    return ConvertedVideo(frames, float(fps) if resample else float(src_fps), source, method, steps)


def _nearest(k: int, src_fps: float, fps: float) -> int:
    """The source frame nearest in time to output frame k."""
    return int(math.floor(k * src_fps / fps + 0.5))


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class _NoneTransform:
    def __init__(self) -> None:
        self.colour_frames = 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim == 2:
            return frame.copy()
        red = frame[:, :, 0]
        if np.array_equal(red, frame[:, :, 1]) and np.array_equal(red, frame[:, :, 2]):
            return red.copy()
        self.colour_frames += 1
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)

    def describe(self) -> str:
        if self.colour_frames:
            return f"source used as is; {self.colour_frames} colour frames converted to grey (RGB2GRAY)"
        return "source used as is (channel 0)"


def _sector_corners(size: int) -> np.ndarray:
    """The authors' mask: keep (col + row) > size/2 + size/10 and (col - row) < size/2 + size/10, integer parts."""
    limit = int(size / 2) + int(size / 10)
    rows, cols = np.indices((size, size))
    return ((cols + rows) > limit) & ((cols - rows) < limit)


class _EchonetTransform:
    """docs/echonet.md section 9, steps 1-5; the geometry comes from the first frame it sees (frame 0)."""

    def __init__(self, path: Path, size: int):
        self.path = path
        self.size = size
        self.mask = _sector_corners(size)
        self.geometry: tuple[int, int, int, int, int, int] | None = None  # top, r0, r1, c0, c1, margin
        self.no_dark_row = False

    def _plan(self, frame: np.ndarray) -> None:
        # 1. Header band: the first row of frame 0 whose mean (over columns and channels) is below 1 becomes the top.
        means = frame.reshape(frame.shape[0], -1).mean(axis=1)
        dark = np.flatnonzero(means < 1)
        if dark.size:
            top = int(dark[0])
        else:  # the authors' code fails here; keep every row and say so
            top = 0
            self.no_dark_row = True
        height, width = frame.shape[0] - top, frame.shape[1]
        # 2. Centre square: |rows - columns| / 2 (integer part) off each side of the longer dimension.
        bias = abs(height - width) // 2
        r0, r1, c0, c1 = top, frame.shape[0], 0, width
        if height > width:
            r0, r1 = top + bias, frame.shape[0] - bias
        elif width > height:
            c0, c1 = bias, width - bias
        # 3. Cut 10% of the (cropped) height from every border, rows and columns alike.
        margin = int((r1 - r0) / 10)
        if r1 - r0 - 2 * margin < 1 or c1 - c0 - 2 * margin < 1:
            raise InputError(self.path, "echonet: the crop leaves no pixels (the first dark row is near the bottom)")
        self.geometry = (top, r0, r1, c0, c1, margin)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self.geometry is None:
            self._plan(frame)
        _, r0, r1, c0, c1, margin = self.geometry
        channel = frame if frame.ndim == 2 else np.ascontiguousarray(frame[:, :, 0])
        cut = channel[r0 + margin : r1 - margin, c0 + margin : c1 - margin]
        small = cv2.resize(cut, (self.size, self.size), interpolation=cv2.INTER_CUBIC)
        small[~self.mask] = 0
        return small

    def describe(self) -> str:
        top, r0, r1, c0, c1, margin = self.geometry
        limit = int(self.size / 2) + int(self.size / 10)
        header = (
            "no row of frame 0 has mean < 1: no header cut"
            if self.no_dark_row
            else f"header band above row {top} cut (first row of frame 0 with mean < 1)"
        )
        return (
            f"{header} -> centre square rows {r0}-{r1 - 1}, cols {c0}-{c1 - 1} -> channel 0 -> "
            f"{margin} px cut from each border -> {r1 - r0 - 2 * margin}x{c1 - c0 - 2 * margin} -> "
            f"{self.size}x{self.size} (cubic); outside col + row > {limit} and col - row < {limit} zeroed"
        )


class _FitTransform:
    def __init__(self, box: tuple[int, int, int], sector: np.ndarray, size: int, note: str):
        self.top, self.left, self.side = box
        self.size = size
        self.note = note
        square = _square(sector.astype(np.uint8) * 255, self.top, self.left, self.side)
        self.keep = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA) >= 128

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        square = _square(_grey(frame), self.top, self.left, self.side)
        small = cv2.resize(square, (self.size, self.size), interpolation=cv2.INTER_AREA)
        small[~self.keep] = 0
        return small

    def describe(self) -> str:
        return self.note


def _square(image: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """image[top:top+side, left:left+side], zero where the square leaves the image."""
    height, width = image.shape[:2]
    if top >= 0 and left >= 0 and top + side <= height and left + side <= width:
        return image[top : top + side, left : left + side]
    out = np.zeros((side, side), image.dtype)
    r0, r1 = max(top, 0), min(top + side, height)
    c0, c1 = max(left, 0), min(left + side, width)
    if r1 > r0 and c1 > c0:
        out[r0 - top : r1 - top, c0 - left : c1 - left] = image[r0:r1, c0:c1]
    return out


def _fit_transform(path: Path, stream: FrameStream, size: int) -> _FitTransform:
    """First pass: the per-pixel maximum over the grey frames locates the scan sector."""
    peak = None
    colour = False
    with stream:
        for frame in stream:
            colour = colour or frame.ndim == 3
            grey = _grey(frame)
            if peak is None:
                peak = grey.copy()
            else:
                np.maximum(peak, grey, out=peak)
    sector = find_sector(peak)
    if sector is None:
        raise InputError(path, f"fit: no scan sector found (no pixel is ever brighter than {SECTOR_THRESHOLD})")
    rows = np.flatnonzero(sector.any(axis=1))
    cols = np.flatnonzero(sector.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    tall, wide = r1 - r0 + 1, c1 - c0 + 1
    side = max(tall, wide)
    top, left = r0 - (side - tall) // 2, c0 - (side - wide) // 2
    inside = top >= 0 and left >= 0 and top + side <= peak.shape[0] and left + side <= peak.shape[1]
    note = (
        f"{'grey (RGB2GRAY); ' if colour else ''}sector rows {r0}-{r1}, cols {c0}-{c1} -> square {side} px"
        f"{'' if inside else ' (zero-padded)'} -> {size}x{size} (area); outside the sector zeroed"
    )
    return _FitTransform((top, left, side), sector, size, note)


def find_sector(peak: np.ndarray, threshold: int = SECTOR_THRESHOLD) -> np.ndarray | None:
    """The scan sector's mask (convex hull of the largest bright region) in a per-pixel maximum image, or None."""
    bright = (peak > threshold).astype(np.uint8)
    if not bright.any():
        return None
    # An opening scaled to the image breaks text strokes and thin traces off the sector, so that the largest
    # component is the sector alone; the pixels near it that the opening removed (edges, apex) are then restored.
    k = max(3, (min(peak.shape) // 100) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    opened = cv2.morphologyEx(bright, cv2.MORPH_OPEN, kernel)
    core = opened if opened.any() else bright
    labels, n = ndimage.label(core)
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    main = (labels == largest).astype(np.uint8)
    main = cv2.dilate(main, kernel) & bright
    hull = cv2.convexHull(cv2.findNonZero(main))
    sector = np.zeros(peak.shape, np.uint8)
    cv2.fillConvexPoly(sector, hull, 1)
    return sector.astype(bool)
