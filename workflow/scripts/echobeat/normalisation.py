"""Per-channel mean and std of the training split (ECHONET_FACTS.md section 2).

``samples`` training videos are drawn without replacement; from each, one clip of ``length``
frames at ``period`` starting at a random clip start (the video padded at the end with zero
frames when shorter than length*period, as the original pads its unnormalised clips); all
pixels of all clips are pooled. The std is the population std, sqrt(E[x^2] - mean^2).
"""

from __future__ import annotations

import numpy as np

from .cache import VideoCache
from .clips import n_clips, take_clip


def mean_and_std(
    cache: VideoCache, names: list[str], samples: int = 128, length: int = 16, period: int = 2, seed: int = 0
) -> dict:
    """Mean and std per channel (three values each, 0-255 scale) and how they were drawn."""
    if not names:
        raise ValueError("no training video to compute the normalisation from")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(names), size=min(samples, len(names)), replace=False)
    total = np.zeros(3)
    total_sq = np.zeros(3)
    pixels = 0
    for i in chosen:
        video = cache.video(names[i])
        start = int(rng.integers(n_clips(video.shape[1], length, period)))
        frames, n_pad = take_clip(video, start, length, period)
        values = frames.reshape(frames.shape[0], -1).astype(np.float64)
        # Padding frames are zeros: they add pixels but nothing to the sums.
        total += values.sum(axis=1)
        total_sq += (values**2).sum(axis=1)
        pixels += values.shape[1] + n_pad * frames.shape[2] * frames.shape[3]
    mean = total / pixels
    std = np.sqrt(np.maximum(total_sq / pixels - mean**2, 0.0))
    return {
        "mean": [float(m) for m in mean],
        "std": [float(s) for s in std],
        "videos": len(chosen),
        "pixels_per_channel": int(pixels),
        "samples": samples,
        "length": length,
        "period": period,
        "seed": seed,
    }
