"""Paths, models and params of the predict rules (target `predict`); included by common.smk, since
snakemake --lint wants functions apart from rules."""

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
