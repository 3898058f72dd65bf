"""The EF video stage's rules: train one run, predict every clip of the VAL and TEST videos.

Prediction writes clip predictions only; their metrics are the analysis stage's
(:mod:`echobeat.stages.analysis`).

``settings`` is one run's settings: the config's ``video.defaults`` overlaid with the run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from echobeat.compute import Compute, pick_device, prepare_device
from echobeat.data.subsets import training_rows
from echobeat.datasets.clips import ClipDataset, EpochBatches, prebatched
from echobeat.inference import video as ef_inference
from echobeat.learn.distributed import (
    ShardedBatchSampler,
    contiguous_batches,
    convert_batch_norm,
    from_rank_zero,
    gather_totals,
    launch,
    rank,
    world_size,
)
from echobeat.learn.training import (
    TrainingRun,
    fit,
    make_optimiser,
    make_scheduler,
)
from echobeat.learn.video_task import VideoTask
from echobeat.logs import log_file
from echobeat.models.video import ECHONET_BIAS, video_model
from echobeat.models.weights import load_state, model_card
from echobeat.stages._training import record_provenance, run_fingerprint, shuffle_seed, write_imported
from echobeat.stages.inputs import check_training_splits, read_normaliser, split_rows, stage_data

# The module torchrun starts in each process of a distributed run.
WORKER_MODULE = "echobeat.stages.video_worker"

log = logging.getLogger(__name__)


# What an EF best.pt records of the settings that made it (what inference needs to run it).
CARD_KEYS = ("model", "frames", "period", "weights", "bias_init", "precision")


def _card(settings: dict, normaliser) -> dict:
    return model_card("ef", settings, CARD_KEYS, normaliser.mean, normaliser.std)


def train(
    settings: dict,
    manifest: str,
    index: str,
    normalisation: str,
    out_dir: str,
    threads: int = 1,
    gpus: int = 1,
    backend: str | None = None,
):
    """Train one EF run; write best.pt and log.csv into ``out_dir`` (resuming if it can).

    With ``gpus`` > 1 and that many CUDA devices visible, the run trains in one process per GPU
    (DistributedDataParallel, nccl); with fewer, in one process. ``backend`` forces a
    several-process run on that backend (gloo runs on the CPU: the tests use it).
    """
    processes = max(1, gpus)
    if processes > 1 and backend is None:
        visible = torch.cuda.device_count() if pick_device(settings["device"]).type == "cuda" else 0
        if visible >= processes:
            backend = "nccl"
        else:
            log.warning("%d GPUs asked for, %d CUDA device(s) usable: training in one process", processes, visible)
            processes = 1
    if processes == 1:
        history = train_process(settings, manifest, index, normalisation, out_dir, threads)
        record_provenance(out_dir, "train_video", settings, pick_device(settings["device"]))
        return history
    spec = {
        "settings": settings,
        "manifest": manifest,
        "index": index,
        "normalisation": normalisation,
        "out_dir": str(out_dir),
        "threads": max(1, threads // processes),
        "backend": backend,
        "log": log_file(),  # the processes append to this job's log
    }
    log.info("training in %d processes (%s)", processes, backend)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    launch(WORKER_MODULE, processes, spec, Path(out_dir))
    record_provenance(out_dir, "train_video", settings, pick_device(settings["device"]), processes)
    return pd.read_csv(Path(out_dir) / "log.csv")


def train_process(
    settings: dict,
    manifest: str,
    index: str,
    normalisation: str,
    out_dir: str,
    threads: int = 1,
    compute: Compute | None = None,
):
    """The training of one process: the whole run, or this process's share of a distributed one."""
    if compute is None:
        compute = prepare_device(settings["device"], threads, settings["precision"], compile=settings["compile"])
    return fit(*training_run(settings, manifest, index, normalisation, out_dir, compute))


def training_run(
    settings: dict, manifest: str, index: str, normalisation: str, out_dir: str, compute: Compute
) -> tuple[VideoTask, TrainingRun]:
    """Everything one process's training needs, ready for ``fit`` (bench/ times its steps)."""
    world, me = world_size(), rank()
    device = compute.device
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    train_table, val_table = training_rows(split_rows(table, "TRAIN"), settings), split_rows(table, "VAL")
    batch = settings["batch_size"]
    check_training_splits(len(train_table), len(val_table), batch, "the run's batch_size")
    length, period, seed = settings["frames"], settings["period"], settings["seed"]
    train_set = ClipDataset(
        cache, train_table, length, period, "random", pad=settings["pad"], crop=settings["crop"], seed=seed
    )
    val_set = ClipDataset(cache, val_table, length, period, "random", seed=seed + 1)
    # Checked once here, not again in every DataLoader worker of every epoch.
    cache.check_all([*train_table["FileName"], *val_table["FileName"]], compute.threads)
    bias = _fc_bias(settings, train_table)
    torch.manual_seed(seed)
    model = video_model(settings["model"], settings["weights"], bias).to(device)
    if world > 1:
        model = convert_batch_norm(model, device)
    model = compute.place(model, video=True)
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
    shuffle = torch.Generator()
    # The one-process shuffle (DataLoader(shuffle=True, drop_last=True)), cut into this process's
    # share of each batch; validation in the larger batches of inference (no gradients to keep).
    # The batches carry their epoch, so the workers can live for the whole run.
    train_batches = EpochBatches(ShardedBatchSampler(len(train_set), batch, shuffle, me, world))
    val_batches = EpochBatches(contiguous_batches(len(val_set), settings["inference_batch_size"], me, world))
    workers = compute.loader_workers
    common = {"num_workers": workers, "pin_memory": compute.pin_memory, "collate_fn": prebatched}
    common["persistent_workers"] = workers > 0
    loaders = {
        "train": DataLoader(train_set, batch_sampler=train_batches, **common),
        "val": DataLoader(val_set, batch_sampler=val_batches, **common),
    }
    trained = None
    if world > 1:
        trained = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    def start_epoch(epoch: int) -> None:
        # Clips, crops and shuffle order depend on (seed, epoch) alone, so a resumed run repeats them.
        train_batches.set_epoch(epoch)
        val_batches.set_epoch(epoch)
        shuffle.manual_seed(shuffle_seed(seed, epoch))

    run = TrainingRun(
        model=model,
        optimiser=optimiser,
        scheduler=scheduler,
        loaders=loaders,
        epochs=settings["epochs"],
        out_dir=Path(out_dir),
        settings_fingerprint=run_fingerprint(settings, [manifest, normalisation]),
        compute=compute,
        on_epoch_start=start_epoch,
        trained=trained,
        gather=gather_totals if world > 1 else None,
        writes_files=me == 0,
        share=from_rank_zero if world > 1 else None,
        metadata=_card(settings, normaliser),
    )
    return VideoTask(normaliser), run


def import_weights(settings: dict, manifest: str, normalisation: str, out_dir: str) -> None:
    """Evaluate-only (``epochs: 0``): best.pt is the given weights, checked against the model and
    made self-describing; log.csv has its header and no epoch."""
    normaliser = read_normaliser(normalisation)
    bias = _fc_bias(settings, split_rows(pd.read_csv(manifest, dtype={"FileName": str}), "TRAIN"))
    torch.manual_seed(settings["seed"])
    model = video_model(settings["model"], settings["weights"], bias)
    write_imported(model, _card(settings, normaliser), VideoTask(normaliser), out_dir, settings)


def _fc_bias(settings: dict, train_table: pd.DataFrame) -> float:
    """The EF head's initial bias: the TRAIN split's mean EF (``bias_init: train_mean``) or the original's constant."""
    return float(train_table["EF"].mean()) if settings["bias_init"] == "train_mean" else ECHONET_BIAS


def load_trained(settings: dict, best: str, threads: int = 1) -> tuple[torch.nn.Module, Compute]:
    """The trained EF model of ``best``, placed (and compiled, if the run says so) on the run's
    device, with the :class:`Compute` it runs under."""
    compute = prepare_device(settings["device"], threads, settings["precision"], compile=settings["compile"])
    model = video_model(settings["model"], "random")
    load_state(model, best)
    return compute.compiled(compute.place(model.to(compute.device), video=True)), compute


def predict_clips(settings: dict, best: str, manifest: str, index: str, normalisation: str, threads: int = 1):
    """Rule predict_clips: all-clip predictions of the VAL and TEST videos: {split: Filename, Clip, Prediction}."""
    model, compute = load_trained(settings, best, threads)
    return predict_clips_with(model, compute, settings, manifest, index, normalisation)


def predict_clips_with(
    model: torch.nn.Module, compute: Compute, settings: dict, manifest: str, index: str, normalisation: str
) -> dict[str, pd.DataFrame]:
    """:func:`predict_clips` on a model already loaded by :func:`load_trained` (bench/ times this part alone)."""
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    predictions = {}
    for split in ("VAL", "TEST"):
        subset = split_rows(table, split)
        cache.check_all(subset["FileName"], compute.threads)
        dataset = ClipDataset(cache, subset, settings["frames"], settings["period"], "all")
        batch = settings["inference_batch_size"]
        predictions[split] = ef_inference.predict_clips(model, dataset, normaliser, compute, batch)
        log.info("%s: %d clips of %d videos", split, len(predictions[split]), len(subset))
    return predictions
