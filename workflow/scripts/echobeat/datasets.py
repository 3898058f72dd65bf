"""torch Datasets on the video cache: traced frames, clips, and frame batches.

Pixels are normalised on the fly to float32, (x - mean[c]) / std[c] for the three channels
(a one-channel cache entry is broadcast to three). Randomness (clip starts, crop offsets) is
drawn from a generator seeded by (seed, epoch, item), never from a worker's state, so a run
with the same seed yields the same clips whatever the number of DataLoader workers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from .cache import VideoCache
from .clips import clip_starts, crop_offsets, n_clips, take_clip
from .tracings import tracing_mask


class Normaliser:
    """(x - mean) / std per channel, to float32; uint8 input of one or three channels."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(3)
        self.std = np.asarray(std, dtype=np.float32).reshape(3)

    @classmethod
    def from_json(cls, stats: dict) -> Normaliser:
        return cls(stats["mean"], stats["std"])

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """``pixels`` is (C, ...) with C = 1 or 3; returns float32 (3, ...)."""
        shape = (3,) + (1,) * (pixels.ndim - 1)
        out = np.empty((3, *pixels.shape[1:]), dtype=np.float32)
        np.subtract(pixels, self.mean.reshape(shape), out=out, dtype=np.float32)
        out /= self.std.reshape(shape)
        return out


def to_three_channels(pixels: np.ndarray) -> np.ndarray:
    """A (1, ...) uint8 array repeated to (3, ...); a (3, ...) array unchanged."""
    return np.repeat(pixels, 3, axis=0) if pixels.shape[0] == 1 else pixels


class TracedFramesDataset(Dataset):
    """The ED and ES frames of each video with their masks, for segmentation.

    Item: (ED frame, ES frame, ED mask, ES mask) as float32 (3, H, W) frames and float32
    (H, W) masks, the original's (LargeFrame, SmallFrame, LargeTrace, SmallTrace).
    """

    def __init__(self, cache: VideoCache, manifest: pd.DataFrame, tracings: pd.DataFrame, normaliser: Normaliser):
        self.cache = cache
        self.records = manifest[["FileName", "EDFrame", "ESFrame"]].to_dict("records")
        self.normaliser = normaliser
        coords = {}
        for (name, phase), group in tracings.groupby(["FileName", "Phase"], sort=False):
            coords[(name, phase)] = group[["X1", "Y1", "X2", "Y2"]].to_numpy(dtype=np.float64)
        self.coords = coords

    def __len__(self) -> int:
        return len(self.records)

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Unnormalised uint8 (C, H, W) ED and ES frames and uint8 masks."""
        record = self.records[index]
        video = self.cache.video(record["FileName"])
        shape = video.shape[2:]
        ed = np.asarray(video[:, record["EDFrame"]])
        es = np.asarray(video[:, record["ESFrame"]])
        ed_mask = tracing_mask(self.coords[(record["FileName"], "ED")], shape)
        es_mask = tracing_mask(self.coords[(record["FileName"], "ES")], shape)
        return ed, es, ed_mask, es_mask

    def __getitem__(self, index: int):
        ed, es, ed_mask, es_mask = self.raw(index)
        return (
            torch.from_numpy(self.normaliser(ed)),
            torch.from_numpy(self.normaliser(es)),
            torch.from_numpy(ed_mask.astype(np.float32)),
            torch.from_numpy(es_mask.astype(np.float32)),
        )


class ClipDataset(Dataset):
    """Clips of ``length`` x ``period`` frames for the EF model.

    ``clips="random"``: one item per video, one random clip per epoch (call ``set_epoch``).
    ``clips="all"``: one item per clip of every video. Item: (clip float32 (3, L, H, W),
    EF target float32, video index, clip start). ``pad`` turns on the pad-and-random-crop
    augmentation (the same crop for every frame of the clip).
    """

    def __init__(
        self,
        cache: VideoCache,
        manifest: pd.DataFrame,
        normaliser: Normaliser,
        length: int = 32,
        period: int = 2,
        clips: str = "random",
        pad: int | None = None,
        seed: int = 0,
    ):
        if clips not in ("random", "all"):
            raise ValueError(f"clips must be 'random' or 'all', not {clips!r}")
        self.cache = cache
        self.names = manifest["FileName"].tolist()
        self.targets = manifest["EF"].to_numpy(dtype=np.float32)
        self.normaliser = normaliser
        self.length, self.period, self.clips, self.pad, self.seed = length, period, clips, pad, seed
        self.epoch = 0
        if clips == "all":
            self.items = [
                (v, int(s))
                for v, name in enumerate(self.names)
                for s in clip_starts(cache.n_frames(name), length, period)
            ]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items) if self.clips == "all" else len(self.names)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def locate(self, index: int) -> tuple[int, int, tuple[int, int] | None]:
        """(video index, clip start, crop offset or None) of an item."""
        rng = self._rng(index)
        if self.clips == "all":
            video, start = self.items[index]
        else:
            video = index
            start = int(rng.integers(n_clips(self.cache.n_frames(self.names[index]), self.length, self.period)))
        offset = crop_offsets(rng, self.pad) if self.pad else None
        return video, start, offset

    def raw(self, index: int) -> tuple[np.ndarray, int]:
        """The clip's uint8 frames (C, n, H, W) before padding, and the number of padding frames."""
        video, start, _ = self.locate(index)
        return take_clip(self.cache.video(self.names[video]), start, self.length, self.period)

    def __getitem__(self, index: int):
        video, start, offset = self.locate(index)
        frames, n_pad = take_clip(self.cache.video(self.names[video]), start, self.length, self.period)
        clip = self.normaliser(frames)
        if n_pad:  # zeros after normalisation: the padding is the mean colour
            clip = np.concatenate([clip, np.zeros((3, n_pad, *clip.shape[2:]), np.float32)], axis=1)
        if offset is not None:
            clip = pad_and_crop(clip, self.pad, offset)
        return torch.from_numpy(clip), torch.tensor(self.targets[video]), video, start


def pad_and_crop(clip: np.ndarray, pad: int, offset: tuple[int, int]) -> np.ndarray:
    """Pad every frame with ``pad`` zero pixels on each side, crop back at ``offset``."""
    c, n, h, w = clip.shape
    padded = np.zeros((c, n, h + 2 * pad, w + 2 * pad), dtype=clip.dtype)
    padded[:, :, pad : pad + h, pad : pad + w] = clip
    i, j = offset
    return np.ascontiguousarray(padded[:, :, i : i + h, j : j + w])


class FrameBatches(IterableDataset):
    """Every frame of every video, in batches of ``batch_size`` frames across videos.

    Yields (frames float32 (B, 3, H, W), video indices (B,), frame indices (B,)); the last
    batch may be smaller. Only one batch of frames is in memory at a time, however long
    the video. With several DataLoader workers, each takes its share of the videos.
    """

    def __init__(self, cache: VideoCache, names: list[str], normaliser: Normaliser, batch_size: int = 256):
        self.cache = cache
        self.names = list(names)
        self.normaliser = normaliser
        self.batch_size = batch_size

    def _videos(self) -> range:
        info = get_worker_info()
        if info is None:
            return range(len(self.names))
        return range(info.id, len(self.names), info.num_workers)

    def __iter__(self):
        pending: list[tuple[np.ndarray, int, np.ndarray]] = []
        count = 0
        for v in self._videos():
            video = self.cache.video(self.names[v])
            n_frames = video.shape[1]
            start = 0
            while start < n_frames:
                take = min(self.batch_size - count, n_frames - start)
                pending.append((np.asarray(video[:, start : start + take]), v, np.arange(start, start + take)))
                count += take
                start += take
                if count == self.batch_size:
                    yield self._collate(pending)
                    pending, count = [], 0
        if pending:
            yield self._collate(pending)

    def _collate(self, pending):
        frames = np.concatenate([self.normaliser(chunk) for chunk, _, _ in pending], axis=1)
        videos = np.concatenate([np.full(len(idx), v) for _, v, idx in pending])
        indices = np.concatenate([idx for _, _, idx in pending])
        return (
            torch.from_numpy(np.ascontiguousarray(frames.transpose(1, 0, 2, 3))),
            torch.from_numpy(videos),
            torch.from_numpy(indices),
        )
