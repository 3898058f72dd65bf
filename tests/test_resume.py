"""Resume after a kill, end to end through Snakemake: the process group is killed mid-epoch with
SIGKILL (nothing runs a handler: no clean exit, Snakemake's lock left behind), the workflow is
unlocked and run again, and training carries on from its last checkpoint to complete, valid
outputs.

SIGTERM, the clean stop, is tested where it arrives: tests/test_distributed.py sends it to a
training job (partial files removed, every process's records kept, the rerun resumes), and
tests/test_slurm.py has SLURM send it at a job's time limit and resubmit the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from conftest import TINY_VIDEO, run_snakemake, tiny_workflow_config, write_config

pytestmark = pytest.mark.workflow

EPOCHS = 6
RUN = "tiny_r3d"


def start_snakemake(cwd, output, *args) -> subprocess.Popen:
    """snakemake in its own process group, as a batch system starts it; its console goes to ``output``."""
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def wait_for(condition, proc: subprocess.Popen, console, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {what} (snakemake exit {proc.poll()}):\n{console.read_text()}")
        time.sleep(0.2)


@pytest.mark.slow
def test_training_resumes_after_the_workflow_is_killed_mid_epoch(prepared_workflow):
    workflow_dir = prepared_workflow  # the data stage done
    video = {**TINY_VIDEO, "defaults": {**TINY_VIDEO["defaults"], "epochs": EPOCHS}}
    video["runs"] = {**TINY_VIDEO["runs"], "tiny_mc3": None}
    path = write_config(workflow_dir / "resume.yaml", tiny_workflow_config(video=video))
    target = f"results/video/{RUN}/best.pt"
    folder = workflow_dir / "results/video" / RUN

    console = workflow_dir / "killed.log"
    with console.open("w") as output:
        proc = start_snakemake(workflow_dir, output, "--cores", "2", target, "--configfile", str(path))
    checkpoint = folder / "checkpoint.pt"
    try:
        wait_for(checkpoint.exists, proc, console, 300, "first checkpoint")
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)["epoch"]
        time.sleep(0.5)  # into the next epoch
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert saved < EPOCHS - 1, "killed before the last epoch"
    assert not (folder / "best.pt").exists() and not (folder / "log.csv").exists(), "no output taken as done"

    # Snakemake had no chance to release its lock on the working directory.
    run_snakemake(workflow_dir, "--unlock", "--configfile", str(path))
    run_snakemake(workflow_dir, "--cores", "2", target, "--configfile", str(path))
    job_log = (workflow_dir / "logs/train_video" / f"{RUN}.log").read_text()
    assert "resuming after epoch" in job_log, job_log
    resumed_from = int(job_log.split("resuming after epoch ")[1].split()[0])
    assert resumed_from >= saved
    log = pd.read_csv(folder / "log.csv")
    assert log["epoch"].tolist() == [e for e in range(EPOCHS) for _ in ("train", "val")]
    assert log["loss"].notna().all()
    state = torch.load(folder / "best.pt", map_location="cpu", weights_only=True)
    assert "model" in state and state["epoch"] < EPOCHS
    plan = run_snakemake(workflow_dir, "-n", target, "--configfile", str(path))
    assert "Nothing to be done" in plan.stdout + plan.stderr
