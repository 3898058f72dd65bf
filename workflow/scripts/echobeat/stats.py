"""Statistics (numpy and scipy only, for every layer): pooled Dice, EF errors, R2, AUC, the bootstrap interval.

The bootstrap resamples the per-item values with replacement ``samples`` times, sorts the
resampled statistics and takes the ones at positions round(0.05 n) and round(0.95 n): the
original's 5th-95th percentile (a 90% interval), without interpolation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_CHUNK = 500


def bootstrap(
    statistic: Callable[..., np.ndarray],
    columns: tuple[np.ndarray, ...],
    samples: int,
    seed: int,
) -> tuple[float, float, float]:
    """(statistic, 5th, 95th percentile) with the original's indexing into the sorted resamples.

    ``statistic`` takes the columns resampled as 2-D arrays (resample x item) and returns one
    value per resample; it is called once on the columns as a single resample for the point
    estimate.
    """
    columns = tuple(np.asarray(c, dtype=np.float64) for c in columns)
    n = len(columns[0])
    point = float(statistic(*(c[None, :] for c in columns))[0])
    rng = np.random.default_rng(seed)
    values = np.empty(samples)
    for first in range(0, samples, _CHUNK):
        count = min(_CHUNK, samples - first)
        index = rng.integers(0, n, size=(count, n))
        values[first : first + count] = statistic(*(c[index] for c in columns))
    # A resample can have no value (R2 when its labels are all equal, AUC with one class only):
    # the interval comes from the resamples that have one.
    values = np.sort(values[~np.isnan(values)])
    if not len(values):
        return point, float("nan"), float("nan")
    count = len(values)
    return point, float(values[round(0.05 * count)]), float(values[min(round(0.95 * count), count - 1)])


def dice_statistic(intersection: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Dice = 2 sum(I) / (sum(P) + sum(T)) of each resample (rows), pooled over its items (not
    averaged per item); 1 where nothing is predicted or true. One row gives the pooled Dice of a set."""
    denominator = predicted.sum(axis=1) + true.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2.0 * intersection.sum(axis=1) / denominator, 1.0)


def mae_statistic(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Mean absolute error of each resample (rows)."""
    return np.abs(predicted - true).mean(axis=1)


def rmse_statistic(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Root mean squared error of each resample (rows)."""
    return np.sqrt(((predicted - true) ** 2).mean(axis=1))


def r2_statistic(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Coefficient of determination (scikit-learn's R2) of each resample (rows)."""
    residual = ((true - predicted) ** 2).sum(axis=1)
    total = ((true - true.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 1.0 - residual / total, np.nan)


def r2_pearson_statistic(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Squared Pearson correlation of each resample (rows): R's ``lm(EF ~ pred)`` r.squared."""
    predicted = predicted - predicted.mean(axis=1, keepdims=True)
    true = true - true.mean(axis=1, keepdims=True)
    variance = (predicted**2).sum(axis=1) * (true**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(variance > 0, (predicted * true).sum(axis=1) ** 2 / variance, np.nan)


def auc_statistic(score: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each resample (rows), ties counted half (Mann-Whitney U / n1 n0).

    ``score`` is higher for the positive class; a resample with one class only has no AUC (NaN).
    """
    # Imported here: scipy.stats takes a second or more to import, and the Snakefile's parse
    # (every snakemake command, every SLURM job) reaches this module through the comparison table.
    from scipy.stats import rankdata

    positive = positive > 0.5
    ranks = rankdata(score, axis=1)
    n_positive = positive.sum(axis=1)
    n_negative = positive.shape[1] - n_positive
    u = (ranks * positive).sum(axis=1) - n_positive * (n_positive + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_positive > 0) & (n_negative > 0), u / (n_positive * n_negative), np.nan)


def hfref(ef, threshold):
    """HFrEF at ``threshold``: EF at or below it. The original scores its ROC as
    ``roc_auc_score(EF > threshold, prediction)``, so an EF equal to the threshold falls on the
    HFrEF side; the same split here keeps AUCs equal when an EF sits exactly on a threshold."""
    return ef <= threshold


def roc_points(score, positive) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every cut of ``score``, from (0, 0) to (1, 1)."""
    score = np.asarray(score, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    cuts = np.unique(score)[::-1]
    called = score[None, :] >= cuts[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (called & positive).sum(axis=1) / positive.sum()
        fpr = (called & ~positive).sum(axis=1) / (~positive).sum()
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr])


REGRESSION_METRICS = {"MAE": mae_statistic, "RMSE": rmse_statistic, "R2": r2_statistic}
# The beat-by-beat analysis adds the R script's R2 (squared correlation) beside scikit-learn's.
ANALYSIS_METRICS = {**REGRESSION_METRICS, "R2_pearson": r2_pearson_statistic}


def regression_metrics(
    predicted, true, samples: int, seed: int, metrics: dict[str, Callable[..., np.ndarray]]
) -> list[dict]:
    """Each of ``metrics`` (name: statistic, e.g. ANALYSIS_METRICS) with its bootstrap interval:
    rows of (metric, value, ci_low, ci_high)."""
    columns = (np.asarray(predicted, dtype=np.float64), np.asarray(true, dtype=np.float64))
    rows = []
    for name, statistic in metrics.items():
        value, low, high = bootstrap(statistic, columns, samples=samples, seed=seed)
        rows.append({"metric": name, "value": value, "ci_low": low, "ci_high": high})
    return rows
