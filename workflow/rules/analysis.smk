"""Analysis: beat-by-beat EF, TEST metrics and AUCs, figures, the run comparison (all local, CPU)."""


rule beat_by_beat:
    input:
        predictions=video_result("test_predictions.csv"),
        sizes=segmentation_result("size.csv"),
        manifest=data_result("manifest.csv"),
    output:
        table=analysis_result("beat_by_beat.csv"),
        beats=analysis_result("beats.csv"),
        sampling=analysis_result("beat_sampling.csv"),
    log:
        "logs/beat_by_beat/{run}.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        settings=beat_by_beat_settings,
    script:
        "../scripts/beat_by_beat.py"


rule analysis_metrics:
    input:
        table=analysis_result("beat_by_beat.csv"),
        predictions=video_result("test_predictions.csv"),
        val_predictions=video_result("val_predictions.csv"),
        manifest=data_result("manifest.csv"),
    output:
        metrics=report(
            analysis_result("metrics.csv"),
            caption="../report/analysis_metrics.rst",
            category="EF runs",
            subcategory="{run}",
            labels={"run": "{run}", "table": "metrics"},
        ),
        auc=report(
            analysis_result("auc.csv"),
            caption="../report/auc.rst",
            category="EF runs",
            subcategory="{run}",
            labels={"run": "{run}", "table": "HFrEF AUC"},
        ),
    log:
        "logs/analysis_metrics/{run}.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        settings=analysis_metrics_settings,
    script:
        "../scripts/analysis_metrics.py"


rule ef_figures:
    input:
        table=analysis_result("beat_by_beat.csv"),
        sampling=analysis_result("beat_sampling.csv"),
        log=video_result("log.csv"),
    output:
        **figure_outputs(analysis_result("figures"), EF_FIGURES, "EF runs", "{run}"),
    log:
        "logs/ef_figures/{run}.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        settings=rule_settings.ef_figures_slice(config),
    script:
        "../scripts/ef_figures.py"


rule segmentation_figures:
    input:
        log=segmentation_result("log.csv"),
        dice=segmentation_result("test_dice.csv"),
    output:
        **figure_outputs(
            segmentation_result("figures"),
            SEGMENTATION_FIGURES,
            "Segmentation",
            "Training and Dice",
        ),
    log:
        "logs/segmentation_figures.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        settings=rule_settings.figures_slice(config),
    script:
        "../scripts/segmentation_figures.py"


rule compare_runs:
    input:
        metrics=expand(analysis_result("metrics.csv"), run=VIDEO_RUNS),
        auc=expand(analysis_result("auc.csv"), run=VIDEO_RUNS),
        dice=segmentation_result("dice.csv"),
    output:
        table=report(
            "results/analysis/comparison.csv",
            caption="../report/comparison.rst",
            category="Comparison",
            labels={"table": "runs against the paper"},
        ),
        markdown="results/analysis/comparison.md",
    log:
        "logs/compare_runs.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=rule_settings.comparison_slice(VIDEO_RUNS),
    script:
        "../scripts/compare_runs.py"
