"""The experiment families' tables: one tidy row per grid point, the spread over seeds, the learning curve.

Every number is read from the per-run files the ordinary stages write (log.csv, metrics.csv,
dice.csv, provenance.json), so a table equals the files it comes from. docs/experiments.md says
what each column means.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import statsmodels.api as sm

# The settings of an EF run that the tables show beside its results.
EF_SETTINGS = ("model", "weights", "frames", "period", "batch_size", "epochs", "train_videos")
# metrics.csv (TEST rows) -> table columns: (method, metric) pairs, with the interval of the MAE.
TEST_QUANTITIES = {
    ("all_clips", "MAE"): "all_clips_MAE",
    ("all_clips", "RMSE"): "all_clips_RMSE",
    ("all_clips", "R2"): "all_clips_R2",
    ("beat_by_beat", "MAE"): "beat_by_beat_MAE",
    ("beat_by_beat", "RMSE"): "beat_by_beat_RMSE",
}
WITH_INTERVAL = ("all_clips_MAE", "beat_by_beat_MAE")
# Columns that describe a point or its provenance, never averaged over seeds.
NOT_RESULTS = {"family", "seed", "ef_run", "segmentation_run", "device", "device_name", "precision"}
NOT_RESULTS |= {"echobeat", "torch", "torchvision", "host"}
# Learning-curve quantities: an error that falls as data grows (Dice as 1 - Dice).
LEARNING_CURVE = {"all_clips_MAE": "all_clips_MAE", "beat_by_beat_MAE": "beat_by_beat_MAE", "dice_error": "1 - dice"}


def training_results(log: pd.DataFrame) -> dict:
    """From a log.csv: the minimum validation loss (what the paper's sweep plots), its epoch, and the epochs run."""
    val = log[log["phase"] == "val"]
    if val.empty:
        return {"best_val_loss": math.nan, "best_epoch": math.nan, "epochs_trained": 0}
    best = val.loc[val["loss"].idxmin()]
    return {"best_val_loss": float(best["loss"]), "best_epoch": int(best["epoch"]), "epochs_trained": len(val)}


def evaluation_results(metrics: pd.DataFrame) -> dict:
    """From a metrics.csv: TEST all-clip MAE/RMSE/R² and beat-by-beat MAE/RMSE, the MAEs with their intervals."""
    test = metrics[metrics["split"] == "TEST"].set_index(["method", "metric"])
    row = {}
    for (method, metric), column in TEST_QUANTITIES.items():
        found = (method, metric) in test.index
        row[column] = float(test.loc[(method, metric), "value"]) if found else math.nan
        if column in WITH_INTERVAL:
            row[f"{column}_ci_low"] = float(test.loc[(method, metric), "ci_low"]) if found else math.nan
            row[f"{column}_ci_high"] = float(test.loc[(method, metric), "ci_high"]) if found else math.nan
    if ("all_clips", "MAE") in test.index:
        row["test_videos"] = int(test.loc[("all_clips", "MAE"), "videos"])
    return row


def dice_results(dice: pd.DataFrame) -> dict:
    """From a dice.csv: pooled TEST Dice (overall with its interval, ED, ES)."""
    test = dice[dice["split"] == "TEST"].set_index("which")
    if test.empty:
        return {"dice": math.nan, "dice_ci_low": math.nan, "dice_ci_high": math.nan}
    return {
        "dice": float(test.loc["overall", "dice"]),
        "dice_ci_low": float(test.loc["overall", "ci_low"]),
        "dice_ci_high": float(test.loc["overall", "ci_high"]),
        "dice_ED": float(test.loc["ED", "dice"]),
        "dice_ES": float(test.loc["ES", "dice"]),
    }


def point_row(point: dict, files: dict) -> dict:
    """One tidy row: the point's labels and seed, its runs' settings, results and provenance.

    ``point`` is what rule_settings hands the table rule (labels, seed, ef_run, segmentation_run,
    ef_settings); ``files`` holds the tables read for its runs: ef_log, metrics, segmentation_log,
    dice, provenance (each may be absent).
    """
    row = {"family": point["family"], **point["labels"], "seed": point["seed"]}
    row["ef_run"] = point.get("ef_run")
    row["segmentation_run"] = point.get("segmentation_run")
    if point.get("ef_settings"):
        row.update({key: point["ef_settings"].get(key) for key in EF_SETTINGS if key not in row})
    if "ef_log" in files:
        row.update(training_results(files["ef_log"]))
    if "metrics" in files:
        row.update(evaluation_results(files["metrics"]))
    if "segmentation_log" in files:
        row.update({f"segmentation_{key}": value for key, value in training_results(files["segmentation_log"]).items()})
    if "dice" in files:
        row.update(dice_results(files["dice"]))
    row.update(files.get("provenance", {}))
    return row


def result_columns(table: pd.DataFrame, labels: list[str]) -> list[str]:
    """The numeric result columns of a points table (not its labels, settings or provenance)."""
    skip = NOT_RESULTS | set(labels) | set(EF_SETTINGS) | {"best_epoch", "epochs_trained", "test_videos"}
    skip |= {"segmentation_best_epoch", "segmentation_epochs_trained"}
    return [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table[c])]


def seed_summary(table: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Mean and SD over seeds of every result of each point (long form: one row per point and quantity).

    The SD is the sample SD (ddof 1), empty for one seed.
    """
    rows = []
    for key, group in table.groupby(labels, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        for column in result_columns(table, labels):
            values = group[column].dropna()
            if values.empty:
                continue
            rows.append(
                {
                    **dict(zip(labels, key, strict=True)),
                    "quantity": column,
                    "mean": float(values.mean()),
                    "sd": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                    "seeds": len(values),
                }
            )
    return pd.DataFrame(rows, columns=[*labels, "quantity", "mean", "sd", "seeds"])


def learning_curve(videos, error, level: float = 0.95) -> dict:
    """Least-squares fit of log2(error) = intercept + slope · log2(videos) (statsmodels OLS).

    ``slope`` is the power law's exponent: each doubling of the training set multiplies the error
    by 2**slope (``change_per_doubling_percent``). Intervals at ``level`` (t distribution); they
    are empty with two points or fewer.
    """
    videos, error = np.asarray(videos, dtype=float), np.asarray(error, dtype=float)
    keep = np.isfinite(videos) & np.isfinite(error) & (videos > 0) & (error > 0)
    videos, error = videos[keep], error[keep]
    empty = {
        "slope": math.nan,
        "slope_ci_low": math.nan,
        "slope_ci_high": math.nan,
        "intercept": math.nan,
        "r2": math.nan,
        "change_per_doubling_percent": math.nan,
        "points": int(keep.sum()),
    }
    if len(np.unique(videos)) < 2:
        return empty
    design = sm.add_constant(np.log2(videos))
    fit = sm.OLS(np.log2(error), design).fit()
    low, high = (math.nan, math.nan)
    if fit.df_resid > 0:
        low, high = fit.conf_int(alpha=1 - level)[1]
    slope = float(fit.params[1])
    return {
        **empty,
        "slope": slope,
        "slope_ci_low": float(low),
        "slope_ci_high": float(high),
        "intercept": float(fit.params[0]),
        "r2": float(fit.rsquared),
        "change_per_doubling_percent": (2**slope - 1) * 100,
    }


def learning_curves(table: pd.DataFrame) -> pd.DataFrame:
    """The learning curve of each error the training-size table has (every seed's point enters the fit)."""
    rows = []
    for quantity, label in LEARNING_CURVE.items():
        if quantity == "dice_error":
            if "dice" not in table:
                continue
            error = 1 - table["dice"]
        elif quantity in table:
            error = table[quantity]
        else:
            continue
        rows.append({"quantity": label, **learning_curve(table["train_videos"], error)})
    return pd.DataFrame(rows)


# The paper's model behind its EF numbers (EchoNet-Dynamic: R(2+1)D-18, 32 frames at period 2, pretrained).
PAPER_EF_RUN = {"model": "r2plus1d_18", "frames": 32, "period": 2, "weights": "pretrained"}
_PAPER_EF = {"beat_by_beat_MAE": "beat_by_beat_MAE", "beat_by_beat_RMSE": "beat_by_beat_RMSE"}
_PAPER_DICE = {"dice": "dice_overall", "dice_ED": "dice_ED", "dice_ES": "dice_ES"}


def is_paper_ef_run(settings: dict | None) -> bool:
    """Whether an EF run's settings are the paper's model (so its numbers stand beside the paper's)."""
    return settings is not None and all(settings.get(key) == value for key, value in PAPER_EF_RUN.items())


def beside_paper(summary: pd.DataFrame, paper: dict, paper_ef_runs: set[str]) -> pd.DataFrame:
    """The seeds summary with the paper's number of each quantity beside it: Dice for the
    segmentation run, beat-by-beat MAE and RMSE for the runs of the paper's model
    (``paper_ef_runs``); empty elsewhere (the paper gives no number for R3D-18 or MC3-18)."""
    out = summary.copy()
    values = []
    for run, quantity in zip(out["run"], out["quantity"], strict=True):
        name = _PAPER_DICE.get(quantity) or (_PAPER_EF.get(quantity) if run in paper_ef_runs else None)
        values.append(paper.get(name, math.nan) if name else math.nan)
    out["paper"] = values
    return out
