"""Simulated noise (the paper's Extended Data Fig. 6): black pixels scattered over a decoded video.

For a level p, ``round(p * F * H * W)`` distinct (frame, row, column) positions, drawn uniformly
over the whole video, are set to 0 in every channel (docs/experiments.md, "noise"). The noise is
applied to the cached uint8 video, before normalisation, as the original applies it after
decoding. Unlike the original (a fresh draw from the global RNG at every access), the draw
depends only on (seed, level, video name): a rerun, the segmentation model and the EF model all
see the same noisy video.

:class:`NoisyVideoCache` wraps a :class:`~echobeat.data.cache.VideoCache` with the interface the
datasets use (``shapes``, ``n_frames``, ``check_all``, ``video``), so the clip and frame datasets
evaluate under noise unchanged. Level 0 hands back the cache's own arrays.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from echobeat.atomic import atomic_path
from echobeat.data.names import bare_name
from echobeat.errors import UserError

if TYPE_CHECKING:
    # The cache reads videos with OpenCV; the analysis rules that draw the example frames have none.
    from echobeat.data.cache import VideoCache

LEVEL_KEY = "experiments.noise.levels"


class NoiseLevelError(UserError):
    """A noise level outside [0, 1]."""


def check_level(level: float) -> float:
    """``level`` as a float, or a :class:`NoiseLevelError` naming the config key."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # NaN too
        raise NoiseLevelError(
            f"{LEVEL_KEY}: {level!r} is not a fraction of pixels; give levels between 0 and 1 (0.1 = 10% removed)"
        )
    return value


def removed_count(level: float, frames: int, height: int, width: int) -> int:
    """How many (frame, row, column) positions a level blacks out: round(level * F * H * W)."""
    return round(check_level(level) * frames * height * width)


def noise_rng(seed: int, level: float, name: str) -> np.random.Generator:
    """The generator of one video's noise, a function of (seed, level, name) alone.

    A stable hash (not Python's ``hash``, which changes per process) of the level and the bare
    name (``X`` and ``X.avi`` are one video) seeds it next to the seed.
    """
    text = f"{float(level)!r}|{bare_name(name)}".encode()
    words = np.frombuffer(hashlib.sha256(text).digest(), dtype="<u4")
    return np.random.default_rng([int(seed), *(int(w) for w in words)])


def removed_positions(video_shape: tuple[int, ...], level: float, seed: int, name: str) -> np.ndarray:
    """Flat indices into the F x H x W positions of a (C, F, H, W) video that the level blacks out
    (distinct, sorted)."""
    _, frames, height, width = video_shape
    count = removed_count(level, frames, height, width)
    if count == 0:
        return np.empty(0, dtype=np.int64)
    drawn = noise_rng(seed, level, name).choice(frames * height * width, size=count, replace=False)
    return np.sort(drawn.astype(np.int64))


def add_noise(video: np.ndarray, level: float, seed: int, name: str) -> np.ndarray:
    """A (C, F, H, W) uint8 video with the level's positions black in all channels.

    Level 0 returns ``video`` itself (a read-only cache map stays one: nothing is copied). Any
    other level returns a new array; ``video`` is never written to.
    """
    positions = removed_positions(video.shape, level, seed, name)
    if positions.size == 0:
        return video
    noisy = np.array(video, dtype=np.uint8, copy=True)
    # (C, F*H*W) view of the copy: one index per position zeroes it in every channel.
    noisy.reshape(noisy.shape[0], -1)[:, positions] = 0
    return noisy


class NoisyVideoCache:
    """A :class:`VideoCache` whose videos come with the noise of ``level`` (seeded by ``seed``).

    Same interface as the cache where the datasets use it: ``shapes``, ``n_frames``,
    ``check_all`` and ``video``. The last ``keep`` noisy videos are kept, because a clip dataset
    reads one video once per clip (every clip of a video in a row).
    """

    def __init__(self, cache: VideoCache, level: float, seed: int, keep: int = 2):
        self.cache = cache
        self.level = check_level(level)
        self.seed = int(seed)
        self.keep = keep
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def shapes(self) -> dict[str, tuple[int, int, int, int]]:
        return self.cache.shapes

    def n_frames(self, name: str) -> int:
        return self.cache.n_frames(name)

    def check_all(self, names, threads: int = 1) -> None:
        """The wrapped cache's check: the noise needs none of its own."""
        self.cache.check_all(names, threads)

    def video(self, name: str) -> np.ndarray:
        """The cached video with this level's noise (C, F, H, W) uint8; the cache's own map at level 0."""
        if self.level == 0.0:
            return self.cache.video(name)
        if name in self._recent:
            self._recent.move_to_end(name)
            return self._recent[name]
        noisy = add_noise(self.cache.video(name), self.level, self.seed, name)
        noisy.flags.writeable = False  # shared by every clip of the video: nobody may change it
        self._recent[name] = noisy
        while len(self._recent) > self.keep:
            self._recent.popitem(last=False)
        return noisy


@dataclass(frozen=True)
class ExampleFrames:
    """One frame of one video at every noise level, for the figure: {level: uint8 (H, W, 3)}."""

    video: str
    frame: int
    images: dict[float, np.ndarray]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write them as one .npz file (atomically): the levels, the images, the video and frame."""
        levels = sorted(self.images)
        with atomic_path(path) as partial, open(partial, "wb") as handle:
            np.savez(
                handle,
                levels=np.asarray(levels, dtype=np.float64),
                images=np.stack([self.images[level] for level in levels]),
                video=np.asarray(self.video),
                frame=np.asarray(self.frame),
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExampleFrames:
        with np.load(path) as stored:
            images = dict(zip(stored["levels"].tolist(), stored["images"], strict=True))
            return cls(str(stored["video"]), int(stored["frame"]), images)


def example_frames(cache: VideoCache, name: str, frame: int, levels, seed: int) -> ExampleFrames:
    """Frame ``frame`` of video ``name`` at each level, as RGB (H, W, 3) uint8 images."""
    images = {}
    for level in levels:
        video = NoisyVideoCache(cache, level, seed, keep=0).video(name)
        image = np.asarray(video[:, frame]).transpose(1, 2, 0)
        # A grey cache entry has one channel: the image shows it in all three.
        images[float(level)] = np.ascontiguousarray(np.broadcast_to(image, (*image.shape[:2], 3)))
    return ExampleFrames(name, int(frame), images)
