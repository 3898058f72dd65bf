"""What the rules share: paths, job resources and the EF run table.

Each rule's params slice is cut by workflow/scripts/echobeat/stages/rule_settings.py; the input
functions of one stage's rules are in inputs.smk."""

import math
import re
import sys
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError

# The library's facts the rules share (works before `pip install -e .` too).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))
from echobeat.data import echonet
from echobeat.errors import UserError
from echobeat.stages import rule_settings
from echobeat.stages.experiment_grids import (
    active_families,
    experiment_grids,
    noise_levels,
    selected_runs,
)
from echobeat.stages.rule_settings import (
    EF_FIGURES,
    FIGURE_FORMATS,
    SEGMENTATION_FIGURES,
)


# GPU jobs sharing a GPU (jobs_per_gpu): job_gpus() and gpu_slots() for the GPU rules.
include: "gpu_sharing.smk"
# Input functions and params of the stage rules, and of the predict rules.
include: "inputs.smk"
include: "predict_inputs.smk"
include: "experiment_inputs.smk"


# --- paths -----------------------------------------------------------------------------------

DATA_DIR = Path(config["data_dir"])
DATA_RESULTS = Path("results/data")
SEGMENTATION_NAME = config["segmentation"]["name"]
SEGMENTATION_DIR = Path("results/segmentation") / SEGMENTATION_NAME


def dataset_path(name):
    """A file of the dataset folder, as a string for Snakemake."""
    return str(DATA_DIR / name)


def data_result(name):
    """A file under results/data/."""
    return str(DATA_RESULTS / name)


def segmentation_result(name):
    """A file under results/segmentation/<name>/ of the configured segmentation run."""
    return str(SEGMENTATION_DIR / name)


def segmentation_run_result(name):
    """A file under results/segmentation/<run>/ of any segmentation run (with the {seg_run} wildcard)."""
    return str(Path("results/segmentation/{seg_run}") / name)


def experiment_result(name):
    """A file under results/experiments/."""
    return str(Path("results/experiments") / name)


def video_result(name):
    """A file under results/video/<run>/ (with the {run} wildcard)."""
    return str(Path("results/video/{run}") / name)


def analysis_result(name):
    """A file under results/analysis/<run>/ (with the {run} wildcard)."""
    return str(Path("results/analysis/{run}") / name)


def predict_examples_dir():
    """Held-out synthetic videos in other forms (AVI, MP4, DICOM), for trying the predict target."""
    return f"{DATA_DIR}-predict"


def figure_paths(folder, figures):
    """PNG and PDF path of each figure, keyed <name>_png / <name>_pdf."""
    return {
        f"{name}_{kind}": str(Path(folder) / f"{name}.{kind}")
        for name in figures
        for kind in FIGURE_FORMATS
    }


def final_outputs():
    """Everything `rule all` asks for."""
    outputs = [
        data_result("manifest.csv"),
        data_result("excluded.csv"),
        data_result("tracings.csv"),
        data_result("verify_report.md"),
        data_result("cache/index.csv"),
        data_result("normalisation.json"),
        segmentation_result("dice.csv"),
        segmentation_result("size.csv"),
    ]
    if config["segmentation"]["overlays"]:
        outputs.append(segmentation_result("overlays"))
    if config["dataset"] == "synthetic":
        outputs.append(predict_examples_dir())
    return outputs + analysis_outputs()


def analysis_outputs():
    """The analysis files of every run, the segmentation figures and the comparison."""
    segmentation = list(
        figure_paths(segmentation_result("figures"), SEGMENTATION_FIGURES).values()
    )
    if not VIDEO_RUNS:
        return segmentation
    per_run = [
        analysis_result("beat_by_beat.csv"),
        analysis_result("metrics.csv"),
        *figure_paths(analysis_result("figures"), EF_FIGURES).values(),
    ]
    return [
        *expand(per_run, run=VIDEO_RUNS),
        *segmentation,
        "results/analysis/comparison.csv",
        "results/analysis/comparison.md",
    ]


# --- resources -------------------------------------------------------------------------------


def job_memory(rule):
    """The memory (MB) config["resources"] gives ``rule``."""
    return config["resources"][rule]["mem_mb"]


def job_runtime(rule):
    """The time limit (minutes) of ``rule``, longer on each retry (a job killed at its limit
    resumes from its checkpoint with more time) and, for a rule that reads the manifest, longer
    when it lists more videos than the real dataset has (evaluated once the manifest exists).
    config["resources"] runtimes are sized for the real dataset.
    """
    minutes = config["resources"][rule]["runtime"]

    def runtime(wildcards, input, attempt):
        videos = 0
        # Before the verify_dataset checkpoint has run, cache_videos' inputs are not known yet.
        if "manifest" in input.keys() and Path(input.manifest).exists():
            with open(input.manifest, encoding="utf-8") as manifest:
                videos = sum(1 for _ in manifest) - 1
        return math.ceil(minutes * max(1.0, videos / echonet.VIDEOS)) * attempt

    return runtime


def segmentation_data():
    """The data-stage outputs every segmentation rule reads."""
    return {
        "manifest": data_result("manifest.csv"),
        "tracings": data_result("tracings.csv"),
        "index": data_result("cache/index.csv"),
        "normalisation": data_result("normalisation.json"),
    }


def video_data():
    """The data-stage outputs the video rules read."""
    return {
        "manifest": data_result("manifest.csv"),
        "index": data_result("cache/index.csv"),
        "normalisation": data_result("normalisation.json"),
    }


# --- the run tables --------------------------------------------------------------------------


def filelist_train_videos():
    """The TRAIN rows of the dataset's FileList.csv when it is there (the training-size grid is
    checked against it before any job runs), else None."""
    filelist = DATA_DIR / "FileList.csv"
    if not filelist.exists():
        return None
    try:
        splits = pd.read_csv(filelist, usecols=["Split"])["Split"]
    except (ValueError, OSError, pd.errors.ParserError):
        return None  # verify_dataset reports what is wrong with it
    return int((splits.astype(str).str.upper() == "TRAIN").sum())


try:
    # The configured EF runs (rule all), and the runs the experiment grids add.
    VIDEO_RUNS = rule_settings.video_runs(config)
    # Sizes against the TRAIN split are checked when a target needs that family (experiment_inputs.smk).
    GRIDS = experiment_grids(config, VIDEO_RUNS)
    # The families that evaluate configured runs anew (no training).
    NOISE_LEVELS = noise_levels(config)
    # A family naming a run video.runs lacks is refused only when a target needs it.
    NOISE_RUNS, GRIDS.problems["noise"] = selected_runs(
        config, "noise", VIDEO_RUNS, False
    )
    LOSS_CURVE_RUNS, GRIDS.problems["loss_curves"] = selected_runs(
        config, "loss_curves", VIDEO_RUNS, True
    )
except UserError as error:
    raise WorkflowError(str(error)) from None
ALL_VIDEO_RUNS = {**VIDEO_RUNS, **GRIDS.video_runs}
SEGMENTATION_RUNS = {
    SEGMENTATION_NAME: config["segmentation"],
    **GRIDS.segmentation_runs,
}
EXPERIMENT_FAMILIES = active_families(config)
# Runs that train, and evaluate-only runs (epochs: 0) whose best.pt is their given weights.
TRAINED_RUNS = [name for name, run in ALL_VIDEO_RUNS.items() if run["epochs"] > 0]
EVALUATE_ONLY_RUNS = [
    name for name, run in ALL_VIDEO_RUNS.items() if run["epochs"] == 0
]
TRAINED_SEGMENTATION_RUNS = [
    name for name, run in SEGMENTATION_RUNS.items() if run["epochs"] > 0
]
EVALUATE_ONLY_SEGMENTATION_RUNS = [
    name for name, run in SEGMENTATION_RUNS.items() if run["epochs"] == 0
]


def run_pattern(names):
    """A wildcard constraint matching exactly these run names (nothing when there is none)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def weights_file_input(weights, stage):
    """A weights file as a job input (so that a replaced file reruns what used it); nothing for
    the weights torchvision names (rule_settings.NAMED_WEIGHTS[stage])."""
    return {} if weights in rule_settings.NAMED_WEIGHTS[stage] else {"weights": weights}
