"""Two training jobs at once, in two processes started together through files: how much each slows
down when they share the GPU.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.reproduction import REPO
from bench.reproduction.measure import reset_peak, started_run, timing
from bench.reproduction.report import Report, clean
from echobeat.atomic import write_text
from echobeat.compute import prepare_device
from echobeat.learn.training import run_epoch


def contention_worker(spec_path: str) -> None:
    """One of the two processes: train a while alone (warm-up), then in step with the other."""
    spec = json.loads(Path(spec_path).read_text())
    files = {k: Path(v) for k, v in spec["files"].items()}
    compute = prepare_device(spec["device"], spec["threads"], spec["precision"], compile=spec["compile"])
    settings, paths = spec["settings"], spec["paths"]
    task, run = started_run(spec["kind"], settings, paths, spec["out_dir"], compute)
    net = run.networks()["train"]
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
                    [sys.executable, "-m", "bench.reproduction", "--contention-worker", str(spec_path)],
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
