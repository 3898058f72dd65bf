"""Rule predict_evaluation: the ``predict`` target's EF against the user's labels, as an external test set.

Apart from :mod:`echobeat.stages.predict` because it needs no model and no video decoder: it runs
in envs/analysis.yaml, which has neither torch nor OpenCV.
"""

from __future__ import annotations

import pandas as pd

from echobeat.analysis import external


def evaluate(settings: dict, models: list[str], predictions: str, labels: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """metrics.csv and auc.csv of each EF model's predictions.csv columns against the labels (FileName, EF)."""
    return external.evaluate(
        external.read_inputs(predictions),
        labels,
        models,
        settings["bootstrap_samples"],
        settings["seed"],
        settings["auc_thresholds"],
    )
