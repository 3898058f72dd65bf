"""The paper's training experiments (docs/experiments.md): one table rule per family, and the targets.

The grid points are ordinary runs of the video and segmentation stages (their {run} and {seg_run}
wildcards); these rules only read what those runs wrote.
"""


rule experiment_sweep:
    input:
        unpack(experiment_inputs("sweep")),
    output:
        **experiment_outputs("sweep"),
    log:
        "logs/experiments/sweep.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        family="sweep",
        settings=experiment_settings("sweep"),
    script:
        "../scripts/experiment_table.py"


rule experiment_training_size:
    input:
        unpack(experiment_inputs("training_size")),
    output:
        **experiment_outputs("training_size"),
    log:
        "logs/experiments/training_size.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        family="training_size",
        settings=experiment_settings("training_size"),
    script:
        "../scripts/experiment_table.py"


rule experiment_seeds:
    input:
        unpack(experiment_inputs("seeds")),
    output:
        **experiment_outputs("seeds"),
    log:
        "logs/experiments/seeds.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        family="seeds",
        settings=experiment_settings("seeds"),
    script:
        "../scripts/experiment_table.py"


rule experiments:
    input:
        experiment_targets(EXPERIMENT_FAMILIES),
    localrule: True


rule sweep:
    input:
        experiment_targets(["sweep"]),
    localrule: True


rule training_size:
    input:
        experiment_targets(["training_size"]),
    localrule: True


rule seeds:
    input:
        experiment_targets(["seeds"]),
    localrule: True


# --- noise, complexity, loss curves: the trained models in new conditions (no training) ---


wildcard_constraints:
    noise_level=run_pattern(NOISE_LEVELS),


rule noise_segmentation:
    input:
        **segmentation_data(),
        best=segmentation_result("best.pt"),
    output:
        dice=experiment_result("noise/segmentation/level_{noise_level}/dice.csv"),
        sizes=experiment_result("noise/segmentation/level_{noise_level}/size.csv"),
    log:
        "logs/noise_segmentation/level_{noise_level}.log",
    benchmark:
        "logs/benchmarks/noise_segmentation/level_{noise_level}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["segmentation"]["threads"]
    resources:
        gpu=1,
        gpu_slots=1,
        mem_mb=job_memory("noise_segmentation"),
        runtime=job_runtime("noise_segmentation"),
    params:
        settings=rule_settings.segmentation_slice(config["segmentation"], "noise"),
        noise=noise_level_settings,
    script:
        "../scripts/noise_segmentation.py"


rule noise_ef:
    input:
        **video_data(),
        best=video_result("best.pt"),
    output:
        predictions=experiment_result(
            "noise/ef/{run}/level_{noise_level}/test_predictions.csv"
        ),
    log:
        "logs/noise_ef/{run}/level_{noise_level}.log",
    benchmark:
        "logs/benchmarks/noise_ef/{run}/level_{noise_level}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["video"]["threads"]
    resources:
        gpu=1,
        gpu_slots=1,
        mem_mb=job_memory("noise_ef"),
        runtime=job_runtime("noise_ef"),
    params:
        settings=video_settings("predict"),
        noise=noise_level_settings,
    script:
        "../scripts/noise_ef.py"


rule noise_examples:
    input:
        manifest=data_result("manifest.csv"),
        index=data_result("cache/index.csv"),
    output:
        examples=experiment_result("noise/examples.npz"),
    log:
        "logs/noise_examples.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=job_memory("noise_examples"),
        runtime=job_runtime("noise_examples"),
    params:
        settings=noise_examples_settings(),
    script:
        "../scripts/noise_examples.py"


rule experiment_noise:
    input:
        unpack(noise_table_inputs),
    output:
        **noise_outputs(),
    log:
        "logs/experiments/noise.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        settings=noise_table_settings(),
    script:
        "../scripts/experiment_noise.py"


rule complexity_timing:
    output:
        points=report(
            experiment_result("complexity/points.csv"),
            caption="../report/complexity_points.rst",
            category="Experiments",
            subcategory=EXPERIMENT_FIGURES["complexity"],
            labels={"experiment": "complexity", "table": "points"},
        ),
    log:
        "logs/complexity_timing.log",
    benchmark:
        "logs/benchmarks/complexity_timing.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["video"]["threads"]
    resources:
        gpu=1,
        gpu_slots=1,
        mem_mb=job_memory("complexity_timing"),
        runtime=job_runtime("complexity_timing"),
    params:
        settings=rule_settings.complexity_slice(config),
    script:
        "../scripts/complexity_timing.py"


rule experiment_complexity:
    input:
        points=experiment_result("complexity/points.csv"),
    output:
        **experiment_figure_outputs("complexity"),
    log:
        "logs/experiments/complexity.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        settings=rule_settings.figures_slice(config),
    script:
        "../scripts/experiment_complexity.py"


rule experiment_loss_curves:
    input:
        unpack(loss_curve_inputs),
    output:
        **loss_curve_outputs(),
    log:
        "logs/experiments/loss_curves.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        settings=rule_settings.figures_slice(config),
    script:
        "../scripts/experiment_loss_curves.py"


rule noise:
    input:
        experiment_targets(["noise"]),
    localrule: True


rule complexity:
    input:
        experiment_targets(["complexity"]),
    localrule: True


rule loss_curves:
    input:
        experiment_targets(["loss_curves"]),
    localrule: True
