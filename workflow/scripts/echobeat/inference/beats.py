"""End-systole beats from a left-ventricle size trace (docs/echonet.md §4).

End-systoles are the minima of the per-frame LV area: peaks of ``-size`` at least 20 frames
apart with a prominence of half the trace's trimmed range. The trimmed range is, by default,
what the original computes (``trim: echonet``): with ``s`` the sorted sizes and ``n`` their
count, ``s[round(n**0.05)] .. s[round(n**0.95)]`` -- exponents where percentiles were surely
meant, kept for comparability. ``trim: percentile`` uses the 5th and 95th percentiles.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

TRIM_MODES = ("echonet", "percentile")
MIN_DISTANCE = 20
PROMINENCE = 0.50


def trimmed_range(size: np.ndarray, trim: str = "echonet") -> tuple[float, float]:
    """(low, high) of the size trace used to scale the prominence."""
    size = np.asarray(size, dtype=np.float64)
    if trim == "echonet":
        ordered = np.sort(size)
        last = len(ordered) - 1
        # Python's round (half to even), as the original; clamped so that traces of 5 frames
        # or fewer, where the original indexes past the end, still work.
        return float(ordered[min(round(len(size) ** 0.05), last)]), float(ordered[min(round(len(size) ** 0.95), last)])
    if trim == "percentile":
        return float(np.percentile(size, 5)), float(np.percentile(size, 95))
    raise ValueError(f"trim must be one of {TRIM_MODES}, not {trim!r}")


def detect_beats(size: np.ndarray, trim: str = "echonet") -> np.ndarray:
    """Frame indices of the end-systoles (size minima) of one video."""
    size = np.asarray(size, dtype=np.float64)
    if len(size) == 0:
        return np.array([], dtype=np.int64)
    low, high = trimmed_range(size, trim)
    peaks, _ = scipy.signal.find_peaks(-size, distance=MIN_DISTANCE, prominence=PROMINENCE * (high - low))
    return peaks.astype(np.int64)
