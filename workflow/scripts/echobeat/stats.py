"""Statistics shared by the stages: pooled Dice and the original's bootstrap interval.

The bootstrap resamples the per-item values with replacement ``samples`` times, sorts the
resampled statistics and takes the ones at positions round(0.05 n) and round(0.95 n): the
original's 5th-95th percentile (a 90% interval), without interpolation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BOOTSTRAP_SAMPLES = 10_000
_CHUNK = 500


def pooled_dice(intersection: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> float:
    """Dice = 2 sum(I) / (sum(P) + sum(T)), pooled over the items (not averaged per item)."""
    denominator = float(np.sum(predicted) + np.sum(true))
    return 2.0 * float(np.sum(intersection)) / denominator if denominator else 1.0


def bootstrap(
    statistic: Callable[..., np.ndarray],
    columns: tuple[np.ndarray, ...],
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
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
    values.sort()  # NaN (e.g. R2 of a resample whose labels are all equal) sorts last
    return point, float(values[round(0.05 * samples)]), float(values[min(round(0.95 * samples), samples - 1)])


def dice_statistic(intersection: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pooled Dice of each resample (rows)."""
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


REGRESSION_METRICS = {"MAE": mae_statistic, "RMSE": rmse_statistic, "R2": r2_statistic}


def regression_metrics(predicted, true, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> list[dict]:
    """MAE, RMSE and R2 with their bootstrap intervals: rows of (metric, value, ci_low, ci_high)."""
    columns = (np.asarray(predicted, dtype=np.float64), np.asarray(true, dtype=np.float64))
    rows = []
    for name, statistic in REGRESSION_METRICS.items():
        value, low, high = bootstrap(statistic, columns, samples=samples, seed=seed)
        rows.append({"metric": name, "value": value, "ci_low": low, "ci_high": high})
    return rows
