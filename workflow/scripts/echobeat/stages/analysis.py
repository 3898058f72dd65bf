"""The analysis stage's rules: read prediction and size files, compute, hand back tables and figures.

Evaluation happens here only: the EF metrics and AUCs are computed from the prediction files
that the EF stage wrote (or the original's code wrote), never inside inference. Torch-free.
"""

from __future__ import annotations

import logging

import pandas as pd

from echobeat.analysis import comparison, figures
from echobeat.analysis.beat_by_beat import beat_by_beat_table, beat_predictions, beat_sampling, no_beats
from echobeat.analysis.metrics import auc_table, method_predictions, metrics_table
from echobeat.analysis.tables import LABEL_COLUMNS, SIZE_COLUMNS, read_predictions, read_typed
from echobeat.stages.rule_settings import FIGURE_FORMATS

log = logging.getLogger(__name__)


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


def analysis_metrics(settings: dict, table_path: str, predictions_path: str, manifest_path: str, val_path: str):
    """metrics.csv (TEST, then VAL) and auc.csv (TEST) of one run.

    TEST has every method, beat-by-beat from ``table``; VAL (no size.csv) the clip methods.
    """
    table = pd.read_csv(table_path)
    predictions = read_predictions(predictions_path)
    labels = read_typed(manifest_path, LABEL_COLUMNS)
    samples, seed, one_clip_seed = settings["bootstrap_samples"], settings["seed"], settings["one_clip_seed"]
    per_method = method_predictions(table, predictions, labels, one_clip_seed)
    val_predictions = read_predictions(val_path)
    val_table = beat_by_beat_table(val_predictions, no_beats(), labels)
    val_methods = method_predictions(val_table, val_predictions, labels, one_clip_seed)
    del val_methods["beat_by_beat"]
    return (
        pd.concat(
            [metrics_table(per_method, samples, seed), metrics_table(val_methods, samples, seed, split="VAL")],
            ignore_index=True,
        ),
        auc_table(per_method, settings["auc_thresholds"], samples, seed),
    )


def _paths(outputs: dict, name: str) -> list[str]:
    return [outputs[f"{name}_{kind}"] for kind in FIGURE_FORMATS]


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
