"""torch Datasets on the video cache: traced frames, clips, and frame batches.

Pixels are normalised on the fly to float32, (x - mean[c]) / std[c] for the three channels
(a one-channel cache entry is broadcast to three). Single items come normalised. Whole
batches (``__getitems__`` of the clip dataset, every batch of ``FrameBatches``) travel from
the DataLoader workers as uint8, a quarter (a twelfth for grey videos) of the float32 bytes,
and are normalised where they are used, on the GPU when there is one
(``ClipBatch.normalised``, ``Normaliser.batch``): the same numbers, far less copying.

Randomness (clip starts, crop offsets) is drawn from a generator seeded by (seed, epoch,
item), never from a worker's state, so a run with the same seed yields the same clips
whatever the number of DataLoader workers. With :class:`EpochBatches` the epoch travels with
every index, so DataLoader workers that live across epochs (``persistent_workers``) draw each
epoch's clips without being told of it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, IterableDataset, Sampler, get_worker_info

from echobeat.data.cache import VideoCache
from echobeat.data.clips import clip_starts, crop_offsets, n_clips, take_clip
from echobeat.data.normalisation import Normaliser
from echobeat.data.tracings import tracing_mask


def stage_data(manifest: str, index: str, normalisation: str) -> tuple[pd.DataFrame, VideoCache, Normaliser]:
    """What every model rule reads from the data stage: the manifest, the cache, the normaliser."""
    return (
        pd.read_csv(manifest, dtype={"FileName": str}),
        VideoCache.open(index),
        Normaliser.from_json(json.loads(Path(normalisation).read_text())),
    )


def check_training_splits(n_train: int, n_val: int, batch_size: int, key: str) -> None:
    """Clear errors for splits a training run cannot use (``key`` names the config key)."""
    if n_train < batch_size:
        raise ValueError(
            f"the TRAIN split has {n_train} usable videos, fewer than {key} {batch_size} "
            "(the last incomplete batch is dropped, as in the original): lower the batch size"
        )
    if n_val == 0:
        raise ValueError("the VAL split has no usable video: the best model is chosen on it")


def split_rows(manifest: pd.DataFrame, split: str) -> pd.DataFrame:
    """The manifest rows of one split (TRAIN, VAL or TEST), renumbered from 0."""
    return manifest[manifest["Split"] == split].reset_index(drop=True)


def batch_buffer(shape: tuple[int, ...], dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """An uninitialised tensor for a whole batch.

    Inside a DataLoader worker it is allocated in shared memory, as torch's own collate does,
    so that handing the batch to the main process copies nothing.
    """
    if get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    elem = torch.empty(0, dtype=dtype)
    storage = elem._typed_storage()._new_shared(math.prod(shape), device=elem.device)
    return elem.new(storage).resize_(*shape)


class EpochBatches(Sampler[list[tuple[int, int]]]):
    """``batches`` (lists of item indices, or a batch sampler) as lists of (epoch, item) pairs.

    The DataLoader iterates it in the main process at the start of every epoch, after
    ``set_epoch``, so the pairs carry the current epoch to workers that outlive an epoch.
    """

    def __init__(self, batches):
        self.batches = batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            yield [(self.epoch, index) for index in batch]


def prebatched(batch):
    """``collate_fn`` for datasets whose ``__getitems__`` already returns a whole batch."""
    return batch


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


@dataclass
class ClipBatch:
    """A batch of clips as the workers hand it over: uint8 pixels plus where they are real.

    ``window[b]`` = (frames, row0, row1, col0, col1): clip ``b`` holds real pixels in its
    first ``frames`` frames, rows row0:row1 and columns col0:col1; elsewhere (end padding,
    the border the crop uncovered) it is zero after normalisation, the mean colour.
    """

    pixels: torch.Tensor  # uint8 (B, C, L, H, W), C = 1 or 3
    window: torch.Tensor  # int64 (B, 5)
    targets: torch.Tensor  # float32 (B,)
    videos: torch.Tensor  # int64 (B,)
    starts: torch.Tensor  # int64 (B,)

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def pin_memory(self) -> ClipBatch:
        """Called by a DataLoader with ``pin_memory=True``, so the copy to the GPU is asynchronous."""
        return ClipBatch(*(t.pin_memory() for t in (self.pixels, self.window, self.targets, self.videos, self.starts)))

    def normalised(self, normaliser: Normaliser, device: torch.device | str = "cpu") -> torch.Tensor:
        """The model's input: float32 (B, 3, L, H, W) on ``device``."""
        x = normaliser.batch(self.pixels, device)
        _, _, length, height, width = x.shape
        for b, (n, r0, r1, c0, c1) in enumerate(self.window.tolist()):
            if (n, r0, r1, c0, c1) == (length, 0, height, 0, width):
                continue  # all real pixels: nothing to zero
            x[b, :, n:] = 0
            x[b, :, :, :r0] = 0
            x[b, :, :, r1:] = 0
            x[b, :, :, :, :c0] = 0
            x[b, :, :, :, c1:] = 0
        return x


class ClipDataset(Dataset):
    """Clips of ``length`` x ``period`` frames for the EF model.

    ``clips="random"``: one item per video, one random clip per epoch (call ``set_epoch``).
    ``clips="all"``: one item per clip of every video; ``clips="chosen"``: one item per
    (video index, clip start) of ``chosen`` (e.g. the clips centred on detected beats). An item is (clip float32
    (3, L, H, W), EF target float32, video index, clip start); a batch from
    ``__getitems__`` (DataLoader with ``collate_fn=prebatched``) is a :class:`ClipBatch`.
    ``pad`` turns on the pad-and-random-crop augmentation (one crop for the whole clip).
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
        crop: str = "symmetric",
        chosen: list[tuple[int, int]] | None = None,
    ):
        if clips not in ("random", "all", "chosen"):
            raise ValueError(f"clips must be 'random', 'all' or 'chosen', not {clips!r}")
        self.cache = cache
        self.names = manifest["FileName"].tolist()
        # Inference needs no label: without an EF column every target is NaN.
        ef = manifest["EF"] if "EF" in manifest else pd.Series(np.nan, index=manifest.index)
        self.targets = ef.to_numpy(dtype=np.float32)
        self.normaliser = normaliser
        self.length, self.period, self.clips, self.pad, self.seed = length, period, clips, pad, seed
        self.crop = crop
        self.epoch = 0
        shapes = [cache.shapes[name] for name in self.names]
        self.channels = max((shape[0] for shape in shapes), default=1)
        self.frame_shape = shapes[0][2:] if shapes else (112, 112)
        if clips == "all":
            self.items = [
                (v, int(s))
                for v, name in enumerate(self.names)
                for s in clip_starts(cache.n_frames(name), length, period)
            ]
        elif clips == "chosen":
            self.items = [(int(v), int(s)) for v, s in (chosen or [])]
            for v, s in self.items:
                if not 0 <= s < n_clips(cache.n_frames(self.names[v]), length, period):
                    raise IndexError(f"clip start {s} is not a clip of {self.names[v]}")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.names) if self.clips == "random" else len(self.items)

    def locate(self, index: int | tuple[int, int]) -> tuple[int, int, tuple[int, int] | None]:
        """(video index, clip start, crop offset or None) of an item, or of an (epoch, item)
        pair from :class:`EpochBatches` (else the epoch is the last ``set_epoch``'s)."""
        epoch, index = index if isinstance(index, tuple) else (self.epoch, index)
        rng = np.random.default_rng([self.seed, epoch, index])
        if self.clips != "random":
            video, start = self.items[index]
        else:
            video = index
            start = int(rng.integers(n_clips(self.cache.n_frames(self.names[index]), self.length, self.period)))
        offset = crop_offsets(rng, self.pad, self.crop) if self.pad else None
        return video, start, offset

    def raw(self, index: int) -> tuple[np.ndarray, int]:
        """The clip's uint8 frames (C, n, H, W) before padding, and the number of padding frames."""
        video, start, _ = self.locate(index)
        return take_clip(self.cache.video(self.names[video]), start, self.length, self.period)

    def fill(self, index: int | tuple[int, int], out: np.ndarray) -> tuple[int, int, tuple[int, int, int, int, int]]:
        """Write item ``index``'s uint8 clip into ``out`` (C, L, H, W), zero outside its window.

        Returns (video, start, window); see :class:`ClipBatch` for the window.
        """
        video, start, offset = self.locate(index)
        frames, _ = take_clip(self.cache.video(self.names[video]), start, self.length, self.period)
        n = frames.shape[1]
        h, w = frames.shape[2:]
        if offset is None:
            out[:, :n] = frames
            out[:, n:] = 0
            return video, start, (n, 0, h, 0, w)
        # Pad-and-crop without building the padded clip: out[r, c] = clip[r + dy, c + dx].
        dy, dx = offset[0] - self.pad, offset[1] - self.pad
        rows_out, rows_in = slice(max(0, -dy), min(h, h - dy)), slice(max(0, dy), min(h, h + dy))
        cols_out, cols_in = slice(max(0, -dx), min(w, w - dx)), slice(max(0, dx), min(w, w + dx))
        out[:] = 0
        out[:, :n, rows_out, cols_out] = frames[:, :, rows_in, cols_in]
        return video, start, (n, rows_out.start, rows_out.stop, cols_out.start, cols_out.stop)

    def __getitem__(self, index: int):
        pixels = np.empty((self.channels, self.length, *self.frame_shape), dtype=np.uint8)
        video, start, (n, r0, r1, c0, c1) = self.fill(index, pixels)
        clip = np.zeros((3, *pixels.shape[1:]), dtype=np.float32)
        self.normaliser(pixels[:, :n, r0:r1, c0:c1], out=clip[:, :n, r0:r1, c0:c1])
        return torch.from_numpy(clip), torch.tensor(self.targets[video]), video, start

    def __getitems__(self, indices: list) -> ClipBatch:
        """A whole batch at once, as uint8 (use ``collate_fn=prebatched``)."""
        pixels = batch_buffer((len(indices), self.channels, self.length, *self.frame_shape))
        array = pixels.numpy()
        located = [self.fill(i, array[k]) for k, i in enumerate(indices)]
        videos = torch.tensor([video for video, _, _ in located], dtype=torch.int64)
        return ClipBatch(
            pixels=pixels,
            window=torch.tensor([window for _, _, window in located], dtype=torch.int64),
            targets=torch.from_numpy(self.targets[videos.numpy()]),
            videos=videos,
            starts=torch.tensor([start for _, start, _ in located], dtype=torch.int64),
        )


class FrameBatches(IterableDataset):
    """Every frame of every video, in batches of ``batch_size`` frames across videos.

    Yields (frames uint8 (B, C, H, W), video indices (B,), frame indices (B,)), to be
    normalised where they are used (``Normaliser.batch``); the last batch may be smaller.
    Only one batch of frames is in memory at a time, however long the video. With several
    DataLoader workers (``batch_size=None``), each takes its share of the videos.
    """

    def __init__(self, cache: VideoCache, names: list[str], batch_size: int = 256):
        self.cache = cache
        self.names = list(names)
        self.batch_size = batch_size
        self.channels = max((cache.shapes[name][0] for name in self.names), default=1)

    def _videos(self) -> range:
        info = get_worker_info()
        if info is None:
            return range(len(self.names))
        return range(info.id, len(self.names), info.num_workers)

    def __iter__(self):
        pending: list[tuple[np.ndarray, int, int]] = []
        count = 0
        for v in self._videos():
            video = self.cache.video(self.names[v])
            n_frames = video.shape[1]
            start = 0
            while start < n_frames:
                take = min(self.batch_size - count, n_frames - start)
                pending.append((video[:, start : start + take], v, start))
                count += take
                start += take
                if count == self.batch_size:
                    yield self._collate(pending, count)
                    pending, count = [], 0
        if pending:
            yield self._collate(pending, count)

    def _collate(self, pending, count: int):
        h, w = pending[0][0].shape[2:]
        frames = batch_buffer((count, self.channels, h, w))
        array = frames.numpy()
        videos = np.empty(count, dtype=np.int64)
        indices = np.empty(count, dtype=np.int64)
        k = 0
        for chunk, v, first in pending:
            n = chunk.shape[1]
            # (n, C, H, W) batch rows seen as (C, n, H, W); a grey chunk fills every channel.
            array[k : k + n].transpose(1, 0, 2, 3)[:] = chunk
            videos[k : k + n] = v
            indices[k : k + n] = np.arange(first, first + n)
            k += n
        return frames, torch.from_numpy(videos), torch.from_numpy(indices)
