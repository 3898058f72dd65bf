"""``python -m bench.reproduction``: the options, the plan of measurements and projections, and the
run (the package docstring is the manual).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/reproduction`: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# The package first: it starts the clock that the import time is measured on.
from bench.reproduction import REPO, START  # noqa: E402

# isort: split
import argparse  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import pandas as pd
import torch

from bench.reproduction import __doc__ as bench_doc
from bench.reproduction.contention import contention_worker, measure_contention
from bench.reproduction.dataset import FRAME_BANDS, FRAME_BANDS_QUICK, REAL_VIDEOS, prepare_data, read_config
from bench.reproduction.measure import measure_all_clips, measure_sizes, measure_training, release, reset_compiler
from bench.reproduction.report import STOP, Report, measured_ok, print_summary, record_rates
from bench.reproduction.schedule import parse_list, project, variant_order
from echobeat.compute import pick_device, prepare_device
from echobeat.stages.rule_settings import video_runs

IMPORT_SECONDS = time.monotonic() - START


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
    """The segmentation settings and every EF run's (:func:`rule_settings.video_runs`), plus overrides."""
    overrides = {
        "device": args.device,
        "weights": "random (offline machine; the speed does not depend on the weights)",
        "data.on_error": "exclude (verification does the same work; a stray video must not end the run)",
    }
    seg = dict(config["segmentation"])
    seg.update(device=args.device, weights="random")
    runs = {name: {**run, "device": args.device, "weights": "random"} for name, run in video_runs(config).items()}
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
    parser = argparse.ArgumentParser(description=bench_doc, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    args.bootstrap_samples = seg_settings.get("bootstrap_samples", 10000)
    report.data["args"] = {k: v for k, v in vars(args).items() if k != "contention_worker"}
    report.data["machine"] = machine_info(args.device, args.workdir)
    report.data["library"] = {
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
                lambda key=key: project(measurements[key], contention, data, plan, args, IMPORT_SECONDS),
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
        compute = prepare_device(args.device, threads, precision, compile=mode)
        base = dict(runs[run_name]) if run_name else dict(seg_settings)
        settings = {**base, "precision": precision, "compile": mode}
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
                "settings": {**base, "precision": precision, "compile": mode},
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


if __name__ == "__main__":
    main()
