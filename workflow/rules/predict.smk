"""Predicting on the user's own videos (target `predict`): no label, the same inference as the dataset's."""

# --- paths, models and params of the predict rules ------------------------------------------

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


if PREDICT_DIR is not None:

    wildcard_constraints:
        model="[A-Za-z0-9_]+",

    rule predict_convert:
        input:
            videos=predict_folder,
        output:
            inputs=predict_result("inputs.csv"),
            index=predict_result("cache/index.csv"),
        log:
            "logs/predict/convert.log",
        benchmark:
            "logs/benchmarks/predict/convert.tsv"
        conda:
            "../../envs/torch.yaml"
        threads: PREDICT["threads"]
        resources:
            mem_mb=job_memory("predict_convert"),
            runtime=job_runtime("predict_convert"),
        params:
            settings=rule_settings.predict_slice(config, "convert"),
        script:
            "../scripts/predict_convert.py"

    rule predict_sizes:
        input:
            inputs=predict_result("inputs.csv"),
            index=predict_result("cache/index.csv"),
            weights=predict_segmentation_weights(),
        output:
            sizes=predict_result("size.csv"),
            masks=directory(predict_result("masks")),
        log:
            "logs/predict/sizes.log",
        benchmark:
            "logs/benchmarks/predict/sizes.tsv"
        conda:
            "../../envs/torch.yaml"
        threads: PREDICT["threads"]
        resources:
            gpu=1,
            gpu_slots=1,
            mem_mb=job_memory("predict_sizes"),
            runtime=job_runtime("predict_sizes"),
        params:
            settings=rule_settings.predict_slice(config, "sizes"),
        script:
            "../scripts/predict_sizes.py"

    rule predict_ef:
        input:
            inputs=predict_result("inputs.csv"),
            index=predict_result("cache/index.csv"),
            sizes=predict_result("size.csv"),
            weights=predict_ef_weights,
        output:
            clips=predict_result("clips/{model}.csv"),
        log:
            "logs/predict/ef_{model}.log",
        benchmark:
            "logs/benchmarks/predict/ef_{model}.tsv"
        conda:
            "../../envs/torch.yaml"
        threads: PREDICT["threads"]
        resources:
            gpu=1,
            gpu_slots=1,
            mem_mb=job_memory("predict_ef"),
            runtime=job_runtime("predict_ef"),
        params:
            settings=rule_settings.predict_slice(config, "ef"),
        script:
            "../scripts/predict_ef.py"

    rule predict_table:
        input:
            inputs=predict_result("inputs.csv"),
            sizes=predict_result("size.csv"),
            masks=predict_result("masks"),
            clips=expand(predict_result("clips/{model}.csv"), model=predict_ef_models()),
        output:
            predictions=report(
                predict_result("predictions.csv"),
                caption="../report/predictions.rst",
                category="Predictions",
                labels={"table": "per video"},
            ),
            beats=predict_result("beats.csv"),
            clips=predict_result("clips.csv"),
        log:
            "logs/predict/table.log",
        localrule: True
        conda:
            "../../envs/torch.yaml"
        params:
            settings=rule_settings.predict_slice(config, "table"),
        script:
            "../scripts/predict_table.py"

    rule predict_overlays:
        input:
            inputs=predict_result("inputs.csv"),
            index=predict_result("cache/index.csv"),
            sizes=predict_result("size.csv"),
            masks=predict_result("masks"),
        output:
            overlays=directory(predict_result("overlays")),
        log:
            "logs/predict/overlays.log",
        localrule: True
        conda:
            "../../envs/torch.yaml"
        script:
            "../scripts/predict_overlays.py"

    rule predict_report:
        input:
            predictions=predict_result("predictions.csv"),
            beats=predict_result("beats.csv"),
            sizes=predict_result("size.csv"),
            index=predict_result("cache/index.csv"),
        output:
            report=report(
                predict_result("report.html"),
                caption="../report/predict_report.rst",
                category="Predictions",
                labels={"table": "report per video"},
            ),
        log:
            "logs/predict/report.log",
        localrule: True
        conda:
            "../../envs/torch.yaml"
        script:
            "../scripts/predict_report.py"

    rule predict_evaluation:
        input:
            predictions=predict_result("predictions.csv"),
            labels=PREDICT["labels"] or [],
        output:
            metrics=predict_result("metrics.csv"),
            auc=predict_result("auc.csv"),
        log:
            "logs/predict/evaluation.log",
        localrule: True
        conda:
            "../../envs/analysis.yaml"
        params:
            models=list(predict_ef_models()),
            settings=rule_settings.predict_evaluation_slice(config),
        script:
            "../scripts/predict_evaluation.py"


rule predict:
    input:
        predict_outputs() if PREDICT_DIR is not None else predict_folder,
