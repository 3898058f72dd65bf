"""The benchmark's report: one JSON rewritten atomically after every stage, the time budget, stages
that record their own errors, and the printed summary.
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.reproduction import START
from echobeat.atomic import write_text

# Rough minimum seconds a measurement needs to be worth starting (full size; --quick divides).
NEED_S = {"training": 40.0, "inference": 25.0, "contention": 75.0, "compile": 150.0}


STOP = {"signal": None}


def clean(value):
    """``value`` as plain JSON: numpy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class Report:
    """The JSON being built, the time budget, and stages that record their own errors."""

    def __init__(self, path: Path, budget_s: float, quick: bool):
        self.path = path
        self.budget_s = budget_s
        self.quick = quick
        self.data: dict = {
            "script": "bench/reproduction.py",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": "running",
            "errors": [],
            "skipped": [],
            "rates": [],
        }

    def elapsed(self) -> float:
        return time.monotonic() - START

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def need(self, kind: str) -> float:
        return NEED_S[kind] / (20.0 if self.quick else 1.0)

    def save(self) -> None:
        self.data["elapsed_s"] = round(self.elapsed(), 1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.path, json.dumps(clean(self.data), indent=2) + "\n")

    def skip(self, where: str, reason: str) -> dict:
        self.data["skipped"].append({"stage": where, "reason": reason})
        log(f"skipped {where}: {reason}")
        self.save()
        return {"skipped": reason}

    def stage(self, where: str, fn, need: float = 0.0):
        """Run ``fn()``; its dict result, or ``{"error": ...}`` if it raised, or a skip note."""
        if STOP["signal"] is not None:
            return self.skip(where, f"stopped by signal {STOP['signal']}")
        if need and self.left() < need:
            return self.skip(where, f"time budget: {self.left():.0f} s left, needs ~{need:.0f} s")
        log(f"{where} ... ({self.elapsed():.0f} s elapsed)")
        started = time.monotonic()
        try:
            result = fn()
        except Exception as err:  # one stage must not lose the others
            result = {
                "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc()[-3000:],
            }
            self.data["errors"].append({"stage": where, "error": result["error"]})
            log(f"{where} FAILED: {result['error']}")
            gc.collect()  # what the failed stage left (models, DataLoader workers)
        result["stage_seconds"] = time.monotonic() - started
        self.save()
        return result

    def rate(self, variant: str, stage: str, phase: str, per_s: float, unit: str) -> None:
        self.data["rates"].append({"variant": variant, "stage": stage, "phase": phase, "per_s": per_s, "unit": unit})


def log(message: str) -> None:
    print(f"[reproduction {time.monotonic() - START:6.1f} s] {message}", file=sys.stderr, flush=True)


def measured_ok(result) -> bool:
    return bool(result) and "error" not in result and "skipped" not in result


def record_rates(report: Report, variant: str, stage: str, result: dict) -> None:
    if "error" in result or "skipped" in result:
        return
    if "train" in result:
        unit = "frames/s" if stage == "segmentation" else "clips/s"
        scale = 2 if stage == "segmentation" else 1
        report.rate(variant, stage, "train", scale * result["train"]["per_s"], unit)
        report.rate(variant, stage, "val", scale * result["val"]["per_s"], unit)
    else:
        unit = "frames/s" if stage == "size_inference" else "clips/s"
        report.rate(variant, stage, "inference", result["per_s"], unit)


def print_summary(data: dict) -> None:
    machine = data.get("machine", {})
    dataset = data.get("dataset") or {}
    lines = [
        f"Machine: {machine.get('gpu') or 'no GPU'}, torch {machine.get('torch')}, CUDA {machine.get('cuda')}, "
        f"{machine.get('cpu_count')} CPUs; status: {data.get('status')}; {data.get('elapsed_s')} s",
    ]
    if dataset:
        frames = dataset["frames"]
        lines.append(
            f"Dataset: {dataset['videos']} videos {dataset['splits']}, frames {frames['min']}-{frames['max']} "
            f"(mean {frames['mean']:.0f}), {dataset['fps']['share_50']:.0%} at 50 fps, "
            f"cache {dataset['cache_gb_as_listed']:.1f} GB as listed ({dataset['cache_gb_on_disk']:.1f} GB on disk)"
        )
    stage = data.get("data_stage") or {}
    if "verification" in stage:
        gen = stage["generation"]
        lines += [
            "",
            "| data step | videos | seconds | videos/s | threads |",
            "|---|---:|---:|---:|---:|",
            f"| generation | {gen['videos']} | {gen['seconds']:.1f} | {gen['videos_per_s']:.1f} | {gen['threads']} |",
        ]
        for step in ("verification", "cache"):
            s = stage[step]
            lines.append(f"| {step} | {s['videos']} | {s['seconds']:.1f} | {s['videos_per_s']:.1f} | {s['threads']} |")
    lines += [
        "",
        "| variant | stage | phase | rate | data wait | peak GB | warm-up s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for variant, stages in (data.get("measurements") or {}).items():
        for name, result in stages.items():
            if "error" in result or "skipped" in result:
                why = result.get("error") or result.get("skipped")
                lines.append(f"| {variant} | {name} | - | {str(why)[:60]} | | | |")
                continue
            unit = "frames/s" if name in ("segmentation", "size_inference") else "clips/s"
            scale = 2 if name == "segmentation" else 1
            if "train" in result:
                for phase, warm in (("train", result["warmup"]), ("val", result["val_warmup"])):
                    r = result[phase]
                    lines.append(
                        f"| {variant} | {name} | {phase} | {scale * r['per_s']:.1f} {unit} | "
                        f"{100 * r['data_wait_share']:.1f}% | {r['peak_gb']:.1f} | {warm['seconds']:.1f} |"
                    )
            else:
                headroom = result.get("loader_headroom")
                wait = f"loader {headroom:.1f}x" if headroom else "-"
                lines.append(
                    f"| {variant} | {name} | inference | {result['per_s']:.1f} {unit} | {wait} | "
                    f"{result['peak_gb']:.1f} | {result['warmup']['seconds']:.1f} |"
                )
    contention = data.get("contention")
    if contention and "error" not in contention and "skipped" not in contention:
        lines.append(
            f"\nTwo training jobs sharing the GPU: segmentation at {contention['segmentation']['factor']:.2f}, "
            f"EF at {contention['video']['factor']:.2f} of their solo speed "
            f"(combined {contention['combined_throughput']:.2f}x)."
        )
    projection = data.get("projection") or {}
    if "one_after_another_h" in projection:
        lines += [
            "",
            f"Projection ({projection['variant']}), real size, one GPU:",
            "",
            "| job | hours |",
            "|---|---:|",
        ]
        for job, h in {**projection["data_jobs_h"], **projection["gpu_jobs_h"]}.items():
            lines.append(f"| {job} | {h:.2f} |")
        shared = projection["shared_gpu"]
        lines += [
            f"| **one job after another (gpu=1)** | **{projection['one_after_another_h']:.2f}** |",
            f"| **{shared['jobs_per_gpu']} jobs sharing the GPU, best order** | **{shared['h']:.2f}** |",
            "",
            f"Shared-GPU speed: {shared['factor_source']}. BENCHMARKS.md's 64-video projection: "
            f"{projection['benchmarks_md_projection_h']} h.",
        ]
    if data.get("errors"):
        lines += ["", "Errors:"] + [f"- {e['stage']}: {e['error']}" for e in data["errors"]]
    if data.get("skipped"):
        lines += ["", "Skipped:"] + [f"- {s['stage']}: {s['reason']}" for s in data["skipped"]]
    print("\n".join(lines))
