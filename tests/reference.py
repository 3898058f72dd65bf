"""Reference implementations written from docs/echonet.md, for the tests to compare the library against.

They are deliberately the plainest reading of the original's steps (whole arrays, no slicing
tricks), so that a test shows the fast code computes the same thing.
"""

from __future__ import annotations

import numpy as np


def clip_frames(start: int, length: int, period: int) -> np.ndarray:
    """Frame indices of one clip (indices at or past F are padding)."""
    return start + period * np.arange(length)


def to_three_channels(pixels: np.ndarray) -> np.ndarray:
    """A (1, ...) uint8 array repeated to (3, ...); a (3, ...) array unchanged."""
    return np.repeat(pixels, 3, axis=0) if pixels.shape[0] == 1 else pixels


def pad_and_crop(clip: np.ndarray, pad: int, offset: tuple[int, int]) -> np.ndarray:
    """The augmentation of docs/echonet.md §2: pad every frame with ``pad`` zero pixels on each
    side, then crop back to the frame size at ``offset`` (row, column)."""
    c, n, h, w = clip.shape
    padded = np.zeros((c, n, h + 2 * pad, w + 2 * pad), dtype=clip.dtype)
    padded[:, :, pad : pad + h, pad : pad + w] = clip
    i, j = offset
    return np.ascontiguousarray(padded[:, :, i : i + h, j : j + w])
