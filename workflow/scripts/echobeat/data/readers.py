"""Reading a user's own echo videos: any video OpenCV's FFmpeg decodes, and multi-frame ultrasound DICOM.

:func:`open_stream` streams a file's frames one at a time as uint8 RGB (H, W, 3) (or grey (H, W)), so a 4K
export never sits in memory whole; :func:`probe` describes a file from its header where it can. Every file that
cannot be predicted on raises :class:`InputError`, whose message is one line naming the file and the reason,
never a traceback from OpenCV or pydicom.

How a file is recognised: a DICOM preamble (``DICM`` at byte 128) or a ``.dcm``/``.dicom``/``.dic`` name means
DICOM; a known video extension means video; anything else is tried as a video first and, when OpenCV cannot open
it, as a DICOM data set without a preamble (some exports write those, often with no extension).

DICOM pixel data go through pydicom's pixel handlers, so uncompressed, RLE, JPEG baseline/extended, JPEG-LS
and JPEG 2000 transfer syntaxes decode (with pylibjpeg or GDCM installed). Video-compressed DICOM (MPEG-2,
MPEG-4/H.264, HEVC) has no pydicom decoder and is refused with that reason. Colour is always RGB:
YBR_FULL/YBR_FULL_422 are converted by pydicom, PALETTE COLOR through its lookup table, MONOCHROME1 is inverted;
pixels stored with more than 8 bits are scaled to 8 bits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from echobeat.errors import UserError

__all__ = ["InputError", "SourceInfo", "FrameStream", "find_inputs", "probe", "open_stream"]

DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic"})
DEFAULT_FPS = 30.0  # the authors' notebook writes 30 fps when the DICOM has no Cine Rate
_MAX_SANE_COUNT = 10**8  # OpenCV reports huge or negative counts when the container declares none

_PHOTOMETRIC = {
    "MONOCHROME1": "grey",
    "MONOCHROME2": "grey",
    "RGB": "rgb",
    "YBR_FULL": "rgb",
    "YBR_FULL_422": "rgb",
    "YBR_ICT": "rgb",  # JPEG 2000: the decoder applies the inverse colour transform
    "YBR_RCT": "rgb",
    "PALETTE COLOR": "palette",
}


class InputError(UserError):
    """A file that cannot be predicted on; str(err) is one line naming the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")


@dataclass(frozen=True)
class SourceInfo:
    """What a source file holds, and what was noticed or assumed while reading it."""

    kind: str  # "video" or "dicom"
    frames: int  # frames in the source
    fps: float  # source frame rate
    height: int
    width: int
    notes: tuple[str, ...] = ()


def find_inputs(folder: str | os.PathLike[str]) -> list[Path]:
    """Every regular file under folder, recursively, sorted; hidden files/folders (name starts with '.') skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    found = []
    for here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = Path(here) / name
            if path.is_file():
                found.append(path)
    return sorted(found)


class FrameStream(Iterator[np.ndarray]):
    """The frames of one source, one at a time.

    ``source`` is the :class:`SourceInfo`; once the stream is exhausted it is updated with the number of frames
    that actually decoded (a truncated video decodes fewer than its container declares, and a note says so).
    Decoding failures become :class:`InputError` naming the frame.
    """

    def __init__(self, path: Path, source: SourceInfo, frames: Iterator[np.ndarray], rgb: bool):
        self.path = path
        self._source = source
        self._frames = frames
        self._rgb = rgb
        self._shape: tuple[int, ...] | None = None
        self.decoded = 0
        self.finished = False

    @property
    def source(self) -> SourceInfo:
        return self._source

    def __iter__(self) -> FrameStream:
        return self

    def __next__(self) -> np.ndarray:
        if self.finished:
            raise StopIteration
        try:
            frame = next(self._frames)
        except StopIteration:
            self._finish()
            raise
        except InputError:
            self.close()
            raise
        except Exception as exc:  # a decoder's own error, whatever its type
            self.close()
            raise InputError(self.path, f"frame {self.decoded} cannot be decoded ({_brief(exc)})") from exc
        if self._shape is None:
            self._shape = frame.shape
        elif frame.shape != self._shape:
            self.close()
            raise InputError(
                self.path, f"frame {self.decoded} is {_size(frame)}, frame 0 is {self._shape[0]}x{self._shape[1]}"
            )
        self.decoded += 1
        if self._rgb and frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        return frame

    def _finish(self) -> None:
        self.finished = True
        declared = self._source.frames
        if self.decoded == 0:
            raise InputError(self.path, "no frame could be decoded")
        if self.decoded == 1:
            raise InputError(self.path, "only one frame decodes: a still image, not a video")
        if self.decoded < declared:
            note = f"truncated: {self.decoded} of the {declared} declared frames decode"
            self._source = replace(self._source, frames=self.decoded, notes=self._source.notes + (note,))
        elif self.decoded > declared:
            note = f"{self.decoded} frames decode, the file declares {declared}"
            self._source = replace(self._source, frames=self.decoded, notes=self._source.notes + (note,))

    def close(self) -> None:
        """Stop decoding and release the file."""
        self.finished = True
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def probe(path: str | os.PathLike[str]) -> SourceInfo:
    """Describe a source from its header where possible (a video's first frame is decoded to check it decodes)."""
    path = Path(path)
    if _kind(path) == "dicom":
        return _dicom_header(path)[0]
    capture = _open_video(path)
    if capture is None:
        return _dicom_fallback(path)[0]
    return _video_info(path, capture)


def open_stream(path: str | os.PathLike[str], rgb: bool = False) -> FrameStream:
    """The source's frames, one at a time, as uint8 RGB (H, W, 3); grey sources as (H, W) unless ``rgb``
    repeats them to three channels (grey saves work when converting).

    The stream's ``source`` describes the file; it is updated at the end when fewer frames decode than declared.
    """
    path = Path(path)
    if _kind(path) == "dicom":
        return _dicom_stream(path, *_dicom_header(path), rgb=rgb)
    capture = _open_video(path)
    if capture is None:
        return _dicom_stream(path, *_dicom_fallback(path), rgb=rgb)
    info = _video_info(path, capture)
    capture = _open_video(path)
    if capture is None:  # it opened a moment ago
        raise InputError(path, "cannot be opened a second time")
    return FrameStream(path, info, _video_frames(capture), rgb=rgb)


# --- recognising a file ---------------------------------------------------------------------------------------


def _kind(path: Path) -> str:
    """'dicom', 'video' (a known video name) or 'unknown' (try video, then DICOM); refuses missing/empty files."""
    if not path.exists():
        raise InputError(path, "file not found")
    if not path.is_file():
        raise InputError(path, "not a regular file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({_brief(exc)})") from exc
    if size == 0:
        raise InputError(path, "empty file (0 bytes)")
    if head[128:132] == b"DICM" or path.suffix.lower() in DICOM_SUFFIXES:
        return "dicom"
    if path.suffix.lower() in _VIDEO_SUFFIXES:
        return "video"
    return "unknown"


_VIDEO_SUFFIXES = frozenset(
    {".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".wmv", ".mpg", ".mpeg", ".ogv", ".flv", ".3gp", ".mts", ".ts"}
)


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[0]}x{frame.shape[1]}"


# --- video through OpenCV -------------------------------------------------------------------------------------


def _open_video(path: Path) -> cv2.VideoCapture | None:
    """An open capture; None when OpenCV cannot open a file whose name is not a known video's (maybe DICOM)."""
    # An absolute name keeps FFmpeg from reading "name:..." as a protocol; FFmpeg explicitly keeps OpenCV's image
    # sequence reader from treating a "%" in a name as a pattern.
    api = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
    capture = None
    try:
        capture = cv2.VideoCapture(str(path.absolute()), api)
        opened = capture.isOpened()
    except cv2.error:
        opened = False
    if opened:
        return capture
    if capture is not None:
        capture.release()
    if path.suffix.lower() in _VIDEO_SUFFIXES:
        raise InputError(path, "not a video OpenCV can read (FFmpeg cannot open it)")
    return None


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    if frame.shape[2] == 1:
        return frame[:, :, 0]
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _video_info(path: Path, capture: cv2.VideoCapture) -> SourceInfo:
    """Header facts, checked by decoding frame 0 (and counting frames when the container declares none)."""
    notes = []
    try:
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = capture.get(cv2.CAP_PROP_FPS)
        ok, frame = capture.read()
        if not ok or frame is None:
            raise InputError(path, "no frame could be decoded")
        if not (math.isfinite(count) and 0 < count < _MAX_SANE_COUNT):
            count = 1
            while capture.grab():
                count += 1
            notes.append("the container declares no frame count: frames counted by decoding")
    except cv2.error as exc:
        raise InputError(path, f"not a video OpenCV can read ({_brief(exc)})") from exc
    finally:
        capture.release()
    if not (math.isfinite(fps) and 0 < fps <= 1000):
        notes.append(f"no frame rate in the container: {DEFAULT_FPS:g} fps assumed")
        fps = DEFAULT_FPS
    count = int(round(count))
    if count == 1:
        raise InputError(path, "a single frame: a still image, not a video")
    return SourceInfo("video", count, float(fps), int(frame.shape[0]), int(frame.shape[1]), tuple(notes))


def _video_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
            yield _to_rgb(frame)
    finally:
        capture.release()


# --- DICOM through pydicom ------------------------------------------------------------------------------------


def _read_dataset(path: Path):
    import pydicom

    # Large values (the pixel data) stay on disk until asked for. Warnings are left alone: catching them is not
    # thread-safe, and files are converted in threads.
    return pydicom.dcmread(path, force=True, defer_size="64 KB")


def _has_pixel_data_tag(path: Path) -> bool:
    """Whether the bytes of a (7FE0,0010) Pixel Data tag occur in the file (little endian)."""
    marker = b"\xe0\x7f\x10\x00"
    tail = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            if marker in tail + chunk:
                return True
            tail = chunk[-3:]
    return False


def _dicom_fallback(path: Path):
    """A file OpenCV cannot open: a DICOM data set without preamble, or neither."""
    try:
        ds = _read_dataset(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, "neither a video OpenCV can read nor a DICOM file") from exc
    looks_dicom = any(tag in ds for tag in (0x00080016, 0x00080060, 0x00280010, 0x7FE00010))
    if not looks_dicom:
        raise InputError(path, "neither a video OpenCV can read nor a DICOM file")
    return _dicom_header(path, ds)


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _dicom_fps(ds) -> tuple[float, str | None]:
    """Cine Rate, else Frame Time (ms), else the mean Frame Time Vector, else Recommended Display Frame Rate."""
    from pydicom.multival import MultiValue

    rate = _number(ds.get("CineRate"))
    if rate:
        return rate, None
    frame_time = _number(ds.get("FrameTime"))
    if frame_time:
        return 1000.0 / frame_time, f"frame rate from Frame Time (0018,1063): {frame_time:g} ms"
    vector = ds.get("FrameTimeVector")
    if vector is not None:
        values = list(vector) if isinstance(vector, MultiValue | list | tuple) else [vector]
        # The first increment is 0 by convention (no frame before frame 1): average the positive ones.
        steps = [v for v in (_number(x) for x in values) if v]
        if steps:
            mean = sum(steps) / len(steps)
            return 1000.0 / mean, f"frame rate from Frame Time Vector (0018,1065): mean {mean:g} ms"
    rate = _number(ds.get("RecommendedDisplayFrameRate"))
    if rate:
        return rate, "frame rate from Recommended Display Frame Rate (0008,2144)"
    return DEFAULT_FPS, f"no frame rate in the DICOM: {DEFAULT_FPS:g} fps assumed"


def _dicom_header(path: Path, ds=None):
    """(SourceInfo, frame function, iter_pixels keyword arguments) after every check that needs no decoding."""
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if ds is None:
        try:
            ds = _read_dataset(path)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(path, f"not a readable DICOM file ({_brief(exc)})") from exc
    try:
        modality = str(ds.get("Modality", "") or "").strip()
        if modality and modality.upper() != "US":
            raise InputError(path, f"modality {modality}, not ultrasound")
        if "PixelData" not in ds:
            if 0x7FE00008 in ds or 0x7FE00009 in ds:
                raise InputError(path, "float pixel data, not an image")
            if _has_pixel_data_tag(path):  # pydicom drops a data set whose encapsulated pixel data end early
                raise InputError(path, "the pixel data cannot be read (the file ends early or is damaged)")
            raise InputError(path, "no pixel data")
        frames_value = ds.get("NumberOfFrames")
        frames = int(frames_value) if frames_value not in (None, "") else 1
        if frames < 1:
            raise InputError(path, f"Number of Frames is {frames}: no frames")
        if frames == 1:
            raise InputError(path, "a single frame: a still image, not a video")
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        if rows < 1 or cols < 1:
            raise InputError(path, f"image size {rows}x{cols} in the header")
        kwargs = {}
        tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        if not tsyntax:
            implicit, little = ds.original_encoding
            tsyntax = (
                ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
            )
            kwargs["transfer_syntax_uid"] = tsyntax
        tsyntax = UID(tsyntax)
        try:
            decoder = get_decoder(tsyntax)
        except NotImplementedError as exc:
            name = tsyntax.name if tsyntax.is_transfer_syntax else str(tsyntax)
            raise InputError(path, f"transfer syntax {name} cannot be decoded by pydicom") from exc
        if not decoder.is_available:
            raise InputError(
                path, f"transfer syntax {tsyntax.name} needs a decoder plugin (install pylibjpeg or python-gdcm)"
            )
        photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
        if photometric not in _PHOTOMETRIC:
            raise InputError(path, f"photometric interpretation {photometric or '(missing)'} is not supported")
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        expected = 3 if _PHOTOMETRIC[photometric] == "rgb" else 1
        if samples != expected:
            raise InputError(path, f"{samples} samples per pixel with photometric {photometric}")
        bits = int(ds.get("BitsStored", 0) or ds.get("BitsAllocated", 0) or 8)
    except InputError:
        raise
    except Exception as exc:  # malformed header values
        raise InputError(path, f"malformed DICOM header ({_brief(exc)})") from exc

    fps, fps_note = _dicom_fps(ds)
    notes = []
    if "transfer_syntax_uid" in kwargs:
        notes.append(f"no DICOM file meta information: {tsyntax.name} assumed")
    if tsyntax.is_compressed:
        notes.append(f"{tsyntax.name} decoded")
    if photometric in ("YBR_FULL", "YBR_FULL_422"):
        notes.append(f"photometric {photometric} converted to RGB")
    elif photometric == "MONOCHROME1":
        notes.append("photometric MONOCHROME1 inverted")
    elif photometric == "PALETTE COLOR":
        notes.append("palette colour mapped to RGB")
    if bits > 8:
        notes.append(f"{bits}-bit pixels scaled to 8 bits")
    if fps_note:
        notes.append(fps_note)
    info = SourceInfo("dicom", frames, float(fps), rows, cols, tuple(notes))
    return info, _frame_function(ds, photometric, bits), kwargs


def _frame_function(ds, photometric: str, bits: int) -> Callable[[np.ndarray], np.ndarray]:
    """Map one decoded frame to uint8 grey (H, W) or RGB (H, W, 3)."""
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    bits = max(1, min(bits, 32))
    palette = None
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        lut_ds = ds

        def palette(arr: np.ndarray) -> np.ndarray:
            return apply_color_lut(arr, lut_ds)

    def to_uint8(arr: np.ndarray, depth: int) -> np.ndarray:
        if arr.dtype == np.uint8 and depth <= 8:
            return arr
        arr = arr.astype(np.float64)
        if signed and palette is None:
            arr += 2.0 ** (depth - 1)
        arr *= 255.0 / (2.0**depth - 1)
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)

    def frame_function(arr: np.ndarray) -> np.ndarray:
        if palette is not None:
            rgb = palette(arr)
            return to_uint8(rgb, 16 if rgb.dtype.itemsize > 1 else 8)
        out = to_uint8(arr, bits)
        if photometric == "MONOCHROME1":
            out = 255 - out
        return np.ascontiguousarray(out)

    return frame_function


def _dicom_stream(path: Path, info: SourceInfo, frame_function, kwargs, rgb: bool) -> FrameStream:
    from pydicom.pixels import iter_pixels

    def frames() -> Iterator[np.ndarray]:
        # From the file, so only one frame's pixel data is read at a time.
        arrays = iter_pixels(path, **kwargs)
        try:
            for arr in arrays:
                yield frame_function(arr)
        finally:
            arrays.close()

    return FrameStream(path, info, frames(), rgb=rgb)
