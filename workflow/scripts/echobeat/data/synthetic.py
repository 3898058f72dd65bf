"""A synthetic dataset in exactly the EchoNet-Dynamic format, deterministic from a seed.

``FileList.csv``, ``VolumeTracings.csv`` and ``Videos/<FileName>.avi`` as the real dataset
has them (docs/echonet.md §1). Each video is a phantom (:mod:`echobeat.data.phantom`)
with its own frame rate, length, heart rate and anatomy; one ED and one ES frame of one beat
are traced, and EDV, ESV and EF are computed from those tracings by the method of disks.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from echobeat.atomic import atomic_directory, write_csv, write_text
from echobeat.data import phantom
from echobeat.data.filelist import FILELIST_COLUMNS, SPLITS, ejection_fraction
from echobeat.data.names import SYNTHETIC_MARKER, avi_name
from echobeat.data.tracings import TRACING_COLUMNS, disk_volume
from echobeat.data.video_io import write_video

log = logging.getLogger(__name__)

# Pixel size that puts LV volumes in the real dataset's range (EDV around 60-150 mL).
CM_PER_PIXEL = 0.16
# Heart rates (beats per minute) the generator may use, and the shortest beat in frames, so
# that consecutive end-systoles are further apart than the beat detector's 20-frame distance.
HEART_RATE = (45.0, 150.0)
MIN_BEAT_FRAMES = 24
# Share of videos with a reduced EF (below 40%), close to the real dataset's.
LOW_EF_SHARE = 0.25


@dataclass(frozen=True)
class VideoSpec:
    """What one synthetic video is: its row in FileList.csv and the phantom behind it."""

    name: str
    split: str
    fps: int
    n_frames: int
    period: float  # frames per beat
    ed_frame: int
    es_frame: int
    geometry: phantom.HeartGeometry
    noise_seed: int


def split_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Videos per split for ``n`` videos: largest-remainder rounding of the fractions."""
    total = sum(fractions[s] for s in SPLITS)
    exact = {s: n * fractions[s] / total for s in SPLITS}
    counts = {s: math.floor(exact[s]) for s in SPLITS}
    for s in sorted(SPLITS, key=lambda s: exact[s] - counts[s], reverse=True)[: n - sum(counts.values())]:
        counts[s] += 1
    return counts


def _target_ef(rng: np.random.Generator) -> float:
    if rng.random() < LOW_EF_SHARE:
        return float(rng.uniform(12.0, 40.0))
    return float(np.clip(rng.normal(60.0, 7.0), 40.0, 78.0))


def _timing(rng: np.random.Generator, n_frames: int, fps_choices: list[int], beats: tuple[float, float]):
    """Frame rate and beat length (frames) giving between ``beats`` beats in the video."""
    for _ in range(100):
        fps = int(rng.choice(fps_choices))
        low = max(beats[0], 1.0, n_frames * HEART_RATE[0] / (60.0 * fps))
        high = min(beats[1], n_frames / MIN_BEAT_FRAMES, n_frames * HEART_RATE[1] / (60.0 * fps))
        if low <= high:
            return fps, n_frames / rng.uniform(low, high)
    raise ValueError(
        f"no frame rate in {fps_choices} gives {beats[0]}-{beats[1]} beats of {MIN_BEAT_FRAMES}+ frames "
        f"at {HEART_RATE[0]:g}-{HEART_RATE[1]:g} bpm in a {n_frames}-frame video; widen synthetic.fps or frames"
    )


def _geometry(rng: np.random.Generator, ef: float) -> phantom.HeartGeometry:
    ratio = 1.0 - ef / 100.0  # ESV / EDV; the length shortens less than the width
    length_ed = rng.uniform(50.0, 62.0)
    width_ed = rng.uniform(13.0, 17.5)
    cavity = rng.uniform(4.0, 22.0)
    return phantom.HeartGeometry(
        apex_x=56.0 + rng.uniform(1.0, 9.0),
        apex_y=rng.uniform(10.0, 17.0),
        tilt=math.radians(rng.uniform(4.0, 18.0)),
        length_ed=length_ed,
        length_es=length_ed * ratio**0.25,
        width_ed=width_ed,
        width_es=width_ed * ratio**0.375,
        septal=rng.uniform(0.85, 1.15),
        lateral=rng.uniform(0.85, 1.15),
        wall=rng.uniform(4.0, 6.5),
        apex_shift=rng.uniform(0.0, 3.0),
        drift=rng.uniform(0.5, 3.0),
        drift_period=rng.uniform(80.0, 250.0),
        rv_width=rng.uniform(7.0, 11.0),
        atrium_size=rng.uniform(10.0, 14.0),
        cavity_level=cavity,
        tissue_level=rng.uniform(40.0, 80.0),
        muscle_level=rng.uniform(140.0, 215.0),
        speckle=rng.uniform(2.0, 5.0),
    )


def _unique_names(rng: np.random.Generator, n: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = "0X" + "".join(f"{b:02X}" for b in rng.integers(0, 256, size=8))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def sample_specs(settings: dict) -> list[VideoSpec]:
    """Draw every video's specification from ``settings`` (the config's ``synthetic`` section)."""
    rng = np.random.default_rng(settings["seed"])
    n = int(settings["n_videos"])
    counts = split_counts(n, settings["splits"])
    splits = np.array([s for s in SPLITS for _ in range(counts[s])])
    rng.shuffle(splits)
    names = _unique_names(rng, n)
    frames_min, frames_max = settings["frames"]["min"], settings["frames"]["max"]
    beats = (float(settings["beats"]["min"]), float(settings["beats"]["max"]))
    specs = []
    for name, split in zip(names, splits, strict=True):
        n_frames = int(rng.integers(frames_min, frames_max + 1))
        fps, period = _timing(rng, n_frames, list(settings["fps"]), beats)
        geometry = _geometry(rng, _target_ef(rng))
        if rng.random() < 0.5:  # ES after ED in the same beat
            ed = int(rng.integers(0, max(1, math.floor(n_frames - 1 - phantom.SYSTOLE * period) + 1)))
            es = round(ed + phantom.SYSTOLE * period)
        else:  # ES of the beat before the traced ED
            ed = int(rng.integers(math.ceil((1 - phantom.SYSTOLE) * period), n_frames))
            es = round(ed - (1 - phantom.SYSTOLE) * period)
        es = min(max(es, 0), n_frames - 1)
        specs.append(VideoSpec(name, str(split), fps, n_frames, period, ed, es, geometry, int(rng.integers(2**31))))
    return specs


def _make_video(spec: VideoSpec, videos_dir: Path, codec: str) -> dict:
    """Render and write one video; return its tracings and volumes."""
    rng = np.random.default_rng(spec.noise_seed)
    frames = phantom.render_video(spec.geometry, spec.n_frames, spec.ed_frame, spec.period, rng)
    write_video(videos_dir / avi_name(spec.name), frames, spec.fps, codec)
    es = phantom.frame_tracing(spec.geometry, spec.es_frame, spec.ed_frame, spec.period)
    ed = phantom.frame_tracing(spec.geometry, spec.ed_frame, spec.ed_frame, spec.period)
    return {
        "es": es,
        "ed": ed,
        "esv": disk_volume(es, CM_PER_PIXEL),
        "edv": disk_volume(ed, CM_PER_PIXEL),
    }


def generate_dataset(out_dir: str | os.PathLike[str], settings: dict, threads: int = 1) -> pd.DataFrame:
    """Write a synthetic dataset to ``out_dir``; return its FileList table.

    The Videos folder and each CSV appear atomically, and a marker file records that the
    folder is synthetic (the workflow refuses to write over a folder without it).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specs = sample_specs(settings)
    codec = settings.get("codec", "FFV1")
    with atomic_directory(out / "Videos") as videos_dir:
        if threads > 1:
            with concurrent.futures.ProcessPoolExecutor(max_workers=threads) as pool:
                made = list(pool.map(_make_video, specs, [videos_dir] * len(specs), [codec] * len(specs)))
        else:
            made = [_make_video(spec, videos_dir, codec) for spec in specs]
    filelist, tracings = [], []
    for spec, video in zip(specs, made, strict=True):
        filelist.append(
            {
                "FileName": spec.name,
                "EF": round(ejection_fraction(video["edv"], video["esv"]), 2),
                "ESV": round(video["esv"], 2),
                "EDV": round(video["edv"], 2),
                "FrameHeight": phantom.FRAME_SIZE,
                "FrameWidth": phantom.FRAME_SIZE,
                "FPS": spec.fps,
                "NumberOfFrames": spec.n_frames,
                "Split": spec.split,
            }
        )
        # ES is listed first, as in the real file: the original takes the first frame as ES.
        for frame, rows in ((spec.es_frame, video["es"]), (spec.ed_frame, video["ed"])):
            for x1, y1, x2, y2 in rows:
                tracings.append(
                    {
                        "FileName": avi_name(spec.name),
                        "X1": x1,
                        "Y1": y1,
                        "X2": x2,
                        "Y2": y2,
                        "Frame": frame,
                    }
                )
    filelist_table = pd.DataFrame(filelist, columns=list(FILELIST_COLUMNS))
    write_csv(out / "FileList.csv", filelist_table)
    write_csv(out / "VolumeTracings.csv", pd.DataFrame(tracings, columns=list(TRACING_COLUMNS)))
    write_text(
        out / SYNTHETIC_MARKER,
        f"synthetic EchoNet-format dataset; seed {settings['seed']}, {len(specs)} videos\n",
    )
    low = float((filelist_table["EF"] < 40).mean()) if len(filelist_table) else 0.0
    log.info("wrote %d synthetic videos to %s (%.0f%% with EF below 40)", len(specs), out, 100 * low)
    return filelist_table
