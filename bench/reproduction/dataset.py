"""The benchmark's dataset: a synthetic dataset of the real one's size and shape, generated in
frame-count bands, verified, cached, replicated by hard links, normalised.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from bench.reproduction.report import Report, clean, log
from echobeat.atomic import write_csv, write_text
from echobeat.data import echonet
from echobeat.data.cache import VideoCache, build_cache, entry_paths
from echobeat.data.names import SYNTHETIC_MARKER, avi_name
from echobeat.data.normalisation import normalisation_stats
from echobeat.data.synthetic import generate_dataset, split_counts
from echobeat.data.verify import VerifySettings, verify_dataset

# The real dataset's sizes live in echobeat.data.echonet (docs/echonet.md §1).
REAL_SPLITS = echonet.SPLIT_VIDEOS
REAL_USABLE = echonet.USABLE_VIDEOS
REAL_VIDEOS = echonet.VIDEOS


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


# data.synthetic.split_counts does this for the three splits only.
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
