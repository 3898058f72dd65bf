"""Data stage: the synthetic dataset (when asked for) and dataset verification."""

if config["dataset"] == "synthetic":

    guard_synthetic_target()

    rule synthetic_dataset:
        output:
            filelist=dataset_path("FileList.csv"),
            tracings=dataset_path("VolumeTracings.csv"),
            videos=directory(dataset_path("Videos")),
            marker=dataset_path(SYNTHETIC_MARKER),
        log:
            "logs/synthetic_dataset.log",
        benchmark:
            "logs/benchmarks/synthetic_dataset.tsv"
        conda:
            "../../envs/data.yaml"
        threads: config["synthetic"]["threads"]
        resources:
            mem_mb=job_memory("synthetic_dataset"),
            runtime=job_runtime("synthetic_dataset"),
        params:
            settings=rule_settings.synthetic_slice(config),
        script:
            "../scripts/synthetic_dataset.py"

    rule predict_examples:
        input:
            filelist=dataset_path("FileList.csv"),
            videos=dataset_path("Videos"),
        output:
            examples=directory(predict_examples_dir()),
        log:
            "logs/predict_examples.log",
        localrule: True
        conda:
            "../../envs/data.yaml"
        script:
            "../scripts/predict_examples.py"


checkpoint verify_dataset:
    input:
        unpack(dataset_inputs),
    output:
        manifest=data_result("manifest.csv"),
        excluded=data_result("excluded.csv"),
        tracings=data_result("tracings.csv"),
        report=data_result("verify_report.md"),
    log:
        "logs/verify_dataset.log",
    benchmark:
        "logs/benchmarks/verify_dataset.tsv"
    conda:
        "../../envs/data.yaml"
    threads: config["data"]["threads"]
    resources:
        mem_mb=job_memory("verify_dataset"),
        runtime=job_runtime("verify_dataset"),
    params:
        settings=rule_settings.verify_slice(config),
    script:
        "../scripts/verify_dataset.py"


rule cache_videos:
    input:
        unpack(cache_inputs),
    output:
        index=data_result("cache/index.csv"),
    log:
        "logs/cache_videos.log",
    benchmark:
        "logs/benchmarks/cache_videos.tsv"
    conda:
        "../../envs/data.yaml"
    threads: config["cache"]["threads"]
    resources:
        mem_mb=job_memory("cache_videos"),
        runtime=job_runtime("cache_videos"),
    params:
        videos_dir=dataset_path("Videos"),
    script:
        "../scripts/cache_videos.py"


rule normalisation:
    input:
        manifest=data_result("manifest.csv"),
        index=data_result("cache/index.csv"),
    output:
        stats=data_result("normalisation.json"),
    log:
        "logs/normalisation.log",
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        settings=rule_settings.normalisation_slice(config),
    script:
        "../scripts/normalisation.py"
