"""Example inputs for the prediction workflow: a few held-out synthetic videos in other forms.

From the TEST videos of a synthetic dataset, written into one folder:

- ``avi/<name>.avi``: the EchoNet AVI as it is (used bit for bit);
- ``mp4/<name> 30fps.mp4``: resampled to 30 fps, enlarged into a 400x400 frame on a black
  background under a text band, as a scanner export might look;
- ``dicom/<name>.dcm``: a multi-frame ultrasound DICOM (uncompressed MONOCHROME2, Cine Rate).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from echobeat.atomic import atomic_directory
from echobeat.data.names import avi_name
from echobeat.data.video_io import read_video

MP4_SIZE, MP4_FPS, MP4_PICTURE, TEXT_BAND = 400, 30.0, 336, 40
ULTRASOUND_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"


def resample(frames: np.ndarray, fps: float, new_fps: float) -> np.ndarray:
    """(F, ...) frames at ``new_fps`` by nearest frame in time."""
    count = int(np.floor((len(frames) - 1) * new_fps / fps)) + 1
    return frames[np.minimum(np.rint(np.arange(count) * fps / new_fps).astype(int), len(frames) - 1)]


def scanner_frames(grey: np.ndarray, label: str) -> np.ndarray:
    """(F, 400, 400, 3) BGR frames: the picture enlarged, centred below a text band."""
    out = np.zeros((len(grey), MP4_SIZE, MP4_SIZE, 3), np.uint8)
    top = TEXT_BAND + (MP4_SIZE - TEXT_BAND - MP4_PICTURE) // 2
    left = (MP4_SIZE - MP4_PICTURE) // 2
    for k, frame in enumerate(grey):
        big = cv2.resize(frame, (MP4_PICTURE, MP4_PICTURE), interpolation=cv2.INTER_CUBIC)
        out[k, top : top + MP4_PICTURE, left : left + MP4_PICTURE] = big[:, :, None]
        cv2.putText(out[k], label, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    return out


def write_mp4(path: Path, frames_bgr: np.ndarray, fps: float) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames_bgr.shape[2:0:-1])
    try:
        for frame in frames_bgr:
            writer.write(frame)
    finally:
        writer.release()


def write_dicom(path: Path, grey: np.ndarray, fps: float, name: str) -> None:
    """A multi-frame ultrasound DICOM of (F, H, W) uint8 frames, uncompressed MONOCHROME2."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ULTRASOUND_MULTIFRAME
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = ULTRASOUND_MULTIFRAME, meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.PatientID = ds.PatientName = "SYNTHETIC"
    ds.SeriesDescription = f"echobeat synthetic example {name}"
    ds.NumberOfFrames = len(grey)
    ds.Rows, ds.Columns = grey.shape[1:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.CineRate = round(fps)
    ds.FrameTime = 1000.0 / fps
    ds.PixelData = np.ascontiguousarray(grey, dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)


def write_examples(data_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], count: int = 3) -> list[str]:
    """The example folder from the first ``count`` TEST videos of ``data_dir``; returns their names."""
    data_dir = Path(data_dir)
    filelist = pd.read_csv(data_dir / "FileList.csv", dtype={"FileName": str})
    chosen = filelist[filelist["Split"] == "TEST"].head(count)
    with atomic_directory(out_dir) as folder:
        for sub in ("avi", "mp4", "dicom"):
            (folder / sub).mkdir()
        for row in chosen.itertuples():
            source = data_dir / "Videos" / avi_name(row.FileName)
            shutil.copy2(source, folder / "avi" / avi_name(row.FileName))
            grey = read_video(source)[0]
            slower = resample(grey, float(row.FPS), MP4_FPS)
            write_mp4(
                folder / "mp4" / f"{row.FileName} 30fps.mp4", scanner_frames(slower, "ECHOBEAT DEMO 30 FPS"), MP4_FPS
            )
            write_dicom(folder / "dicom" / f"{row.FileName}.dcm", grey, float(row.FPS), row.FileName)
    return chosen["FileName"].tolist()
