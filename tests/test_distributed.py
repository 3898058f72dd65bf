"""Distributed EF training (video.gpus > 1) on the CPU with the gloo backend.

In float64, two processes train exactly what one process trains (to 1e-7 of each tensor's change;
measured about 2e-11), which checks the sharded batches, the cross-process batch norm, the
gradient averaging and the gathered epoch sums. In float32 the same comparison only holds to
about 1e-2 of the change after two SGD steps: reordered sums, amplified by near-constant
channels, so the float32 test checks the launch path (torchrun, one writer, whole-batch logs).
A stopped run leaves no worker behind and resumes; without GPUs, a run asking for two trains in
one process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import TINY_EF_RUN

from echobeat.learn.distributed import ShardedBatchSampler, contiguous_batches
from echobeat.models.video import video_model
from echobeat.stages import video as video_run
from echobeat.stages.inputs import StageInputs

REPO = Path(__file__).resolve().parents[1]

# 2-frame clips: the process mechanics are under test, not the model, and float64 convolutions on
# a CPU are slow.
SETTINGS = {**TINY_EF_RUN, "frames": 2}


def test_sharded_batches_cut_the_one_process_batches():
    whole = list(ShardedBatchSampler(10, 4, torch.Generator().manual_seed(1), rank=0, world=1))
    halves = [list(ShardedBatchSampler(10, 4, torch.Generator().manual_seed(1), rank=r, world=2)) for r in (0, 1)]
    assert len(whole) == 2 and all(len(b) == 4 for b in whole)
    assert [a + b for a, b in zip(*halves, strict=True)] == whole
    # The same order as the one-process DataLoader(shuffle=True, drop_last=True, generator=...).
    loader = torch.utils.data.DataLoader(
        range(10), batch_size=4, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(1)
    )
    assert [b.tolist() for b in loader] == whole
    with pytest.raises(ValueError, match="batch_size 4 does not split evenly across 3 processes"):
        ShardedBatchSampler(10, 4, torch.Generator(), rank=0, world=3)


def test_contiguous_batches_give_every_item_to_one_process_in_order():
    shares = [contiguous_batches(10, 3, rank, 3) for rank in range(3)]
    assert shares == [[[0, 1, 2]], [[3, 4, 5]], [[6, 7, 8], [9]]]
    assert contiguous_batches(1, 4, 1, 2) == [[0]] and contiguous_batches(1, 4, 0, 2) == []


def torchrun_float64(processes: int, stage_inputs: StageInputs, out_dir: Path) -> pd.DataFrame:
    """Train one epoch (two SGD steps) of SETTINGS in float64 in ``processes`` gloo processes
    (two cores between them); the run's log table."""
    spec = {
        "settings": {**SETTINGS, "epochs": 1},
        "manifest": stage_inputs.manifest,
        "index": stage_inputs.index,
        "normalisation": stage_inputs.normalisation,
        "out_dir": str(out_dir),
        "threads": 2 // processes,
        "backend": "gloo",
        "log": None,
    }
    out_dir.mkdir(parents=True)
    spec_path = out_dir.parent / f"{out_dir.name}.json"
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=str(REPO / "workflow" / "scripts"), OMP_NUM_THREADS=str(2 // processes))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    finished = subprocess.run(
        [*command, str(REPO / "tests" / "ddp_float64_worker.py"), str(spec_path)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return pd.read_csv(out_dir / "log.csv")


@pytest.mark.slow
def test_two_processes_train_what_one_process_trains_in_float64(stage_inputs, tmp_path):
    one = torchrun_float64(1, stage_inputs, tmp_path / "one")
    two = torchrun_float64(2, stage_inputs, tmp_path / "two")
    assert two["samples"].tolist() == one["samples"].tolist() == [8, 4], "whole batches, every VAL video"
    for column in ("loss", "mae", "r2"):
        assert two[column].tolist() == pytest.approx(one[column].tolist(), rel=1e-9, abs=1e-12), column
    # The initial weights as the workers drew them: seeded, in float64.
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(SETTINGS["seed"])
        initial = video_model(SETTINGS["model"], "random").state_dict()
    finally:
        torch.set_default_dtype(torch.float32)
    checkpoints = {
        name: torch.load(tmp_path / name / "checkpoint.pt", map_location="cpu", weights_only=True)
        for name in ("one", "two")
    }
    weights = {name: checkpoint["model"] for name, checkpoint in checkpoints.items()}
    assert weights["two"].keys() == weights["one"].keys()
    for key, value in weights["one"].items():
        if not value.is_floating_point():
            assert torch.equal(weights["two"][key], value), key  # num_batches_tracked
            continue
        assert value.dtype == torch.float64, key
        if key == "fc.bias":
            continue  # initialised from the data, not from the seed
        # Every tensor (batch norm's running statistics included) moved, and moved alike.
        change = (value - initial[key]).abs().max()
        assert change > 0, key
        assert (weights["two"][key] - value).abs().max() <= 1e-7 * change, key
    # The momentum buffers too: the next step would also be the same.
    states = [checkpoints[name]["optimiser"]["state"].values() for name in ("one", "two")]
    for one_state, two_state in zip(*states, strict=True):
        buffer = one_state["momentum_buffer"]
        assert (two_state["momentum_buffer"] - buffer).abs().max() <= 1e-7 * buffer.abs().max()


@pytest.mark.slow
def test_two_gloo_processes_through_torchrun(stage_inputs, tmp_path):
    args = (stage_inputs.manifest, stage_inputs.index, stage_inputs.normalisation)
    settings = {**SETTINGS, "epochs": 1}
    one = video_run.train(settings, *args, str(tmp_path / "one"), threads=2)
    two = video_run.train(settings, *args, str(tmp_path / "two"), threads=2, gpus=2, backend="gloo")
    assert two["samples"].tolist() == one["samples"].tolist(), "the whole batch counted, not one share"
    for column in ("loss", "mae"):
        assert two[column].tolist() == pytest.approx(one[column].tolist(), rel=1e-3), column
    written = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert written == ["best.pt", "checkpoint.pt", "log.csv", "provenance.json"], "one writer, nothing partial"


def processes_mentioning(text: str) -> list[int]:
    """PIDs of the live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if text in cmdline and "zombie" not in state:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the workers through /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_stopped_distributed_run_stops_its_workers_and_resumes(stage_inputs, tmp_path, stop):
    """A signal to the job's main process only (not its group; SIGKILL as the OOM killer sends):
    torchrun and both workers exit, no partial file is left, the job's log keeps every
    process's records, and the rerun resumes after the last checkpoint."""
    out = tmp_path / "run"
    settings = {**SETTINGS, "epochs": 3}
    args = [stage_inputs.manifest, stage_inputs.index, stage_inputs.normalisation]
    env = dict(os.environ, PYTHONPATH=str(REPO / "workflow" / "scripts"))

    def start_job(log_name: str) -> subprocess.Popen:
        # What the rule script does: log to the job's file (SIGTERM becomes a clean exit), train.
        script = (
            "import json, sys; from echobeat.logs import setup_logging; "
            "from echobeat.stages import video as video_run; "
            "setup_logging(sys.argv[1]); "
            "video_run.train(json.loads(sys.argv[2]), *sys.argv[3:7], threads=2, gpus=2, backend='gloo')"
        )
        command = [sys.executable, "-c", script, str(tmp_path / log_name), json.dumps(settings), *args, str(out)]
        return subprocess.Popen(command, env=env, start_new_session=True)

    job = start_job("stopped.log")
    try:
        deadline = time.monotonic() + 240
        while not (out / "checkpoint.pt").exists():
            assert job.poll() is None and time.monotonic() < deadline, "no first checkpoint"
            time.sleep(0.2)
        assert len(processes_mentioning(str(out))) >= 3, "the job, torchrun and two workers"
        job.send_signal(stop)
        assert job.wait(timeout=120) != 0
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(out)) == [], "a worker outlived its job"
    assert not list(out.glob("*.partial")) and not (out / "log.csv").exists()
    saved = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)["epoch"]
    assert saved < settings["epochs"] - 1, "stopped before the end"
    stopped_log = (tmp_path / "stopped.log").read_text()
    assert "training in 2 processes (gloo)" in stopped_log.splitlines()[0], "the job's first record, kept"
    assert "rank 0: device cpu" in stopped_log and "rank 0: epoch 0 train" in stopped_log
    # The workers stop cleanly either way (after SIGKILL, torchrun dies with its parent).
    assert "rank 0: stopped by SIGTERM" in stopped_log and "rank 1: stopped by SIGTERM" in stopped_log

    rerun = start_job("rerun.log")
    assert rerun.wait(timeout=300) == 0
    log = pd.read_csv(out / "log.csv")
    assert log["epoch"].tolist() == [e for e in range(settings["epochs"]) for _ in ("train", "val")]
    assert f"resuming after epoch {saved}" in (tmp_path / "rerun.log").read_text()


def test_a_checkpoint_from_a_job_with_more_gpus_resumes(monkeypatch):
    """The checkpoint's RNG state holds one CUDA state per GPU its job saw; a job that sees fewer
    restores those it has (here none, as on this CPU machine, or one)."""
    from echobeat.learn.training import _set_rng_state

    restored = []
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, index: restored.append(index))
    state = {"torch": torch.get_rng_state(), "cuda": [torch.zeros(8, dtype=torch.uint8)] * 2}
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    _set_rng_state(state)
    assert restored == []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    _set_rng_state(state)
    assert restored == [0]


def test_two_gpus_asked_without_gpus_train_in_one_process(stage_inputs, tmp_path, caplog):
    args = (stage_inputs.manifest, stage_inputs.index, stage_inputs.normalisation)
    settings = {**SETTINGS, "epochs": 1}
    log = video_run.train(settings, *args, str(tmp_path / "out"), threads=1, gpus=2)
    assert "2 GPUs asked for, 0 CUDA device(s) usable: training in one process" in caplog.text
    assert log["epoch"].tolist() == [0, 0]
