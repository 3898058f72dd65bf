"""Input functions, params and report outputs of the stage rules.

Snakemake's lint wants functions out of the files that hold rules: data.smk, segmentation.smk,
video.smk and analysis.smk call these. Each params slice is cut by
workflow/scripts/echobeat/stages/rule_settings.py.
"""

import pandas as pd

from echobeat.data.names import SYNTHETIC_MARKER, avi_name

# --- data stage


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


# --- segmentation stage


def segmentation_weights_input(wildcards):
    """The segmentation weights file an evaluate-only segmentation run imports."""
    return weights_file_input(
        SEGMENTATION_RUNS[wildcards.seg_run]["weights"], "segmentation"
    )


def segmentation_settings(rule):
    """Input function: what segmentation rule ``rule`` (a key of rule_settings.SEGMENTATION)
    receives of segmentation run ``wildcards.seg_run``."""

    def settings(wildcards):
        return rule_settings.segmentation_slice(
            SEGMENTATION_RUNS[wildcards.seg_run], rule
        )

    return settings


# --- EF video stage


def video_weights_input(wildcards):
    """The weights file an evaluate-only run imports."""
    return weights_file_input(ALL_VIDEO_RUNS[wildcards.run]["weights"], "video")


def video_gpus(wildcards):
    """The GPUs train_video asks for (and starts a DDP process on each of): its run's gpus, at
    most the real GPUs when GPU jobs share them (see gpu_sharing.smk)."""
    return job_gpus(ALL_VIDEO_RUNS[wildcards.run]["gpus"])


def video_gpu_slots(wildcards):
    """The GPU slots train_video takes: one on one GPU, jobs_per_gpu per GPU on several."""
    return gpu_slots(video_gpus(wildcards))


def video_settings(rule):
    """Input function: what video rule ``rule`` (a key of rule_settings.VIDEO) receives of run
    ``wildcards.run``."""

    def settings(wildcards):
        return rule_settings.video_slice(ALL_VIDEO_RUNS[wildcards.run], rule)

    return settings


# --- analysis


def beat_by_beat_settings(wildcards):
    """What rule beat_by_beat receives for run ``wildcards.run``."""
    return rule_settings.beat_by_beat_slice(config, ALL_VIDEO_RUNS[wildcards.run])


def analysis_metrics_settings(wildcards):
    """What rule analysis_metrics receives for run ``wildcards.run``."""
    return rule_settings.analysis_metrics_slice(config, ALL_VIDEO_RUNS[wildcards.run])


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
