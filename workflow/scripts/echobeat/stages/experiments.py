"""The experiment families' table rules: read every point's per-run files, write the tidy tables and figure.

The points and their runs come from :mod:`echobeat.stages.experiment_grids` (the rule's params);
the files are the ordinary stages' outputs, found by their run folder's name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from echobeat.analysis import experiment_figures, robustness_figures
from echobeat.analysis.comparison import REFERENCES
from echobeat.analysis.experiments import beside_paper, is_paper_ef_run, learning_curves, point_row, seed_summary
from echobeat.analysis.noise import level_summary, noise_summary
from echobeat.analysis.tables import LABEL_COLUMNS, SIZE_COLUMNS, read_predictions, read_typed
from echobeat.data.noise import ExampleFrames
from echobeat.provenance import table_fields


def _by_run(paths: list[str]) -> dict[str, str]:
    """Per-run files keyed by their run folder's name (results/<stage>/<run>/<file>)."""
    return {Path(path).parent.name: path for path in paths}


def _read(paths: list[str]) -> dict[str, pd.DataFrame]:
    return {run: pd.read_csv(path) for run, path in _by_run(paths).items()}


def _provenance(paths: list[str]) -> dict[str, dict]:
    return {
        run: table_fields(json.loads(Path(path).read_text(encoding="utf-8"))) for run, path in _by_run(paths).items()
    }


def experiment_tables(family: str, settings: dict, inputs: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    """A family's tables: ``points`` (one row per point and seed), ``summary`` (mean and SD over
    seeds), and ``learning_curve`` (training_size). ``inputs`` lists the per-run files: ef_logs,
    metrics, segmentation_logs, dice, ef_provenance, segmentation_provenance."""
    ef_logs, metrics = _read(inputs.get("ef_logs", [])), _read(inputs.get("metrics", []))
    segmentation_logs, dice = _read(inputs.get("segmentation_logs", [])), _read(inputs.get("dice", []))
    provenance = {
        **_provenance(inputs.get("segmentation_provenance", [])),
        **_provenance(inputs.get("ef_provenance", [])),
    }
    rows = []
    for point in settings["points"]:
        ef, segmentation = point["ef_run"], point["segmentation_run"]
        files = {
            "ef_log": ef_logs.get(ef),
            "metrics": metrics.get(ef),
            "segmentation_log": segmentation_logs.get(segmentation),
            "dice": dice.get(segmentation),
            "provenance": provenance.get(ef) or provenance.get(segmentation),
        }
        rows.append(point_row(point, {key: value for key, value in files.items() if value is not None}))
    points = pd.DataFrame(rows)
    summary = seed_summary(points, settings["labels"])
    tables = {"points": points, "summary": summary}
    if family == "training_size":
        tables["learning_curve"] = learning_curves(points)
    if family == "seeds":
        paper_runs = {p["labels"]["run"] for p in settings["points"] if is_paper_ef_run(p["ef_settings"])}
        tables["summary"] = beside_paper(summary, REFERENCES["paper"], paper_runs)
    return tables


def experiment_figure(family: str, settings: dict, tables: dict[str, pd.DataFrame], paths: list[str]) -> None:
    """The family's figure, written to every path (PNG and PDF)."""
    dpi = settings["dpi"]
    if family == "sweep":
        experiment_figures.sweep_figure(tables["points"], settings["span"], paths, dpi)
    elif family == "training_size":
        experiment_figures.training_size_figure(tables["points"], tables["learning_curve"], paths, dpi)
    else:
        experiment_figures.seeds_figure(tables["points"], REFERENCES["paper"], paths, dpi)


def _read_sizes(path: str) -> pd.DataFrame:
    return read_typed(path, SIZE_COLUMNS)


def _level_files(paths: list[str]) -> dict[str, str]:
    """Per-level files keyed by their level label (.../level_<label>/<file>)."""
    return {Path(path).parent.name.removeprefix("level_"): path for path in paths}


def noise_table(settings: dict, inputs: dict) -> pd.DataFrame:
    """Rule experiment_noise: one row per EF run and level (the noise summary's columns, and ``run``).

    Dice and the beats come from the segmentation model under the same noise (the same for every
    run); without it (``segmentation: false``) from the plain size.csv and no Dice.
    """
    labels = read_typed(inputs["manifest"], LABEL_COLUMNS)  # as the plain analysis reads them
    dice = _level_files(inputs.get("dice", []))
    sizes = _level_files(inputs["sizes"]) if settings["segmentation"] else {}
    plain_sizes = None if settings["segmentation"] else _read_sizes(inputs["sizes"])
    by_run: dict[str, dict[str, str]] = {}
    for path in inputs["predictions"]:
        level_folder = Path(path).parent
        by_run.setdefault(level_folder.parent.name, {})[level_folder.name.removeprefix("level_")] = path
    tables = []
    for run, run_settings in settings["runs"].items():
        rows = []
        for label, level in settings["levels"].items():
            rows.append(
                level_summary(
                    level,
                    pd.read_csv(dice[label]) if label in dice else None,
                    read_predictions(by_run[run][label]),
                    _read_sizes(sizes[label]) if label in sizes else plain_sizes,
                    labels,
                    run_settings["offset"],
                    run_settings["one_clip_seed"],
                    settings["bootstrap_samples"],
                    settings["seed"],
                    settings["dice_bootstrap"],
                )
            )
        tables.append(noise_summary(rows).assign(run=run))
    if not tables:
        return pd.DataFrame(columns=["run"])
    table = pd.concat(tables, ignore_index=True)
    return table[["run", *[c for c in table.columns if c != "run"]]]


def noise_figures(settings: dict, table: pd.DataFrame, examples: str, outputs: dict[str, str]) -> None:
    """The noise figure (R² and Dice against pixels removed, one line per run) and the example frames."""
    dpi = settings["dpi"]
    robustness_figures.noise_figure(table, [outputs["figure_png"], outputs["figure_pdf"]], dpi)
    frames = ExampleFrames.load(examples)
    title = f"{frames.video}, frame {frames.frame}"
    paths = [outputs["noise_examples_png"], outputs["noise_examples_pdf"]]
    robustness_figures.example_frames_figure(frames.images, paths, dpi, title)


def complexity_figure(settings: dict, points: str, paths: list[str]) -> None:
    """Rule experiment_complexity: time and memory per clip against clip length, from the timing table."""
    robustness_figures.complexity_figure(pd.read_csv(points), paths, settings["dpi"])


def loss_curves(settings: dict, ef_logs: list[str], segmentation_log: str, outputs: dict[str, str]) -> pd.DataFrame:
    """Rule experiment_loss_curves: both figures, and every curve as one tidy table (run, task, epoch, phase, loss)."""
    ef = _read(ef_logs)
    segmentation = {Path(segmentation_log).parent.name: pd.read_csv(segmentation_log)}
    dpi = settings["dpi"]
    paths = [outputs["ef_loss_curves_png"], outputs["ef_loss_curves_pdf"]]
    robustness_figures.loss_curves_figure(ef, paths, dpi, "EF runs: loss (MSE) per epoch")
    paths = [outputs["segmentation_loss_curves_png"], outputs["segmentation_loss_curves_pdf"]]
    robustness_figures.loss_curves_figure(segmentation, paths, dpi, "segmentation: loss (BCE) per epoch")
    rows = [
        log[["epoch", "phase", "loss"]].assign(run=run, task=task)
        for task, logs in (("ef", ef), ("segmentation", segmentation))
        for run, log in logs.items()
    ]
    columns = ["run", "task", "epoch", "phase", "loss"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)
