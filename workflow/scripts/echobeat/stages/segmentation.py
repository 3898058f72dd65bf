"""The segmentation stage's rules: train, evaluate (Dice), size inference (size.csv), overlays.

Each function takes the rule's settings (the config's ``segmentation`` section) and input
paths, builds datasets, loaders and the model, and writes the rule's outputs atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from echobeat.analysis.dice import DICE_COLUMNS, dice_summary, per_video_dice
from echobeat.atomic import write_csv
from echobeat.compute import Compute, prepare_device
from echobeat.data.normalisation import Normaliser
from echobeat.data.subsets import training_rows
from echobeat.datasets.frames import FrameBatches, TracedFramesDataset
from echobeat.inference.overlays import model_masks, traced_videos, write_overlays
from echobeat.inference.segmentation import frame_sizes, size_table
from echobeat.learn.segmentation_task import SegmentationTask, traced_frame_counts
from echobeat.learn.training import (
    TrainingRun,
    fit,
    make_optimiser,
    make_scheduler,
)
from echobeat.models.segmentation import segmentation_model, set_bn_momentum
from echobeat.models.weights import load_state, model_card
from echobeat.stages._training import record_provenance, run_fingerprint, shuffle_seed, write_imported
from echobeat.stages.inputs import check_training_splits, read_normaliser, split_rows, stage_data

log = logging.getLogger(__name__)


def _inputs(manifest: str, tracings: str, index: str, normalisation: str):
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    return table, pd.read_csv(tracings, dtype={"FileName": str}), cache, normaliser


def data_loader(dataset, compute: Compute, **kwargs) -> DataLoader:
    """A DataLoader on the job's loader workers (kept alive across epochs) for ``dataset``."""
    return DataLoader(
        dataset,
        num_workers=compute.loader_workers,
        pin_memory=compute.pin_memory,
        persistent_workers=compute.loader_workers > 0,
        **kwargs,
    )


# What a segmentation best.pt records of the settings that made it.
CARD_KEYS = ("model", "weights", "precision")


def _card(settings: dict, normaliser: Normaliser) -> dict:
    return model_card("segmentation", settings, CARD_KEYS, normaliser.mean, normaliser.std)


def train(settings: dict, manifest: str, tracings: str, index: str, normalisation: str, out_dir: str, threads: int = 1):
    """Train the segmentation model; write best.pt and log.csv into ``out_dir`` (resuming if it can)."""
    compute = prepare_device(settings["device"], threads, settings["precision"], compile=settings["compile"])
    history = fit(*training_run(settings, manifest, tracings, index, normalisation, out_dir, compute))
    record_provenance(out_dir, "train_segmentation", settings, compute.device)
    return history


def training_run(
    settings: dict, manifest: str, tracings: str, index: str, normalisation: str, out_dir: str, compute: Compute
) -> tuple[SegmentationTask, TrainingRun]:
    """Everything the training needs, ready for ``fit`` (bench/ times its steps)."""
    table, traces, cache, normaliser = _inputs(manifest, tracings, index, normalisation)
    train_rows, val_rows = training_rows(split_rows(table, "TRAIN"), settings), split_rows(table, "VAL")
    train_set = TracedFramesDataset(cache, train_rows, traces, normaliser)
    val_set = TracedFramesDataset(cache, val_rows, traces, normaliser)
    batch = settings["batch_size"]
    check_training_splits(len(train_set), len(val_set), batch, "segmentation.batch_size")
    log.info("%s: %d TRAIN / %d VAL videos", settings["model"], len(train_rows), len(val_rows))
    # Checked once here, not again in every DataLoader worker.
    cache.check_all([*train_rows["FileName"], *val_rows["FileName"]], compute.threads)
    torch.manual_seed(settings["seed"])
    model = segmentation_model(settings["model"], settings["weights"])
    set_bn_momentum(model, settings["bn_momentum"])
    model = compute.place(model.to(compute.device))
    optimiser = make_optimiser(model.parameters(), settings)
    scheduler = make_scheduler(optimiser, settings)
    shuffle = torch.Generator()
    loaders = {
        "train": data_loader(train_set, compute, batch_size=batch, shuffle=True, drop_last=True, generator=shuffle),
        # Validation in the larger batches of inference: no gradients to keep.
        "val": data_loader(val_set, compute, batch_size=traced_batch(settings), shuffle=False),
    }
    run = TrainingRun(
        model=model,
        optimiser=optimiser,
        scheduler=scheduler,
        loaders=loaders,
        epochs=settings["epochs"],
        out_dir=Path(out_dir),
        settings_fingerprint=run_fingerprint(settings, [manifest, tracings, normalisation]),
        compute=compute,
        on_epoch_start=lambda epoch: shuffle.manual_seed(shuffle_seed(settings["seed"], epoch)),
        metadata=_card(settings, normaliser),
    )
    return SegmentationTask(), run


def traced_batch(settings: dict) -> int:
    """Videos per inference batch of traced frames: ``inference_batch_size`` counts frames, two per video."""
    return max(1, settings["inference_batch_size"] // 2)


def import_weights(settings: dict, normalisation: str, out_dir: str) -> None:
    """Evaluate-only (``epochs: 0``): best.pt is the given weights, checked against the model and
    made self-describing; log.csv has its header and no epoch."""
    torch.manual_seed(settings["seed"])  # a head the weights leave random is the seed's
    model = segmentation_model(settings["model"], settings["weights"])
    write_imported(model, _card(settings, read_normaliser(normalisation)), SegmentationTask(), out_dir, settings)


def _trained_model(settings: dict, best: str, compute: Compute) -> torch.nn.Module:
    model = segmentation_model(settings["model"], "random")
    load_state(model, best)
    return compute.compiled(compute.place(model.to(compute.device)).eval())


def evaluate(
    settings: dict, best: str, manifest: str, tracings: str, index: str, normalisation: str, threads: int = 1
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Dice on VAL and TEST: the summary table and one per-video table per split."""
    compute = prepare_device(settings["device"], threads, settings["precision"], compile=settings["compile"])
    table, traces, cache, normaliser = _inputs(manifest, tracings, index, normalisation)
    model = _trained_model(settings, best, compute)
    summary, per_video = [], {}
    for split in ("VAL", "TEST"):
        subset = split_rows(table, split)
        dataset = TracedFramesDataset(cache, subset, traces, normaliser)
        cache.check_all(subset["FileName"], compute.threads)
        counts = traced_frame_counts(model, data_loader(dataset, compute, batch_size=traced_batch(settings)), compute)
        if len(counts):
            summary += dice_summary(counts, split, settings["bootstrap_samples"], settings["seed"])
        per_video[split] = per_video_dice(subset["FileName"].tolist(), counts)
        log.info("%s: %s", split, [f"{r['which']} {r['dice']:.4f}" for r in summary if r["split"] == split])
    return pd.DataFrame(summary, columns=DICE_COLUMNS), per_video


def load_trained(settings: dict, best: str, threads: int = 1) -> tuple[torch.nn.Module, Compute]:
    """The trained segmentation model of ``best``, placed (and compiled, if the settings say so) on
    the configured device, with the :class:`Compute` it runs under."""
    compute = prepare_device(settings["device"], threads, settings["precision"], compile=settings["compile"])
    return _trained_model(settings, best, compute), compute


def sizes(settings: dict, best: str, manifest: str, index: str, normalisation: str, threads: int = 1) -> pd.DataFrame:
    """Rule segment_all_frames: size.csv for the videos of the configured splits."""
    model, compute = load_trained(settings, best, threads)
    return sizes_with(model, compute, settings, manifest, index, normalisation)


def sizes_with(
    model: torch.nn.Module, compute: Compute, settings: dict, manifest: str, index: str, normalisation: str
) -> pd.DataFrame:
    """:func:`sizes` on a model already loaded by :func:`load_trained` (bench/ times this part alone)."""
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    splits = settings["size_splits"]
    if "all" not in splits:
        table = table[table["Split"].isin(splits)].reset_index(drop=True)
    cache.check_all(table["FileName"], compute.threads)
    frames = FrameBatches(cache, table["FileName"].tolist(), batch_size=settings["inference_batch_size"])
    by_video = frame_sizes(model, frames, normaliser, compute)
    return size_table(table, by_video, settings["beats"]["trim"])


def write_evaluation(summary: pd.DataFrame, per_video: dict[str, pd.DataFrame], dice: str, val: str, test: str):
    write_csv(dice, summary)
    write_csv(val, per_video["VAL"])
    write_csv(test, per_video["TEST"])


def overlays(
    settings: dict,
    best: str,
    manifest: str,
    index: str,
    normalisation: str,
    size_csv: str,
    out_dir: str,
    threads: int = 1,
) -> list[str]:
    """Overlay videos and trace figures for the first ``settings['overlays']`` videos of size.csv."""
    compute = prepare_device(settings["device"], threads, settings["precision"])
    model = _trained_model(settings, best, compute)
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    sizes = pd.read_csv(size_csv, dtype={"Filename": str})
    return write_overlays(
        out_dir,
        cache,
        sizes,
        traced_videos(table, sizes, settings["overlays"]),
        model_masks(model, normaliser, compute, settings["inference_batch_size"]),
    )
