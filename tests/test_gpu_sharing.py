"""Several GPU jobs on one GPU (config jobs_per_gpu): the slots Snakemake counts, the gpu each job
sees, jobs that really overlap, and an edit that reruns nothing."""

import json
import re
from pathlib import Path

import pytest
from conftest import EXPERIMENT_GPU_RULES, REPO, run_snakemake, tiny_workflow_config, write_config

from echobeat.stages.rule_settings import GPU_RULES as ALL_GPU_RULES

# The GPU rules of the default and predict targets, which these plans cover (the experiment
# rules' requests are checked in tests/test_workflow.py).
GPU_RULES = ALL_GPU_RULES - EXPERIMENT_GPU_RULES

pytestmark = pytest.mark.workflow

SHARING = REPO / "workflow" / "rules" / "gpu_sharing.smk"


def planned_jobs(stdout: str) -> list[tuple[str, str, dict[str, str]]]:
    """(rule, output, {resource: value}) of every job a dry run lists."""
    jobs: list[tuple[str, str, dict[str, str]]] = []
    rule = output = None
    for line in stdout.splitlines():
        if line.startswith(("rule ", "localrule ", "checkpoint ")) and line.endswith(":"):
            rule, output = line.split()[1].rstrip(":"), ""
        elif rule is not None and line.strip().startswith("output:"):
            output = line.split(":", 1)[1].strip()
        elif rule is not None and line.strip().startswith("resources:"):
            items = (item.strip().split("=", 1) for item in line.split(":", 1)[1].split(","))
            jobs.append((rule, output, dict(item for item in items if len(item) == 2)))
            rule = None
    return jobs


def gpu_requests(stdout: str) -> dict[str, tuple[str | None, str | None]]:
    """{rule or train_video:<run>: (gpu, gpu_slots)} of a dry run."""
    requests = {}
    for rule, output, resources in planned_jobs(stdout):
        key = f"{rule}:{Path(output.split(',')[0]).parent.name}" if rule == "train_video" else rule
        requests[key] = (resources.get("gpu"), resources.get("gpu_slots"))
    return requests


def provided(stdout: str) -> dict[str, int]:
    """The global resources of a run ('Provided resources:'), whatever way Snakemake prints them."""
    line = next((line for line in stdout.splitlines() if line.startswith("Provided resources:")), "")
    pairs = re.findall(r"(\w+)=(?:Resource\(\"\w+\", )?(\d+)", line)
    return {name: int(value) for name, value in pairs}


# The demo's two EF runs, one of them on two GPUs.
TWO_GPU_RUN = {"video": {"runs": {"r3d_18_8_8_demo": {"model": "r3d_18", "gpus": 2}}}}


def two_gpu_overlay(workflow_dir: Path) -> Path:
    """TWO_GPU_RUN, with a folder of (placeholder) videos for the predict target, whose GPU rules
    the plans below hold as well as the default target's."""
    videos = workflow_dir / "videos"
    videos.mkdir(exist_ok=True)
    (videos / "a.avi").write_bytes(b"placeholder: a dry run reads nothing")
    return write_config(workflow_dir / "two_gpus.yaml", {**TWO_GPU_RUN, "predict_dir": str(videos)})


def plan(workflow_dir, *args):
    overlay = two_gpu_overlay(workflow_dir)
    proc = run_snakemake(
        workflow_dir,
        "-n",
        "all",
        "predict",
        "--workflow-profile",
        "none",
        "--configfile",
        "config/demo.yaml",
        str(overlay),
        *args,
    )
    return gpu_requests(proc.stdout)


def test_dry_runs_plan_slots_and_never_more_gpus_than_there_are(workflow_dir):
    """Every GPU rule asks for gpu_slots; a job's gpu stays what it uses, at most the real GPUs."""
    one_gpu = {rule: ("1", "1") for rule in GPU_RULES - {"train_video"}}
    shared = plan(workflow_dir, "--resources", "gpu=1", "--config", "jobs_per_gpu=3")
    assert {key: value for key, value in shared.items() if value != (None, None)} == {
        **one_gpu,
        "train_video:mc3_18_8_8_demo": ("1", "1"),
        # Two GPUs asked for, one there: one process on one slot, not gpu=2 from the raised limit.
        "train_video:r3d_18_8_8_demo": ("1", "1"),
    }, shared
    # jobs_per_gpu: 1 (the default): today's plan, Snakemake itself lowering gpu=2 to the limit.
    alone = plan(workflow_dir, "--resources", "gpu=1")
    assert alone["train_video:r3d_18_8_8_demo"][0] == "1" and alone["predict_clips"] == ("1", "1"), alone


def test_slurm_profile_is_unchanged_by_jobs_per_gpu(workflow_dir):
    """On SLURM (no global gpu) each job has its own GPUs: nothing is mapped, every GPU job asks
    for the GPUs it uses as before (the two-GPU run for two, whole: 2 x 3 slots, unused there)."""
    overlay = two_gpu_overlay(workflow_dir)
    args = ["-n", "all", "predict", "--profile", "profiles/slurm", "--workflow-profile", "none"]
    args += ["--configfile", "config/demo.yaml"]
    proc = run_snakemake(workflow_dir, *args, str(overlay), "--config", "jobs_per_gpu=3")
    jobs = planned_jobs(proc.stdout)
    assert {rule for rule, _, _ in jobs} >= GPU_RULES
    for rule, output, resources in jobs:
        expected = ("1", "1", "gpu") if rule in GPU_RULES else (None, None, "cpu")
        if rule == "train_video" and "r3d_18_8_8_demo" in output:
            expected = ("2", "6", "gpu")
        got = (resources.get("gpu"), resources.get("gpu_slots"), resources.get("slurm_partition"))
        assert got == expected or rule == "all", (rule, resources)


# A workflow of its own around the real gpu_sharing.smk: one-GPU jobs and a two-GPU job that
# record when they ran and the resources their script was given.
SCRATCH = f"""
include: "{SHARING}"


rule all:
    input:
        expand("{{name}}.json", name=config["jobs"]),


rule one_gpu:
    output:
        "{{name}}.json",
    wildcard_constraints:
        name="a|b",
    resources:
        gpu=1,
        gpu_slots=1,
    script:
        "stamp.py"


rule ddp:
    output:
        "ddp.json",
    resources:
        gpu=job_gpus(2),
        gpu_slots=gpu_slots(job_gpus(2)),
    script:
        "stamp.py"
"""

STAMP = """
import json, time

start = time.time()
time.sleep(snakemake.config.get("seconds", 1.5))
record = {"start": start, "end": time.time(), "gpu": snakemake.resources.gpu, "slots": snakemake.resources.gpu_slots}
with open(snakemake.output[0], "w") as out:
    json.dump(record, out)
"""


@pytest.fixture
def scratch(tmp_path):
    (tmp_path / "Snakefile").write_text(SCRATCH)
    (tmp_path / "stamp.py").write_text(STAMP)

    def run(jobs, *args, config=(), check=True):
        """Snakemake on ``jobs`` with ``args`` and the --config entries ``config``."""
        for old in tmp_path.glob("*.json"):
            old.unlink()
        entries = ["--config", f"jobs={json.dumps(jobs).replace(' ', '')}", *config]
        proc = run_snakemake(tmp_path, "--workflow-profile", "none", *args, *entries, check=check, timeout=120)
        if not check:
            return proc, None
        return proc, {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in jobs}

    return run


def overlap(first: dict, second: dict) -> bool:
    return first["start"] < second["end"] and second["start"] < first["end"]


def test_shared_jobs_run_side_by_side_and_see_one_gpu(scratch):
    """jobs_per_gpu: 3 on one GPU: three jobs at once, each given gpu=1, even one asking for two."""
    proc, ran = scratch(["a", "b", "ddp"], "--cores", "3", "--resources", "gpu=1", config=["jobs_per_gpu=3"])
    assert provided(proc.stdout + proc.stderr) == {"gpu": 3, "gpu_slots": 3}, proc.stderr
    assert overlap(ran["a"], ran["b"]) and overlap(ran["a"], ran["ddp"]) and overlap(ran["b"], ran["ddp"]), ran
    assert [(ran[name]["gpu"], ran[name]["slots"]) for name in ("a", "b", "ddp")] == [(1, 1)] * 3, ran


def test_one_job_per_gpu_runs_them_one_at_a_time(scratch):
    proc, ran = scratch(["a", "b"], "--cores", "2", "--resources", "gpu=1")
    assert provided(proc.stdout + proc.stderr) == {"gpu": 1}, proc.stderr
    assert not overlap(ran["a"], ran["b"]), ran
    assert ran["a"]["gpu"] == ran["b"]["gpu"] == 1


def test_a_two_gpu_job_takes_its_gpus_whole(scratch):
    """Two GPUs shared two ways (4 slots): the two one-GPU jobs share, the DDP job runs alone."""
    proc, ran = scratch(["a", "b", "ddp"], "--cores", "3", "--resources", "gpu=2", config=["jobs_per_gpu=2"])
    assert provided(proc.stdout + proc.stderr) == {"gpu": 4, "gpu_slots": 4}, proc.stderr
    assert overlap(ran["a"], ran["b"]), ran
    assert not overlap(ran["ddp"], ran["a"]) and not overlap(ran["ddp"], ran["b"]), ran
    assert (ran["ddp"]["gpu"], ran["ddp"]["slots"]) == (2, 4), ran


@pytest.mark.parametrize(
    "resources, given, gpu",
    [
        # No global gpu, as on SLURM (each job has its own GPUs): nothing mapped, two GPUs given.
        ([], {}, 2),
        # A Snakemake process handed the limits already raised: mapped once, the same real GPU.
        (["--resources", "gpu=3", "gpu_slots=3"], {"gpu": 3, "gpu_slots": 3}, 1),
    ],
)
def test_nothing_is_mapped_without_a_gpu_limit_nor_twice(scratch, resources, given, gpu):
    proc, ran = scratch(["ddp"], "--cores", "1", *resources, config=["jobs_per_gpu=3", "seconds=0"])
    assert provided(proc.stdout + proc.stderr) == given, proc.stderr
    assert ran["ddp"]["gpu"] == gpu, ran


def test_bad_values_and_missing_snakemake_internals_fail_clearly(scratch, tmp_path):
    proc, _ = scratch(["a"], "-n", "--resources", "gpu=1", config=["jobs_per_gpu=0"], check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "jobs_per_gpu must be a whole number >= 1" in output, output
    # Another Snakemake without workflow.global_resources: one line naming the key, no traceback.
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text("del workflow.global_resources\n" + snakefile.read_text())
    proc, _ = scratch(["a"], "-n", "--resources", "gpu=1", config=["jobs_per_gpu=2"], check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "jobs_per_gpu: 2 needs workflow.global_resources" in output, output
    assert "Traceback" not in output, output


@pytest.mark.slow
def test_real_training_job_gets_one_process_and_jobs_per_gpu_reruns_nothing(prepared_workflow):
    """The real train_video, asking for two GPUs with one GPU shared: given gpu=1, one process (a
    job given gpu=2 would log that it falls back to one). Then an edit of jobs_per_gpu plans
    nothing: it is in no rule's params."""
    workflow_dir = prepared_workflow  # the data stage done
    config = tiny_workflow_config()
    config["video"] = {**config["video"], "runs": {**config["video"]["runs"], "tiny_r3d": None}}
    config["video"]["runs"]["tiny_mc3"] = {"model": "mc3_18", "gpus": 2}
    path = write_config(workflow_dir / "gpu_sharing.yaml", config)
    target = "results/video/tiny_mc3/best.pt"
    common = ["--workflow-profile", "none", "--configfile", str(path), "--resources", "gpu=1"]
    proc = run_snakemake(workflow_dir, target, "--cores", "2", *common, "--config", "jobs_per_gpu=2")
    assert provided(proc.stdout + proc.stderr) == {"gpu": 2, "gpu_slots": 2}, proc.stderr
    # What the job was handed (its snakemake.resources), and what it did with it.
    jobs = planned_jobs(proc.stdout + proc.stderr)
    assert {rule for rule, _, _ in jobs} == {"train_video"}, "the copied data stage is up to date"
    given = [resources for rule, _, resources in jobs if rule == "train_video"]
    assert [(job["gpu"], job["gpu_slots"]) for job in given] == [("1", "1")], given
    log = (workflow_dir / "logs/train_video/tiny_mc3.log").read_text()
    assert "best validation loss" in log and "GPUs asked for" not in log, log
    replan = run_snakemake(workflow_dir, "-n", target, *common, "--config", "jobs_per_gpu=3")
    assert "Nothing to be done" in replan.stdout + replan.stderr, replan.stdout
