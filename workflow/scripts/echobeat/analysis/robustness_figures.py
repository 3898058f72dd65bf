"""The figures of the robustness and cost experiments (Extended Data Figs. 3, 4 and 6), as PNG and PDF.

Like :mod:`echobeat.analysis.figures`, each function takes tables as the pipeline writes them, a
list of output paths (format from the suffix) and a dpi, and writes the figure to every path; an
empty table still gives a figure that says so.

- :func:`noise_figure`: one-clip R2 and pooled Dice against the pixels removed;
- :func:`example_frames_figure`: one frame per noise level, in a row;
- :func:`complexity_figure`: seconds and memory per clip against clip length, per model;
- :func:`loss_curves_figure`: train and validation loss per epoch, one colour per run, every
  curve inside the axes (the original takes its limits from the last model drawn).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from echobeat.analysis.figures import _empty, save  # noqa: E402

PHASES = {"train": "Training", "val": "Validation"}


def _series(table: pd.DataFrame, group: str | None):
    """(label, rows) per value of ``group`` (in order of appearance), or one unlabelled series."""
    if group is None or group not in table.columns:
        return [(None, table)]
    return [(str(key), rows) for key, rows in table.groupby(group, sort=False)]


def noise_figure(summary: pd.DataFrame, paths, dpi: int, group: str | None = "run") -> None:
    """One-clip R2 (left) and pooled TEST Dice (right) against "Pixels removed (%)", with their
    intervals; one line per value of the ``group`` column when the summary has one."""
    figure, panels = plt.subplots(1, 2, figsize=(9, 4))
    for axes, column, label in ((panels[0], "one_clip_r2", "R$^2$ (one clip)"), (panels[1], "dice", "Dice")):
        drawn = False
        for name, rows in _series(summary, group):
            rows = rows.dropna(subset=[column]).sort_values("pixels_removed_percent")
            if rows.empty:
                continue
            error = np.vstack([rows[column] - rows[f"{column}_ci_low"], rows[f"{column}_ci_high"] - rows[column]])
            axes.errorbar(rows["pixels_removed_percent"], rows[column], yerr=error, marker="o", capsize=3, label=name)
            drawn = True
        axes.set(xlabel="Pixels removed (%)", ylabel=label)
        if not drawn:
            _empty(axes, "no level measured")
        elif group in summary.columns:
            axes.legend(fontsize=8)
    save(figure, paths, dpi)


def example_frames_figure(images: dict[float, np.ndarray], paths, dpi: int, title: str | None = None) -> None:
    """One (H, W, 3) uint8 frame per level, in a row, each titled with its pixels removed."""
    levels = sorted(images)
    figure, panels = plt.subplots(1, max(1, len(levels)), figsize=(2 * max(1, len(levels)), 2.4), squeeze=False)
    for axes, level in zip(panels[0], levels, strict=False):
        axes.imshow(images[level], interpolation="nearest")
        axes.set_title(f"{100 * level:g}% removed", fontsize=9)
    for axes in panels[0]:
        axes.axis("off")
    if not levels:
        _empty(panels[0][0], "no example frame")
    if title:
        figure.suptitle(title, fontsize=9)
    save(figure, paths, dpi)


def complexity_figure(table: pd.DataFrame, paths, dpi: int) -> None:
    """Seconds (left) and peak memory (right) per clip against frames per clip, one colour per
    model, both axes logarithmic; the device and precision in the title."""
    figure, panels = plt.subplots(1, 2, figsize=(9, 4))
    columns = (("seconds_per_clip", "time per clip (s)"), ("peak_memory_mb_per_clip", "peak memory per clip (MiB)"))
    for axes, (column, label) in zip(panels, columns, strict=True):
        drawn = False
        for name, rows in _series(table, "model"):
            rows = rows[rows[column] > 0].sort_values("frames")  # NaN and 0 have no place on a log axis
            if rows.empty:
                continue
            axes.plot(rows["frames"], rows[column], marker="o", label=name)
            drawn = True
        axes.set(xlabel="frames per clip", ylabel=label)
        if drawn:
            axes.set_xscale("log", base=2)
            axes.set_yscale("log")
            # The clip lengths themselves as ticks (1, 8, 32, ...), not powers of two.
            lengths = sorted(table["frames"].dropna().unique())
            axes.set_xticks(lengths, [f"{int(n)}" for n in lengths])
            axes.legend(fontsize=8)
        else:
            _empty(axes, "not measured")
    if not table.empty:
        described = table[["device_name", "precision"]].drop_duplicates()
        figure.suptitle("; ".join(f"{r.device_name}, {r.precision}" for r in described.itertuples()), fontsize=9)
    save(figure, paths, dpi)


def loss_limits(
    logs: dict[str, pd.DataFrame], phase: str | None = None, margin: float = 0.05
) -> tuple[float, float] | None:
    """(low, high) y limits that hold every finite loss of every log (of ``phase`` only, if given),
    with ``margin`` of the range on each side; None when no log has one."""
    chosen = [log if phase is None else log[log["phase"] == phase] for log in logs.values()]
    losses = [pd.to_numeric(log["loss"], errors="coerce").to_numpy(float) for log in chosen]
    values = np.concatenate(losses) if losses else np.empty(0)
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    low, high = float(values.min()), float(values.max())
    pad = margin * (high - low) if high > low else max(abs(high), 1.0) * margin
    return low - pad, high + pad


def loss_curves_figure(logs: dict[str, pd.DataFrame], paths, dpi: int, title: str | None = None) -> None:
    """Training (left) and validation (right) loss per epoch of several runs' log.csv, one colour
    per run; each panel's y limits hold every curve in it (the first epochs' training loss can be
    far above the validation loss, so the panels do not share them)."""
    figure, panels = plt.subplots(1, 2, figsize=(10, 4))
    colours = {run: f"C{i % 10}" for i, run in enumerate(logs)}
    for axes, (phase, label) in zip(panels, PHASES.items(), strict=True):
        drawn = False
        for run, log in logs.items():
            rows = log[log["phase"] == phase].sort_values("epoch")
            if rows.empty:
                continue
            axes.plot(rows["epoch"], rows["loss"], marker=".", color=colours[run], label=run)
            drawn = True
        axes.set(title=label, xlabel="epoch", ylabel="loss")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        limits = loss_limits(logs, phase)
        if limits is not None:
            axes.set_ylim(*limits)
        if drawn:
            axes.legend(fontsize=8)
        else:
            _empty(axes, "no epoch logged")
    if title:
        figure.suptitle(title)
    save(figure, paths, dpi)
