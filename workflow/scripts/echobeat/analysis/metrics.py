"""EF metrics of one run from its prediction files: per method, MAE/RMSE/R2 and HFrEF AUCs.

The methods are those of :mod:`echobeat.analysis.methods`. Each uses the videos it has a
prediction for; ``videos`` says how many. HFrEF (EF at or below a threshold, as the original
splits it) is the positive class; a lower predicted EF scores higher.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from echobeat.analysis.methods import AUC_METHODS, EF_METHODS, TABLE_METHODS
from echobeat.data.names import avi_name, video_key
from echobeat.stats import ANALYSIS_METRICS, auc_statistic, bootstrap, hfref, regression_metrics

METRIC_COLUMNS = ["split", "method", "metric", "value", "ci_low", "ci_high", "videos"]
AUC_COLUMNS = ["split", "method", "threshold", "auc", "ci_low", "ci_high", "videos", "positives"]


def one_clip(predictions: pd.DataFrame, labels: pd.DataFrame, seed: int) -> pd.DataFrame:
    """(prediction, EF) per labelled video from one seeded random clip of each, in file order."""
    rng = np.random.default_rng(seed)
    truth = pd.Series(labels["EF"].to_numpy(), index=[avi_name(k) for k in video_key(labels["FileName"])])
    drawn = predictions.groupby("Filename", sort=False)["Prediction"].agg(lambda p: p.iloc[rng.integers(len(p))])
    return pd.DataFrame({"prediction": drawn, "EF": truth.reindex(drawn.index)}).dropna()


def method_predictions(table: pd.DataFrame, predictions: pd.DataFrame, labels: pd.DataFrame, seed: int):
    """(prediction, EF) per video of each method, videos without a prediction left out.

    ``table`` is the beat-by-beat table (its single_clip, all_clips and beat_by_beat columns);
    one_clip is drawn from the clip ``predictions``.
    """
    per_method = {"one_clip": one_clip(predictions, labels, seed)}
    for method in TABLE_METHODS:
        per_method[method] = table.set_index("Filename")[[method, "EF"]].rename(columns={method: "prediction"}).dropna()
    return {method: per_method[method] for method in EF_METHODS}


def metrics_table(per_method: dict[str, pd.DataFrame], samples: int, seed: int, split: str = "TEST") -> pd.DataFrame:
    """metrics.csv rows: MAE, RMSE, R2 (scikit-learn) and R2_pearson of each method, with intervals."""
    rows = []
    for method, values in per_method.items():
        if values.empty:
            measured = [dict.fromkeys(("value", "ci_low", "ci_high"), np.nan) | {"metric": m} for m in ANALYSIS_METRICS]
        else:
            measured = regression_metrics(
                values["prediction"], values["EF"], samples=samples, seed=seed, metrics=ANALYSIS_METRICS
            )
        rows += [{"split": split, "method": method, **row, "videos": len(values)} for row in measured]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def auc_table(
    per_method: dict[str, pd.DataFrame], thresholds, samples: int, seed: int, split: str = "TEST"
) -> pd.DataFrame:
    """auc.csv: AUC of each method's prediction for HFrEF (EF <= threshold), with intervals.

    Empty (NaN) where the videos hold one class only: an AUC needs both.
    """
    rows = []
    for method in AUC_METHODS:
        values = per_method[method]
        for threshold in thresholds:
            positive = hfref(values["EF"], threshold).to_numpy(dtype=np.float64)
            auc = low = high = np.nan
            if 0 < positive.sum() < len(positive):
                auc, low, high = bootstrap(
                    auc_statistic, (-values["prediction"].to_numpy(), positive), samples=samples, seed=seed
                )
            rows.append(
                {
                    "split": split,
                    "method": method,
                    "threshold": threshold,
                    "auc": auc,
                    "ci_low": low,
                    "ci_high": high,
                    "videos": len(values),
                    "positives": int(positive.sum()),
                }
            )
    return pd.DataFrame(rows, columns=AUC_COLUMNS)
