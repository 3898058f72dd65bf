"""The experiment families' figures (PNG for the report, PDF for a manuscript), from their points tables.

Seeds: each seed's point is drawn as a dot and the line joins the means, so the spread is visible.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from echobeat.analysis.figures import _empty, save  # noqa: E402

# The paper labels R(2+1)D "EchoNet-Dynamic (EF)"; one colour per model, solid pretrained, dashed random.
MODEL_LABELS = {"r2plus1d_18": "R(2+1)D-18 (EchoNet-Dynamic EF)", "r3d_18": "R3D-18", "mc3_18": "MC3-18"}
MODEL_COLOURS = {"r2plus1d_18": "C0", "r3d_18": "C1", "mc3_18": "C2"}
WEIGHT_STYLES = {"pretrained": "-", "random": "--"}


def _spread_line(axes, table: pd.DataFrame, x: str, y: str, style: dict, label: str) -> None:
    """Every seed's value as a dot, the mean over seeds as a line."""
    rows = table[[x, y]].dropna()
    if rows.empty:
        return
    axes.scatter(rows[x], rows[y], s=10, color=style.get("color"), alpha=0.5)
    means = rows.groupby(x)[y].mean().sort_index()
    axes.plot(means.index, means.to_numpy(), marker="o", markersize=4, label=label, **style)


def sweep_figure(points: pd.DataFrame, span: int, paths, dpi: int) -> None:
    """Extended Data Fig. 1: validation loss against clip length (period 1) and against period (fixed
    span), and the TEST all-clip MAE the same way when the sweep evaluated TEST."""
    quantities = [("best_val_loss", "minimum validation loss (MSE)")]
    if "all_clips_MAE" in points and points["all_clips_MAE"].notna().any():
        quantities.append(("all_clips_MAE", "TEST all-clip MAE (%)"))
    figure, grid = plt.subplots(len(quantities), 2, figsize=(10, 4 * len(quantities)), squeeze=False)
    # Panel b's period 1 is panel a's clip of the full span.
    by_period = pd.concat(
        [points[points["panel"] == "period"], points[(points["panel"] == "frames") & (points["frames"] == span)]]
    )
    panels = (
        (points[points["panel"] == "frames"], "frames", "clip length (frames, period 1)"),
        (by_period, "period", f"sampling period (clip span {span} frames)"),
    )
    for row, (quantity, ylabel) in enumerate(quantities):
        for column, (table, x, xlabel) in enumerate(panels):
            axes = grid[row][column]
            for (model, weights), group in table.groupby(["model", "weights"], sort=False):
                style = {"color": MODEL_COLOURS.get(model), "linestyle": WEIGHT_STYLES.get(weights, ":")}
                _spread_line(axes, group, x, quantity, style, f"{MODEL_LABELS.get(model, model)}, {weights}")
            if table.empty or table[quantity].isna().all():
                _empty(axes, "no point in this panel")
            else:
                axes.legend(fontsize=7)
            axes.set(xlabel=xlabel, ylabel=ylabel)
            if x == "frames" and not table.empty:
                _log2_axis(axes, table[x])
            elif not table.empty:
                periods = sorted({int(v) for v in table[x].dropna()})
                axes.set_xticks(periods, [str(v) for v in periods])
    save(figure, paths, dpi)


def _log2_axis(axes, values) -> None:
    """A log2 x axis ticked at the grid's own values (10 and 20 videos, not 2^4)."""
    axes.set_xscale("log", base=2)
    ticks = sorted({int(v) for v in values.dropna()})
    axes.set_xticks(ticks, [str(t) for t in ticks])
    axes.minorticks_off()


def training_size_figure(points: pd.DataFrame, curves: pd.DataFrame, paths, dpi: int) -> None:
    """TEST Dice and EF MAE (all-clip, beat-by-beat) against TRAIN videos on log axes, each point with
    its bootstrap interval, and the fitted learning curve (its slope in the legend)."""
    figure, (dice_axes, mae_axes) = plt.subplots(1, 2, figsize=(10, 4))
    fits = curves.set_index("quantity") if not curves.empty else pd.DataFrame()
    series = (
        (dice_axes, "dice", "TEST Dice", "C3", "1 - dice"),
        (mae_axes, "all_clips_MAE", "all-clip MAE", "C0", "all_clips_MAE"),
        (mae_axes, "beat_by_beat_MAE", "beat-by-beat MAE", "C1", "beat_by_beat_MAE"),
    )
    for axes, column, label, colour, fit_name in series:
        if column not in points or points[column].isna().all():
            continue
        rows = points.dropna(subset=[column])
        if f"{column}_ci_low" in rows:
            below = rows[column] - rows[f"{column}_ci_low"]
            above = rows[f"{column}_ci_high"] - rows[column]
            axes.errorbar(rows["train_videos"], rows[column], yerr=[below, above], fmt="none", color=colour, alpha=0.4)
        legend = label
        if fit_name in fits.index and np.isfinite(fits.loc[fit_name, "slope"]):
            fit = fits.loc[fit_name]
            x = np.geomspace(rows["train_videos"].min(), rows["train_videos"].max(), 50)
            fitted = 2 ** (fit["intercept"] + fit["slope"] * np.log2(x))
            axes.plot(x, 1 - fitted if column == "dice" else fitted, color=colour, linewidth=0.8, linestyle=":")
            legend += f" (x{2 ** fit['slope']:.2f} error per doubling)"
        _spread_line(axes, rows, "train_videos", column, {"color": colour}, legend)
    for axes, ylabel in ((dice_axes, "TEST Dice"), (mae_axes, "TEST EF MAE (%)")):
        _log2_axis(axes, points["train_videos"] if "train_videos" in points else pd.Series(dtype=float))
        axes.set(xlabel="TRAIN videos", ylabel=ylabel)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=7)
        else:
            _empty(axes, "no result yet")
    save(figure, paths, dpi)


def seeds_figure(points: pd.DataFrame, paper: dict, paths, dpi: int) -> None:
    """Each configured run's TEST MAE (all-clip, beat-by-beat) per seed, mean ± SD, the paper's beat-by-beat MAE."""
    ef = points.dropna(subset=["ef_run"]) if "ef_run" in points else points.iloc[0:0]
    figure, axes = plt.subplots(figsize=(max(5, 2.5 * ef["run"].nunique()), 4))
    for offset, (column, colour, label) in enumerate(
        (("all_clips_MAE", "C0", "all-clip"), ("beat_by_beat_MAE", "C1", "beat-by-beat"))
    ):
        if column not in ef:
            continue
        for position, (_, group) in enumerate(ef.groupby("run", sort=False)):
            values = group[column].dropna()
            x = position + (offset - 0.5) * 0.3
            axes.scatter(np.full(len(values), x), values, s=14, color=colour, alpha=0.6)
            if len(values):
                spread = values.std(ddof=1) if len(values) > 1 else 0.0
                axes.errorbar(x, values.mean(), yerr=spread, fmt="_", color=colour, capsize=6, markersize=14)
        axes.scatter([], [], color=colour, label=f"{label} MAE (dots: seeds; bar: mean ± SD)")
    if "beat_by_beat_MAE" in paper:
        label = "paper (R(2+1)D-18 32x2), beat-by-beat"
        axes.axhline(paper["beat_by_beat_MAE"], color="0.4", linestyle="--", linewidth=0.8, label=label)
    runs = list(ef["run"].unique())
    axes.set_xticks(range(len(runs)), runs, rotation=15, fontsize=7)
    axes.set(ylabel="TEST EF MAE (%)")
    if runs:
        axes.legend(fontsize=7)
    else:
        _empty(axes, "no EF run replicated")
    save(figure, paths, dpi)
