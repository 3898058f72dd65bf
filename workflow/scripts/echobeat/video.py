"""The EF video stage: models, the training task, and batched all-clip inference.

Loss is the mean squared error of one prediction per clip (ECHONET_FACTS.md section 5); the
logged epoch loss is the per-clip mean. The fc head is one output whose bias starts at the
mean EF of the training split (``bias_init: train_mean``) or the original's hard-coded 55.6
(``echonet``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
import torchvision
from torch.utils.data import DataLoader

from .datasets import ClipDataset, Normaliser, prebatched
from .models import WeightsError, load_state
from .training import Accumulator, autocast

log = logging.getLogger(__name__)

VIDEO_MODELS = ("r2plus1d_18", "r3d_18", "mc3_18")
ECHONET_BIAS = 55.6


class Float32Head(torch.nn.Linear):
    """The EF head, computed in float32 even under autocast: in bf16 an EF near 55 would come out
    in steps of 0.25 (0.5 above 64). Same parameters as the Linear it replaces."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.to(self.weight.dtype))


def video_model(name: str, weights: str = "pretrained", bias: float = ECHONET_BIAS) -> torch.nn.Module:
    """A torchvision video ResNet whose fc is Linear(512, 1) with the given bias."""
    if name not in VIDEO_MODELS:
        raise ValueError(f"unknown video model {name!r}; choose one of {', '.join(VIDEO_MODELS)}")
    builder = getattr(torchvision.models.video, name)
    if weights == "pretrained":
        try:
            model = builder(weights="DEFAULT")
        except Exception as err:  # network errors come in many types
            raise WeightsError(
                f"cannot download torchvision's Kinetics-400 weights for {name} ({type(err).__name__}: {err}). "
                "On a machine without internet, put the weights file in torchvision's cache "
                "(~/.cache/torch/hub/checkpoints) or set the run's weights to the path of a local .pt "
                "state dict, or to random."
            ) from None
    else:
        model = builder(weights=None)
    model.fc = Float32Head(model.fc.in_features, 1)
    with torch.no_grad():
        model.fc.bias.fill_(bias)
    if weights not in ("pretrained", "random"):
        load_state(model, weights)
    return model


def predict(model: torch.nn.Module, batch, normaliser: Normaliser, device: torch.device) -> torch.Tensor:
    """(B,) predictions of a :class:`~echobeat.datasets.ClipBatch`: float32, or float64 from a
    float64 model (the distributed tests compare in float64)."""
    x = batch.normalised(normaliser, device).to(next(model.parameters()).dtype)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last_3d)
    out = model(x)[:, 0]
    return out.to(torch.promote_types(out.dtype, torch.float32))


class VideoTask:
    """Batches of random clips (``ClipBatch``) with EF targets."""

    metric_names = ("r2", "mae")

    def __init__(self, normaliser: Normaliser):
        self.normaliser = normaliser

    def step(self, model, batch, device, totals: Accumulator) -> torch.Tensor:
        prediction = predict(model, batch, self.normaliser, device)
        target = batch.targets.to(device, prediction.dtype, non_blocking=True)
        loss = torch.nn.functional.mse_loss(prediction, target)
        totals.loss += loss.item() * len(batch)
        totals.samples += len(batch)
        totals.add("prediction", prediction.detach().cpu().numpy())
        totals.add("target", batch.targets.numpy())
        return loss

    def epoch_loss(self, totals: Accumulator) -> float:
        return totals.loss / max(totals.samples, 1)

    def metrics(self, totals: Accumulator) -> dict[str, float]:
        prediction, target = totals.get("prediction"), totals.get("target")
        if len(target) == 0:
            return {"r2": float("nan"), "mae": float("nan")}
        total = ((target - target.mean()) ** 2).sum()
        r2 = 1.0 - ((target - prediction) ** 2).sum() / total if total > 0 else float("nan")
        return {"r2": float(r2), "mae": float(np.abs(prediction - target).mean())}


@torch.no_grad()
def predict_all_clips(
    model, dataset: ClipDataset, normaliser: Normaliser, device: torch.device, batch_size: int, workers: int = 0
) -> pd.DataFrame:
    """Every clip of every video, in batches across clips and videos: Filename (.avi), Clip, Prediction."""
    model.eval()
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=prebatched,
        pin_memory=device.type == "cuda",
    )
    names, starts, predictions = [], [], []
    for batch in loader:
        with autocast(device):
            predictions.append(predict(model, batch, normaliser, device).cpu().numpy())
        names += [dataset.names[v] for v in batch.videos.tolist()]
        starts.append(batch.starts.numpy())
    return pd.DataFrame(
        {
            "Filename": [f"{n}.avi" for n in names],
            "Clip": np.concatenate(starts) if starts else np.empty(0, np.int64),
            "Prediction": np.concatenate(predictions) if predictions else np.empty(0, np.float32),
        }
    )
