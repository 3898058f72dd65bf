"""Helpers shared by the rules: paths, the config slice each rule gets, and input checks."""

import math
import re
import sys
from pathlib import Path

import pandas as pd

from snakemake.exceptions import WorkflowError

# The library's facts the rules share (works before `pip install -e .` too).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))
from echobeat.analysis.beat_by_beat import clip_offset
from echobeat.analysis.figures import EF_FIGURES, FIGURE_FORMATS, SEGMENTATION_FIGURES
from echobeat.data.names import SYNTHETIC_MARKER, avi_name
from echobeat.stages import rule_settings


# GPU jobs sharing a GPU (jobs_per_gpu): job_gpus() and gpu_slots() for the GPU rules.
include: "gpu_sharing.smk"


DATA_DIR = Path(config["data_dir"])
DATA_RESULTS = Path("results/data")


def dataset_path(name):
    """A file of the dataset folder, as a string for Snakemake."""
    return str(DATA_DIR / name)


def data_result(name):
    """A file under results/data/."""
    return str(DATA_RESULTS / name)


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


def job_memory(rule):
    """The memory (MB) config["resources"] gives ``rule``."""
    return config["resources"][rule]["mem_mb"]


# Videos of the real dataset: config["resources"] runtimes are sized for it.
REAL_DATASET_VIDEOS = 10030


def job_runtime(rule):
    """The time limit (minutes) of ``rule``, longer on each retry (a job killed at its limit
    resumes from its checkpoint with more time) and, for a rule that reads the manifest, longer
    when it lists more videos than the real dataset has (evaluated once the manifest exists).
    """
    minutes = config["resources"][rule]["runtime"]

    def runtime(wildcards, input, attempt):
        videos = 0
        # Before the verify_dataset checkpoint has run, cache_videos' inputs are not known yet.
        if "manifest" in input.keys() and Path(input.manifest).exists():
            with open(input.manifest, encoding="utf-8") as manifest:
                videos = sum(1 for _ in manifest) - 1
        return math.ceil(minutes * max(1.0, videos / REAL_DATASET_VIDEOS)) * attempt

    return runtime


def predict_examples_dir():
    """Held-out synthetic videos in other forms (AVI, MP4, DICOM), for trying the predict target."""
    return f"{DATA_DIR}-predict"


def guard_synthetic_target():
    """Refuse to generate synthetic data into a folder that holds other data."""
    filelist = DATA_DIR / "FileList.csv"
    if filelist.exists() and not (DATA_DIR / SYNTHETIC_MARKER).exists():
        raise WorkflowError(
            f"dataset: synthetic would write into {DATA_DIR}, which already holds a FileList.csv "
            f"not made by the generator (no {SYNTHETIC_MARKER} file). Point data_dir at another "
            "folder, or set dataset: real to use the data that is there."
        )


def dataset_inputs(wildcards):
    """The dataset's files; with real data, a clear error when they are not there yet."""
    names = {
        "filelist": "FileList.csv",
        "tracings": "VolumeTracings.csv",
        "videos": "Videos",
    }
    if config["dataset"] == "real":
        missing = [n for n in names.values() if not (DATA_DIR / n).exists()]
        if missing:
            raise WorkflowError(
                f"The EchoNet-Dynamic dataset is not in {DATA_DIR}: missing {', '.join(missing)}. "
                "Download it from the Stanford AIMI EchoNet-Dynamic page and unpack it there "
                "(see README.md, 'The real dataset'), set data_dir to where it is, or run the "
                "demo with --configfile config/demo.yaml."
            )
    return {key: dataset_path(name) for key, name in names.items()}


def verify_settings():
    """The slice of config that shapes verification (threads excluded: they change nothing)."""
    return {key: config["data"][key] for key in rule_settings.VERIFY}


def synthetic_settings():
    """The slice of config that shapes the synthetic dataset."""
    return {
        key: value for key, value in config["synthetic"].items() if key != "threads"
    }


def normalisation_settings():
    """The slice of config that shapes the normalisation statistics."""
    return dict(config["normalisation"])


def cache_inputs(wildcards):
    """The manifest and every usable video, so that a changed video refreshes the cache.

    verify_dataset is a checkpoint: the list of videos is known once the manifest exists.
    """
    manifest = checkpoints.verify_dataset.get().output.manifest
    names = pd.read_csv(manifest, dtype={"FileName": str})["FileName"]
    return {
        "manifest": manifest,
        "videos": [str(DATA_DIR / "Videos" / avi_name(name)) for name in names],
    }


SEGMENTATION_DIR = Path("results/segmentation") / config["segmentation"]["name"]


# The keys of config["segmentation"] each rule uses; an edit reruns only the rules using it.
def segmentation_result(name):
    """A file under results/segmentation/<name>/."""
    return str(SEGMENTATION_DIR / name)


def segmentation_data():
    """The data-stage outputs every segmentation rule reads."""
    return {
        "manifest": data_result("manifest.csv"),
        "tracings": data_result("tracings.csv"),
        "index": data_result("cache/index.csv"),
        "normalisation": data_result("normalisation.json"),
    }


def segmentation_settings(rule):
    """The slice of config["segmentation"] that rule ``rule`` uses."""
    section = config["segmentation"]
    return {key: section[key] for key in rule_settings.SEGMENTATION[rule]}


def video_runs():
    """Configured EF runs: video.runs without those set to null (dropped by a layered config)."""
    runs = {
        name: {**config["video"]["defaults"], **(settings or {})}
        for name, settings in config["video"]["runs"].items()
        if settings is not None
    }
    for name, run in runs.items():
        if run["epochs"] == 0 and run["weights"] == "random":
            raise WorkflowError(
                f"video run {name}: epochs: 0 evaluates the given weights without training, and "
                "weights is random; give the path of a weights file (or set epochs)."
            )
        # Each GPU takes an equal share of every batch.
        if run["batch_size"] % run["gpus"]:
            raise WorkflowError(
                f"video run {name}: batch_size {run['batch_size']} does not split evenly across "
                f"gpus: {run['gpus']}; make batch_size a multiple of gpus."
            )
    return runs


VIDEO_RUNS = video_runs()
# Runs that train, and evaluate-only runs (epochs: 0) whose best.pt is their given weights.
TRAINED_RUNS = [name for name, run in VIDEO_RUNS.items() if run["epochs"] > 0]
EVALUATE_ONLY_RUNS = [name for name, run in VIDEO_RUNS.items() if run["epochs"] == 0]


def run_pattern(names):
    """A wildcard constraint matching exactly these run names (nothing when there is none)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


# Weights values that name torchvision's weights rather than a file.
NAMED_WEIGHTS = {"random", "pretrained", "imagenet_backbone"}


def weights_file_input(weights):
    """A weights file as a job input (so that a replaced file reruns what used it), else nothing."""
    return {} if weights in NAMED_WEIGHTS else {"weights": weights}


def segmentation_weights_input(wildcards):
    """The segmentation weights file an evaluate-only stage imports."""
    return weights_file_input(config["segmentation"]["weights"])


def video_weights_input(wildcards):
    """The weights file an evaluate-only run imports."""
    return weights_file_input(VIDEO_RUNS[wildcards.run]["weights"])


def video_import_settings(wildcards):
    """What rule import_video_weights uses of run ``wildcards.run``."""
    return {
        key: VIDEO_RUNS[wildcards.run][key] for key in rule_settings.VIDEO["import"]
    }


def video_gpus(wildcards):
    """The GPUs train_video asks for (and starts a DDP process on each of): its run's gpus, at
    most the real GPUs when GPU jobs share them (see gpu_sharing.smk)."""
    return job_gpus(VIDEO_RUNS[wildcards.run]["gpus"])


def video_gpu_slots(wildcards):
    """The GPU slots train_video takes: one on one GPU, jobs_per_gpu per GPU on several."""
    return gpu_slots(video_gpus(wildcards))


def video_result(name):
    """A file under results/video/<run>/ (with the {run} wildcard)."""
    return str(Path("results/video/{run}") / name)


def video_data():
    """The data-stage outputs the video rules read."""
    return {
        "manifest": data_result("manifest.csv"),
        "index": data_result("cache/index.csv"),
        "normalisation": data_result("normalisation.json"),
    }


def video_train_settings(wildcards):
    """What rule train_video uses of run ``wildcards.run``."""
    return {key: VIDEO_RUNS[wildcards.run][key] for key in rule_settings.VIDEO["train"]}


def video_predict_settings(wildcards):
    """What rule predict_clips uses of run ``wildcards.run``."""
    return {
        key: VIDEO_RUNS[wildcards.run][key] for key in rule_settings.VIDEO["predict"]
    }


def analysis_result(name):
    """A file under results/analysis/<run>/ (with the {run} wildcard)."""
    return str(Path("results/analysis/{run}") / name)


def beat_by_beat_settings(wildcards):
    """The beat-to-clip offset of this run and the sampling experiment (for beat_by_beat)."""
    run = VIDEO_RUNS[wildcards.run]
    offset = config["analysis"]["beat_offset"]
    return {
        "offset": (
            clip_offset(run["frames"], run["period"]) if offset is None else offset
        ),
        **config["analysis"]["sampling"],
        "seed": config["analysis"]["seed"],
    }


def analysis_metrics_settings(wildcards):
    """What rule analysis_metrics uses; one_clip draws with the run's seed, as the video stage does."""
    analysis = config["analysis"]
    return {
        "bootstrap_samples": analysis["bootstrap_samples"],
        "seed": analysis["seed"],
        "auc_thresholds": analysis["auc_thresholds"],
        "one_clip_seed": VIDEO_RUNS[wildcards.run]["seed"],
    }


def figure_settings():
    """The plotting options every figure rule uses."""
    return dict(config["analysis"]["figures"])


def ef_figure_settings(wildcards):
    """What rule ef_figures uses."""
    return {**figure_settings(), "auc_thresholds": config["analysis"]["auc_thresholds"]}


def figure_paths(folder, figures):
    """PNG and PDF path of each figure, keyed <name>_png / <name>_pdf."""
    return {
        f"{name}_{kind}": str(Path(folder) / f"{name}.{kind}")
        for name in figures
        for kind in FIGURE_FORMATS
    }


def figure_outputs(folder, figures, category, subcategory):
    """figure_paths, the PNGs marked for the report with their captions."""
    outputs = figure_paths(folder, figures)
    for name, label in figures.items():
        outputs[f"{name}_png"] = report(
            outputs[f"{name}_png"],
            caption=f"../report/{name}.rst",
            category=category,
            subcategory=subcategory,
            labels={"figure": label},
        )
    return outputs


def ef_figure_outputs():
    """The figures of one EF run."""
    return figure_outputs(analysis_result("figures"), EF_FIGURES, "EF runs", "{run}")


def segmentation_figure_outputs():
    """The segmentation stage's figures."""
    return figure_outputs(
        segmentation_result("figures"),
        SEGMENTATION_FIGURES,
        "Segmentation",
        "Training and Dice",
    )


def comparison_settings():
    """The settings of every run that the comparison table shows beside its numbers."""
    return {
        name: {
            key: run[key] for key in ("model", "frames", "period", "weights", "epochs")
        }
        for name, run in VIDEO_RUNS.items()
    }


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


# --- predicting on the user's own videos (target `predict`) ---------------------------------

PREDICT = config["predict"]
PREDICT_DIR = config["predict_dir"]


def predict_name():
    """The folder under results/predict/: predict.name, else the name of predict_dir."""
    if PREDICT["name"]:
        return PREDICT["name"]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", Path(PREDICT_DIR).resolve().name) or "videos"


def predict_result(name):
    """A file under results/predict/<name>/."""
    return str(Path("results/predict") / predict_name() / name)


def predict_settings(rule):
    """The slice of config["predict"] that prediction rule ``rule`` uses."""
    return {key: PREDICT[key] for key in rule_settings.PREDICT[rule]}


def model_label(path):
    """A column-safe label for a model file: its file name without suffix."""
    return re.sub(r"[^A-Za-z0-9_]", "_", Path(path).stem)


def predict_ef_models():
    """{label: weights file} of the EF models to predict with (this workflow's runs or files)."""
    chosen = PREDICT["ef"] if PREDICT["ef"] is not None else list(VIDEO_RUNS)
    models = {}
    for entry in chosen:
        if entry in VIDEO_RUNS:
            models[entry] = str(Path("results/video") / entry / "best.pt")
        elif Path(entry).is_file():
            models[model_label(entry)] = entry
        else:
            raise WorkflowError(
                f"predict.ef: {entry!r} is neither a run of video.runs ({', '.join(VIDEO_RUNS) or 'none'}) "
                "nor a weights file"
            )
    if not models:
        raise WorkflowError("predict.ef names no EF model, and video.runs has none")
    return models


def predict_segmentation_weights():
    """This workflow's segmentation best.pt, or the file predict.segmentation names."""
    chosen = PREDICT["segmentation"]
    if chosen is None or chosen == config["segmentation"]["name"]:
        return segmentation_result("best.pt")
    if not Path(chosen).is_file():
        raise WorkflowError(
            f"predict.segmentation: {chosen} is not a file (nor the workflow's segmentation.name)"
        )
    return chosen


def predict_ef_weights(wildcards):
    """The weights file of EF model ``wildcards.model``."""
    return predict_ef_models()[wildcards.model]


def predict_folder(wildcards):
    """The folder of videos; a clear error when predict_dir is not set."""
    if PREDICT_DIR is None:
        raise WorkflowError(
            "the predict target needs a folder of videos: snakemake predict --config predict_dir=path/to/videos"
        )
    if not Path(PREDICT_DIR).is_dir():
        raise WorkflowError(f"predict_dir {PREDICT_DIR} is not a folder")
    return PREDICT_DIR


def predict_outputs():
    """Everything the `predict` target asks for."""
    outputs = [
        predict_result("predictions.csv"),
        predict_result("report.html"),
    ]
    if PREDICT["overlays"]:
        outputs.append(predict_result("overlays"))
    if PREDICT["labels"]:
        outputs += [predict_result("metrics.csv"), predict_result("auc.csv")]
    return outputs


def predict_evaluation_settings():
    """The analysis stage's bootstrap and AUC thresholds, for predict_evaluation."""
    analysis = config["analysis"]
    return {
        key: analysis[key] for key in ("bootstrap_samples", "seed", "auc_thresholds")
    }
