"""The keys of a config section that each rule hands its stage function (its ``params.settings``).

A rule gets exactly these keys, so that an edit of a key reruns only the rules that read it
(``--rerun-triggers params``). ``workflow/rules/common.smk`` builds every rule's slice from
here, and tests/test_rule_settings.py checks that each stage function reads no key outside
its rule's list. Light on purpose: the Snakefile imports it.
"""

from __future__ import annotations

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

# config["predict"] keys per rule of the prediction workflow.
PREDICT = {
    "convert": ("preprocess", "fps"),
    "sizes": ("segmentation_model", "normalisation", "device", "precision", "frame_batch_size", "beats"),
    "ef": ("normalisation", "device", "precision", "inference_batch_size", "clips"),
    "table": ("clips", "beat_sd_flag"),
}

# config["data"] keys that shape verification (threads change nothing).
VERIFY = ("on_error", "repeated_tracings", "ef_tolerance", "fps_tolerance", "frame_size")
