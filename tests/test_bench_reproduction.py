"""bench/reproduction: a smoke run of the whole benchmark on the CPU, and its pure helpers.

The smoke run checks the script (every stage measured, nothing failed, a finite projection),
never its speed: the numbers of a 40-video CPU run mean nothing.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from conftest import REPO

from bench.reproduction import __main__ as cli
from bench.reproduction import dataset, report, schedule


@pytest.mark.slow
def test_quick_run_measures_every_stage(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.reproduction",
            "--quick",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "w"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["errors"] == [], report["errors"]
    assert report["skipped"] == [], report["skipped"]
    assert report["status"] == "complete"

    # The dataset: more names than distinct videos (replicated), in the real split proportions.
    dataset, stage = report["dataset"], report["data_stage"]
    assert dataset["videos"] == 40
    assert stage["replication"]["distinct_videos"] == 16
    assert stage["replication"]["hard_links"] + stage["replication"]["copies"] == 24
    assert sum(dataset["splits"].values()) == 40 and dataset["splits"]["TRAIN"] == 30
    for step in ("generation", "verification", "cache"):
        assert stage[step]["seconds"] > 0 and stage[step]["videos_per_s"] > 0

    # Every stage of the variant, with positive rates for every phase.
    runs = list(report["settings"]["video_runs"])
    assert len(runs) == 2
    measured = report["measurements"]["bf16/none"]
    expected = {"segmentation", "size_inference", *(f"{s}:{r}" for s in ("video", "all_clips") for r in runs)}
    assert set(measured) == expected
    for name, result in measured.items():
        assert "error" not in result and "skipped" not in result, (name, result)
    rates = {(r["stage"], r["phase"]): r["per_s"] for r in report["rates"]}
    assert len(rates) == 2 * 3 + 2 + 1  # train and val of three training stages; three inferences
    assert all(rate > 0 for rate in rates.values()), rates
    for run in runs:
        assert measured[f"video:{run}"]["train"]["batches"] > 0
        assert measured[f"all_clips:{run}"]["clips"] > 0
    assert measured["size_inference"]["frames"] > 0

    # Two training jobs at once, and a finite projection of the whole chain.
    assert report["contention"]["segmentation"]["factor"] > 0
    assert report["contention"]["video"]["factor"] > 0
    projection = report["projection"]
    assert projection["variant"] == "bf16/none"
    assert math.isfinite(projection["one_after_another_h"]) and projection["one_after_another_h"] > 0
    assert math.isfinite(projection["shared_gpu"]["h"]) and projection["shared_gpu"]["h"] > 0
    assert set(projection["gpu_jobs_h"]) == {
        "train_segmentation",
        "evaluate_segmentation",
        "segment_all_frames",
        *(f"{job}[{r}]" for job in ("train_video", "predict_clips") for r in runs),
    }
    assert "| **one job after another (gpu=1)** |" in proc.stdout


def test_largest_remainder_and_bands():
    assert dataset.largest_remainder(10, [0.5, 0.3, 0.2]) == [5, 3, 2]
    assert sum(dataset.largest_remainder(1200, [b[0] for b in dataset.FRAME_BANDS])) == 1200
    # The bands reproduce the real dataset's documented mean frame count (~176) and range.
    assert abs(dataset.mean_frames_of_bands() - 176) < 2
    assert dataset.FRAME_BANDS[0][1] == 28 and dataset.FRAME_BANDS[-1][2] == 1002


def test_schedule_shares_the_gpu_only_when_it_pays():
    durations = {"a": 10.0, "b": 10.0, "c": 4.0}
    deps = {"c": ["a"]}
    alone = schedule.best_schedule(durations, deps, 1, dict.fromkeys(durations, 0.5))
    assert alone["seconds"] == pytest.approx(24.0)
    # Each job at 0.8 of its speed beside another: a and b together take 12.5, then c alone 4.
    shared = schedule.best_schedule(durations, deps, 2, dict.fromkeys(durations, 0.8))
    assert shared["seconds"] == pytest.approx(16.5)
    assert shared["jobs_at_once"] == 2
    assert shared["timeline"]["c"][0] >= shared["timeline"]["a"][1]
    # At half speed sharing gains nothing, and at less it loses: one job at a time is kept.
    worse = schedule.best_schedule(durations, deps, 2, dict.fromkeys(durations, 0.4))
    assert worse["seconds"] == pytest.approx(24.0)
    assert worse["jobs_at_once"] == 1


def test_variants_config_first_then_compile_then_precision():
    order = schedule.variant_order(["fp32", "bf16"], ["default", "none"], "bf16", "none")
    assert order == [("bf16", "none"), ("bf16", "default"), ("fp32", "none"), ("fp32", "default")]


def test_clean_makes_plain_json():
    import numpy as np

    value = {"a": np.float32(1.5), "b": float("nan"), "c": [np.int64(3), float("inf")], "d": REPO}
    assert report.clean(value) == {"a": 1.5, "b": None, "c": [3, None], "d": str(REPO)}


def test_projection_of_benchmarks_md_rates():
    """BENCHMARKS.md's 64-video bf16 rates give back its ~1.3 h for the configured chain."""
    import argparse

    import numpy as np
    import pandas as pd
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    args = argparse.Namespace(videos=10030, quick=False, device="cuda", jobs_per_gpu=2, assumed_factor=0.6)
    seg, runs, _ = cli.stage_settings(config, args)
    frames = np.random.default_rng(0).integers(120, 232, 1000)  # mean 176
    manifest = pd.DataFrame({"FileName": [f"v{i}" for i in range(1000)], "NumberOfFrames": frames})
    manifest["Split"] = ["TRAIN"] * 744 + ["VAL"] * 128 + ["TEST"] * 128
    warm = {"seconds": 5.0, "compile_autotune_seconds": 2.0}

    def training(clips_or_videos_per_s, val_seconds):
        return {
            "setup_seconds": 5.0,
            "train": {"seconds_per_batch": 20 / clips_or_videos_per_s},
            "val": {"seconds": val_seconds},
            "warmup": warm,
            "val_warmup": warm,
            "checkpoint_seconds": 0.5,
        }

    measured = {
        # 615.6 frames/s = 307.8 videos/s; validation of 128 VAL videos at 14,008 frames/s.
        "segmentation": {**training(307.8, 256 / 14008), "bootstrap": {"seconds": 1.0, "samples": 10000}},
        "size_inference": {"setup_seconds": 2.0, "per_s": 14008, "warmup": warm, "size_table_seconds_per_frame": 0},
    }
    for name in runs:
        measured[f"video:{name}"] = training(243.4, 128 / 983.3)
        measured[f"all_clips:{name}"] = {"setup_seconds": 2.0, "per_s": 983.3, "warmup": warm}
    stage = {
        "threads": 16,
        "verification": {"videos_per_s": 200.0},
        "cache": {"videos_per_s": 200.0},
        "normalisation": {"seconds": 1.0},
    }
    plan = {
        "segmentation": seg,
        "runs": runs,
        "manifest": manifest,
        "seg_epochs": seg["epochs"],
        "bootstrap_samples": 10000,
        "config": config,
    }
    projection = schedule.project(measured, None, {"data_stage": stage}, plan, args, import_seconds=10.0)
    assert 1.2 < projection["one_after_another_h"] < 1.5
    gpu = projection["gpu_jobs_h"]
    assert 0.3 < gpu["train_segmentation"] < 0.4
    assert all(0.35 < gpu[f"train_video[{name}]"] < 0.45 for name in runs)
    assert all(0.07 < gpu[f"predict_clips[{name}]"] < 0.1 for name in runs)
    # Two jobs at once, each at 0.6 of its speed: 1.2x the throughput, so a shorter chain.
    assert projection["shared_gpu"]["h"] < projection["one_after_another_h"]
    assert projection["shared_gpu"]["jobs_at_once"] == 2
