"""Overlay videos and size-trace figures for a few videos: what the segmentation model sees.

Each overlay AVI shows, frame by frame, the echo video beside a copy with the predicted mask
painted into the red channel, and under them the LV size trace with the detected end-systoles
(red), the traced ED frame (green) and ES frame (blue), and a cursor at the current frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from echobeat.atomic import atomic_path  # noqa: E402
from echobeat.compute import Compute  # noqa: E402
from echobeat.data.names import avi_name, bare_name  # noqa: E402
from echobeat.data.normalisation import Normaliser  # noqa: E402
from echobeat.data.video_io import write_video  # noqa: E402
from echobeat.inference.segmentation import predicted_masks  # noqa: E402

TRACE_HEIGHT = 80
BEAT, HUMAN_ED, HUMAN_ES, CURSOR = (0, 0, 255), (0, 200, 0), (255, 128, 0), (255, 255, 255)  # BGR


def _trace_panel(size: np.ndarray, width: int, beats, ed: int, es: int) -> tuple[np.ndarray, np.ndarray]:
    """The static trace image (TRACE_HEIGHT, width, 3) and the x position of each frame."""
    panel = np.zeros((TRACE_HEIGHT, width, 3), np.uint8)
    n = len(size)
    xs = np.rint(np.linspace(2, width - 3, n)).astype(np.int32)
    low, high = float(size.min()), float(size.max())
    span = high - low or 1.0
    ys = np.rint(TRACE_HEIGHT - 6 - (size - low) / span * (TRACE_HEIGHT - 12)).astype(np.int32)
    for frame, colour in [(f, BEAT) for f in beats] + [(ed, HUMAN_ED), (es, HUMAN_ES)]:
        if 0 <= frame < n:
            cv2.line(panel, (int(xs[frame]), 0), (int(xs[frame]), TRACE_HEIGHT - 1), colour, 1)
    cv2.polylines(panel, [np.stack([xs, ys], axis=1).reshape(-1, 1, 2)], False, (255, 255, 255), 1)
    return panel, xs


def overlay_frames(video: np.ndarray, masks: np.ndarray, size: np.ndarray, beats, ed: int, es: int) -> np.ndarray:
    """BGR frames (F, H + TRACE_HEIGHT, 2W, 3) of the overlay video."""
    grey = video[0] if video.shape[0] == 1 else video.mean(axis=0).astype(np.uint8)
    n, h, w = grey.shape
    panel, xs = _trace_panel(size, 2 * w, beats, ed, es)
    out = np.zeros((n, h + TRACE_HEIGHT, 2 * w, 3), np.uint8)
    for f in range(n):
        frame = np.repeat(grey[f][:, :, None], 3, axis=2)
        painted = frame.copy()
        painted[masks[f], 2] = 255  # red channel in BGR
        out[f, :h, :w] = frame
        out[f, :h, w:] = painted
        out[f, h:] = panel
        cv2.line(out[f], (int(xs[f]), h), (int(xs[f]), h + TRACE_HEIGHT - 1), CURSOR, 1)
    return out


def trace_figure(path: str | os.PathLike[str], name: str, size: np.ndarray, beats, ed: int, es: int, fps: float):
    """PNG of the size trace with detected and traced frames, written atomically."""
    fig, ax = plt.subplots(figsize=(7, 2.6), dpi=120)
    frames = np.arange(len(size))
    ax.plot(frames, size, color="black", linewidth=1, label="LV size (pixels)")
    for i, beat in enumerate(beats):
        ax.axvline(beat, color="tab:red", linewidth=1, label="detected end-systole" if i == 0 else None)
    # A video without tracings (the predict workflow) passes -1: no traced lines.
    if ed >= 0:
        ax.axvline(ed, color="tab:green", linestyle="--", linewidth=1, label="traced ED")
    if es >= 0:
        ax.axvline(es, color="tab:blue", linestyle="--", linewidth=1, label="traced ES")
    ax.set_xlabel(f"frame ({fps:g} frames/s)")
    ax.set_ylabel("pixels")
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


@dataclass(frozen=True)
class OverlayVideo:
    """A video to draw: its cache entry, the figure's title, its frame rate, and its traced ED and ES
    frames (-1: none, as for a user's own video)."""

    name: str
    title: str
    fps: float
    ed: int = -1
    es: int = -1


def traced_videos(manifest: pd.DataFrame, sizes: pd.DataFrame, count: int) -> list[OverlayVideo]:
    """The first ``count`` videos of size.csv, with their traced frames and frame rate from the manifest."""
    rows = manifest.set_index("FileName")
    names = list(dict.fromkeys(bare_name(n) for n in sizes["Filename"]))[:count]
    return [
        OverlayVideo(
            name, name, float(rows.at[name, "FPS"]), int(rows.at[name, "EDFrame"]), int(rows.at[name, "ESFrame"])
        )
        for name in names
    ]


def model_masks(model, normaliser: Normaliser, compute: Compute, batch: int) -> Callable[[str, np.ndarray], np.ndarray]:
    """A mask source for :func:`write_overlays`: the model's masks of each video, computed now."""
    return lambda name, video: predicted_masks(model, video, normaliser, compute, batch)


def write_overlays(
    out_dir: str | os.PathLike[str],
    cache,
    sizes: pd.DataFrame,
    videos: list[OverlayVideo],
    masks_of: Callable[[str, np.ndarray], np.ndarray],
) -> list[str]:
    """Overlay AVI and trace PNG of each of ``videos``; returns their names.

    ``masks_of(name, video)`` gives the (F, H, W) boolean masks of a cached (C, F, H, W) video:
    :func:`model_masks`, or masks saved by an earlier step.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in videos:
        trace = sizes[sizes["Filename"] == avi_name(item.name)].sort_values("Frame")
        size = trace["Size"].to_numpy()
        beats = trace.loc[trace["ComputerSmall"] == 1, "Frame"].tolist()
        video = np.asarray(cache.video(item.name))
        frames = overlay_frames(video, masks_of(item.name, video), size, beats, item.ed, item.es)
        write_video(out_dir / avi_name(item.name), frames, item.fps, codec="MJPG")
        trace_figure(out_dir / f"{item.name}.png", item.title, size, beats, item.ed, item.es, item.fps)
    return [item.name for item in videos]
