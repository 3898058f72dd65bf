"""Rates of the workflow's own training and inference code, with data-wait share and peak GPU memory."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pandas as pd
import torch

from echobeat.analysis.dice import dice_summary
from echobeat.data.clips import n_clips
from echobeat.datasets.clips import ClipDataset, prebatched
from echobeat.datasets.frames import FrameBatches
from echobeat.inference.segmentation import frame_sizes, size_table
from echobeat.inference.video import predict_clips
from echobeat.learn.training import run_epoch
from echobeat.models.segmentation import segmentation_model
from echobeat.models.video import video_model
from echobeat.stages import segmentation as segmentation_stage
from echobeat.stages import video as video_stage
from echobeat.stages.inputs import stage_data


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_gb(device: torch.device) -> float:
    if device.type != "cuda":
        return 0.0
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**30


def release(device: torch.device) -> None:
    """Free what the last stage left (models, DataLoader workers, compiled graphs)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def reset_compiler() -> None:
    """Forget compiled graphs, so no stage reaches torch's recompile limit because of another."""
    dynamo = getattr(torch, "_dynamo", None)
    if dynamo is not None and hasattr(dynamo, "reset"):
        dynamo.reset()


def timing(spent, items: int, device: torch.device) -> dict:
    seconds = max(spent.seconds, 1e-9)
    return {
        "batches": spent.batches,
        "items": items,
        "seconds": spent.seconds,
        "data_seconds": spent.data_seconds,
        "data_wait_share": spent.data_seconds / seconds,
        "seconds_per_batch": spent.seconds / max(spent.batches, 1),
        "per_s": items / seconds,
        "peak_gb": peak_gb(device),
    }


def started_run(kind: str, settings: dict, paths: dict, out_dir: str, compute):
    """The stage's own (task, run) for ``kind`` ("segmentation" or an EF run), at the start of epoch 0."""
    if kind == "segmentation":
        task, run = segmentation_stage.training_run(
            settings, paths["manifest"], paths["tracings"], paths["index"], paths["normalisation"], out_dir, compute
        )
    else:
        task, run = video_stage.training_run(
            settings, paths["manifest"], paths["index"], paths["normalisation"], out_dir, compute
        )
    if run.on_epoch_start is not None:
        run.on_epoch_start(0)
    return task, run


def measure_training(kind: str, settings: dict, paths: dict, out_dir: Path, compute, opts, report) -> dict:
    """Warm-up, a probe, then a timed ``run_epoch`` of many steps; then validation passes."""
    device = compute.device
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    task, run = started_run(kind, settings, paths, str(out_dir), compute)
    nets = run.networks()
    train_net, val_net = nets["train"], nets["val"]
    setup = time.monotonic() - t0
    batch = settings["batch_size"]
    result: dict = {"setup_seconds": setup, "batch_size": batch, "train_videos": len(run.loaders["train"].dataset)}
    loader, optimiser = run.loaders["train"], run.optimiser

    t0 = time.monotonic()
    _, warm = run_epoch(task, train_net, loader, compute, optimiser, "warm-up", max_batches=opts.warmup_steps)
    sync(device)
    warm_s = time.monotonic() - t0
    _, probe = run_epoch(task, train_net, loader, compute, optimiser, "probe", max_batches=opts.probe_steps)
    per_batch = probe.seconds / max(probe.batches, 1)
    steps = int(opts.train_seconds / max(per_batch, 1e-6))
    # Leave time for validation and the rest of the plan.
    room = int(max(report.left() - report.need("inference"), 0.0) / max(per_batch, 1e-6))
    steps = max(opts.min_steps, min(opts.max_steps, steps, room))
    reset_peak(device)
    _, spent = run_epoch(task, train_net, loader, compute, optimiser, "timed", max_batches=steps)
    train = timing(spent, spent.batches * batch, device)
    result["train"] = train
    result["warmup"] = {
        "batches": warm.batches,
        "seconds": warm_s,
        # Compilation and cuDNN autotuning happen here: what the warm-up took beyond its steps.
        "compile_autotune_seconds": max(0.0, warm_s - warm.batches * train["seconds_per_batch"]),
        "probe_seconds_per_batch": per_batch,
    }

    val_loader = run.loaders["val"]
    val_items = len(val_loader.dataset)
    t0 = time.monotonic()
    run_epoch(task, val_net, val_loader, compute, None, "val warm-up")
    sync(device)
    val_warm_s = time.monotonic() - t0
    reset_peak(device)
    val_totals, val_spent = run_epoch(task, val_net, val_loader, compute, None, "val timed")
    val = timing(val_spent, val_items, device)
    result["val"] = val
    result["val_warmup"] = {
        "seconds": val_warm_s,
        "compile_autotune_seconds": max(0.0, val_warm_s - val["seconds"]),
    }
    result["val_videos"] = val_items

    # What fit writes after every epoch: model, optimiser, best weights (torch.save of the same parts).
    t0 = time.monotonic()
    checkpoint = out_dir / "checkpoint-size.pt"
    torch.save(
        {
            "model": run.model.state_dict(),
            "optimiser": run.optimiser.state_dict(),
            "best_model": {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()},
        },
        checkpoint,
    )
    result["checkpoint_seconds"] = time.monotonic() - t0
    result["checkpoint_mb"] = checkpoint.stat().st_size / 1e6
    checkpoint.unlink()

    if kind == "segmentation":
        # evaluate_segmentation's bootstrap, on the counts of this validation pass.
        counts = pd.DataFrame(
            {f"{p}_{k}": val_totals.get(f"{p}_{k}") for p in ("ED", "ES") for k in ("inter", "pred", "true")}
        )
        t0 = time.monotonic()
        dice_summary(counts, "VAL", opts.bootstrap_samples, 0)
        result["bootstrap"] = {
            "frames": len(counts),
            "samples": opts.bootstrap_samples,
            "seconds": time.monotonic() - t0,
        }
    del task, run, train_net, val_net, loader, val_loader, optimiser
    release(device)
    return result


def pick_videos(table: pd.DataFrame, count, target: int) -> pd.DataFrame:
    """The first rows whose ``count(row)`` add up to ``target`` (at least one row)."""
    chosen, total = [], 0
    for i in range(len(table)):
        chosen.append(i)
        total += count(table.iloc[i])
        if total >= target:
            break
    return table.iloc[chosen].reset_index(drop=True)


def loader_only(dataset, compute, **kwargs) -> dict:
    """How fast the library's dataset alone feeds batches, with the stage's DataLoader settings."""
    loader = torch.utils.data.DataLoader(
        dataset, num_workers=compute.loader_workers, pin_memory=compute.pin_memory, **kwargs
    )
    t0 = time.monotonic()
    items = 0
    for batch in loader:
        items += len(batch) if hasattr(batch, "pixels") else batch[0].shape[0]
    seconds = time.monotonic() - t0
    return {"items": items, "seconds": seconds, "per_s": items / max(seconds, 1e-9)}


def timed_twice(call, device: torch.device) -> tuple[object, float, float]:
    """``call()`` twice: a warm-up on exactly the batches of the timed call (the same videos,
    the same DataLoader workers, so the same partial last batches: cuDNN autotuning and
    compilation of every shape happen in the warm-up), then the timed call."""
    t0 = time.monotonic()
    call()
    sync(device)
    warm = time.monotonic() - t0
    reset_peak(device)
    t0 = time.monotonic()
    result = call()
    sync(device)
    return result, warm, time.monotonic() - t0


def measure_sizes(settings: dict, paths: dict, compute, opts, first: bool) -> dict:
    """``frame_sizes`` on TEST videos, as ``stages.segmentation.sizes`` builds it."""
    device = compute.device
    table, cache, normaliser = stage_data(paths["manifest"], paths["index"], paths["normalisation"])
    test = table[table["Split"] == "TEST"].reset_index(drop=True)
    batch = settings["inference_batch_size"]
    subset = pick_videos(test, lambda row: int(cache.n_frames(row["FileName"])), opts.size_frames)
    names = subset["FileName"].tolist()
    t0 = time.monotonic()
    model = segmentation_model(settings["model"], "random")
    model = compute.compiled(compute.place(model.to(device)).eval())
    cache.check_all(names, compute.threads)
    setup = time.monotonic() - t0
    by_video, warm, seconds = timed_twice(
        lambda model=model: frame_sizes(model, FrameBatches(cache, names, batch_size=batch), normaliser, compute),
        device,
    )
    frames = int(sum(len(v) for v in by_video.values()))
    result = {
        "setup_seconds": setup,
        "batch_size": batch,
        "videos": len(subset),
        "frames": frames,
        "seconds": seconds,
        "per_s": frames / seconds,
        "peak_gb": peak_gb(device),
        "warmup": {"seconds": warm, "compile_autotune_seconds": max(0.0, warm - seconds)},
    }
    t0 = time.monotonic()
    size_table(subset, by_video, settings["beats"]["trim"])
    result["size_table_seconds_per_frame"] = (time.monotonic() - t0) / max(frames, 1)
    if first:
        # frame_sizes builds its DataLoader inside: its data wait is not observable; the loader's
        # own speed says how far ahead of the model it runs.
        only = loader_only(FrameBatches(cache, names, batch_size=batch), compute, batch_size=None)
        result["loader_only"] = only
        result["loader_headroom"] = only["per_s"] / result["per_s"]
    del model
    release(device)
    return result


def measure_all_clips(settings: dict, paths: dict, compute, opts, first: bool) -> dict:
    """``predict_clips`` on every clip of TEST videos, as ``stages.video.predict_clips`` builds it."""
    device = compute.device
    table, cache, normaliser = stage_data(paths["manifest"], paths["index"], paths["normalisation"])
    test = table[table["Split"] == "TEST"].reset_index(drop=True)
    length, period, batch = settings["frames"], settings["period"], settings["inference_batch_size"]
    subset = pick_videos(
        test, lambda row: n_clips(int(cache.n_frames(row["FileName"])), length, period), opts.clip_count
    )
    t0 = time.monotonic()
    model = video_model(settings["model"], "random")
    model = compute.compiled(compute.place(model.to(device), video=True))
    cache.check_all(subset["FileName"], compute.threads)
    dataset = ClipDataset(cache, subset, length, period, "all")
    setup = time.monotonic() - t0
    predictions, warm, seconds = timed_twice(
        lambda model=model: predict_clips(model, dataset, normaliser, compute, batch), device
    )
    result = {
        "setup_seconds": setup,
        "batch_size": batch,
        "videos": len(subset),
        "clips": len(predictions),
        "seconds": seconds,
        "per_s": len(predictions) / seconds,
        "peak_gb": peak_gb(device),
        "warmup": {"seconds": warm, "compile_autotune_seconds": max(0.0, warm - seconds)},
    }
    if first:
        only = loader_only(dataset, compute, batch_size=batch, collate_fn=prebatched)
        result["loader_only"] = only
        result["loader_headroom"] = only["per_s"] / result["per_s"]
    del model
    release(device)
    return result
