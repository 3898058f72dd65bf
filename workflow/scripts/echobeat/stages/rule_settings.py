"""What the workflow's rules take from the library: each rule's settings slice, and the facts the rules share.

A rule's ``params.settings`` holds exactly the config keys its stage function reads, so that an
edit of a key reruns only the rules that read it (``--rerun-triggers params``). The key lists
and the functions that cut a rule's slice out of the config live here, as plain Python taking
the config dict (no Snakemake object), so that ``workflow/rules/common.smk`` only calls them and
``tests/test_layout.py`` can check each slice against what its stage function reads.

Also here: the rules that ask for a GPU, the weights values that name torchvision's weights
rather than a file, and each figure rule's figure names. The Snakefile imports this module on
every parse (every SLURM job parses it again), so it imports neither torch nor matplotlib.
"""

from __future__ import annotations

from echobeat.analysis.comparison import RUN_SETTINGS
from echobeat.data.clips import clip_offset
from echobeat.errors import UserError

# config["segmentation"] keys per rule.
SEGMENTATION = {
    "train": (
        "model",
        "weights",
        "epochs",
        "batch_size",
        "optimizer",
        "lr",
        "momentum",
        "weight_decay",
        "lr_step",
        "lr_gamma",
        "seed",
        "bn_momentum",
        "device",
        "precision",
        "inference_batch_size",
        "compile",
    ),
    # Evaluate-only (epochs: 0): best.pt from the given weights.
    "import": ("model", "weights", "seed", "precision"),
    "evaluate": ("model", "device", "precision", "inference_batch_size", "bootstrap_samples", "seed", "compile"),
    "sizes": ("model", "device", "precision", "inference_batch_size", "size_splits", "beats", "compile"),
    "overlays": ("model", "device", "precision", "inference_batch_size", "overlays"),
    # The noise experiment: Dice and size.csv of TEST under noise (evaluation's and sizes' keys).
    "noise": ("model", "device", "precision", "inference_batch_size", "beats", "compile"),
}

# Keys of one EF run (config video.defaults overlaid with the run) per rule.
VIDEO = {
    "train": (
        "model",
        "frames",
        "period",
        "weights",
        "epochs",
        "batch_size",
        "optimizer",
        "lr",
        "momentum",
        "weight_decay",
        "lr_step",
        "lr_gamma",
        "pad",
        "crop",
        "bias_init",
        "seed",
        "device",
        "precision",
        "inference_batch_size",
        "compile",
    ),
    "import": ("model", "frames", "period", "weights", "bias_init", "seed", "precision"),
    "predict": ("model", "frames", "period", "device", "precision", "inference_batch_size", "compile"),
}

# Keys a training slice carries only for a run on a TRAIN subset (the training-size experiment),
# so that every other run's slice, and the checkpoint it resumes from, stays as it was.
SUBSET = ("train_videos", "subset_seed")

# Training-slice keys that change where and how fast a run computes, not the model it trains: a
# checkpoint made with other values resumes, and an experiment point differing only in them is the
# same run.
NOT_IDENTITY = ("device", "inference_batch_size", "compile")

# config["predict"] keys per rule of the prediction workflow.
PREDICT = {
    "convert": ("preprocess", "fps"),
    "sizes": ("segmentation_model", "normalisation", "device", "precision", "frame_batch_size", "beats"),
    "ef": ("normalisation", "device", "precision", "inference_batch_size", "clips"),
    "table": ("clips", "beat_sd_flag"),
}

# config["data"] keys that shape verification (threads change nothing).
VERIFY = ("on_error", "repeated_tracings", "ef_tolerance", "fps_tolerance", "frame_size")

# config["analysis"] keys per rule (beat_by_beat adds the sampling section and its run's offset,
# analysis_metrics its run's seed, ef_figures the figures section).
ANALYSIS = {
    "beat_by_beat": ("seed",),
    "analysis_metrics": ("bootstrap_samples", "seed", "auc_thresholds"),
    "ef_figures": ("auc_thresholds",),
    "predict_evaluation": ("bootstrap_samples", "seed", "auc_thresholds"),
}

# The rules that declare `resources: gpu` (train_video: its run's gpus; the others 1). Locally
# they wait for a GPU; profiles/slurm sends exactly these to a GPU partition.
GPU_RULES = frozenset(
    {
        "train_segmentation",
        "evaluate_segmentation",
        "segment_all_frames",
        "segmentation_overlays",
        "train_video",
        "predict_clips",
        "predict_sizes",
        "predict_ef",
        "noise_segmentation",
        "noise_ef",
        "complexity_timing",
    }
)

# `weights` values that name torchvision's weights rather than a file, per stage
# (models.segmentation.SEGMENTATION_WEIGHTS and models.video build them).
NAMED_WEIGHTS = {
    "segmentation": ("imagenet_backbone", "random", "pretrained"),
    "video": ("pretrained", "random"),
}

# Each figure's name (its file names, its caption workflow/report/<name>.rst) and its label in the report.
EF_FIGURES = {
    "ef_scatter": "predicted vs true EF",
    "roc": "HFrEF ROC curves",
    "bland_altman": "Bland-Altman",
    "beat_sampling": "MAE against beats",
    "loss": "loss curves",
}
SEGMENTATION_FIGURES = {
    "segmentation_loss": "loss curves",
    "dice_histogram": "Dice per video",
}
FIGURE_FORMATS = ("png", "pdf")


class ConfigError(UserError):
    """A combination of config values that the schema cannot express (the message names the key)."""


def verify_slice(config: dict) -> dict:
    """Rule verify_dataset: the config["data"] keys that shape verification."""
    return {key: config["data"][key] for key in VERIFY}


def synthetic_slice(config: dict) -> dict:
    """Rule synthetic_dataset: config["synthetic"] without threads (the files do not depend on them)."""
    return {key: value for key, value in config["synthetic"].items() if key != "threads"}


def normalisation_slice(config: dict) -> dict:
    """Rule normalisation: the whole config["normalisation"] section."""
    return dict(config["normalisation"])


def segmentation_slice(run: dict, rule: str) -> dict:
    """The keys of a segmentation run (config["segmentation"], or an experiment's run) that
    segmentation rule ``rule`` (a key of SEGMENTATION) uses."""
    return {key: run[key] for key in SEGMENTATION[rule]} | _subset(run, rule)


def _subset(run: dict, rule: str) -> dict:
    """The subset keys of a training rule's slice, for a run on a TRAIN subset only."""
    if rule != "train" or run.get("train_videos") is None:
        return {}
    return {key: run[key] for key in SUBSET}


def video_runs(config: dict) -> dict[str, dict]:
    """Every configured EF run: video.defaults overlaid with the run's own keys.

    A run set to null is dropped (how a layered config removes a run of the base config).
    Raises :class:`ConfigError` for what the schema cannot check across defaults and run: an
    evaluate-only run (epochs: 0) with random weights, and a batch that does not split evenly
    across the run's GPUs.
    """
    runs = {
        name: {**config["video"]["defaults"], **(settings or {})}
        for name, settings in config["video"]["runs"].items()
        if settings is not None
    }
    for name, run in runs.items():
        if run["epochs"] == 0 and run["weights"] == "random":
            raise ConfigError(
                f"video run {name}: epochs: 0 evaluates the given weights without training, and "
                "weights is random; give the path of a weights file (or set epochs)."
            )
        # Each GPU takes an equal share of every batch.
        if run["batch_size"] % run["gpus"]:
            raise ConfigError(
                f"video run {name}: batch_size {run['batch_size']} does not split evenly across "
                f"gpus: {run['gpus']}; make batch_size a multiple of gpus."
            )
    return runs


def video_slice(run: dict, rule: str) -> dict:
    """The keys of one merged EF run (from :func:`video_runs`) that video rule ``rule`` uses."""
    return {key: run[key] for key in VIDEO[rule]} | _subset(run, rule)


def training_identity(run: dict, stage: str) -> dict:
    """What makes two runs of a stage (``video`` or ``segmentation``) train the same model: their
    training slice without :data:`NOT_IDENTITY`."""
    train = video_slice(run, "train") if stage == "video" else segmentation_slice(run, "train")
    return {key: value for key, value in train.items() if key not in NOT_IDENTITY}


def beat_by_beat_slice(config: dict, run: dict) -> dict:
    """Rule beat_by_beat of one run: the beat-to-clip offset, the sampling experiment and its seed.

    The offset is analysis.beat_offset, or when that is null half the run's clip span
    (:func:`echobeat.data.clips.clip_offset`), so that each beat's clip is centred on it.
    """
    analysis = config["analysis"]
    offset = analysis["beat_offset"]
    return {
        "offset": clip_offset(run["frames"], run["period"]) if offset is None else offset,
        **analysis["sampling"],
        **{key: analysis[key] for key in ANALYSIS["beat_by_beat"]},
    }


def analysis_metrics_slice(config: dict, run: dict) -> dict:
    """Rule analysis_metrics of one run; one_clip draws with the run's seed, as the EF stage does."""
    return {**{key: config["analysis"][key] for key in ANALYSIS["analysis_metrics"]}, "one_clip_seed": run["seed"]}


def figures_slice(config: dict) -> dict:
    """The plotting options every figure rule uses (rule segmentation_figures takes just these)."""
    return dict(config["analysis"]["figures"])


def ef_figures_slice(config: dict) -> dict:
    """Rule ef_figures: the plotting options and the HFrEF thresholds of the ROC figure."""
    return {**figures_slice(config), **{key: config["analysis"][key] for key in ANALYSIS["ef_figures"]}}


def comparison_slice(runs: dict[str, dict]) -> dict[str, dict]:
    """Rule compare_runs: the settings of every run (from :func:`video_runs`) that the table shows."""
    return {name: {key: run[key] for key in RUN_SETTINGS} for name, run in runs.items()}


def complexity_slice(config: dict) -> dict:
    """Rule complexity_timing: the whole config["experiments"]["complexity"] section."""
    return dict(config["experiments"]["complexity"])


def predict_slice(config: dict, rule: str) -> dict:
    """The config["predict"] keys of prediction rule ``rule`` (a key of PREDICT)."""
    return {key: config["predict"][key] for key in PREDICT[rule]}


def predict_evaluation_slice(config: dict) -> dict:
    """Rule predict_evaluation: the analysis stage's bootstrap and HFrEF thresholds."""
    return {key: config["analysis"][key] for key in ANALYSIS["predict_evaluation"]}
