"""Wiring of the segmentation stage for its three rules: train, evaluate, size inference.

Each function takes the rule's settings (the config's ``segmentation`` section) and input
paths, builds datasets, loaders and the model, and writes the rule's outputs atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from .atomic import write_csv
from .datasets import FrameBatches, TracedFramesDataset, check_training_splits, split_rows, stage_data
from .models import load_state, segmentation_model, set_bn_momentum
from .overlays import write_overlays
from .segmentation import SegmentationTask, dice_summary, frame_sizes, per_video_dice, size_table, traced_frame_counts
from .training import (
    TrainingRun,
    file_digest,
    fingerprint,
    fit,
    loader_workers,
    make_optimiser,
    make_scheduler,
    prepare_device,
)

log = logging.getLogger(__name__)


def _inputs(manifest: str, tracings: str, index: str, normalisation: str):
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    return table, pd.read_csv(tracings, dtype={"FileName": str}), cache, normaliser


def _loader(dataset, workers: int, device: torch.device, **kwargs) -> DataLoader:
    return DataLoader(
        dataset,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        **kwargs,
    )


def train(settings: dict, manifest: str, tracings: str, index: str, normalisation: str, out_dir: str, threads: int = 1):
    """Train the segmentation model; write best.pt and log.csv into ``out_dir`` (resuming if it can)."""
    device = prepare_device(settings["device"], threads, settings["precision"])
    table, traces, cache, normaliser = _inputs(manifest, tracings, index, normalisation)
    train_set = TracedFramesDataset(cache, split_rows(table, "TRAIN"), traces, normaliser)
    val_set = TracedFramesDataset(cache, split_rows(table, "VAL"), traces, normaliser)
    batch = settings["batch_size"]
    check_training_splits(len(train_set), len(val_set), batch, "segmentation.batch_size")
    torch.manual_seed(settings["seed"])
    model = segmentation_model(settings["model"], settings["weights"])
    set_bn_momentum(model, settings["bn_momentum"])
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimiser = make_optimiser(model.parameters(), settings)
    scheduler = make_scheduler(optimiser, settings)
    shuffle = torch.Generator()
    workers = loader_workers(device, threads)
    loaders = {
        "train": _loader(train_set, workers, device, batch_size=batch, shuffle=True, drop_last=True, generator=shuffle),
        "val": _loader(val_set, workers, device, batch_size=batch, shuffle=False),
    }
    # Everything that shapes the model; the device only changes where it is computed.
    identity = {k: v for k, v in settings.items() if k != "device"}
    identity["data"] = [file_digest(p) for p in (manifest, tracings, normalisation)]
    run = TrainingRun(
        model=model,
        optimiser=optimiser,
        scheduler=scheduler,
        loaders=loaders,
        epochs=settings["epochs"],
        out_dir=Path(out_dir),
        settings_fingerprint=fingerprint(identity),
        device=device,
        # The shuffle order of an epoch depends on (seed, epoch) alone, so a resumed run repeats it.
        on_epoch_start=lambda epoch: shuffle.manual_seed(settings["seed"] * 1_000_003 + epoch),
    )
    return fit(SegmentationTask(), run)


def _trained_model(settings: dict, best: str, device: torch.device) -> torch.nn.Module:
    model = segmentation_model(settings["model"], "random")
    load_state(model, best)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model.eval()


def evaluate(
    settings: dict, best: str, manifest: str, tracings: str, index: str, normalisation: str, threads: int = 1
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Dice on VAL and TEST: the summary table and one per-video table per split."""
    device = prepare_device(settings["device"], threads, settings["precision"])
    table, traces, cache, normaliser = _inputs(manifest, tracings, index, normalisation)
    model = _trained_model(settings, best, device)
    summary, per_video = [], {}
    for split in ("VAL", "TEST"):
        subset = split_rows(table, split)
        dataset = TracedFramesDataset(cache, subset, traces, normaliser)
        batch = max(1, settings["inference_batch_size"] // 2)  # ED and ES frames: two per item
        loader = _loader(dataset, loader_workers(device, threads), device, batch_size=batch)
        counts = traced_frame_counts(model, loader, device)
        if len(counts):
            summary += dice_summary(counts, split, settings["bootstrap_samples"], settings["seed"])
        per_video[split] = (
            per_video_dice(subset["FileName"].tolist(), counts)
            if len(counts)
            else pd.DataFrame(columns=["Filename", "Overall", "Large", "Small"])
        )
        log.info("%s: %s", split, [f"{r['which']} {r['dice']:.4f}" for r in summary if r["split"] == split])
    return pd.DataFrame(summary, columns=["split", "which", "dice", "ci_low", "ci_high"]), per_video


def sizes(settings: dict, best: str, manifest: str, index: str, normalisation: str, threads: int = 1) -> pd.DataFrame:
    """size.csv for the videos of the configured splits."""
    device = prepare_device(settings["device"], threads, settings["precision"])
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    splits = settings["size_splits"]
    if "all" not in splits:
        table = table[table["Split"].isin(splits)].reset_index(drop=True)
    model = _trained_model(settings, best, device)
    frames = FrameBatches(cache, table["FileName"].tolist(), batch_size=settings["inference_batch_size"])
    by_video = frame_sizes(model, frames, normaliser, device, workers=loader_workers(device, threads))
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
    device = prepare_device(settings["device"], threads, settings["precision"])
    model = _trained_model(settings, best, device)
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    return write_overlays(
        out_dir,
        model,
        cache,
        table,
        pd.read_csv(size_csv, dtype={"Filename": str}),
        normaliser,
        device,
        settings["overlays"],
        batch=settings["inference_batch_size"],
    )
