"""The segmentation stage's training task, and its counts of the model against traced masks.

Loss (docs/echonet.md §3): per batch, (BCE-with-logits summed over the pixels of the ED frames
+ the same for the ES frames) / 2, the two phases in separate forward passes as the original
runs them; the logged epoch loss is the sum of batch losses / samples / H / W. The same
per-frame counts (intersection, predicted, true pixels) feed the epoch's Dice and the Dice
evaluation of the trained model (:func:`traced_frame_counts`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from echobeat.compute import Compute
from echobeat.learn.training import Accumulator, Task
from echobeat.models.segmentation import logits
from echobeat.stats import dice_statistic


def frame_counts(logit: torch.Tensor, mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame intersection, predicted and true pixel counts."""
    predicted = logit > 0
    true = mask > 0
    return (
        (predicted & true).sum(dim=(1, 2)).cpu().numpy(),
        predicted.sum(dim=(1, 2)).cpu().numpy(),
        true.sum(dim=(1, 2)).cpu().numpy(),
    )


def pooled(intersection: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> float:
    """Dice pooled over all the frames counted (one resample of :func:`~echobeat.stats.dice_statistic`)."""
    return float(dice_statistic(intersection[None, :], predicted[None, :], true[None, :])[0])


class SegmentationTask(Task):
    """Batches of (ED frame, ES frame, ED mask, ES mask) from ``TracedFramesDataset``."""

    metric_names = ("dice_overall", "dice_ED", "dice_ES")

    def step(self, model, batch, compute: Compute, totals: Accumulator) -> torch.Tensor:
        ed, es, ed_mask, es_mask = (t.to(compute.device, non_blocking=True) for t in batch)
        ed_logit = logits(model, ed, compute)
        es_logit = logits(model, es, compute)
        loss_ed = F.binary_cross_entropy_with_logits(ed_logit, ed_mask, reduction="sum")
        loss_es = F.binary_cross_entropy_with_logits(es_logit, es_mask, reduction="sum")
        loss = (loss_ed + loss_es) / 2
        # Logged as the original does: sum of batch losses / samples / pixels per frame.
        totals.loss += loss.item() / (ed.shape[-2] * ed.shape[-1])
        totals.samples += ed.shape[0]
        for phase, logit, mask in (("ED", ed_logit, ed_mask), ("ES", es_logit, es_mask)):
            inter, pred, true = frame_counts(logit.detach(), mask)
            totals.add(f"{phase}_inter", inter)
            totals.add(f"{phase}_pred", pred)
            totals.add(f"{phase}_true", true)
        return loss

    def metrics(self, totals: Accumulator) -> dict[str, float]:
        ed = [totals.get(f"ED_{k}") for k in ("inter", "pred", "true")]
        es = [totals.get(f"ES_{k}") for k in ("inter", "pred", "true")]
        both = [np.concatenate([a, b]) for a, b in zip(ed, es, strict=True)]
        return {
            "dice_overall": pooled(*both),
            "dice_ED": pooled(*ed),
            "dice_ES": pooled(*es),
        }


@torch.no_grad()
def traced_frame_counts(model, loader: DataLoader, compute: Compute) -> pd.DataFrame:
    """Per-video counts on the ED and ES frames (columns ``ED_inter``, ``ES_pred``, ...), in loader order."""
    model.eval()
    records = []
    device = compute.device
    for ed, es, ed_mask, es_mask in loader:
        with compute.autocast():
            counts = {
                "ED": frame_counts(logits(model, ed.to(device), compute), ed_mask.to(device)),
                "ES": frame_counts(logits(model, es.to(device), compute), es_mask.to(device)),
            }
        for b in range(ed.shape[0]):
            records.append(
                {f"{p}_{k}": int(c[i][b]) for p, c in counts.items() for i, k in enumerate(("inter", "pred", "true"))}
            )
    return pd.DataFrame(records)
