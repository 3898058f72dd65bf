"""Predicting on the user's own videos (target `predict`): no label, the same inference as the dataset's."""

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
