"""The paper's figures, each saved as PNG (for the report) and PDF (for a manuscript).

Every function takes tables as the pipeline writes them and a list of output paths; a figure
whose data is empty still gets written, saying so, so that a tiny or unlucky run never fails
at its last step.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from echobeat.analysis.methods import EF_METHODS as METHOD_LABELS  # noqa: E402
from echobeat.atomic import atomic_path  # noqa: E402
from echobeat.stats import hfref, roc_points  # noqa: E402


def save(figure, paths, dpi: int) -> None:
    """Write ``figure`` to every path (format from the suffix), each atomically, then close it."""
    for path in paths:
        with atomic_path(path) as partial:
            figure.savefig(partial, dpi=dpi, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])
    plt.close(figure)


def _empty(axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)


def ef_scatter(table: pd.DataFrame, thresholds, paths, dpi: int) -> None:
    """Predicted against true EF, all-clip and beat-by-beat, with the identity and threshold lines."""
    figure, axes = plt.subplots(figsize=(5, 5))
    for method, style in (
        ("all_clips", {"color": "0.6", "marker": "o"}),
        ("beat_by_beat", {"color": "C0", "marker": "x"}),
    ):
        rows = table[["EF", method]].dropna()
        if rows.empty:
            continue
        mae = float(np.abs(rows[method] - rows["EF"]).mean())
        axes.scatter(rows["EF"], rows[method], s=12, label=f"{METHOD_LABELS[method]} (MAE {mae:.2f})", **style)
    for threshold in thresholds:
        axes.axvline(threshold, color="0.85", linestyle="--", linewidth=0.8, zorder=0)
        axes.axhline(threshold, color="0.85", linestyle="--", linewidth=0.8, zorder=0)
    axes.plot([0, 100], [0, 100], color="black", linewidth=0.8, label="identity")
    axes.set(xlim=(0, 100), ylim=(0, 100), xlabel="true EF (%)", ylabel="predicted EF (%)", aspect="equal")
    if table[["all_clips", "beat_by_beat"]].notna().any().any():
        axes.legend(loc="upper left", fontsize=8)
    else:
        _empty(axes, "no TEST predictions")
    save(figure, paths, dpi)


def roc_curves(table: pd.DataFrame, thresholds, paths, dpi: int) -> None:
    """ROC curves for HFrEF (EF at or below each threshold), all-clip and beat-by-beat side by side."""
    figure, panels = plt.subplots(1, 2, figsize=(9, 4.5), sharey=True)
    for axes, method in zip(panels, ("all_clips", "beat_by_beat"), strict=True):
        rows = table[["EF", method]].dropna()
        drawn = False
        for threshold in thresholds:
            positive = hfref(rows["EF"], threshold).to_numpy()
            if not 0 < positive.sum() < len(positive):
                continue
            fpr, tpr = roc_points(-rows[method].to_numpy(), positive)
            auc = float(np.trapezoid(tpr, fpr))
            axes.plot(fpr, tpr, drawstyle="default", label=f"EF \u2264 {threshold:g}: AUC {auc:.3f}")
            drawn = True
        axes.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=0.8)
        axes.set(title=METHOD_LABELS[method], xlabel="1 - specificity", xlim=(0, 1), ylim=(0, 1.01))
        if drawn:
            axes.legend(loc="lower right", fontsize=8)
        else:
            _empty(axes, "needs videos on both sides of a threshold")
    panels[0].set_ylabel("sensitivity")
    save(figure, paths, dpi)


def bland_altman(table: pd.DataFrame, method: str, paths, dpi: int) -> None:
    """Difference (predicted - true) against the mean of the two, with bias and 95% limits of agreement."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    rows = table[["EF", method]].dropna()
    if rows.empty:
        _empty(axes, f"no {METHOD_LABELS[method]} predictions")
    else:
        mean = (rows[method] + rows["EF"]) / 2
        difference = rows[method] - rows["EF"]
        bias, spread = float(difference.mean()), float(difference.std(ddof=1)) if len(rows) > 1 else 0.0
        axes.scatter(mean, difference, s=12)
        axes.axhline(bias, color="black", label=f"bias {bias:.2f}")
        for limit in (bias - 1.96 * spread, bias + 1.96 * spread):
            axes.axhline(limit, color="black", linestyle="--", linewidth=0.8)
        axes.plot([], [], color="black", linestyle="--", label=f"bias ± 1.96 SD ({1.96 * spread:.2f})")
        axes.legend(fontsize=8)
    axes.set(
        xlabel="mean of predicted and true EF (%)",
        ylabel="predicted - true EF (%)",
        title=f"Bland-Altman, {METHOD_LABELS[method]}",
    )
    save(figure, paths, dpi)


def beat_sampling_boxplot(sampling: pd.DataFrame, paths, dpi: int) -> None:
    """MAE of averaging k randomly drawn beats per video, over the repetitions, against k."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    rows = sampling.dropna(subset=["MAE"])
    if rows.empty:
        _empty(axes, "no video with a detected beat")
    else:
        ks = sorted(rows["beats"].unique())
        axes.boxplot([rows.loc[rows["beats"] == k, "MAE"] for k in ks], tick_labels=[str(k) for k in ks])
    axes.set(xlabel="beats averaged per video", ylabel="MAE (EF %)", title="MAE against the number of beats")
    save(figure, paths, dpi)


def loss_curves(logs: dict[str, pd.DataFrame], paths, dpi: int) -> None:
    """Training and validation loss per epoch of each training log (one panel each)."""
    figure, panels = plt.subplots(1, len(logs), figsize=(5 * len(logs), 4), squeeze=False)
    for axes, (title, log) in zip(panels[0], logs.items(), strict=True):
        for phase in ("train", "val"):
            rows = log[log["phase"] == phase]
            axes.plot(rows["epoch"], rows["loss"], marker=".", label=phase)
        if log.empty:
            _empty(axes, "no epoch logged")
        else:
            axes.legend()
        axes.set(title=title, xlabel="epoch", ylabel="loss")
    save(figure, paths, dpi)


def dice_histogram(per_video: pd.DataFrame, paths, dpi: int) -> None:
    """Per-video Dice at the traced end-diastole (Large) and end-systole (Small)."""
    figure, axes = plt.subplots(figsize=(6, 4.5))
    values = per_video[["Large", "Small"]].to_numpy(dtype=float)
    # Bins of 0.01 from just below the lowest Dice: the interesting range is usually above 0.8.
    low = min(float(np.floor(np.nanmin(values) * 20) / 20), 0.9) if np.isfinite(values).any() else 0.0
    bins = np.linspace(low, 1, round((1 - low) * 100) + 1)
    for column, label in (("Large", "end-diastole"), ("Small", "end-systole")):
        values = per_video[column].dropna()
        if not values.empty:
            axes.hist(values, bins=bins, alpha=0.6, label=f"{label} (median {values.median():.3f})")
    if per_video.empty:
        _empty(axes, "no TEST video")
    else:
        axes.legend(loc="upper left", fontsize=8)
    axes.set(xlabel="Dice", ylabel="videos", title="Dice per TEST video")
    save(figure, paths, dpi)
