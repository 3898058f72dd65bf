"""The complexity experiment (Extended Data Fig. 4): a timing job measuring each EF model per clip length.

The models are built with random weights: what a clip costs does not depend on their values.
On a CPU the job measures the CPU, on a GPU the GPU; the device, its name and the arithmetic
are in every row. What each number includes: :mod:`echobeat.inference.complexity`.
"""

from __future__ import annotations

import logging

import pandas as pd
import torch

from echobeat.compute import prepare_device
from echobeat.errors import UserError
from echobeat.inference.complexity import (
    MEMORY_KINDS,
    device_name,
    flops_per_clip,
    parameter_count,
    peak_memory_per_clip,
    precision_name,
    seconds_per_clip,
)
from echobeat.models.video import video_model

log = logging.getLogger(__name__)

COMPLEXITY_COLUMNS = [
    "model",
    "frames",
    "period",
    "device",
    "device_name",
    "precision",
    "batch_size",
    "parameters",
    "gflops_per_clip",
    "seconds_per_clip",
    "peak_memory_mb_per_clip",
    "memory_kind",
]
BATCH_KEY = "experiments.complexity.batch_size"


class ComplexityError(UserError):
    """A timing batch that does not fit the device."""


def measure_complexity(
    models,
    clip_lengths,
    period: int,
    device: str,
    precision: str,
    batch_size: int,
    warmup: int,
    repeats: int,
    threads: int = 1,
) -> pd.DataFrame:
    """One row per (model, clip length): ``COMPLEXITY_COLUMNS``; memory in MiB (2**20 bytes) per clip.

    ``period`` only labels the rows: the model sees ``frames`` frames whatever their spacing.
    """
    compute = prepare_device(device, threads, precision)
    name, arithmetic = device_name(compute.device), precision_name(compute)
    rows = []
    for model_name in models:
        torch.manual_seed(0)
        model = compute.place(video_model(model_name, "random").to(compute.device), video=True).eval()
        parameters = parameter_count(model)
        for frames in clip_lengths:
            try:
                flops = flops_per_clip(model, frames, compute)
                seconds = seconds_per_clip(model, frames, compute, batch_size, warmup, repeats)
                memory = peak_memory_per_clip(model, frames, compute, batch_size)
            except torch.OutOfMemoryError:
                raise ComplexityError(
                    f"{model_name} on {frames}-frame clips in batches of {batch_size} does not fit {name}: "
                    f"lower {BATCH_KEY}"
                ) from None
            log.info("%s, %d frames: %.4f s and %.1f MiB per clip", model_name, frames, seconds, memory / 2**20)
            rows.append(
                {
                    "model": model_name,
                    "frames": int(frames),
                    "period": int(period),
                    "device": compute.device.type,
                    "device_name": name,
                    "precision": arithmetic,
                    "batch_size": int(batch_size),
                    "parameters": parameters,
                    "gflops_per_clip": flops / 1e9,
                    "seconds_per_clip": seconds,
                    "peak_memory_mb_per_clip": memory / 2**20,
                    "memory_kind": MEMORY_KINDS.get(compute.device.type, "not measured"),
                }
            )
        del model
        if compute.is_cuda:
            torch.cuda.empty_cache()  # the next model's peak is its own
    return pd.DataFrame(rows, columns=COMPLEXITY_COLUMNS)


def complexity_table(settings: dict, threads: int = 1) -> pd.DataFrame:
    """Rule complexity_timing: :func:`measure_complexity` with the config's ``experiments.complexity``."""
    return measure_complexity(
        settings["models"],
        settings["frames"],
        settings["period"],
        settings["device"],
        settings["precision"],
        settings["batch_size"],
        settings["warmup"],
        settings["repeats"],
        threads=threads,
    )
