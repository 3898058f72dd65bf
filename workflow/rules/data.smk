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
            mem_mb=2000,
            runtime=30,
        params:
            settings=synthetic_settings(),
        script:
            "../scripts/synthetic_dataset.py"


rule verify_dataset:
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
        mem_mb=4000,
        runtime=120,
    params:
        settings=verify_settings(),
    script:
        "../scripts/verify_dataset.py"
