"""Frames of cached videos for segmentation: the traced ED/ES frames with masks, and every frame in batches.

Single items come normalised to float32, (x - mean[c]) / std[c] for the three channels (a
one-channel cache entry is broadcast to three). Every batch of :class:`FrameBatches` travels
from the DataLoader workers as uint8 and is normalised where it is used (``Normaliser.batch``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from echobeat.data.cache import VideoCache
from echobeat.data.normalisation import Normaliser
from echobeat.data.tracings import tracing_mask
from echobeat.datasets.buffers import batch_buffer


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
