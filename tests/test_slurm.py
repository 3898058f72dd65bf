"""The workflow through `--profile profiles/slurm` on a real single-node SLURM cluster.

tests/slurm/cluster.sh starts slurmctld, slurmd and munged (Debian's slurm-wlm, installed if
missing) with one fake GPU (gres backed by /dev/null) in partitions `cpu` and `gpu`. The cluster
has no accounting database, so the plugin polls with squeue. Runs as root on Debian only (CI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    EXPERIMENT_GPU_RULES,
    PREDICT_GPU_RULES,
    REPO,
    TINY_CONFIG,
    TINY_VIDEO,
    tiny_workflow_config,
    write_config,
)

from echobeat.stages.rule_settings import GPU_RULES as ALL_GPU_RULES

CLUSTER = REPO / "tests/slurm/cluster.sh"
# The rules a run of the default target sends through sbatch.
GPU_RULES = ALL_GPU_RULES - PREDICT_GPU_RULES - EXPERIMENT_GPU_RULES
CPU_RULES = {"synthetic_dataset", "verify_dataset", "cache_videos"}
LOCAL_RULES = {
    "normalisation",
    "beat_by_beat",
    "analysis_metrics",
    "ef_figures",
    "segmentation_figures",
    "compare_runs",
    "all",
}
# Small jobs: the tiny workflow on a 2-CPU node; runtime in minutes.
TINY_RESOURCES = {rule: {"mem_mb": 1500, "runtime": 10} for rule in GPU_RULES | CPU_RULES}


def cannot_run() -> str | None:
    if sys.platform != "linux" or not Path("/etc/debian_version").exists():
        return "needs Debian (slurm-wlm and munge come from its packages)"
    if os.geteuid() != 0:
        return "needs root (installs slurm-wlm and runs slurmctld, slurmd and munged)"
    if shutil.which("bash") is None:
        return "needs bash"
    return None


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    # One cluster per test session: under pytest-xdist, conftest.pytest_xdist_make_scheduler
    # sends every test of this file to the same worker.
    pytest.mark.skipif(cannot_run() is not None, reason=str(cannot_run())),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running single-node cluster; its environment for sbatch/squeue/snakemake."""
    state = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, ECHOBEAT_SLURM_DIR=str(state), SLURM_CONF=str(state / "slurm.conf"))
    started = subprocess.run(["bash", str(CLUSTER), "start"], env=env, capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, f"the test cluster did not start:\n{started.stdout}\n{started.stderr}"
    yield {"env": env, "state": state}
    subprocess.run(["bash", str(CLUSTER), "stop"], env=env, capture_output=True, text=True, timeout=120)


def run_on_slurm(cwd: Path, cluster: dict, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    """snakemake with the repository's SLURM profile, told only what this cluster lacks."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        *args,
        "--profile",
        "profiles/slurm",
        "--workflow-profile",
        "none",
        # No accounting database here: poll squeue instead of sacct, and start polling soon.
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--seconds-between-status-checks",
        "3",
        "--slurm-keep-successful-logs",
        "--verbose",
    ]
    proc = subprocess.run(command, cwd=cwd, env=cluster["env"], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        logs = "\n".join(p.read_text()[-3000:] for p in sorted((cwd / ".snakemake/slurm_logs").rglob("*.log")))
        raise AssertionError(f"snakemake on SLURM failed ({proc.returncode}):\n{proc.stderr[-8000:]}\n{logs}")
    return proc


def sbatch_calls(cwd: Path) -> dict[str, list[str]]:
    """Every sbatch command line the plugin ran, by rule (from its --comment rule_<name>)."""
    calls: dict[str, list[str]] = {}
    for log in (cwd / ".snakemake/log").glob("*.log"):
        for line in log.read_text().splitlines():
            if "sbatch call:" in line:
                rule = re.search(r"--comment '?rule_(\w+?)(?:_wildcards\S*)?'? ", line).group(1)
                calls.setdefault(rule, []).append(line)
    return calls


# First: it needs only the data stage, so the other worker builds the finished tiny run
# (conftest.finished_run) for the profile test meanwhile.
def test_a_training_job_killed_at_its_time_limit_resumes(cluster, prepared_workflow):
    # One EF run long enough to outlive a one-minute limit; each resubmission (the profile's
    # restart-times) gets runtime x attempt minutes and resumes from the checkpoint.
    workflow_dir = prepared_workflow  # the data stage done, locally
    video = {**TINY_VIDEO, "defaults": {**TINY_VIDEO["defaults"], "epochs": 60}}
    video["runs"] = {**TINY_VIDEO["runs"], "tiny_mc3": None}
    resources = {**TINY_RESOURCES, "train_video": {"mem_mb": 1500, "runtime": 1}}
    write_config(workflow_dir / TINY_CONFIG, tiny_workflow_config(video=video, resources=resources))

    # Up to five resubmissions (the profile has two): under load an epoch takes longer, and the
    # test is about resuming, not about how many minutes an attempt needs.
    target = "results/video/tiny_r3d/best.pt"
    run_on_slurm(workflow_dir, cluster, target, "--configfile", TINY_CONFIG, "--restart-times", "5")

    finished = (cluster["state"] / "jobcomp.txt").read_text()
    assert "JobState=TIMEOUT" in finished, finished[-2000:]
    calls = sbatch_calls(workflow_dir)["train_video"]
    assert len(calls) >= 2 and " -t 1 " in calls[0] and " -t 2 " in calls[1], calls
    job_log = (workflow_dir / "logs/train_video/tiny_r3d.log").read_text()
    assert "resuming after epoch" in job_log, job_log
    log = pd.read_csv(workflow_dir / "results/video/tiny_r3d/log.csv")
    assert log["epoch"].tolist() == [e for e in range(60) for _ in ("train", "val")]


def test_tiny_workflow_through_the_slurm_profile_equals_a_local_run(cluster, finished_run, workflow_dir):
    # The local run: the tiny workflow's (conftest.finished_run), with the same config but resources.
    local = finished_run
    config = tiny_workflow_config(resources=TINY_RESOURCES)
    write_config(workflow_dir / "tiny.yaml", config)
    run_on_slurm(workflow_dir, cluster, "--configfile", "tiny.yaml")

    # Every rule that is not local went through sbatch (its log folder), and no local rule did.
    submitted = {p.name.removeprefix("rule_") for p in (workflow_dir / ".snakemake/slurm_logs").iterdir()}
    assert submitted == GPU_RULES | CPU_RULES, submitted
    calls = sbatch_calls(workflow_dir)
    assert set(calls) == GPU_RULES | CPU_RULES and not set(calls) & LOCAL_RULES
    for rule, lines in calls.items():
        for line in lines:
            asks_gpu = "--gpus=1" in line.split()
            assert asks_gpu == (rule in GPU_RULES), f"{rule}: {line}"
            partition = "gpu" if rule in GPU_RULES else "cpu"
            assert f" -p {partition} " in line, f"{rule}: {line}"
    # The GPU jobs were handed a GPU by SLURM (the job logs say which devices they saw).
    gpu_logs = [workflow_dir / "logs/train_segmentation/tiny.log", *(workflow_dir / "logs/predict_clips").glob("*.log")]
    for log in gpu_logs:
        assert "CUDA_VISIBLE_DEVICES=0" in log.read_text(), log
    for log in (workflow_dir / "logs/verify_dataset.log", workflow_dir / "logs/normalisation.log"):
        assert "CUDA_VISIBLE_DEVICES=0" not in log.read_text()

    # Same seed, same CPU arithmetic: the same results as the local run.
    for name in [
        "results/data/manifest.csv",
        "results/segmentation/tiny/size.csv",
        "results/segmentation/tiny/dice.csv",
        *(f"results/video/{run}/test_predictions.csv" for run in ("tiny_r3d", "tiny_mc3")),
        *(f"results/analysis/{run}/beat_by_beat.csv" for run in ("tiny_r3d", "tiny_mc3")),
        "results/analysis/comparison.csv",
    ]:
        pd.testing.assert_frame_equal(
            pd.read_csv(workflow_dir / name), pd.read_csv(local / name), check_exact=False, rtol=1e-4, obj=name
        )
