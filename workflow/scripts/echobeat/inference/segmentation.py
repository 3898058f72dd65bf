"""Left-ventricle segmentation of every frame, and size.csv. Needs no label.

Predicted mask = logit > 0; a frame's size is its number of mask pixels. :func:`size_table`
writes the original's size.csv (docs/echonet.md §4) with the detected end-systoles; the
human ED/ES columns are filled where the manifest has traced frames and are 0 elsewhere.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from echobeat.compute import Compute
from echobeat.data.names import avi_name
from echobeat.data.normalisation import Normaliser
from echobeat.datasets.frames import FrameBatches
from echobeat.inference.beats import detect_beats
from echobeat.models.segmentation import logits

log = logging.getLogger(__name__)

SIZE_COLUMNS = ["Filename", "Frame", "Size", "HumanLarge", "HumanSmall", "ComputerSmall"]


@torch.no_grad()
def frame_sizes(model, frames: FrameBatches, normaliser: Normaliser, compute: Compute) -> dict[int, np.ndarray]:
    """Pixels with logit > 0 on every frame of every video: {video index: sizes by frame}."""
    model.eval()
    loader = DataLoader(frames, batch_size=None, num_workers=compute.loader_workers, pin_memory=compute.pin_memory)
    sizes: dict[int, dict[int, int]] = {}
    done = 0
    for pixels, videos, indices in loader:
        with compute.autocast():
            size = (logits(model, normaliser.batch(pixels, compute.device), compute) > 0).sum(dim=(1, 2)).cpu().numpy()
        for v, f, s in zip(videos.tolist(), indices.tolist(), size.tolist(), strict=True):
            sizes.setdefault(v, {})[f] = s
        done += len(size)
        if done // 5000 != (done - len(size)) // 5000:
            log.info("size inference: %d frames", done)
    return {v: np.array([by_frame[f] for f in range(len(by_frame))], dtype=np.int64) for v, by_frame in sizes.items()}


@torch.no_grad()
def predicted_masks(model, video: np.ndarray, normaliser: Normaliser, compute: Compute, batch: int) -> np.ndarray:
    """Boolean (F, H, W) masks (logit > 0) of every frame of a cached (C, F, H, W) video."""
    model.eval()
    masks = []
    for first in range(0, video.shape[1], batch):
        # A copy: the cache's memory map is read-only.
        pixels = torch.from_numpy(np.array(video[:, first : first + batch].transpose(1, 0, 2, 3)))
        with compute.autocast():
            masks.append((logits(model, normaliser.batch(pixels, compute.device), compute) > 0).cpu().numpy())
    return np.concatenate(masks)


def size_table(manifest: pd.DataFrame, sizes: dict[int, np.ndarray], trim: str) -> pd.DataFrame:
    """size.csv: Filename (.avi), Frame, Size, HumanLarge, HumanSmall, ComputerSmall (0/1).

    ``sizes[v]`` belongs to manifest row ``v``. HumanLarge/HumanSmall mark the traced ED/ES
    frames where the manifest has EDFrame/ESFrame (labelled data), and are 0 elsewhere.
    """
    parts = []
    labelled = {"EDFrame", "ESFrame"} <= set(manifest.columns)
    for v, row in enumerate(manifest.itertuples()):
        size = sizes[v]
        frames = np.arange(len(size))
        beats = np.zeros(len(size), dtype=np.int64)
        beats[detect_beats(size, trim)] = 1
        ed, es = (row.EDFrame, row.ESFrame) if labelled else (-1, -1)
        parts.append(
            pd.DataFrame(
                {
                    "Filename": avi_name(row.FileName),
                    "Frame": frames,
                    "Size": size,
                    "HumanLarge": (frames == ed).astype(np.int64),
                    "HumanSmall": (frames == es).astype(np.int64),
                    "ComputerSmall": beats,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SIZE_COLUMNS)
