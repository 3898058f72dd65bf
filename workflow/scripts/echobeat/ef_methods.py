"""Per-video EF predictions of each clip-level method, and their metrics over a split.

From the all-clip predictions (Filename, Clip, Prediction): ``one_clip`` (one seeded random clip
per video), ``first_clip`` (the clip starting at frame 0) and ``all_clips`` (the mean over every
clip). Torch-free, so the analysis rules can use it without loading torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import regression_metrics


def video_level(predictions: pd.DataFrame, labels: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    """Per-video predictions of each method: one_clip (a seeded random clip), first_clip, all_clips."""
    rng = np.random.default_rng(seed)
    truth = labels.assign(Filename=labels["FileName"] + ".avi").set_index("Filename")["EF"]
    grouped = predictions.groupby("Filename", sort=False)
    methods = {
        "one_clip": grouped["Prediction"].agg(lambda p: p.iloc[rng.integers(len(p))]),
        "first_clip": predictions[predictions["Clip"] == 0].set_index("Filename")["Prediction"],
        "all_clips": grouped["Prediction"].mean(),
    }
    return {
        method: pd.DataFrame({"prediction": values, "EF": truth.reindex(values.index)}).dropna()
        for method, values in methods.items()
    }


def metrics_table(split_predictions: dict[str, pd.DataFrame], labels: pd.DataFrame, samples: int, seed: int):
    """metrics.csv rows: split, method, metric, value, ci_low, ci_high."""
    rows = []
    for split, predictions in split_predictions.items():
        for method, table in video_level(predictions, labels, seed).items():
            if table.empty:
                continue
            for row in regression_metrics(table["prediction"], table["EF"], samples=samples, seed=seed):
                rows.append({"split": split, "method": method, **row})
    return pd.DataFrame(rows, columns=["split", "method", "metric", "value", "ci_low", "ci_high"])
