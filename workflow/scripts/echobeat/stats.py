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
    values.sort()
    return point, float(values[round(0.05 * samples)]), float(values[round(0.95 * samples)])


def dice_statistic(intersection: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pooled Dice of each resample (rows)."""
    denominator = predicted.sum(axis=1) + true.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2.0 * intersection.sum(axis=1) / denominator, 1.0)
