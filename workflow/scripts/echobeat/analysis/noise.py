"""The noise experiment's summary (Extended Data Fig. 6): one row per level, from that level's tables.

Per level, from the TEST tables the model stage wrote under noise (:mod:`echobeat.stages.noise`):

- ``dice``: Dice pooled over the traced ED and ES frames (the ``overall`` row of dice.csv);
- ``one_clip_r2``: the paper's number, scikit-learn's R2 of one seeded random clip per video;
- ``all_clips_mae`` and ``beat_by_beat_mae``: ours, the EF methods of metrics.csv.

Each comes with the original's bootstrap interval. Everything is computed by the functions
that make dice.csv and metrics.csv, with the same seeds, so that level 0 gives their numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from echobeat.analysis.beat_by_beat import beat_by_beat_table, beat_predictions, no_beats
from echobeat.analysis.dice import dice_summary
from echobeat.analysis.metrics import one_clip
from echobeat.stats import mae_statistic, r2_statistic, regression_metrics

# The per-frame counts a per-level Dice table carries beside test_dice.csv's columns.
COUNT_COLUMNS = [f"{phase}_{kind}" for phase in ("ED", "ES") for kind in ("inter", "pred", "true")]

NOISE_COLUMNS = [
    "level",
    "pixels_removed_percent",
    "dice",
    "dice_ci_low",
    "dice_ci_high",
    "one_clip_r2",
    "one_clip_r2_ci_low",
    "one_clip_r2_ci_high",
    "all_clips_mae",
    "all_clips_mae_ci_low",
    "all_clips_mae_ci_high",
    "beat_by_beat_mae",
    "beat_by_beat_mae_ci_low",
    "beat_by_beat_mae_ci_high",
    "videos",
    "beat_by_beat_videos",
]

_MISSING = (float("nan"), float("nan"), float("nan"))


def pooled_dice(per_video: pd.DataFrame, samples: int, seed: int) -> tuple[float, float, float]:
    """(Dice, ci_low, ci_high) pooled over every traced ED and ES frame of a per-level Dice table."""
    if per_video is None or per_video.empty:
        return _MISSING
    overall = dice_summary(per_video[COUNT_COLUMNS], "TEST", samples, seed)[0]
    return overall["dice"], overall["ci_low"], overall["ci_high"]


def _measured(values: pd.DataFrame, statistic, samples: int, seed: int) -> tuple[float, float, float]:
    """(value, ci_low, ci_high) of one statistic over (prediction, EF) rows; NaN without rows."""
    if values.empty:
        return _MISSING
    row = regression_metrics(values["prediction"], values["EF"], samples, seed, {"metric": statistic})[0]
    return row["value"], row["ci_low"], row["ci_high"]


def one_clip_r2(
    predictions: pd.DataFrame, labels: pd.DataFrame, one_clip_seed: int, samples: int, seed: int
) -> tuple[float, float, float]:
    """(R2, ci_low, ci_high) of one random clip per video (drawn with ``one_clip_seed``, as metrics.csv draws it)."""
    return _measured(one_clip(predictions, labels, one_clip_seed), r2_statistic, samples, seed)


def method_values(table: pd.DataFrame, method: str) -> pd.DataFrame:
    """(prediction, EF) of one column of the beat-by-beat table, videos without one left out."""
    return table[[method, "EF"]].rename(columns={method: "prediction"}).dropna()


def level_summary(
    level: float,
    dice_table: pd.DataFrame | None,
    predictions: pd.DataFrame,
    sizes: pd.DataFrame | None,
    labels: pd.DataFrame,
    offset: int,
    one_clip_seed: int,
    samples: int,
    seed: int,
    dice_bootstrap: tuple[int, int],
) -> dict:
    """One row of the summary.

    ``dice_table``: the level's per-video Dice with counts (None without a segmentation model);
    ``predictions``: its TEST all-clip predictions; ``sizes``: a size.csv of the TEST videos
    (the plain one, or one under the same noise; None: no beat-by-beat); ``labels``: FileName and
    EF; ``offset``: the beat-to-clip offset of the run's beat_by_beat rule; ``samples`` and
    ``seed``: the EF numbers' bootstrap (metrics.csv's); ``dice_bootstrap``: Dice's (samples,
    seed), dice.csv's.
    """
    beats = no_beats() if sizes is None else beat_predictions(predictions, sizes, offset)
    table = beat_by_beat_table(predictions, beats, labels)
    all_clips = method_values(table, "all_clips")
    by_beat = method_values(table, "beat_by_beat")
    values = {
        "dice": pooled_dice(dice_table, *dice_bootstrap),
        "one_clip_r2": one_clip_r2(predictions, labels, one_clip_seed, samples, seed),
        "all_clips_mae": _measured(all_clips, mae_statistic, samples, seed),
        "beat_by_beat_mae": _measured(by_beat, mae_statistic, samples, seed),
    }
    row = {"level": float(level), "pixels_removed_percent": 100.0 * float(level)}
    for name, (value, low, high) in values.items():
        row |= {name: value, f"{name}_ci_low": low, f"{name}_ci_high": high}
    return row | {"videos": len(all_clips), "beat_by_beat_videos": len(by_beat)}


def noise_summary(rows: list[dict]) -> pd.DataFrame:
    """The summary table (``NOISE_COLUMNS``), one row per level, levels ascending."""
    table = pd.DataFrame(rows, columns=NOISE_COLUMNS)
    return table.sort_values("level", kind="stable").reset_index(drop=True).astype({"videos": np.int64})
