"""All EF runs side by side on TEST, against the published numbers (docs/echonet.md §7).

comparison.csv has one row per run (plus one per published reference), one column per quantity;
comparison.md turns it round (a row per quantity, a column per run and reference) so that a
reader sees reproduction against paper at a glance, with the 90% bootstrap interval of each of
our values.

The published single-clip (clip 0) and beat-by-beat numbers both come from the authors' R script,
whose R2 is R's ``lm`` r.squared (the squared correlation): those references sit in the
R2_pearson rows. The HFrEF AUCs come from the original Python code's test pass, over the
all-clip mean of each video: they sit in the all_clips AUC rows. The paper gives one AUC (0.97)
without tying it to one threshold: it has a row of its own (``auc_all_clips_threshold_not_stated``),
never a threshold's row.

Each reference also says which settings produced its numbers (its ``settings``: a column of
comparison.csv, a note under comparison.md's table): the rerun's Dice came from a 30-epoch
segmentation model and its EF numbers from 35-epoch video models, not the original's 50 and 45.
"""

from __future__ import annotations

import math

import pandas as pd

from echobeat.analysis.methods import AUC_METHODS, TABLE_METHODS
from echobeat.stats import ANALYSIS_METRICS

# (method, metric) pairs of the analysis metrics.csv that the comparison shows.
REGRESSION_QUANTITIES = [(method, metric) for method in TABLE_METHODS for metric in ANALYSIS_METRICS]
DICE_QUANTITIES = {"overall": "dice_overall", "ED": "dice_ED", "ES": "dice_ES"}

# The paper's HFrEF AUC: one number, with no threshold stated (not one of the auc_thresholds).
PAPER_AUC = "auc_all_clips_threshold_not_stated"
REFERENCES = {
    "paper": {
        "label": "paper (DeepLabV3-ResNet50; R(2+1)D-18 32x2, Kinetics-pretrained)",
        "settings": (
            "DeepLabV3-ResNet50 segmentation (ImageNet backbone), 50 epochs; R(2+1)D-18 32x2 "
            "Kinetics-pretrained, 45 epochs: the original code's defaults"
        ),
        "dice_overall": 0.92,
        "dice_ED": 0.927,
        "dice_ES": 0.903,
        "single_clip_MAE": 4.22,
        "single_clip_RMSE": 5.56,
        "single_clip_R2_pearson": 0.79,
        "beat_by_beat_MAE": 4.05,
        "beat_by_beat_RMSE": 5.32,
        "beat_by_beat_R2_pearson": 0.81,
        PAPER_AUC: 0.97,
    },
    # An independent rerun of the authors' code by an earlier session of this project (config/authors_rerun.yaml).
    "authors_rerun": {
        "label": "authors' code rerun (segmentation 30 epochs; R(2+1)D-18 32x2, 35 epochs)",
        "settings": (
            "Dice from DeepLabV3-ResNet50 segmentation (ImageNet backbone) trained 30 epochs; EF and AUCs "
            "from R(2+1)D-18 32x2 Kinetics-pretrained trained 35 epochs; otherwise the original code's "
            "defaults"
        ),
        "dice_overall": 0.9214,
        "single_clip_MAE": 4.13,
        "single_clip_RMSE": 5.33,
        "single_clip_R2_pearson": 0.809,
        "beat_by_beat_MAE": 4.02,
        "beat_by_beat_RMSE": 5.23,
        "beat_by_beat_R2_pearson": 0.815,
        "auc_all_clips_35": 0.976,
        "auc_all_clips_40": 0.974,
        "auc_all_clips_45": 0.972,
        "auc_all_clips_50": 0.953,
    },
}
# The settings of each run shown beside its numbers (rule compare_runs receives exactly these).
RUN_SETTINGS = ("model", "frames", "period", "weights", "epochs")
# Video counts shown beside the settings.
COUNTS = ("test_videos", "beat_by_beat_videos")


def _quantity(method: str, metric: str) -> str:
    return f"{method}_{metric}"


def _auc_quantity(method: str, threshold) -> str:
    return f"auc_{method}_{threshold:g}"


def run_row(name: str, settings: dict, metrics: pd.DataFrame, auc: pd.DataFrame, dice: pd.DataFrame) -> dict:
    """One run's TEST numbers, each with ``<quantity>_ci_low``/``_ci_high`` beside it."""
    row = {"run": name, "label": name, **{key: settings.get(key) for key in RUN_SETTINGS}}
    test = metrics[metrics["split"] == "TEST"].set_index(["method", "metric"])
    row["test_videos"] = int(test.loc[("all_clips", "MAE"), "videos"]) if ("all_clips", "MAE") in test.index else 0
    row["beat_by_beat_videos"] = (
        int(test.loc[("beat_by_beat", "MAE"), "videos"]) if ("beat_by_beat", "MAE") in test.index else 0
    )
    for method, metric in REGRESSION_QUANTITIES:
        values = test.loc[(method, metric)] if (method, metric) in test.index else None
        _put(row, _quantity(method, metric), values, "value")
    aucs = auc[auc["split"] == "TEST"]
    for method in AUC_METHODS:
        for _, values in aucs[aucs["method"] == method].iterrows():
            _put(row, _auc_quantity(method, values["threshold"]), values, "auc")
    test_dice = dice[dice["split"] == "TEST"].set_index("which")
    for which, quantity in DICE_QUANTITIES.items():
        _put(row, quantity, test_dice.loc[which] if which in test_dice.index else None, "dice")
    return row


def _put(row: dict, quantity: str, values, column: str) -> None:
    nan = float("nan")
    row[quantity] = float(values[column]) if values is not None else nan
    row[f"{quantity}_ci_low"] = float(values["ci_low"]) if values is not None else nan
    row[f"{quantity}_ci_high"] = float(values["ci_high"]) if values is not None else nan


def comparison_table(rows: list[dict]) -> pd.DataFrame:
    """comparison.csv: the runs, then the published references (their intervals left empty, their
    ``settings`` saying what produced their numbers)."""
    references = [{"run": key, **values} for key, values in REFERENCES.items()]
    table = pd.DataFrame(rows + references)
    run_columns = list(pd.DataFrame(rows).columns)
    columns = list(dict.fromkeys([*run_columns, *table.columns]))
    # Each reference's settings beside its label; the paper's AUC after the runs' all-clip AUCs.
    paper_auc_after = _last_all_clips_auc(run_columns) or _last_all_clips_auc(columns)
    for column, after in (("settings", "label"), (PAPER_AUC, paper_auc_after)):
        if column in columns and after in columns and after != column:
            columns.remove(column)
            columns.insert(columns.index(after) + 1, column)
    table = table.reindex(columns=columns)
    # The references have no settings: keep the runs' whole numbers whole beside their empty cells.
    counts = ["frames", "period", "epochs", *COUNTS]
    return table.astype(dict.fromkeys(counts, "Int64"))


def _last_all_clips_auc(columns: list[str]) -> str | None:
    """The last column of the all-clip AUCs at a threshold (its interval's high end if it has one)."""
    aucs = [c for c in columns if c.startswith("auc_all_clips_") and c != PAPER_AUC]
    return aucs[-1] if aucs else None


def _quantities(table: pd.DataFrame) -> list[str]:
    fixed = {"run", "label", "settings", *COUNTS, *RUN_SETTINGS}
    return [c for c in table.columns if c not in fixed and not c.endswith(("_ci_low", "_ci_high"))]


def _cell(row: pd.Series, quantity: str) -> str:
    value = row.get(quantity)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    low, high = row.get(f"{quantity}_ci_low"), row.get(f"{quantity}_ci_high")
    digits = 2 if quantity.endswith(("MAE", "RMSE")) else 3
    text = f"{value:.{digits}f}"
    if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def comparison_markdown(table: pd.DataFrame) -> str:
    """comparison.md: a row per quantity, a column per run and per published reference, then a
    note per reference on the settings that produced its numbers."""
    columns = [str(row["label"]) for _, row in table.iterrows()]
    lines = [
        "# EF runs on TEST against the published numbers",
        "",
        "Our values carry their 90% bootstrap interval; empty cells have no number (the references "
        "publish only some). R2 is scikit-learn's coefficient of determination, R2_pearson the squared "
        "correlation the authors' R script reports (the published single-clip and beat-by-beat R2). AUC: "
        "HFrEF, EF at or below the threshold; the published AUCs are of the all-clip means. The settings "
        "that produced each reference's numbers are listed under the table.",
        "",
        "| quantity | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for setting in (*RUN_SETTINGS, *COUNTS):
        cells = ["" if pd.isna(row[setting]) else str(row[setting]) for _, row in table.iterrows()]
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    for quantity in _quantities(table):
        lines.append(f"| {quantity} | " + " | ".join(_cell(row, quantity) for _, row in table.iterrows()) + " |")
    notes = [
        f"- {row['label']}: {row['settings']}." for _, row in table.iterrows() if isinstance(row.get("settings"), str)
    ]
    if PAPER_AUC in table.columns:
        published = ", ".join(f"{value:.2f}" for value in table[PAPER_AUC].dropna())
        notes.append(
            f"- {PAPER_AUC}: the paper's single HFrEF AUC ({published}) is not tied to one EF threshold, "
            "so it has this row of its own rather than a threshold's."
        )
    if notes:
        lines += ["", "## What produced the reference numbers", "", *notes]
    return "\n".join(lines) + "\n"
