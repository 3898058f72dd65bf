"""Clip geometry (docs/echonet.md §2): which frames a clip takes, padding, all-clip starts, beat-centred clips.

A clip of ``length`` frames at ``period`` starting at ``s`` takes frames s, s+p, ..., s+p(L-1).
A video of F frames shorter than L*p is padded at the end (after normalisation) up to L*p
frames; its clips start at 0 ... F' - (L-1)p - 1 with F' = max(F, L*p).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from echobeat.data.names import video_key


def padded_length(n_frames: int, length: int, period: int) -> int:
    """Frames of the video after end padding: max(F, L*p)."""
    return max(n_frames, length * period)


def n_clips(n_frames: int, length: int, period: int) -> int:
    """How many clips the video has: F' - (L-1)p (62 fewer than max(F, 64) for 32x2)."""
    return padded_length(n_frames, length, period) - (length - 1) * period


def clip_starts(n_frames: int, length: int, period: int) -> np.ndarray:
    """Start frames of every clip: 0 ... F' - (L-1)p - 1."""
    return np.arange(n_clips(n_frames, length, period))


def take_clip(video: np.ndarray, start: int, length: int, period: int) -> tuple[np.ndarray, int]:
    """The frames of a clip from a (C, F, H, W) array, and how many padding frames follow them.

    Works on memory-mapped arrays: only the clip's frames are read.
    """
    n_frames = video.shape[1]
    if not 0 <= start < n_clips(n_frames, length, period):
        raise IndexError(f"clip start {start} outside 0..{n_clips(n_frames, length, period) - 1}")
    stop = start + period * (length - 1) + 1
    frames = np.asarray(video[:, start : min(stop, n_frames) : period])
    return frames, length - frames.shape[1]


# Ranges of the crop offsets: ours is symmetric, the original's one pixel lopsided (docs/echonet.md §2).
CROP_RANGES = ("symmetric", "echonet")


def crop_offsets(rng: np.random.Generator, pad: int, crop: str) -> tuple[int, int]:
    """Random (row, column) offset of the pad-and-crop augmentation: each in [0, 2*pad]
    (``symmetric``: a shift of -pad..pad) or, as the original draws it, in [0, 2*pad)
    (``echonet``: -pad..pad-1)."""
    if crop not in CROP_RANGES:
        raise ValueError(f"crop must be one of {', '.join(CROP_RANGES)}, not {crop!r}")
    i, j = rng.integers(0, 2 * pad + (1 if crop == "symmetric" else 0), size=2)
    return int(i), int(j)


def clip_offset(frames: int, period: int) -> int:
    """Frames between a clip's start and the beat it is centred on: half the clip's span."""
    return frames * period // 2


def beat_starts(sizes: pd.DataFrame, offset: int) -> pd.DataFrame:
    """One row per detected end-systole: key, Frame, and the start of the clip centred on it."""
    beats = sizes.loc[sizes["ComputerSmall"].astype(int) == 1, ["Filename", "Frame"]]
    return pd.DataFrame(
        {
            "key": video_key(beats["Filename"]).to_numpy(),
            "Frame": beats["Frame"].astype(int).to_numpy(),
            "Clip": np.maximum(beats["Frame"].astype(int).to_numpy() - offset, 0),
        }
    )
