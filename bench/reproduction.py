"""The full reproduction's wall time on one GPU, projected from measurements at the real dataset's size.

Not a test. On a machine with a GPU, from the repository root (about 8 minutes in all):

    python bench/reproduction.py --out reproduction.json
    python bench/reproduction.py --quick --device cpu      # a smoke run of the script (1-2 min)

1. Data. A synthetic dataset of the real size and shape (docs/echonet.md §1): 10,030 videos
   split 7465 / 1288 / 1277, 112x112, frame counts 28-1002 (mean ~176) and frame rates 18-138
   (most 50 fps), with tracings, written by the library's own generator on all cores. The
   generator draws frame counts uniformly between a minimum and a maximum, so the script calls
   it once per frame-count band and merges the bands (a piecewise-uniform mixture with the
   real mean and tail). Generating 10,030 videos does not fit the time (0.26-0.56 CPU seconds
   per video on the project's CPU machine: 3-6 minutes on 16 cores, and as much again to verify
   and cache them), so by default ``--distinct`` (1000) videos are generated, verified
   (``verify_dataset``) and cached (``build_cache``) on all cores, each timed, and their cache
   entries are then hard-linked under new names up to ``--videos`` (manifest, tracings and
   cache index list all of them): the stages, the cache checks and the DataLoaders see the
   real size. The JSON says what was done (``data_stage.replication``).
2. Rates, with the workflow's own code: ``stages.segmentation.training_run`` and
   ``stages.video.training_run`` (every configured EF run) timed with ``learn.training.run_epoch``
   (warm-up, then a timed call of many steps; then a whole validation pass, twice);
   ``inference.segmentation.frame_sizes`` on TEST videos; ``inference.video.predict_all_clips``
   on all the clips of TEST videos. Each in every ``--precisions`` x ``--compile`` variant (the
   config's variant first), with the data-wait share and the peak GPU memory; compile time
   happens in the warm-up and is recorded, not timed. (The two inference functions build their
   DataLoader inside, so their data wait is not observable: the loader alone is timed instead,
   ``loader_headroom`` = its rate / the stage's.) Then, if cheap, two training jobs at once
   in two processes (segmentation and the first EF run): how much each slows down when they
   share the GPU.
3. Projection of ``config/config.yaml``'s chain (50 segmentation epochs, evaluation, size
   inference, each EF run's 45 epochs and all-clip inference on VAL+TEST, the data stage) on one
   GPU: jobs one after another, and the best schedule with two GPU jobs sharing the GPU
   (``jobs_per_gpu: 2``; 16 cores hold two 8-thread jobs).

Options: ``--precisions bf16,fp32``, ``--compile none,default`` (any of the library's modes),
``--threads`` (per GPU job; default the config's, 8 = 7 DataLoader workers + 1), ``--data-threads``
(default all cores), ``--budget-s 480``, ``--workdir``, ``--videos``/``--distinct``,
``--train-seconds``/``--size-frames``/``--clip-count`` (the size of each measurement),
``--jobs-per-gpu 2``, ``--no-contention``, ``--quick`` (a 40-video dataset of 16 distinct short
videos, LR-ASPP for segmentation, 4x8 clips, batch 1-2, one or two steps, one thread: checks
the script on a CPU, measures nothing).

Everything goes to one JSON (``--out``), rewritten atomically after every stage; a stage that
fails is recorded there and the others go on; ``--budget-s`` skips what would not fit.
``--workdir`` keeps the dataset: a second run reuses it.
"""

from __future__ import annotations

import time

START = time.monotonic()  # before the heavy imports: the budget counts them

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import inspect  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from echobeat.analysis.dice import dice_summary  # noqa: E402
from echobeat.atomic import write_csv, write_text  # noqa: E402
from echobeat.compute import pick_device, prepare_device  # noqa: E402
from echobeat.data.cache import VideoCache, build_cache, entry_paths  # noqa: E402
from echobeat.data.clips import n_clips  # noqa: E402
from echobeat.data.names import SYNTHETIC_MARKER, avi_name  # noqa: E402
from echobeat.data.normalisation import normalisation_stats  # noqa: E402
from echobeat.data.synthetic import generate_dataset, split_counts  # noqa: E402
from echobeat.data.verify import VerifySettings, verify_dataset  # noqa: E402
from echobeat.inference.segmentation import frame_sizes, size_table  # noqa: E402
from echobeat.inference.video import predict_all_clips  # noqa: E402
from echobeat.learn.datasets import ClipDataset, FrameBatches, prebatched, stage_data  # noqa: E402
from echobeat.learn.training import run_epoch  # noqa: E402
from echobeat.models.segmentation import segmentation_model  # noqa: E402
from echobeat.models.video import video_model  # noqa: E402
from echobeat.stages import segmentation as segmentation_stage  # noqa: E402
from echobeat.stages import video as video_stage  # noqa: E402

IMPORT_SECONDS = time.monotonic() - START

# The real dataset (docs/echonet.md §1): FileList rows per split, and the videos the original
# (and echobeat) can use, six 768x1024 videos without tracings left out.
REAL_SPLITS = {"TRAIN": 7465, "VAL": 1288, "TEST": 1277}
REAL_USABLE = {"TRAIN": 7460, "VAL": 1288, "TEST": 1276}
REAL_VIDEOS = sum(REAL_SPLITS.values())
# Frame counts 28-1002 with mean ~176 (docs/echonet.md §1; only these summary numbers are
# documented): bands of (share, min, max), each drawn uniformly by the generator. Mean 175.9.
FRAME_BANDS = (
    (0.080, 28, 99),
    (0.300, 100, 149),
    (0.400, 150, 199),
    (0.185, 200, 299),
    (0.030, 300, 599),
    (0.005, 600, 1002),
)
# --quick: short videos (8 clips of 4x8 frames each, computed in seconds on a CPU), same calls.
FRAME_BANDS_QUICK = ((0.5, 24, 28), (0.5, 29, 32))
# Frame rates 18-138, most 50 (the generator draws uniformly from this list: 84% at 50 fps).
FPS_CHOICES = [50] * 84 + [18, 23, 25, 30, 30, 32, 37, 40, 44, 46, 60, 64, 73, 87, 100, 138]
# Beats per video: wide enough that every band/frame-rate pair has a heart rate of 45-150 bpm.
BEATS = {"min": 1, "max": 60}
# The 64-video measurement in BENCHMARKS.md projected this, for comparison.
BENCHMARKS_MD_PROJECTION_H = 1.3

# Rough minimum seconds a measurement needs to be worth starting (full size; --quick divides).
NEED_S = {"training": 40.0, "inference": 25.0, "contention": 75.0, "compile": 150.0}

STOP = {"signal": None}


# ----------------------------------------------------------------------------------------------
# The report: one JSON, written atomically after every stage


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
        tmp = self.path.with_name(f".{self.path.name}.partial")
        tmp.write_text(json.dumps(clean(self.data), indent=2) + "\n")
        os.replace(tmp, self.path)

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


# ----------------------------------------------------------------------------------------------
# Small pure helpers (unit-tested)


def largest_remainder(total: int, shares: list[float]) -> list[int]:
    """``total`` split in proportion to ``shares``, rounded by largest remainder (sums to ``total``)."""
    weight = sum(shares)
    exact = [total * s / weight for s in shares]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(shares)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def mean_frames_of_bands(bands=FRAME_BANDS) -> float:
    weight = sum(share for share, _, _ in bands)
    return sum(share * (low + high) / 2 for share, low, high in bands) / weight


def parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def compile_supported(prepare=prepare_device) -> bool:
    """Whether this library version's ``prepare_device`` takes a ``compile`` setting."""
    return "compile" in inspect.signature(prepare).parameters


def variant_order(precisions: list[str], compiles: list[str], config_precision: str, config_compile: str):
    """(precision, compile) pairs, the config's own first, then other compile modes at the
    config's precision, then the other precisions."""
    pairs = list(itertools.product(precisions, compiles))
    return sorted(pairs, key=lambda p: (p[0] != config_precision, p[1] != config_compile))


def simulate(durations: dict, deps: dict, order: list, slots: int, shared_rate: dict) -> tuple[float, dict]:
    """Makespan of list scheduling ``durations`` (seconds alone) on ``slots`` GPU slots in
    priority ``order``: a job runs at ``shared_rate[job]`` of its solo speed while another
    job runs beside it. Returns the makespan and each job's (start, end)."""
    remaining = dict(durations)
    done: set = set()
    running: list = []
    timeline: dict = {}
    now = 0.0
    while len(done) < len(durations):
        for job in order:
            if len(running) >= slots:
                break
            if job not in done and job not in running and set(deps.get(job, ())) <= done:
                running.append(job)
                timeline[job] = [now, None]
        if not running:
            raise ValueError("the jobs' dependencies form a cycle")
        rate = {job: (shared_rate[job] if len(running) > 1 else 1.0) for job in running}
        first = min(running, key=lambda job: remaining[job] / rate[job])
        step = remaining[first] / rate[first]
        now += step
        for job in running:
            remaining[job] -= rate[job] * step
        for job in list(running):
            if job == first or remaining[job] <= 1e-9 * max(1.0, durations[job]):
                running.remove(job)
                done.add(job)
                timeline[job][1] = now
    return now, {job: tuple(span) for job, span in timeline.items()}


def best_schedule(durations: dict, deps: dict, slots: int, shared_rate: dict) -> dict:
    """The shortest list schedule with at most ``slots`` jobs at once (fewer if sharing does not
    pay), over every priority order (longest first beyond 8 jobs)."""
    jobs = list(durations)
    best = None
    for width in range(1, max(1, slots) + 1):
        orders = itertools.permutations(jobs) if len(jobs) <= 8 else [sorted(jobs, key=lambda j: -durations[j])]
        for order in orders:
            span, timeline = simulate(durations, deps, list(order), width, shared_rate)
            if best is None or span < best[0] - 1e-9:
                best = (span, list(order), timeline, width)
    return {"seconds": best[0], "order": best[1], "timeline": best[2], "jobs_at_once": best[3]}


# ----------------------------------------------------------------------------------------------
# 1. The dataset


def read_config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def dataset_params(args) -> dict:
    return {
        "distinct": args.distinct,
        "videos": args.videos,
        "seed": args.seed,
        "bands": [list(b) for b in args.bands],
        "fps": FPS_CHOICES,
        "beats": BEATS,
        "codec": "FFV1",
    }


def generate(data_dir: Path, distinct: int, seed: int, threads: int, bands=FRAME_BANDS) -> dict:
    """``distinct`` videos in the real shape, one generator call per frame band, merged."""
    parts = data_dir.parent / "parts"
    for folder in (parts, data_dir):
        shutil.rmtree(folder, ignore_errors=True)
    videos = data_dir / "Videos"
    videos.mkdir(parents=True)
    fractions = {split: float(n) for split, n in REAL_SPLITS.items()}
    counts = largest_remainder(distinct, [share for share, _, _ in bands])
    filelists, tracings, calls = [], [], []
    started = time.monotonic()
    for band, (count, (_, low, high)) in enumerate(zip(counts, bands, strict=True)):
        if count == 0:
            continue
        settings = {
            "seed": seed * 100 + band,
            "n_videos": count,
            "splits": fractions,
            "frames": {"min": low, "max": high},
            "fps": FPS_CHOICES,
            "beats": BEATS,
            "codec": "FFV1",
        }
        out = parts / f"band{band}"
        t0 = time.monotonic()
        table = generate_dataset(out, settings, threads=threads)
        calls.append({"frames": [low, high], "videos": count, "seconds": time.monotonic() - t0})
        for name in table["FileName"]:
            os.replace(out / "Videos" / avi_name(name), videos / avi_name(name))
        filelists.append(table)
        tracings.append(pd.read_csv(out / "VolumeTracings.csv", dtype={"FileName": str}))
    filelist = pd.concat(filelists, ignore_index=True)
    if filelist["FileName"].duplicated().any():
        raise RuntimeError("two frame bands drew the same video name; change --seed")
    # The real split sizes, in proportion, over the bands.
    splits = split_counts(len(filelist), fractions)
    labels = np.array([s for s in REAL_SPLITS for _ in range(splits[s])])
    filelist["Split"] = np.random.default_rng(seed).permutation(labels)
    write_csv(data_dir / "FileList.csv", filelist)
    write_csv(data_dir / "VolumeTracings.csv", pd.concat(tracings, ignore_index=True))
    write_text(data_dir / SYNTHETIC_MARKER, f"bench/reproduction.py: {len(filelist)} videos, seed {seed}\n")
    shutil.rmtree(parts, ignore_errors=True)
    seconds = time.monotonic() - started
    frames = int(filelist["NumberOfFrames"].sum())
    return {
        "videos": len(filelist),
        "frames": frames,
        "threads": threads,
        "seconds": seconds,
        "videos_per_s": len(filelist) / seconds,
        "frames_per_s": frames / seconds,
        "cpu_seconds_per_video": seconds * threads / len(filelist),
        "extrapolated_seconds_for_real_size_here": REAL_VIDEOS * seconds / len(filelist),
        "generator_calls": calls,
    }


def replicate(work: Path, manifest: pd.DataFrame, tracings: pd.DataFrame, index: pd.DataFrame, total: int, seed: int):
    """Up to ``total`` videos: the distinct ones, then hard links of their cache entries under
    new names (copies where links fail); manifest, tracings and index list them all, splits
    drawn anew in the real proportions. Returns the three tables and what was done."""
    cache_dir = work / "cache"
    n = len(manifest)
    source = [k % n for k in range(max(total, n))]
    names = [
        manifest["FileName"].iloc[src] if k < n else f"{manifest['FileName'].iloc[src]}R{k // n:02d}"
        for k, src in enumerate(source)
    ]
    mapping = pd.DataFrame({"FileName": manifest["FileName"].iloc[source].to_numpy(), "NewName": names})
    links = copies = 0
    for src, new in zip(mapping["FileName"], mapping["NewName"], strict=True):
        if src == new:
            continue
        old, made = entry_paths(cache_dir, src), entry_paths(cache_dir, new)
        for path in (made.array, made.sidecar):
            path.unlink(missing_ok=True)
        try:
            os.link(old.array, made.array)
            links += 1
        except OSError:
            shutil.copyfile(old.array, made.array)
            copies += 1
        shutil.copyfile(old.sidecar, made.sidecar)

    def renamed(table: pd.DataFrame, one_row_each: bool = True) -> pd.DataFrame:
        out = mapping.merge(table, on="FileName", how="left", validate="many_to_one" if one_row_each else None)
        return out.drop(columns="FileName").rename(columns={"NewName": "FileName"})[list(table.columns)]

    full_manifest = renamed(manifest)
    splits = split_counts(len(full_manifest), {s: float(c) for s, c in REAL_SPLITS.items()})
    labels = np.array([s for s in REAL_SPLITS for _ in range(splits[s])])
    full_manifest["Split"] = np.random.default_rng(seed + 1).permutation(labels)
    full_tracings = renamed(tracings, one_row_each=False)
    full_index = renamed(index)
    done = {
        "distinct_videos": n,
        "videos": len(full_manifest),
        "method": "none (every video distinct)"
        if len(full_manifest) == n
        else "cache entries of the distinct videos hard-linked (or copied) under new names; manifest, tracings "
        "and cache index list every name; each replica keeps its source's frames, tracings, labels and AVI "
        "(Source column); splits redrawn in the real proportions",
        "hard_links": links,
        "copies": copies,
    }
    return full_manifest, full_tracings, full_index, done


def describe(manifest: pd.DataFrame, index: pd.DataFrame, distinct_index: pd.DataFrame, bands) -> dict:
    frames = manifest["NumberOfFrames"].to_numpy()
    fps = manifest["FPS"].to_numpy(dtype=float)
    return {
        "videos": len(manifest),
        "splits": manifest["Split"].value_counts().to_dict(),
        "frame_size": [int(manifest["FrameHeight"].iloc[0]), int(manifest["FrameWidth"].iloc[0])],
        "frames": {
            "min": int(frames.min()),
            "max": int(frames.max()),
            "mean": float(frames.mean()),
            "median": float(np.median(frames)),
            "p5": float(np.percentile(frames, 5)),
            "p95": float(np.percentile(frames, 95)),
            "share_100_300": float(((frames >= 100) & (frames <= 300)).mean()),
            "total": int(frames.sum()),
            "bands": [list(b) for b in bands],
            "bands_mean": mean_frames_of_bands(bands),
        },
        "fps": {
            "min": float(fps.min()),
            "max": float(fps.max()),
            "mean": float(fps.mean()),
            "share_50": float(np.isclose(fps, 50).mean()),
        },
        "cache_channels": sorted(int(c) for c in index["Channels"].unique()),
        "cache_note": "synthetic FFV1 videos are grey, so the cache keeps one channel; the real dataset's "
        "compressed AVIs may not be exactly grey and keep three (3x the bytes)",
        "cache_gb_on_disk": float(distinct_index["Bytes"].sum() / 1e9),
        "cache_gb_as_listed": float(index["Bytes"].sum() / 1e9),
    }


def prepare_data(args, report: Report, config: dict) -> dict:
    """The dataset, its manifest, tracings, cache and normalisation under ``args.workdir``."""
    work = args.workdir
    marker = work / "dataset.json"
    params = dataset_params(args)
    if marker.exists():
        saved = json.loads(marker.read_text())
        if saved.get("params") == params and all((work / f).exists() for f in saved["files"].values()):
            log(f"reusing the dataset in {work}")
            return {**saved, "reused": True}
        log(f"{work} holds another dataset: making a new one")
    marker.unlink(missing_ok=True)
    for folder in ("data", "cache", "parts"):
        shutil.rmtree(work / folder, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    threads = args.data_threads
    stage: dict = {"threads": threads}
    report.data["data_stage"] = stage

    stage["generation"] = generate(work / "data", args.distinct, args.seed, threads, args.bands)
    report.save()

    data_cfg = {**config.get("data", {}), "on_error": "exclude"}  # a stray video must not end the run
    verify_settings = VerifySettings(
        **{k: data_cfg[k] for k in ("on_error", "repeated_tracings", "ef_tolerance", "fps_tolerance", "frame_size")}
    )
    t0 = time.monotonic()
    result = verify_dataset(work / "data", verify_settings, threads=threads)
    seconds = time.monotonic() - t0
    stage["verification"] = {
        "videos": len(result.rows),
        "usable": len(result.manifest),
        "problems": len(result.problems),
        "seconds": seconds,
        "videos_per_s": len(result.rows) / seconds,
        "threads": threads,
    }
    report.save()

    t0 = time.monotonic()
    distinct_index = build_cache(result.manifest, work / "data" / "Videos", work / "cache", threads=threads)
    seconds = time.monotonic() - t0
    stage["cache"] = {
        "videos": len(distinct_index),
        "seconds": seconds,
        "videos_per_s": len(distinct_index) / seconds,
        "gb": float(distinct_index["Bytes"].sum() / 1e9),
        "threads": threads,
    }
    report.save()

    manifest, tracings, index, replication = replicate(
        work, result.manifest, result.tracings, distinct_index, args.videos, args.seed
    )
    stage["replication"] = replication
    write_csv(work / "manifest.csv", manifest)
    write_csv(work / "tracings.csv", tracings)
    write_csv(work / "cache" / "index.csv", index)

    t0 = time.monotonic()
    train = manifest.loc[manifest["Split"] == "TRAIN", "FileName"].tolist()
    stats = normalisation_stats(VideoCache.open(work / "cache" / "index.csv"), train, config.get("normalisation", {}))
    stage["normalisation"] = {"seconds": time.monotonic() - t0, "mean": stats["mean"], "std": stats["std"]}
    write_text(work / "normalisation.json", json.dumps(stats, indent=2) + "\n")

    saved = {
        "params": params,
        "data_stage": stage,
        "dataset": describe(manifest, index, distinct_index, args.bands),
        "files": {
            "manifest": "manifest.csv",
            "tracings": "tracings.csv",
            "index": "cache/index.csv",
            "normalisation": "normalisation.json",
        },
    }
    write_text(marker, json.dumps(clean(saved), indent=2) + "\n")
    return {**saved, "reused": False}


# ----------------------------------------------------------------------------------------------
# 2. Measurements with the workflow's own code


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


def make_compute(device: str, threads: int, precision: str, compile_mode: str):
    if compile_supported():
        return prepare_device(device, threads, precision, compile=compile_mode)
    if compile_mode != "none":
        raise RuntimeError("compile not supported by this library version")
    return prepare_device(device, threads, precision)


def with_compile(settings: dict, compile_mode: str) -> dict:
    """The stage's settings with ``compile`` set (or removed where the library has no such key)."""
    settings = dict(settings)
    if compile_supported():
        settings["compile"] = compile_mode
    else:
        settings.pop("compile", None)
    return settings


def compiled(compute, model: torch.nn.Module) -> torch.nn.Module:
    """``model`` as the stage would run it: through ``Compute.compiled`` where the library has it."""
    method = getattr(compute, "compiled", None)
    return method(model) if callable(method) else model


def networks(run) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The modules ``fit`` runs for training and validation (compiled where the library compiles)."""
    method = getattr(run, "networks", None)
    if callable(method):
        nets = method()
        return nets["train"], nets["val"]
    train = compiled(run.compute, run.trained if run.trained is not None else run.model)
    return train, (train if run.trained is None else compiled(run.compute, run.model))


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


def measure_training(kind: str, settings: dict, paths: dict, out_dir: Path, compute, opts, report) -> dict:
    """Warm-up, a probe, then a timed ``run_epoch`` of many steps; then validation passes."""
    device = compute.device
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    if kind == "segmentation":
        task, run = segmentation_stage.training_run(
            settings,
            paths["manifest"],
            paths["tracings"],
            paths["index"],
            paths["normalisation"],
            str(out_dir),
            compute,
        )
    else:
        task, run = video_stage.training_run(
            settings, paths["manifest"], paths["index"], paths["normalisation"], str(out_dir), compute
        )
    if run.on_epoch_start is not None:
        run.on_epoch_start(0)
    train_net, val_net = networks(run)
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
            {f"{p}_{k}": val_totals.get(f"{p}_{k}") for p in ("large", "small") for k in ("inter", "pred", "true")}
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
    model = compiled(compute, compute.place(model.to(device)).eval())
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
    """``predict_all_clips`` on every clip of TEST videos, as ``stages.video.predict`` builds it."""
    device = compute.device
    table, cache, normaliser = stage_data(paths["manifest"], paths["index"], paths["normalisation"])
    test = table[table["Split"] == "TEST"].reset_index(drop=True)
    length, period, batch = settings["frames"], settings["period"], settings["inference_batch_size"]
    subset = pick_videos(
        test, lambda row: n_clips(int(cache.n_frames(row["FileName"])), length, period), opts.clip_count
    )
    t0 = time.monotonic()
    model = video_model(settings["model"], "random")
    model = compiled(compute, compute.place(model.to(device), video=True))
    cache.check_all(subset["FileName"], compute.threads)
    dataset = ClipDataset(cache, subset, normaliser, length, period, clips="all")
    setup = time.monotonic() - t0
    predictions, warm, seconds = timed_twice(
        lambda model=model: predict_all_clips(model, dataset, normaliser, compute, batch), device
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


# ----------------------------------------------------------------------------------------------
# Two training jobs at once (the contention of GPU sharing)


def contention_worker(spec_path: str) -> None:
    """One of the two processes: train a while alone (warm-up), then in step with the other."""
    spec = json.loads(Path(spec_path).read_text())
    files = {k: Path(v) for k, v in spec["files"].items()}
    compute = make_compute(spec["device"], spec["threads"], spec["precision"], spec["compile"])
    settings, paths = spec["settings"], spec["paths"]
    if spec["kind"] == "segmentation":
        task, run = segmentation_stage.training_run(
            settings,
            paths["manifest"],
            paths["tracings"],
            paths["index"],
            paths["normalisation"],
            spec["out_dir"],
            compute,
        )
    else:
        task, run = video_stage.training_run(
            settings, paths["manifest"], paths["index"], paths["normalisation"], spec["out_dir"], compute
        )
    if run.on_epoch_start is not None:
        run.on_epoch_start(0)
    net, _ = networks(run)
    loader = run.loaders["train"]
    run_epoch(task, net, loader, compute, run.optimiser, "warm-up", max_batches=spec["warmup"])
    files["ready"].touch()
    deadline = time.monotonic() + spec["timeout"]
    while not files["go"].exists():
        if time.monotonic() > deadline:
            raise TimeoutError("no start signal")
        time.sleep(0.02)
    reset_peak(compute.device)
    _, spent = run_epoch(task, net, loader, compute, run.optimiser, "shared", max_batches=spec["steps"])
    out = timing(spent, spent.batches * settings["batch_size"], compute.device)
    write_text(files["result"], json.dumps(out))
    files["done"].touch()
    # Keep sharing the GPU until the other job's timed steps are over too.
    while not files["other_done"].exists() and time.monotonic() < deadline:
        run_epoch(task, net, loader, compute, run.optimiser, "filler", max_batches=4)


def measure_contention(jobs: list[dict], args, report: Report) -> dict:
    """Two training jobs started together; each one's rate against its rate alone."""
    folder = args.workdir / "contention"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    timeout = max(30.0, min(150.0, report.left() - 10.0))
    go = folder / "go"
    procs, specs = [], []
    for i, job in enumerate(jobs):
        other = 1 - i
        files = {
            "ready": folder / f"ready{i}",
            "go": go,
            "result": folder / f"result{i}.json",
            "done": folder / f"done{i}",
            "other_done": folder / f"done{other}",
        }
        spec = {**job, "files": {k: str(v) for k, v in files.items()}, "timeout": timeout}
        spec_path = folder / f"spec{i}.json"
        spec_path.write_text(json.dumps(clean(spec)))
        logfile = open(folder / f"worker{i}.log", "w")  # noqa: SIM115 (closed below)
        procs.append(
            (
                subprocess.Popen(
                    [sys.executable, __file__, "--contention-worker", str(spec_path)],
                    cwd=REPO,
                    stdout=logfile,
                    stderr=subprocess.STDOUT,
                ),
                logfile,
            )
        )
        specs.append((spec, files))
    try:
        deadline = time.monotonic() + timeout
        while not all(files["ready"].exists() for _, files in specs):
            failed = [i for i, (p, _) in enumerate(procs) if p.poll() is not None]
            if failed:
                raise RuntimeError(
                    f"contention worker {failed[0]} ended early: {tail(folder / f'worker{failed[0]}.log')}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError("the contention workers were not ready in time")
            time.sleep(0.05)
        go.touch()
        while True:
            codes = [proc.poll() for proc, _ in procs]
            bad = [i for i, code in enumerate(codes) if code not in (None, 0)]
            if bad:
                raise RuntimeError(
                    f"contention worker {bad[0]} failed ({codes[bad[0]]}): {tail(folder / f'worker{bad[0]}.log')}"
                )
            if all(code == 0 for code in codes):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the contention workers did not finish in time")
            time.sleep(0.05)
    finally:
        for proc, logfile in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            logfile.close()
    result = {}
    for (_, files), job in zip(specs, jobs, strict=True):
        shared = json.loads(files["result"].read_text())
        shared["alone_per_s"] = job["alone_per_s"]
        shared["factor"] = shared["per_s"] / job["alone_per_s"]
        result[job["name"]] = shared
    result["combined_throughput"] = sum(v["factor"] for v in result.values() if isinstance(v, dict))
    shutil.rmtree(folder, ignore_errors=True)
    return result


def tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text()[-chars:]
    except OSError:
        return "(no log)"


# ----------------------------------------------------------------------------------------------
# 3. Projection


def once(result: dict) -> float:
    """What a job pays once: its setup, and the compilation and autotuning of its warm-up."""
    if "train" in result:
        return result["setup_seconds"] + sum(result[w]["compile_autotune_seconds"] for w in ("warmup", "val_warmup"))
    return result["setup_seconds"] + result["warmup"]["compile_autotune_seconds"]


def seg_val_once(result: dict) -> float:
    return result["val_warmup"]["compile_autotune_seconds"]


def project(measured: dict, contention: dict | None, data: dict, plan: dict, args) -> dict:
    """Hours of the configured chain on one GPU from one variant's measurements."""
    seg_settings, runs = plan["segmentation"], plan["runs"]
    manifest = plan["manifest"]
    synth = manifest["Split"].value_counts().to_dict()
    job_start = IMPORT_SECONDS
    seg = measured["segmentation"]
    seg_batches = REAL_USABLE["TRAIN"] // seg_settings["batch_size"]
    seg_val = seg["val"]["seconds"] * REAL_USABLE["VAL"] / synth["VAL"]
    seg_epoch = seg_batches * seg["train"]["seconds_per_batch"] + seg_val + seg["checkpoint_seconds"]
    jobs = {"train_segmentation": job_start + once(seg) + plan["seg_epochs"] * seg_epoch}
    # evaluate_segmentation: the traced frames of VAL and TEST at the validation rate, and the bootstrap.
    eval_pass = seg["val"]["seconds"] * (REAL_USABLE["VAL"] + REAL_USABLE["TEST"]) / synth["VAL"]
    bootstrap = seg.get("bootstrap", {})
    boot = 2 * bootstrap.get("seconds", 0.0) * plan["bootstrap_samples"] / max(bootstrap.get("samples", 1), 1)
    jobs["evaluate_segmentation"] = job_start + seg["setup_seconds"] + seg_val_once(seg) + eval_pass + boot
    size = measured["size_inference"]
    test_frames = manifest.loc[manifest["Split"] == "TEST", "NumberOfFrames"].mean() * REAL_USABLE["TEST"]
    jobs["segment_all_frames"] = (
        job_start + once(size) + test_frames / size["per_s"] + test_frames * size["size_table_seconds_per_frame"]
    )
    evaluated = manifest[manifest["Split"].isin(["VAL", "TEST"])]
    detail = {
        "segmentation_epoch_s": seg_epoch,
        "segmentation_train_batches_per_epoch": seg_batches,
        "test_frames": test_frames,
    }
    for name, settings in runs.items():
        video = measured[f"video:{name}"]
        batches = REAL_USABLE["TRAIN"] // settings["batch_size"]
        val = video["val"]["seconds"] * REAL_USABLE["VAL"] / synth["VAL"]
        epoch = batches * video["train"]["seconds_per_batch"] + val + video["checkpoint_seconds"]
        jobs[f"train_video[{name}]"] = job_start + once(video) + settings["epochs"] * epoch
        clips = sum(n_clips(int(f), settings["frames"], settings["period"]) for f in evaluated["NumberOfFrames"])
        clips *= (REAL_USABLE["VAL"] + REAL_USABLE["TEST"]) / len(evaluated)
        inference = measured[f"all_clips:{name}"]
        jobs[f"predict_clips[{name}]"] = job_start + once(inference) + clips / inference["per_s"]
        detail[f"{name}_epoch_s"] = epoch
        detail[f"{name}_val_test_clips"] = clips
    deps = {"evaluate_segmentation": ["train_segmentation"], "segment_all_frames": ["train_segmentation"]}
    deps.update({f"predict_clips[{n}]": [f"train_video[{n}]"] for n in runs})

    # The data stage: verification and cache at the config's threads (linear in threads from
    # the measurement on all cores), normalisation as measured. Generation is not part of it.
    stage = data["data_stage"]
    verify_threads = plan["config"].get("data", {}).get("threads", stage["threads"])
    cache_threads = plan["config"].get("cache", {}).get("threads", stage["threads"])
    data_jobs = {
        "verify_dataset": REAL_VIDEOS / stage["verification"]["videos_per_s"] * stage["threads"] / verify_threads,
        "cache_videos": (REAL_VIDEOS - 6) / stage["cache"]["videos_per_s"] * stage["threads"] / cache_threads,
        "normalisation": stage["normalisation"]["seconds"],
    }
    data_seconds = sum(data_jobs.values())
    data_note = (
        f"verification and cache measured on {stage['threads']} threads, scaled linearly to the config's "
        f"{verify_threads} and {cache_threads}; normalisation as measured"
    )
    serial = data_seconds + sum(jobs.values())

    if contention and "error" not in contention and "skipped" not in contention:
        factors = {"segmentation": contention["segmentation"]["factor"], "video": contention["video"]["factor"]}
        source = "measured: segmentation and EF training together in two processes"
    else:
        factors = {"segmentation": args.assumed_factor, "video": args.assumed_factor}
        source = f"assumed: each job at {args.assumed_factor:g} of its solo speed beside another (not measured)"
    shared_rate = {job: factors["segmentation" if "segment" in job else "video"] for job in jobs}
    schedule = best_schedule(jobs, deps, args.jobs_per_gpu, shared_rate)
    shared_total = data_seconds + schedule["seconds"]
    hours = lambda s: s / 3600  # noqa: E731
    return {
        "gpu_jobs_h": {job: hours(s) for job, s in jobs.items()},
        "data_jobs_h": {job: hours(s) for job, s in data_jobs.items()},
        "data_note": data_note,
        "detail": detail,
        "one_after_another_h": hours(serial),
        "shared_gpu": {
            "jobs_per_gpu": args.jobs_per_gpu,
            "h": hours(shared_total),
            "gpu_makespan_h": hours(schedule["seconds"]),
            "jobs_at_once": schedule["jobs_at_once"],
            "order": schedule["order"],
            "timeline_h": {job: [hours(a), hours(b)] for job, (a, b) in schedule["timeline"].items()},
            "factors": factors,
            "factor_source": source,
            "note": "two 8-thread GPU jobs fill 16 cores; a third would wait for cores (snakemake --cores 16)",
        },
        "not_included": "dataset generation or download; segmentation_overlays (4 videos) and the CPU analysis "
        "rules (beat-by-beat, metrics with 10,000-sample bootstraps, figures); snakemake's own overhead",
        "job_start_seconds": job_start,
        "benchmarks_md_projection_h": BENCHMARKS_MD_PROJECTION_H,
    }


# ----------------------------------------------------------------------------------------------
# The plan


def machine_info(device: str, workdir: Path) -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": device,
    }
    with contextlib.suppress(Exception):
        info["ram_gb"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with contextlib.suppress(Exception):
        info["dev_shm_gb"] = shutil.disk_usage("/dev/shm").total / 2**30
    with contextlib.suppress(Exception):
        workdir.mkdir(parents=True, exist_ok=True)
        info["workdir_free_gb"] = shutil.disk_usage(workdir).free / 2**30
    with contextlib.suppress(Exception):
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "workflow/scripts"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        info["git_commit"] = head.stdout.strip()
        info["library_uncommitted_changes"] = bool(dirty.stdout.strip())
    return info


def gpu_info() -> dict:
    """The GPU, read after the data stage (whose process pool forks: no CUDA before it)."""
    if not torch.cuda.is_available():
        return {"gpu": None}
    props = torch.cuda.get_device_properties(0)
    return {
        "gpu": torch.cuda.get_device_name(0),
        "gpu_memory_gb": props.total_memory / 2**30,
        "gpu_count": torch.cuda.device_count(),
    }


def stage_settings(config: dict, args) -> tuple[dict, dict, dict]:
    """The segmentation settings and every EF run's, as common.smk builds them, plus overrides."""
    overrides = {
        "device": args.device,
        "weights": "random (offline machine; the speed does not depend on the weights)",
        "data.on_error": "exclude (verification does the same work; a stray video must not end the run)",
    }
    seg = dict(config["segmentation"])
    seg.update(device=args.device, weights="random")
    video = config["video"]
    runs = {
        name: {**video["defaults"], **(run or {}), "device": args.device, "weights": "random"}
        for name, run in video["runs"].items()
        if run is not None
    }
    if args.quick:
        # A small segmentation model, and 4x8 clips: 8 clips per (short) video.
        quick_seg = {
            "model": "lraspp_mobilenet_v3_large",
            "batch_size": 2,
            "inference_batch_size": 4,
            "bootstrap_samples": 200,
        }
        quick_video = {"batch_size": 1, "frames": 4, "period": 8, "pad": 2, "inference_batch_size": 4}
        seg.update(quick_seg)
        for run in runs.values():
            run.update(quick_video)
        overrides["quick"] = {"segmentation": quick_seg, "video": quick_video}
    return seg, runs, overrides


def options(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("reproduction.json"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/echobeat-reproduction"))
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precisions", default=None, help="comma-separated (default bf16,fp32; --quick: bf16)")
    parser.add_argument("--compile", default=None, help="comma-separated modes (default none,default; --quick: none)")
    parser.add_argument("--threads", type=int, default=None, help="threads per GPU job (default: the config's)")
    parser.add_argument("--data-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--budget-s", type=float, default=480.0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a CPU smoke run")
    parser.add_argument("--videos", type=int, default=None, help=f"videos the stages see (default {REAL_VIDEOS})")
    parser.add_argument("--distinct", type=int, default=None, help="videos generated (default 1000; the rest linked)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--warmup-steps", type=int, default=None)
    parser.add_argument("--probe-steps", type=int, default=None)
    parser.add_argument("--min-steps", type=int, default=None)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--train-seconds", type=float, default=None, help="timed training seconds per stage")
    parser.add_argument("--size-frames", type=int, default=None, help="frames in the size-inference measurement")
    parser.add_argument("--clip-count", type=int, default=None, help="clips in the all-clip measurement")
    parser.add_argument("--jobs-per-gpu", type=int, default=2)
    parser.add_argument("--assumed-factor", type=float, default=0.6, help="shared-GPU speed if not measured")
    parser.add_argument("--no-contention", action="store_true")
    parser.add_argument("--contention-seconds", type=float, default=None)
    parser.add_argument("--contention-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "videos": (40, REAL_VIDEOS),
        "distinct": (16, 1000),
        "warmup_steps": (1, 15),
        "probe_steps": (1, 5),
        "min_steps": (2, 30),
        "max_steps": (2, 400),
        "train_seconds": (1.0, 12.0),
        "size_frames": (24, 100_000),
        "clip_count": (8, 8_000),
        "contention_seconds": (1.0, 12.0),
    }
    for key, (small, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, small if quick else full)
    args.distinct = min(args.distinct, args.videos)
    args.bands = FRAME_BANDS_QUICK if quick else FRAME_BANDS
    args.compile = parse_list(args.compile or ("none" if quick else "none,default"))
    args.precisions = parse_list(args.precisions or ("bf16" if quick else "bf16,fp32"))
    return args


def main(argv=None) -> None:
    args = options(argv)
    if args.contention_worker:
        contention_worker(args.contention_worker)
        return
    report = Report(args.out, args.budget_s, args.quick)

    def on_signal(number, _frame):
        STOP["signal"] = number
        report.data["status"] = f"stopped by signal {number}"
        report.save()
        raise SystemExit(128 + number)

    signal.signal(signal.SIGTERM, on_signal)

    config = read_config(args.config)
    seg_settings, runs, overrides = stage_settings(config, args)
    threads = args.threads or int(config["segmentation"].get("threads", 8))
    video_threads = args.threads or int(config["video"].get("threads", 8))
    if args.quick and not args.threads:
        # One torch thread: on a small, shared CPU, threads spinning at OpenMP barriers beside
        # other processes make a step many times slower (and the numbers mean nothing anyway).
        threads = video_threads = 1
    config_precision = seg_settings.get("precision", "bf16")
    config_compile = seg_settings.get("compile", "none")
    supported = compile_supported()
    args.bootstrap_samples = seg_settings.get("bootstrap_samples", 10000)
    report.data["args"] = {k: v for k, v in vars(args).items() if k != "contention_worker"}
    report.data["machine"] = machine_info(args.device, args.workdir)
    report.data["library"] = {
        "compile_supported": supported,
        "compile_note": None if supported else "compile not supported by this library version",
        "import_seconds": IMPORT_SECONDS,
    }
    report.data["settings"] = {
        "config": str(args.config),
        "segmentation": seg_settings,
        "video_runs": runs,
        "threads": {"segmentation": threads, "video": video_threads, "data": args.data_threads},
        "overrides": overrides,
    }
    report.save()

    data = report.stage("data", lambda: prepare_data(args, report, config))
    report.data["dataset"] = data.get("dataset")
    if "error" in data or "skipped" in data:
        report.data["status"] = "no dataset: nothing measured"
        report.save()
        print_summary(report.data)
        return
    report.data["data_stage"] = {**data["data_stage"], "reused_from_workdir": data["reused"]}
    with contextlib.suppress(Exception):
        report.data["machine"].update(gpu_info())
    paths = {k: str(args.workdir / v) for k, v in data["files"].items()}
    out_dir = args.workdir / "runs"
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = {
        "segmentation": seg_settings,
        "runs": runs,
        "manifest": pd.read_csv(paths["manifest"], dtype={"FileName": str}),
        "seg_epochs": seg_settings["epochs"],
        "bootstrap_samples": args.bootstrap_samples,
        "config": config,
    }

    measurements: dict = {}
    report.data["measurements"] = measurements
    variants = variant_order(args.precisions, args.compile, config_precision, config_compile)
    report.data["variants"] = [f"{p}/{c}" for p, c in variants]
    failed_compile: dict = {}
    contention = None
    needed = ["segmentation", "size_inference", *[f"{s}:{n}" for s in ("video", "all_clips") for n in runs]]

    def update_projections() -> None:
        """Project from every variant measured in full; the config's variant (or the first
        complete one) is ``projection``. Saved at once: a run killed later keeps it."""
        projections = {}
        for precision, mode in variants:
            key = f"{precision}/{mode}"
            missing = [s for s in needed if not measured_ok(measurements.get(key, {}).get(s))]
            if missing:
                projections[key] = {"skipped": f"not measured: {', '.join(missing)}"}
                continue
            projections[key] = report.stage(
                f"projection {key}",
                lambda key=key: project(measurements[key], contention, data, plan, args),
            )
        complete = [key for key, p in projections.items() if "one_after_another_h" in p]
        main_key = complete[0] if complete else None
        report.data["projection"] = {"variant": main_key, **(projections[main_key] if main_key else {})}
        report.data["projections"] = projections
        report.save()

    for number, (precision, mode) in enumerate(variants):
        key = f"{precision}/{mode}"
        here = measurements.setdefault(key, {})
        first = number == 0
        stages = [
            *[(f"video:{n}", "training", n) for n in runs],
            ("segmentation", "training", None),
            *[(f"all_clips:{n}", "inference", n) for n in runs],
            ("size_inference", "inference", None),
        ]
        for stage, kind, run_name in stages:
            where = f"{key} {stage}"
            if mode != "none" and not supported:
                here[stage] = report.skip(where, "compile not supported by this library version")
                continue
            if mode in failed_compile:
                here[stage] = report.skip(where, f"compile {mode} failed earlier: {failed_compile[mode]}")
                continue
            need = report.need(kind) + (report.need("compile") if mode != "none" else 0.0)
            fn = stage_function(
                stage, run_name, precision, mode, first, seg_settings, runs, paths, out_dir, args, report
            )
            fn_threads = video_threads if run_name else threads
            here[stage] = report.stage(where, lambda fn=fn, t=fn_threads: fn(t), need)
            if mode != "none":
                reset_compiler()
            if "error" in here[stage] and mode != "none":
                failed_compile[mode] = here[stage]["error"]
            record_rates(report, key, stage, here[stage])
            report.save()
        if first and not args.no_contention and runs:
            contention = report.stage(
                f"{key} contention",
                lambda here=here, precision=precision, mode=mode: contention_plan(
                    here, precision, mode, seg_settings, runs, paths, out_dir, args, report
                ),
                report.need("contention"),
            )
            report.data["contention"] = contention
        if first:
            update_projections()

    update_projections()
    report.data["status"] = "complete" if not report.data["skipped"] else "complete, some measurements skipped"
    report.save()
    print_summary(report.data)


def stage_function(stage, run_name, precision, mode, first, seg_settings, runs, paths, out_dir, args, report):
    """What measures ``stage`` in one variant, given the job's threads."""

    def run(threads: int) -> dict:
        if mode != "none":
            reset_compiler()
        compute = make_compute(args.device, threads, precision, mode)
        base = dict(runs[run_name]) if run_name else dict(seg_settings)
        settings = with_compile({**base, "precision": precision}, mode)
        if stage == "segmentation":
            return measure_training("segmentation", settings, paths, out_dir / "segmentation", compute, args, report)
        if stage.startswith("video:"):
            return measure_training("video", settings, paths, out_dir / run_name, compute, args, report)
        if stage == "size_inference":
            return measure_sizes(settings, paths, compute, args, first)
        return measure_all_clips(settings, paths, compute, args, first)

    return run


def contention_plan(measured, precision, mode, seg_settings, runs, paths, out_dir, args, report) -> dict:
    """Segmentation training and the first EF run's training side by side."""
    name = next(iter(runs))
    pairs = [("segmentation", "segmentation", dict(seg_settings)), ("video", f"video:{name}", dict(runs[name]))]
    jobs = []
    for kind, stage, base in pairs:
        alone = measured.get(stage, {}).get("train", {})
        if not alone.get("per_s"):
            raise RuntimeError(f"no solo rate of {stage} to compare with")
        batches_per_s = 1.0 / alone["seconds_per_batch"]
        jobs.append(
            {
                "name": kind,
                "kind": kind,
                "device": args.device,
                "threads": args.threads or int(report.data["settings"]["threads"][kind]),
                "precision": precision,
                "compile": mode,
                "settings": with_compile({**base, "precision": precision}, mode),
                "paths": paths,
                "out_dir": str(out_dir / f"contention-{kind}"),
                "warmup": args.warmup_steps,
                # Enough steps for about contention_seconds at half speed.
                "steps": max(args.min_steps, int(args.contention_seconds * batches_per_s * 0.5)),
                "alone_per_s": alone["per_s"],
            }
        )
    release(pick_device(args.device))
    return measure_contention(jobs, args, report)


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


if __name__ == "__main__":
    main()
