"""Clips of cached videos for the EF model: the clip dataset, its batches, and epoch-carrying samplers.

Batches (``__getitems__``) travel from the DataLoader workers as uint8, a quarter (a twelfth for
grey videos) of the float32 bytes, and are normalised where they are used, on the GPU when there
is one (:meth:`ClipBatch.normalised`): the same numbers, far less copying.

Randomness (clip starts, crop offsets) is drawn from a generator seeded by (seed, epoch, item),
never from a worker's state, so a run with the same seed yields the same clips whatever the
number of DataLoader workers. With :class:`EpochBatches` the epoch travels with every index, so
DataLoader workers that live across epochs (``persistent_workers``) draw each epoch's clips
without being told of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from echobeat.data.cache import VideoCache
from echobeat.data.clips import CROP_RANGES, clip_starts, crop_offsets, n_clips, take_clip
from echobeat.data.normalisation import Normaliser
from echobeat.datasets.buffers import batch_buffer


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

    ``clips="random"``: one item per video, one random clip per epoch: its items are indexed by
    (epoch, item) pairs (:class:`EpochBatches` makes them), and a bare item index is refused.
    ``clips="all"``: one item per clip of every video; ``clips="chosen"``: one item per
    (video index, clip start) of ``chosen`` (e.g. the clips centred on detected beats). A batch
    from ``__getitems__`` (DataLoader with ``collate_fn=prebatched``) is a :class:`ClipBatch` of
    uint8 pixels; whoever runs the model normalises it (:meth:`ClipBatch.normalised`), so the
    dataset holds no normaliser. ``pad`` turns on the pad-and-random-crop augmentation (one
    crop, drawn as ``crop`` says (``data.clips.CROP_RANGES``), for the whole clip).
    """

    def __init__(
        self,
        cache: VideoCache,
        manifest: pd.DataFrame,
        length: int,
        period: int,
        clips: str,
        *,
        pad: int | None = None,
        crop: str | None = None,
        seed: int = 0,
        chosen: list[tuple[int, int]] | None = None,
    ):
        if clips not in ("random", "all", "chosen"):
            raise ValueError(f"clips must be 'random', 'all' or 'chosen', not {clips!r}")
        if pad and crop is None:
            raise ValueError(f"pad needs a crop, one of {CROP_RANGES}")
        self.cache = cache
        self.names = manifest["FileName"].tolist()
        # Inference needs no label: without an EF column every target is NaN.
        ef = manifest["EF"] if "EF" in manifest else pd.Series(np.nan, index=manifest.index)
        self.targets = ef.to_numpy(dtype=np.float32)
        self.length, self.period, self.clips, self.pad, self.seed = length, period, clips, pad, seed
        self.crop = crop
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

    def __len__(self) -> int:
        return len(self.names) if self.clips == "random" else len(self.items)

    def locate(self, index: int | tuple[int, int]) -> tuple[int, int, tuple[int, int] | None]:
        """(video index, clip start, crop offset or None) of an (epoch, item) pair from
        :class:`EpochBatches`, or of a bare item index where nothing is drawn at random."""
        if isinstance(index, tuple):
            epoch, index = index
        elif self.clips == "random" or self.pad:
            # Which clip (or crop) an item is depends on the epoch: never guess it.
            raise TypeError(f"random clips and crops are indexed by (epoch, item) pairs, not a bare item {index!r}")
        else:
            epoch = 0
        rng = np.random.default_rng([self.seed, epoch, index])
        if self.clips != "random":
            video, start = self.items[index]
        else:
            video = index
            start = int(rng.integers(n_clips(self.cache.n_frames(self.names[index]), self.length, self.period)))
        offset = crop_offsets(rng, self.pad, self.crop) if self.pad else None
        return video, start, offset

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

    def __getitem__(self, index: int | tuple[int, int]) -> ClipBatch:
        """One item as a batch of one: the same path as the DataLoader's."""
        return self.__getitems__([index])

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
