"""Wiring of the EF video stage for its rules: train one run, predict every clip of VAL/TEST.

``settings`` is one run's settings: the config's ``video.defaults`` overlaid with the run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .datasets import ClipDataset, check_training_splits, prebatched, split_rows, stage_data
from .ef_methods import metrics_table
from .models import load_state
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
from .video import ECHONET_BIAS, VideoTask, predict_all_clips, video_model

log = logging.getLogger(__name__)


def train(settings: dict, manifest: str, index: str, normalisation: str, out_dir: str, threads: int = 1):
    """Train one EF run; write best.pt and log.csv into ``out_dir`` (resuming if it can)."""
    device = prepare_device(settings["device"], threads)
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    train_table, val_table = split_rows(table, "TRAIN"), split_rows(table, "VAL")
    batch = settings["batch_size"]
    check_training_splits(len(train_table), len(val_table), batch, "the run's batch_size")
    length, period, seed = settings["frames"], settings["period"], settings["seed"]
    train_set = ClipDataset(cache, train_table, normaliser, length, period, "random", settings["pad"], seed)
    val_set = ClipDataset(cache, val_table, normaliser, length, period, "random", None, seed + 1)
    bias = float(train_table["EF"].mean()) if settings["bias_init"] == "train_mean" else ECHONET_BIAS
    torch.manual_seed(seed)
    model = video_model(settings["model"], settings["weights"], bias).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last_3d)
    log.info(
        "%s: fc bias %.2f (%s), %d TRAIN / %d VAL videos",
        settings["model"],
        bias,
        settings["bias_init"],
        len(train_table),
        len(val_table),
    )
    optimiser = make_optimiser(model.parameters(), settings)
    scheduler = make_scheduler(optimiser, settings)
    workers = loader_workers(device, threads)
    shuffle = torch.Generator()
    common = {
        "num_workers": workers,
        "pin_memory": device.type == "cuda",
        "collate_fn": prebatched,
        "persistent_workers": False,
    }
    loaders = {
        "train": DataLoader(train_set, batch_size=batch, shuffle=True, drop_last=True, generator=shuffle, **common),
        "val": DataLoader(val_set, batch_size=batch, shuffle=False, **common),
    }

    def start_epoch(epoch: int) -> None:
        # Clips, crops and shuffle order depend on (seed, epoch) alone, so a resumed run repeats them.
        train_set.set_epoch(epoch)
        val_set.set_epoch(epoch)
        shuffle.manual_seed(seed * 1_000_003 + epoch)

    # Everything that shapes the model; the device only changes where it is computed.
    identity = {k: v for k, v in settings.items() if k != "device"}
    identity["data"] = [file_digest(p) for p in (manifest, normalisation)]
    run = TrainingRun(
        model=model,
        optimiser=optimiser,
        scheduler=scheduler,
        loaders=loaders,
        epochs=settings["epochs"],
        out_dir=Path(out_dir),
        settings_fingerprint=fingerprint(identity),
        device=device,
        on_epoch_start=start_epoch,
    )
    return fit(VideoTask(normaliser), run)


def predict(settings: dict, best: str, manifest: str, index: str, normalisation: str, threads: int = 1):
    """All-clip predictions of VAL and TEST and the metrics table."""
    device = prepare_device(settings["device"], threads)
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    model = video_model(settings["model"], "random")
    load_state(model, best)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last_3d)
    predictions = {}
    for split in ("VAL", "TEST"):
        subset = split_rows(table, split)
        dataset = ClipDataset(cache, subset, normaliser, settings["frames"], settings["period"], clips="all")
        predictions[split] = predict_all_clips(
            model, dataset, normaliser, device, settings["inference_batch_size"], loader_workers(device, threads)
        )
        log.info("%s: %d clips of %d videos", split, len(predictions[split]), len(subset))
    metrics = metrics_table(predictions, table, settings["bootstrap_samples"], settings["seed"])
    return predictions, metrics
