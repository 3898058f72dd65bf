"""The segmentation stage: its training task, Dice evaluation, and size inference with beats.

Loss (ECHONET_FACTS.md section 3): per batch, (BCE-with-logits summed over the pixels of the ED
frames + the same for the ES frames) / 2, the two phases in separate forward passes as the
original runs them; the logged epoch loss is the sum of batch losses / samples / H / W.
Predicted mask = logit > 0; Dice pools intersections and sums over a split.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from .beats import detect_beats
from .datasets import FrameBatches, Normaliser
from .stats import bootstrap, dice_statistic, pooled_dice
from .training import Accumulator, autocast

log = logging.getLogger(__name__)


def logits(model: torch.nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """(B, H, W) float32 logits of a batch of normalised frames."""
    if frames.device.type == "cuda":
        frames = frames.contiguous(memory_format=torch.channels_last)
    return model(frames)["out"][:, 0].float()


def frame_counts(logit: torch.Tensor, mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame intersection, predicted and true pixel counts."""
    predicted = logit > 0
    true = mask > 0
    return (
        (predicted & true).sum(dim=(1, 2)).cpu().numpy(),
        predicted.sum(dim=(1, 2)).cpu().numpy(),
        true.sum(dim=(1, 2)).cpu().numpy(),
    )


class SegmentationTask:
    """Batches of (ED frame, ES frame, ED mask, ES mask) from ``TracedFramesDataset``."""

    metric_names = ("dice_overall", "dice_large", "dice_small")

    def step(self, model, batch, device, totals: Accumulator) -> torch.Tensor:
        ed, es, ed_mask, es_mask = (t.to(device, non_blocking=True) for t in batch)
        ed_logit = logits(model, ed)
        es_logit = logits(model, es)
        loss_ed = F.binary_cross_entropy_with_logits(ed_logit, ed_mask, reduction="sum")
        loss_es = F.binary_cross_entropy_with_logits(es_logit, es_mask, reduction="sum")
        loss = (loss_ed + loss_es) / 2
        # Logged as the original does: sum of batch losses / samples / pixels per frame.
        totals.loss += loss.item() / (ed.shape[-2] * ed.shape[-1])
        totals.samples += ed.shape[0]
        for phase, logit, mask in (("large", ed_logit, ed_mask), ("small", es_logit, es_mask)):
            inter, pred, true = frame_counts(logit.detach(), mask)
            totals.add(f"{phase}_inter", inter)
            totals.add(f"{phase}_pred", pred)
            totals.add(f"{phase}_true", true)
        return loss

    def epoch_loss(self, totals: Accumulator) -> float:
        return totals.loss / max(totals.samples, 1)

    def metrics(self, totals: Accumulator) -> dict[str, float]:
        large = [totals.get(f"large_{k}") for k in ("inter", "pred", "true")]
        small = [totals.get(f"small_{k}") for k in ("inter", "pred", "true")]
        both = [np.concatenate([a, b]) for a, b in zip(large, small, strict=True)]
        return {
            "dice_overall": pooled_dice(*both),
            "dice_large": pooled_dice(*large),
            "dice_small": pooled_dice(*small),
        }


@torch.no_grad()
def traced_frame_counts(model, loader: DataLoader, device: torch.device) -> pd.DataFrame:
    """Per-video counts on the ED ("large") and ES ("small") frames, in loader order."""
    model.eval()
    records = []
    for ed, es, ed_mask, es_mask in loader:
        with autocast(device):
            counts = {
                "large": frame_counts(logits(model, ed.to(device)), ed_mask.to(device)),
                "small": frame_counts(logits(model, es.to(device)), es_mask.to(device)),
            }
        for b in range(ed.shape[0]):
            records.append(
                {f"{p}_{k}": int(c[i][b]) for p, c in counts.items() for i, k in enumerate(("inter", "pred", "true"))}
            )
    return pd.DataFrame(records)


def dice_summary(counts: pd.DataFrame, split: str, samples: int, seed: int) -> list[dict]:
    """Pooled Dice with its bootstrap interval for overall, large (ED) and small (ES)."""
    columns = {
        which: tuple(counts[f"{which}_{k}"].to_numpy() for k in ("inter", "pred", "true"))
        for which in ("large", "small")
    }
    columns["overall"] = tuple(np.concatenate([a, b]) for a, b in zip(columns["large"], columns["small"], strict=True))
    rows = []
    for which in ("overall", "large", "small"):
        dice, low, high = bootstrap(dice_statistic, columns[which], samples=samples, seed=seed)
        rows.append({"split": split, "which": which, "dice": dice, "ci_low": low, "ci_high": high})
    return rows


def per_video_dice(names: list[str], counts: pd.DataFrame) -> pd.DataFrame:
    """One row per video: Filename (with .avi), Overall, Large, Small."""

    def dice(i, p, t):
        return 2 * i / (p + t) if p + t else 1.0

    return pd.DataFrame(
        {
            "Filename": [f"{n}.avi" for n in names],
            "Overall": [
                dice(r.large_inter + r.small_inter, r.large_pred + r.small_pred, r.large_true + r.small_true)
                for r in counts.itertuples()
            ],
            "Large": [dice(r.large_inter, r.large_pred, r.large_true) for r in counts.itertuples()],
            "Small": [dice(r.small_inter, r.small_pred, r.small_true) for r in counts.itertuples()],
        }
    )


@torch.no_grad()
def frame_sizes(
    model, frames: FrameBatches, normaliser: Normaliser, device: torch.device, workers: int = 0
) -> dict[int, np.ndarray]:
    """Pixels with logit > 0 on every frame of every video: {video index: sizes by frame}."""
    model.eval()
    loader = DataLoader(frames, batch_size=None, num_workers=workers, pin_memory=device.type == "cuda")
    sizes: dict[int, dict[int, int]] = {}
    done = 0
    for pixels, videos, indices in loader:
        with autocast(device):
            size = (logits(model, normaliser.batch(pixels, device)) > 0).sum(dim=(1, 2)).cpu().numpy()
        for v, f, s in zip(videos.tolist(), indices.tolist(), size.tolist(), strict=True):
            sizes.setdefault(v, {})[f] = s
        done += len(size)
        if done // 5000 != (done - len(size)) // 5000:
            log.info("size inference: %d frames", done)
    return {v: np.array([by_frame[f] for f in range(len(by_frame))], dtype=np.int64) for v, by_frame in sizes.items()}


def size_table(manifest: pd.DataFrame, sizes: dict[int, np.ndarray], trim: str) -> pd.DataFrame:
    """size.csv: Filename (.avi), Frame, Size, HumanLarge, HumanSmall, ComputerSmall (0/1)."""
    parts = []
    for v, row in enumerate(manifest.itertuples()):
        size = sizes[v]
        frames = np.arange(len(size))
        beats = np.zeros(len(size), dtype=np.int64)
        beats[detect_beats(size, trim)] = 1
        parts.append(
            pd.DataFrame(
                {
                    "Filename": f"{row.FileName}.avi",
                    "Frame": frames,
                    "Size": size,
                    "HumanLarge": (frames == row.EDFrame).astype(np.int64),
                    "HumanSmall": (frames == row.ESFrame).astype(np.int64),
                    "ComputerSmall": beats,
                }
            )
        )
    columns = ["Filename", "Frame", "Size", "HumanLarge", "HumanSmall", "ComputerSmall"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
