"""Dice of the segmentation model from its per-frame counts: pooled over a split, and per video.

Intersections and sums are pooled over the split (docs/echonet.md §3), with the original's
bootstrap interval (5th-95th percentile of 10,000 resamples by default).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from echobeat.data.names import avi_name
from echobeat.stats import bootstrap, dice_statistic

DICE_COLUMNS = ["split", "which", "dice", "ci_low", "ci_high"]
# val_dice.csv / test_dice.csv keep the original's columns (its "large" frame is ED, "small" ES).
PER_VIDEO_COLUMNS = ["Filename", "Overall", "Large", "Small"]


def dice_summary(counts: pd.DataFrame, split: str, samples: int, seed: int) -> list[dict]:
    """Pooled Dice with its bootstrap interval for overall, ED and ES (the ``which`` column)."""
    columns = {
        which: tuple(counts[f"{which}_{k}"].to_numpy() for k in ("inter", "pred", "true")) for which in ("ED", "ES")
    }
    columns["overall"] = tuple(np.concatenate([a, b]) for a, b in zip(columns["ED"], columns["ES"], strict=True))
    rows = []
    for which in ("overall", "ED", "ES"):
        dice, low, high = bootstrap(dice_statistic, columns[which], samples=samples, seed=seed)
        rows.append({"split": split, "which": which, "dice": dice, "ci_low": low, "ci_high": high})
    return rows


def per_video_dice(names: list[str], counts: pd.DataFrame) -> pd.DataFrame:
    """One row per video: Filename (with .avi), Overall, Large, Small."""
    if counts.empty:
        return pd.DataFrame(columns=PER_VIDEO_COLUMNS)

    def dice(*phases: str) -> np.ndarray:
        # Each video is one "resample" (row) whose items are its traced frames of these phases.
        columns = (np.stack([counts[f"{p}_{k}"].to_numpy() for p in phases], axis=1) for k in ("inter", "pred", "true"))
        return dice_statistic(*columns)

    return pd.DataFrame(
        {
            "Filename": [avi_name(n) for n in names],
            "Overall": dice("ED", "ES"),
            "Large": dice("ED"),
            "Small": dice("ES"),
        }
    )
