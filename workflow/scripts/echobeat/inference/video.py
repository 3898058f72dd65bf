"""EF predictions of video clips, batched across clips and videos. Needs no label.

:func:`predict_clips` runs every clip a :class:`~echobeat.datasets.clips.ClipDataset`
holds (all clips of each video, or any chosen starts) and returns one row per clip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from echobeat.compute import Compute
from echobeat.data.names import avi_name
from echobeat.data.normalisation import Normaliser
from echobeat.datasets.clips import ClipDataset, prebatched
from echobeat.models.video import forward_batch

PREDICTION_COLUMNS = ("Filename", "Clip", "Prediction")


@torch.no_grad()
def predict_clips(
    model, dataset: ClipDataset, normaliser: Normaliser, compute: Compute, batch_size: int
) -> pd.DataFrame:
    """Every clip of ``dataset``, in batches across clips and videos: Filename (.avi), Clip, Prediction."""
    model.eval()
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=compute.loader_workers,
        collate_fn=prebatched,
        pin_memory=compute.pin_memory,
    )
    names, starts, predictions = [], [], []
    for batch in loader:
        with compute.autocast():
            predictions.append(forward_batch(model, batch, normaliser, compute).cpu().numpy())
        names += [dataset.names[v] for v in batch.videos.tolist()]
        starts.append(batch.starts.numpy())
    return pd.DataFrame(
        {
            "Filename": [avi_name(n) for n in names],
            "Clip": np.concatenate(starts) if starts else np.empty(0, np.int64),
            "Prediction": np.concatenate(predictions) if predictions else np.empty(0, np.float32),
        }
    )
