"""Pure helpers of the projection: variant order, the list scheduler of GPU jobs sharing a GPU, and
the hours of the configured chain from measured rates.
"""

from __future__ import annotations

import itertools

from bench.reproduction.dataset import REAL_USABLE, REAL_VIDEOS
from echobeat.data.clips import n_clips

# The 64-video measurement in BENCHMARKS.md projected this, for comparison.
BENCHMARKS_MD_PROJECTION_H = 1.3


def parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


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


def once(result: dict) -> float:
    """What a job pays once: its setup, and the compilation and autotuning of its warm-up."""
    if "train" in result:
        return result["setup_seconds"] + sum(result[w]["compile_autotune_seconds"] for w in ("warmup", "val_warmup"))
    return result["setup_seconds"] + result["warmup"]["compile_autotune_seconds"]


def seg_val_once(result: dict) -> float:
    return result["val_warmup"]["compile_autotune_seconds"]


def project(measured: dict, contention: dict | None, data: dict, plan: dict, args, import_seconds: float) -> dict:
    """Hours of the configured chain on one GPU from one variant's measurements."""
    seg_settings, runs = plan["segmentation"], plan["runs"]
    manifest = plan["manifest"]
    synth = manifest["Split"].value_counts().to_dict()
    job_start = import_seconds
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
