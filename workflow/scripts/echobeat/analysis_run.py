"""Wiring of the analysis stage for its rules: read the stage outputs, compute, hand back tables.

The inputs may also come from elsewhere (a size.csv or predictions written by the original
code, whose prediction files have no header row), so each is read with its required columns
checked and every number parsed, and a bad cell is reported with its file, line and column.
"""

from __future__ import annotations

import logging

import pandas as pd

from . import comparison, figures
from .analysis import auc_table, method_predictions
from .analysis import metrics_table as analysis_metrics_table
from .beat_by_beat import beat_by_beat_table, beat_predictions, beat_sampling
from .csvtable import read_table
from .problems import DatasetFormatError

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = {"Filename": str, "Clip": int, "Prediction": float}
SIZE_COLUMNS = {"Filename": str, "Frame": int, "ComputerSmall": int}
LABEL_COLUMNS = {"FileName": str, "EF": float}


def read_typed(path, columns: dict[str, type], headerless: bool = False) -> pd.DataFrame:
    """The file's required columns, each parsed to its type; a bad cell names file, line and column.
    ``headerless``: a file without a header row is also read (its fields in the columns' order)."""
    table, _ = read_table(path, tuple(columns), headerless)
    typed = pd.DataFrame(index=table.index)
    for column, kind in columns.items():
        if kind is str:
            typed[column] = table[column]
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | ((values % 1 != 0) if kind is int else False)
        if bad.any():
            first = bad.idxmax()
            raise DatasetFormatError(
                f"{path}, line {table.loc[first, '_line']}: column {column} is {table.loc[first, column]!r}, "
                f"not {'an integer' if kind is int else 'a number'} ({int(bad.sum())} such row(s))"
            )
        typed[column] = values.astype(kind)
    return typed


def read_predictions(path) -> pd.DataFrame:
    """All-clip predictions: ours (header ``Filename,Clip,Prediction``) or the original's
    (the same three fields, no header row)."""
    return read_typed(path, PREDICTION_COLUMNS, headerless=True)


def beat_by_beat(settings: dict, predictions_path: str, sizes_path: str, manifest_path: str):
    """beat_by_beat.csv, beats.csv and beat_sampling.csv of one run."""
    predictions = read_predictions(predictions_path)
    sizes = read_typed(sizes_path, SIZE_COLUMNS)
    labels = read_typed(manifest_path, LABEL_COLUMNS)
    beats = beat_predictions(predictions, sizes, settings["offset"])
    table = beat_by_beat_table(predictions, beats, labels)
    log.info(
        "offset %d frames: %d of %d detected beats have a clip; %d of %d TEST videos have a beat-by-beat EF",
        settings["offset"],
        len(beats),
        int((sizes["ComputerSmall"] == 1).sum()),
        int(table["beat_by_beat"].notna().sum()),
        len(table),
    )
    sampling = beat_sampling(beats, labels, settings["max_beats"], settings["repetitions"], settings["seed"])
    return table, beats, sampling


def analysis_metrics(settings: dict, table_path: str, predictions_path: str, manifest_path: str):
    """metrics.csv and auc.csv of one run."""
    table = pd.read_csv(table_path)
    predictions = read_predictions(predictions_path)
    labels = read_typed(manifest_path, LABEL_COLUMNS)
    per_method = method_predictions(table, predictions, labels, settings["one_clip_seed"])
    samples, seed = settings["bootstrap_samples"], settings["seed"]
    return (
        analysis_metrics_table(per_method, samples, seed),
        auc_table(per_method, settings["auc_thresholds"], samples, seed),
    )


def _paths(outputs: dict, name: str) -> list[str]:
    return [outputs[f"{name}_png"], outputs[f"{name}_pdf"]]


def ef_figures(settings: dict, table_path: str, sampling_path: str, log_path: str, outputs: dict, run: str):
    """Every figure of one EF run."""
    table = pd.read_csv(table_path)
    dpi, thresholds = settings["dpi"], settings["auc_thresholds"]
    figures.ef_scatter(table, thresholds, _paths(outputs, "ef_scatter"), dpi)
    figures.roc_curves(table, thresholds, _paths(outputs, "roc"), dpi)
    figures.bland_altman(table, "beat_by_beat", _paths(outputs, "bland_altman"), dpi)
    figures.beat_sampling_boxplot(pd.read_csv(sampling_path), _paths(outputs, "beat_sampling"), dpi)
    figures.loss_curves({run: pd.read_csv(log_path)}, _paths(outputs, "loss"), dpi)


def segmentation_figures(settings: dict, log_path: str, dice_path: str, outputs: dict):
    """The segmentation stage's figures."""
    dpi = settings["dpi"]
    figures.loss_curves({"segmentation": pd.read_csv(log_path)}, _paths(outputs, "segmentation_loss"), dpi)
    figures.dice_histogram(pd.read_csv(dice_path), _paths(outputs, "dice_histogram"), dpi)


def compare_runs(runs: dict, metrics_paths: list[str], auc_paths: list[str], dice_path: str):
    """comparison.csv and comparison.md over every run (inputs in the order of ``runs``)."""
    dice = pd.read_csv(dice_path)
    rows = [
        comparison.run_row(name, settings, pd.read_csv(metrics), pd.read_csv(auc), dice)
        for (name, settings), metrics, auc in zip(runs.items(), metrics_paths, auc_paths, strict=True)
    ]
    table = comparison.comparison_table(rows)
    return table, comparison.comparison_markdown(table)
