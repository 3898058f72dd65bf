"""The EF stage's training task: one random clip per video, MSE against the video's EF.

Loss is the mean squared error of one prediction per clip (docs/echonet.md §5); the logged
epoch loss is the per-clip mean.
"""

from __future__ import annotations

import torch

from echobeat.compute import Compute
from echobeat.data.normalisation import Normaliser
from echobeat.learn.training import Accumulator, Task
from echobeat.models.video import forward_batch
from echobeat.stats import mae_statistic, r2_statistic


class VideoTask(Task):
    """Batches of random clips (``ClipBatch``) with EF targets."""

    metric_names = ("r2", "mae")

    def __init__(self, normaliser: Normaliser):
        self.normaliser = normaliser

    def step(self, model, batch, compute: Compute, totals: Accumulator) -> torch.Tensor:
        prediction = forward_batch(model, batch, self.normaliser, compute)
        target = batch.targets.to(compute.device, prediction.dtype, non_blocking=True)
        loss = torch.nn.functional.mse_loss(prediction, target)
        totals.loss += loss.item() * len(batch)
        totals.samples += len(batch)
        totals.add("prediction", prediction.detach().cpu().numpy())
        totals.add("target", batch.targets.numpy())
        return loss

    def metrics(self, totals: Accumulator) -> dict[str, float]:
        prediction, target = totals.get("prediction"), totals.get("target")
        if len(target) == 0:
            return {"r2": float("nan"), "mae": float("nan")}
        # One resample of the statistics the analysis bootstraps: the same formulas.
        prediction, target = prediction[None, :], target[None, :]
        return {"r2": float(r2_statistic(prediction, target)[0]), "mae": float(mae_statistic(prediction, target)[0])}
