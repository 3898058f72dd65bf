"""Pixel normalisation: the training split's per-channel mean and std, and applying them (docs/echonet.md §2).

``samples`` training videos are drawn without replacement; from each, one clip of ``length``
frames at ``period`` starting at a random clip start (the video padded at the end with zero
frames when shorter than length*period, as the original pads its unnormalised clips); all
pixels of all clips are pooled. The std is the population std, sqrt(E[x^2] - mean^2).
:class:`Normaliser` applies them: (x - mean[c]) / std[c], to float32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from echobeat.data.cache import VideoCache
from echobeat.data.clips import n_clips, take_clip

if TYPE_CHECKING:
    import torch


def mean_and_std(cache: VideoCache, names: list[str], samples: int, length: int, period: int, seed: int) -> dict:
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


def normalisation_stats(cache: VideoCache, names: list[str], settings: dict) -> dict:
    """What normalisation.json holds: the mean and std given in ``settings`` (config
    ``normalisation.mean``/``std``, e.g. what released weights were trained with), or else those
    :func:`mean_and_std` computes with the other settings; ``source`` says which."""
    mean, std = settings.get("mean"), settings.get("std")
    if (mean is None) != (std is None):
        raise ValueError("normalisation: give mean and std together (three values each), or neither")
    if mean is not None:
        return {
            "mean": [float(m) for m in mean],
            "std": [float(s) for s in std],
            "source": "given in the config (normalisation.mean and normalisation.std), not computed",
        }
    drawn = {key: settings[key] for key in ("samples", "length", "period", "seed") if key in settings}
    stats = mean_and_std(cache, names, **drawn)
    return {**stats, "source": "computed from the TRAIN split as the original computes it"}


class Normaliser:
    """(x - mean) / std per channel, to float32; uint8 input of one or three channels."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(3)
        self.std = np.asarray(std, dtype=np.float32).reshape(3)
        self._same_for_all = bool(np.all(self.mean == self.mean[0]) and np.all(self.std == self.std[0]))

    @classmethod
    def from_json(cls, stats: dict) -> Normaliser:
        return cls(stats["mean"], stats["std"])

    def __call__(self, pixels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``pixels`` is (C, ...) with C = 1 or 3; returns (or fills ``out`` with) float32 (3, ...)."""
        if out is None:
            out = np.empty((3, *pixels.shape[1:]), dtype=np.float32)
        if pixels.shape[0] == 1 and self._same_for_all:
            # A grey frame with one mean and std: compute one channel, copy it to the others.
            np.subtract(pixels[0], self.mean[0], out=out[0], dtype=np.float32)
            out[0] /= self.std[0]
            out[1] = out[0]
            out[2] = out[0]
            return out
        for c in range(3):
            np.subtract(pixels[c if pixels.shape[0] == 3 else 0], self.mean[c], out=out[c], dtype=np.float32)
            out[c] /= self.std[c]
        return out

    def batch(self, pixels: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
        """A uint8 batch (B, C, ...) with C = 1 or 3, moved to ``device``, as float32 (B, 3, ...)."""
        import torch  # the data rules that only compute statistics need no torch

        x = pixels.to(device, non_blocking=True)
        if x.shape[1] == 1 and self._same_for_all:
            # Grey: one channel computed, then copied into three (one pass each).
            grey = x.float().sub_(float(self.mean[0])).div_(float(self.std[0]))
            return grey.expand(-1, 3, *grey.shape[2:]).contiguous()
        shape = (1, 3) + (1,) * (x.dim() - 2)
        mean = torch.from_numpy(self.mean).to(device).view(shape)
        std = torch.from_numpy(self.std).to(device).view(shape)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, *x.shape[2:])
        return x.float().sub_(mean).div_(std)
