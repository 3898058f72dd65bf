"""Projection: the GPU time of each experiment family of a config, from the measured H200 rates.

Not a test. Run from the repository root:

    python bench/experiments_cost.py [--configfile config/config.yaml] [--gpus 16]

It expands the config's grids exactly as the workflow does (``echobeat.stages.experiment_grids``)
and prices every run it adds with the bf16 rates BENCHMARKS.md measured on one H200 ("GPU
throughput": R(2+1)D-18 32x2 training 243.4 clips/s, all-clip inference 983.3 clips/s,
DeepLabV3-ResNet50 training 615.6 frames/s, size inference 14,008 frames/s) on the real
dataset's sizes (``echobeat.data.echonet``). Assumptions, each stated in the output: a clip's
cost scales with its frames (compute-bound; for clips of a few frames loading dominates, so
those runs are under-estimated); R3D-18 and MC3-18 cost as R(2+1)D-18 (torchvision gives 40.7,
43.3 and 40.5 GFLOPs per 16-frame clip); one validation clip per VAL video per epoch. The
cluster figure schedules the runs longest first onto the GPUs (each run one job, no sharing).
Prints a Markdown table per family: runs, GPU hours, wall hours on one GPU and on the cluster.
"""

from __future__ import annotations

import argparse
import copy
import heapq
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

import yaml  # noqa: E402

from echobeat import config_schema  # noqa: E402
from echobeat.data import echonet  # noqa: E402
from echobeat.stages import rule_settings  # noqa: E402
from echobeat.stages.experiment_grids import active_families, evaluates_test, experiment_grids  # noqa: E402

# bf16 rates on one H200 (BENCHMARKS.md, "GPU throughput"), measured at 32 frames per clip.
EF_TRAIN_CLIPS_PER_S = 243.4
EF_INFERENCE_CLIPS_PER_S = 983.3
RATE_FRAMES = 32
SEGMENTATION_TRAIN_FRAMES_PER_S = 615.6
SEGMENTATION_INFERENCE_FRAMES_PER_S = 14008.0


def merged(base: dict, layer: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in layer.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(paths: list[str]) -> dict:
    """The schema's defaults overlaid with config/config.yaml and each given file, as Snakemake layers them."""
    config = config_schema.defaults(config_schema.load_schema())
    for path in [REPO / "config" / "config.yaml", *paths]:
        config = merged(config, yaml.safe_load(Path(path).read_text()) or {})
    return config


def all_clips(frames: int, period: int) -> float:
    """Clips of one video of the mean length when every start is taken (all-clip inference)."""
    return max(1.0, echonet.MEAN_FRAMES - (frames - 1) * period)


def ef_hours(run: dict, test: bool) -> float:
    """One EF run: its epochs of training and validation, and all-clip inference of VAL and TEST when evaluated."""
    scale = run["frames"] / RATE_FRAMES
    train = run.get("train_videos") or echonet.USABLE_VIDEOS["TRAIN"]
    val = echonet.USABLE_VIDEOS["VAL"]
    seconds = run["epochs"] * (train / EF_TRAIN_CLIPS_PER_S + val / EF_INFERENCE_CLIPS_PER_S) * scale
    if test:
        videos = echonet.USABLE_VIDEOS["VAL"] + echonet.USABLE_VIDEOS["TEST"]
        seconds += videos * all_clips(run["frames"], run["period"]) / EF_INFERENCE_CLIPS_PER_S * scale
    return seconds / 3600


def segmentation_hours(run: dict) -> float:
    """One segmentation run: two traced frames per video, training and validation each epoch, then Dice."""
    train = run.get("train_videos") or echonet.USABLE_VIDEOS["TRAIN"]
    val, test = echonet.USABLE_VIDEOS["VAL"], echonet.USABLE_VIDEOS["TEST"]
    seconds = run["epochs"] * (
        2 * train / SEGMENTATION_TRAIN_FRAMES_PER_S + 2 * val / SEGMENTATION_INFERENCE_FRAMES_PER_S
    )
    return (seconds + 2 * (val + test) / SEGMENTATION_INFERENCE_FRAMES_PER_S) / 3600


def cluster_hours(jobs: list[float], gpus: int) -> float:
    """Wall time of the jobs scheduled longest first, each onto the GPU that frees first."""
    free = [0.0] * gpus
    for job in sorted(jobs, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + job)
    return max(free) if jobs else 0.0


def family_costs(config: dict, gpus: int) -> list[dict]:
    """Runs and hours of each active family (a run two families share is priced in the first)."""
    configured = rule_settings.video_runs(config)
    grids = experiment_grids(config, configured)
    runs = {**configured, **grids.video_runs}
    segmentation_runs = {config["segmentation"]["name"]: config["segmentation"], **grids.segmentation_runs}
    priced, rows = set(), []
    for family in [family for family in active_families(config) if family in grids.points]:
        jobs = []
        test = evaluates_test(config, family)
        for point in grids.points[family]:
            if point.video_run in grids.video_runs and point.video_run not in priced:
                priced.add(point.video_run)
                jobs.append(ef_hours(runs[point.video_run], test))
            if point.segmentation_run in grids.segmentation_runs and point.segmentation_run not in priced:
                priced.add(point.segmentation_run)
                jobs.append(segmentation_hours(segmentation_runs[point.segmentation_run]))
        rows.append(
            {
                "family": family,
                "runs": len(jobs),
                "gpu_hours": sum(jobs),
                "cluster_hours": cluster_hours(jobs, gpus),
                "longest_run_hours": max(jobs, default=0.0),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", nargs="*", default=[], help="config files over config/config.yaml")
    parser.add_argument("--gpus", type=int, default=16, help="GPUs of the cluster")
    args = parser.parse_args(argv)
    rows = family_costs(load_config(args.configfile), args.gpus)
    print(f"| family | new runs | GPU hours (one H200) | wall hours on {args.gpus} GPUs | longest run (h) |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['family']} | {row['runs']} | {row['gpu_hours']:.1f} | {row['cluster_hours']:.1f} "
            f"| {row['longest_run_hours']:.1f} |"
        )
    total = sum(r["gpu_hours"] for r in rows)
    print(f"| all | {sum(r['runs'] for r in rows)} | {total:.1f} | | |")


if __name__ == "__main__":
    main()
