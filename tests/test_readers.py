"""Reading a user's own echo videos (AVI/MP4/DICOM) and converting them to the model's 112x112 grey frames."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    MPEG4HP41,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from echobeat.data.preprocess import PREPROCESS, convert
from echobeat.data.readers import InputError, SourceInfo, find_inputs, open_stream, probe
from echobeat.data.video_io import write_video
from echobeat.errors import UserError

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
RNG = np.random.default_rng(2024)


# --- writers ----------------------------------------------------------------------------------------------------


def write_mp4(path: Path, frames_bgr: np.ndarray, fps: float) -> Path:
    height, width = frames_bgr.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames_bgr:
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    return path


def write_dicom(
    path: Path,
    frames: np.ndarray,
    photometric: str = "MONOCHROME2",
    *,
    transfer_syntax=ExplicitVRLittleEndian,
    pixel_data: bytes | None = None,
    modality: str | None = "US",
    timing: dict | None = None,
    n_frames: int | None = -1,
    bits: int = 8,
    preamble: bool = True,
) -> Path:
    """A multi-frame ultrasound DICOM; frames (F, H, W) or (F, H, W, 3); timing defaults to Cine Rate 25."""
    f, h, w = frames.shape[:3]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = US_MULTIFRAME
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = US_MULTIFRAME
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    if modality is not None:
        ds.Modality = modality
    if n_frames == -1:
        ds.NumberOfFrames = f
    elif n_frames is not None:
        ds.NumberOfFrames = n_frames
    ds.Rows, ds.Columns = h, w
    ds.SamplesPerPixel = 3 if frames.ndim == 4 else 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if frames.ndim == 4:
        ds.PlanarConfiguration = 0
    for key, value in ({"CineRate": 25} if timing is None else timing).items():
        setattr(ds, key, value)
    if pixel_data is not None:
        ds.PixelData = pixel_data
    if transfer_syntax.is_encapsulated:
        ds["PixelData"].VR = "OB"
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(path, implicit_vr=True, little_endian=True)
    return path


def grey_frames(n: int, h: int, w: int) -> np.ndarray:
    return RNG.integers(0, 256, (n, h, w), dtype=np.uint8)


def fan_video(n: int, size: tuple[int, int] = (400, 400), text: bool = True, ecg: bool = True) -> np.ndarray:
    """BGR frames: black, a pulsing fan-shaped sector, a white text band on top and a green ECG trace below."""
    height, width = size
    scale = height / 400
    apex = (width // 2, round(90 * scale))
    radius = round(260 * scale)
    frames = np.zeros((n, height, width, 3), np.uint8)
    for t in range(n):
        level = int(130 + 60 * np.sin(2 * np.pi * t / 15))
        cv2.ellipse(frames[t], apex, (radius, radius), 0, 45, 135, (level, level, level), -1)
        cv2.circle(frames[t], (apex[0], apex[1] + radius // 2), radius // 6, (30, 30, 30), -1)
        if text:
            cv2.putText(
                frames[t], "ECHO 17:42 HR 72", (10, round(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255,) * 3, 2
            )
        if ecg:
            xs = np.arange(0, width, 4)
            ys = (round(385 * scale) + 8 * scale * np.sin(xs / 9 + t)).astype(np.int32)
            cv2.polylines(frames[t], [np.stack([xs, ys], 1).astype(np.int32)], False, (0, 200, 0), 2)
    return frames


def fan_geometry(size: tuple[int, int] = (400, 400)) -> tuple[int, int, int, int]:
    """Rows and columns (first, last) of fan_video's sector."""
    height, width = size
    scale = height / 400
    apex_r, radius = round(90 * scale), round(260 * scale)
    half = radius * np.cos(np.pi / 4)
    return apex_r, apex_r + radius, round(width // 2 - half), round(width // 2 + half)


def sector_box(steps: str) -> tuple[int, int, int, int]:
    match = re.search(r"sector rows (\d+)-(\d+), cols (\d+)-(\d+)", steps)
    assert match, steps
    return tuple(int(x) for x in match.groups())


def one_line_error(err: pytest.ExceptionInfo, path: Path, reason: str) -> None:
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert reason in message, message
    assert isinstance(err.value, UserError)


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    made = {}
    made["echonet_frames"] = grey_frames(20, 112, 112)
    made["echonet_avi"] = folder / "0X1A2B.avi"
    write_video(made["echonet_avi"], made["echonet_frames"], 50.0)
    made["fan_mp4"] = write_mp4(folder / "fan.mp4", fan_video(30), 30.0)
    made["fan_plain_mp4"] = write_mp4(folder / "fan plain.mp4", fan_video(30, text=False, ecg=False), 30.0)
    return made


# --- videos -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["auto", "none"])
def test_echonet_avi_is_bit_for_bit(files, method):
    out = convert(files["echonet_avi"], method)
    assert out.preprocess == "none"
    assert out.frames.dtype == np.uint8 and out.frames.shape == (20, 112, 112)
    np.testing.assert_array_equal(out.frames, files["echonet_frames"])
    assert out.fps == 50.0
    assert out.source == SourceInfo("video", 20, 50.0, 112, 112, ())
    assert out.steps == "none: source used as is (channel 0); 50 fps kept"


def test_open_stream_gives_rgb_one_at_a_time(files):
    frames = open_stream(files["echonet_avi"], rgb=True)
    info = frames.source
    assert (info.kind, info.frames, info.height, info.width) == ("video", 20, 112, 112)
    first = next(frames)
    assert first.shape == (112, 112, 3) and first.dtype == np.uint8
    rest = list(frames)
    assert len(rest) == 19
    for got, want in zip([first, *rest], files["echonet_frames"], strict=True):
        for channel in range(3):
            np.testing.assert_array_equal(got[:, :, channel], want)


def test_none_converts_colour_with_rgb2gray(tmp_path):
    bgr = RNG.integers(0, 256, (4, 112, 112, 3), dtype=np.uint8)
    path = tmp_path / "colour.avi"
    write_video(path, bgr, 25.0)
    out = convert(path, "none")
    want = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in bgr])
    np.testing.assert_array_equal(out.frames, want)
    assert "4 colour frames converted to grey (RGB2GRAY)" in out.steps


def test_none_refuses_other_sizes(files):
    with pytest.raises(InputError) as err:
        convert(files["fan_mp4"], "none")
    one_line_error(err, files["fan_mp4"], "is 400x400; preprocess: none needs 112x112")


def test_fit_finds_the_sector_without_text_or_ecg(files):
    info = probe(files["fan_mp4"])
    assert (info.kind, info.frames, info.fps, info.height, info.width) == ("video", 30, 30.0, 400, 400)
    out = convert(files["fan_mp4"])
    assert out.preprocess == "fit"
    assert out.frames.shape == (30, 112, 112) and out.frames.dtype == np.uint8
    assert out.fps == 30.0
    assert out.steps.startswith("fit: ")
    assert out.steps.endswith("-> 112x112 (area); outside the sector zeroed; 30 fps kept")
    r0, r1, c0, c1 = sector_box(out.steps)
    want = fan_geometry()
    # The text band (rows ~10-30) and the ECG trace (rows ~375-395) are not part of the sector.
    assert abs(r0 - want[0]) <= 3 and abs(r1 - want[1]) <= 3, out.steps
    assert abs(c0 - want[2]) <= 3 and abs(c1 - want[3]) <= 3, out.steps
    # Same output, to compression noise, as the video without text and ECG.
    plain = convert(files["fan_plain_mp4"])
    assert sector_box(plain.steps) == (r0, r1, c0, c1)
    assert np.abs(out.frames.astype(int) - plain.frames).mean() < 1.0
    # The sector fills the square's width: bright in the middle, zero in the corners outside the fan.
    frame = out.frames[0]
    # Square: top 36, left 16, side 369 px, so output = (source - (36, 16)) * 112 / 369. Inside the fan: source
    # (168, 200) -> (40, 56), (280, 40) -> (74, 7), (280, 360) -> (74, 104); the dark disc at (220, 200) -> (56, 56).
    assert frame[40, 56] > 100 and frame[74, 7] > 100 and frame[74, 104] > 100
    assert 15 < frame[56, 56] < 50
    assert frame[0, 0] == 0 and frame[0, 111] == 0 and frame[111, 0] == 0 and frame[111, 111] == 0
    # The pulsing level comes through: frame 0 is mid level, a later frame is brighter.
    assert frame[40, 56] < out.frames[4, 40, 56] - 20


# 30 -> 20 fps has ties (k * 1.5 = 4.5 at k = 3): halves round up, so output frame 3 is source frame 5.
@pytest.mark.parametrize(("fps", "count"), [(50.0, 50), (15.0, 15), (20.0, 20), (30.0, 30)])
def test_fps_resampling_takes_the_nearest_frame(files, fps, count):
    native = convert(files["fan_mp4"])
    out = convert(files["fan_mp4"], fps=fps)
    assert out.frames.shape == (count, 112, 112)
    assert out.fps == fps
    for k in range(count):
        np.testing.assert_array_equal(out.frames[k], native.frames[int(np.floor(k * 30 / fps + 0.5))])
    if fps == 30.0:
        assert out.steps.endswith("; 30 fps kept")
    else:
        assert out.steps.endswith(f"; 30 fps -> {fps:g} fps (nearest frame)")


def test_large_video_converts_with_fit(tmp_path):
    size = (1080, 1920)
    path = write_mp4(tmp_path / "large.mp4", fan_video(8, size), 30.0)
    out = convert(path)
    assert out.preprocess == "fit" and out.frames.shape == (8, 112, 112)
    assert (out.source.height, out.source.width, out.source.frames) == (1080, 1920, 8)
    r0, r1, c0, c1 = sector_box(out.steps)
    want = fan_geometry(size)
    assert abs(r0 - want[0]) <= 5 and abs(r1 - want[1]) <= 5 and abs(c0 - want[2]) <= 5 and abs(c1 - want[3]) <= 5
    assert out.frames[0, 40, 56] > 100


def test_truncated_avi_yields_the_frames_that_decode(tmp_path):
    frames = grey_frames(30, 112, 112)
    whole = tmp_path / "whole.avi"
    write_video(whole, frames, 50.0)
    cut = tmp_path / "cut.avi"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.3)])
    stream = open_stream(cut, rgb=True)
    info = stream.source
    assert info.frames == 30  # the container's count
    got = list(stream)
    assert 2 <= len(got) < 30
    assert stream.source.frames == len(got)
    assert f"truncated: {len(got)} of the 30 declared frames decode" in stream.source.notes
    out = convert(cut)
    np.testing.assert_array_equal(out.frames, frames[: len(got)])
    assert out.source == stream.source


# --- DICOM ------------------------------------------------------------------------------------------------------


def _smooth_rgb(n: int, h: int, w: int) -> np.ndarray:
    """Flat colour blocks (JPEG-friendly) that change from frame to frame."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    for t in range(n):
        frames[t, : h // 2, : w // 2] = (200, 100, 50 + 10 * t)
        frames[t, h // 2 :, w // 2 :] = (40, 160 + 10 * t, 220)
    return frames


def _dicom_case(kind: str, path: Path) -> tuple[Path, np.ndarray, int, tuple[str, ...]]:
    """(file, expected RGB frames, tolerance, expected notes) for one kind of DICOM."""
    if kind == "mono":
        frames = grey_frames(5, 48, 64)
        return write_dicom(path, frames, pixel_data=frames.tobytes()), _rgb(frames), 0, ()
    if kind == "monochrome1":
        frames = grey_frames(5, 48, 64)
        want = _rgb(255 - frames)
        return write_dicom(path, frames, "MONOCHROME1", pixel_data=frames.tobytes()), want, 0, ("inverted",)
    if kind == "rgb":
        frames = RNG.integers(0, 256, (5, 48, 64, 3), dtype=np.uint8)
        return write_dicom(path, frames, "RGB", pixel_data=frames.tobytes()), frames, 0, ()
    if kind == "ybr_full":
        frames = _smooth_rgb(5, 48, 64)
        ybr = convert_color_space(frames, "RGB", "YBR_FULL")
        written = write_dicom(path, frames, "YBR_FULL", pixel_data=ybr.tobytes())
        return written, frames, 3, ("photometric YBR_FULL converted to RGB",)
    if kind == "jpeg":
        frames = _smooth_rgb(5, 48, 64)
        encoded = [cv2.imencode(".jpg", f[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for f in frames]
        written = write_dicom(
            path, frames, "YBR_FULL_422", transfer_syntax=JPEGBaseline8Bit, pixel_data=encapsulate(encoded)
        )
        return written, frames, 12, ("photometric YBR_FULL_422 converted to RGB", "JPEG Baseline (Process 1) decoded")
    if kind == "rle":
        frames = grey_frames(5, 48, 64)
        ds = pydicom.dcmread(write_dicom(path, frames, pixel_data=frames.tobytes()))
        ds.compress(RLELossless)
        ds.save_as(path, enforce_file_format=True)
        return path, _rgb(frames), 0, ("RLE Lossless decoded",)
    if kind == "12bit":
        frames = RNG.integers(0, 4096, (5, 48, 64), dtype=np.uint16)
        want = np.rint(frames * (255 / 4095)).astype(np.uint8)
        written = write_dicom(path, frames, bits=12, pixel_data=frames.astype("<u2").tobytes())
        return written, _rgb(want), 0, ("12-bit pixels scaled to 8 bits",)
    if kind == "no_preamble":
        frames = grey_frames(5, 48, 64)
        written = write_dicom(path.with_suffix(""), frames, pixel_data=frames.tobytes(), preamble=False)
        return written, _rgb(frames), 0, ("no DICOM file meta information: Implicit VR Little Endian assumed",)
    raise AssertionError(kind)


def _rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=-1)


@pytest.mark.parametrize("kind", ["mono", "monochrome1", "rgb", "ybr_full", "jpeg", "rle", "12bit", "no_preamble"])
def test_dicom_probe_and_frames(tmp_path, kind):
    path, want, tolerance, notes = _dicom_case(kind, tmp_path / f"{kind}.dcm")
    info = probe(path)
    assert (info.kind, info.frames, info.fps, info.height, info.width) == ("dicom", 5, 25.0, 48, 64)
    for note in notes:
        assert any(note in n for n in info.notes), info.notes
    if kind in ("mono", "rgb"):
        assert info.notes == ()
    frames = open_stream(path, rgb=True)
    assert frames.source == info
    got = np.stack(list(frames))
    assert got.shape == (5, 48, 64, 3) and got.dtype == np.uint8
    if kind == "jpeg":  # compare inside the flat blocks, away from the chroma-subsampled edges
        got, want = got[:, 8:16, 8:24], want[:, 8:16, 8:24]
    assert np.abs(got.astype(int) - want).max() <= tolerance


@pytest.mark.parametrize(
    ("timing", "fps", "note"),
    [
        ({"CineRate": 25}, 25.0, None),
        ({"FrameTime": 40.0}, 25.0, "Frame Time (0018,1063)"),
        ({"FrameTimeVector": [0, 20, 20, 20, 20]}, 50.0, "Frame Time Vector (0018,1065)"),
        ({"CineRate": 0, "FrameTime": 20.0}, 50.0, "Frame Time (0018,1063)"),
        ({}, 30.0, "no frame rate in the DICOM: 30 fps assumed"),
    ],
)
def test_dicom_frame_rate(tmp_path, timing, fps, note):
    frames = grey_frames(5, 16, 16)
    info = probe(write_dicom(tmp_path / "rate.dcm", frames, pixel_data=frames.tobytes(), timing=timing))
    assert info.fps == pytest.approx(fps)
    if note is None:
        assert info.notes == ()
    else:
        assert any(note in n for n in info.notes), info.notes


def test_dicom_without_modality_is_accepted(tmp_path):
    frames = grey_frames(3, 16, 16)
    info = probe(write_dicom(tmp_path / "nomod.dcm", frames, pixel_data=frames.tobytes(), modality=None))
    assert info.frames == 3


def test_echonet_preprocessing_matches_the_authors_steps(tmp_path):
    n, h, w = 4, 600, 800
    rows, cols = np.indices((h, w))
    frames = np.empty((n, h, w), np.uint8)
    for t in range(n):
        frames[t] = 40 + (rows + cols) * 150 // 1400 + 5 * t
    frames[:, :50] = 90  # a header band...
    frames[:, 50] = 0  # ...ending at the first dark row
    path = write_dicom(tmp_path / "echonet.dcm", frames, pixel_data=frames.tobytes(), timing={"CineRate": 40})
    out = convert(path, "echonet")
    assert out.preprocess == "echonet" and out.frames.shape == (4, 112, 112) and out.fps == 40.0
    assert "header band above row 50 cut" in out.steps
    assert "centre square rows 50-599, cols 125-674" in out.steps
    # Reference, written from docs/echonet.md section 9: rows 50.., square 550, 55 px borders, cubic, mask.
    m1, m2 = np.meshgrid(np.arange(112), np.arange(112))
    keep = ((m1 + m2) > 56 + 11) & ((m1 - m2) < 56 + 11)
    for t in range(n):
        square = frames[t, 50:, 125:675]
        want = cv2.resize(square[55:495, 55:495], (112, 112), interpolation=cv2.INTER_CUBIC)
        want[~keep] = 0
        np.testing.assert_array_equal(out.frames[t], want)
    assert out.frames[:, ~keep].max() == 0 and out.frames[:, keep].min() > 0
    assert out.frames[0, 0, 0] == 0 and out.frames[0, 0, 111] == 0 and out.frames[0, 50, 56] > 0


def test_fit_on_a_grey_dicom(tmp_path):
    grey = fan_video(6, (200, 300), text=False, ecg=False)[..., 0]
    path = write_dicom(tmp_path / "fan.dcm", grey, pixel_data=grey.tobytes())
    out = convert(path, fps=50)
    # Output frames k = 0..10 take source frames floor(k / 2 + 0.5) = 0, 1, 1, 2, 2, ..., 5, 5.
    assert out.preprocess == "fit" and out.frames.shape == (11, 112, 112)
    np.testing.assert_array_equal(out.frames[1], out.frames[2])
    assert not np.array_equal(out.frames[0], out.frames[1])
    r0, r1, c0, c1 = sector_box(out.steps)
    assert (r0, r1, c0, c1) == fan_geometry((200, 300))
    assert "RGB2GRAY" not in out.steps and "25 fps -> 50 fps (nearest frame)" in out.steps


# --- bad inputs -------------------------------------------------------------------------------------------------


def _bad(kind: str, folder: Path) -> Path:
    frames = grey_frames(3, 16, 16)
    if kind == "empty":
        path = folder / "empty.avi"
        path.write_bytes(b"")
    elif kind == "text":
        path = folder / "notes.avi"
        path.write_text("not a video\n" * 50)
    elif kind == "text_no_suffix":
        path = folder / "README"
        path.write_text("not a video either\n" * 50)
    elif kind == "truncated_mp4":
        whole = write_mp4(folder / "whole.mp4", fan_video(20, (64, 64)), 30.0)
        path = folder / "truncated.mp4"
        path.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.3)])
    elif kind == "no_pixels":
        path = write_dicom(folder / "nopixels.dcm", frames)
    elif kind == "single_frame":
        path = write_dicom(folder / "still.dcm", frames[:1], pixel_data=frames[:1].tobytes(), n_frames=1)
    elif kind == "no_frame_count":
        path = write_dicom(folder / "still2.dcm", frames[:1], pixel_data=frames[:1].tobytes(), n_frames=None)
    elif kind == "ct":
        path = write_dicom(folder / "ct.dcm", frames, pixel_data=frames.tobytes(), modality="CT")
    elif kind == "mpeg":
        path = write_dicom(
            folder / "h264.dcm",
            frames,
            "YBR_PARTIAL_420",
            transfer_syntax=MPEG4HP41,
            pixel_data=encapsulate([b"\0" * 64]),
        )
    elif kind == "truncated_dicom":
        frames = _smooth_rgb(5, 48, 64)
        encoded = encapsulate([cv2.imencode(".jpg", f)[1].tobytes() for f in frames])
        whole = write_dicom(
            folder / "whole.dcm", frames, "YBR_FULL_422", transfer_syntax=JPEGBaseline8Bit, pixel_data=encoded
        )
        path = folder / "truncated.dcm"
        path.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    elif kind == "still_png":
        path = folder / "still.png"
        cv2.imwrite(str(path), frames[0])
    else:
        raise AssertionError(kind)
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty file (0 bytes)"),
        ("text", "not a video OpenCV can read"),
        ("text_no_suffix", "neither a video OpenCV can read nor a DICOM file"),
        # OpenCV's MP4 writer puts the index (moov) at the end: a truncated MP4 cannot be opened at all.
        ("truncated_mp4", "not a video OpenCV can read"),
        ("no_pixels", "no pixel data"),
        ("single_frame", "a single frame: a still image, not a video"),
        ("no_frame_count", "a single frame: a still image, not a video"),
        ("ct", "modality CT, not ultrasound"),
        ("mpeg", "cannot be decoded by pydicom"),
        ("truncated_dicom", "the pixel data cannot be read (the file ends early or is damaged)"),
        ("still_png", "a still image, not a video"),
    ],
)
@pytest.mark.filterwarnings("ignore:End of file reached:UserWarning")  # pydicom, on the truncated DICOM
def test_bad_inputs_raise_one_clear_line(tmp_path, kind, reason):
    path = _bad(kind, tmp_path)
    for call in (probe, open_stream, convert):
        with pytest.raises(InputError) as err:
            call(path)
        one_line_error(err, path, reason)


def test_bad_options(files):
    with pytest.raises(ValueError, match="preprocess must be one of"):
        convert(files["echonet_avi"], "crop")
    with pytest.raises(ValueError, match="fps must be"):
        convert(files["echonet_avi"], fps=0)
    assert PREPROCESS == ("auto", "none", "echonet", "fit")


def test_missing_file_and_black_video(tmp_path):
    with pytest.raises(InputError) as err:
        probe(tmp_path / "absent.avi")
    one_line_error(err, tmp_path / "absent.avi", "file not found")
    black = tmp_path / "black.avi"
    write_video(black, np.zeros((5, 64, 64), np.uint8), 25.0)
    with pytest.raises(InputError) as err:
        convert(black)
    one_line_error(err, black, "fit: no scan sector found")


# --- names and folders ------------------------------------------------------------------------------------------


def test_names_with_spaces_and_non_ascii(tmp_path):
    folder = tmp_path / "dossier échos 心脏"
    folder.mkdir()
    frames = grey_frames(6, 112, 112)
    avi = folder / "écho vidéo ü 1.avi"
    write_video(avi, frames, 50.0)
    dcm = write_dicom(folder / "patient Ø 2.dcm", frames, pixel_data=frames.tobytes())
    odd = folder / "clip 50%d:1"  # no extension: tried as a video first; '%' and ':' mean nothing to FFmpeg here
    odd.write_bytes(avi.read_bytes())
    for path in (avi, dcm, odd):
        np.testing.assert_array_equal(convert(path).frames, frames)
        assert probe(path).frames == 6
    assert probe(odd).kind == "video" and probe(dcm).kind == "dicom"
    assert find_inputs(folder) == sorted([avi, dcm, odd])


def test_find_inputs_recurses_and_skips_hidden(tmp_path):
    names = ["b.avi", "a/x.dcm", "a/deeper/y z.mp4", "c/IM0001", ".hidden.avi", "a/.DS_Store", ".cache/v.avi"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty folder").mkdir()
    want = [tmp_path / n for n in ["a/deeper/y z.mp4", "a/x.dcm", "b.avi", "c/IM0001"]]
    assert find_inputs(tmp_path) == want
    with pytest.raises(InputError, match="not a folder"):
        find_inputs(tmp_path / "b.avi")
