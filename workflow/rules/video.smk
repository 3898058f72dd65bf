"""EF video stage: one training and one all-clip inference job per run (configured, or of an experiment grid)."""


wildcard_constraints:
    run=run_pattern(ALL_VIDEO_RUNS),


rule train_video:
    input:
        **video_data(),
    output:
        best=video_result("best.pt"),
        log=video_result("log.csv"),
        provenance=video_result("provenance.json"),
    log:
        "logs/train_video/{run}.log",
    benchmark:
        "logs/benchmarks/train_video/{run}.tsv"
    wildcard_constraints:
        run=run_pattern(TRAINED_RUNS),
    conda:
        "../../envs/torch.yaml"
    threads: config["video"]["threads"]
    resources:
        gpu=video_gpus,
        gpu_slots=video_gpu_slots,
        mem_mb=job_memory("train_video"),
        runtime=job_runtime("train_video"),
    params:
        settings=video_settings("train"),
    script:
        "../scripts/train_video.py"


rule import_video_weights:
    input:
        unpack(video_weights_input),
        manifest=data_result("manifest.csv"),
        normalisation=data_result("normalisation.json"),
    output:
        best=video_result("best.pt"),
        log=video_result("log.csv"),
        provenance=video_result("provenance.json"),
    log:
        "logs/import_video_weights/{run}.log",
    wildcard_constraints:
        run=run_pattern(EVALUATE_ONLY_RUNS),
    localrule: True
    conda:
        "../../envs/torch.yaml"
    params:
        settings=video_settings("import"),
    script:
        "../scripts/import_video_weights.py"


rule predict_clips:
    input:
        **video_data(),
        best=video_result("best.pt"),
    output:
        val=video_result("val_predictions.csv"),
        test=video_result("test_predictions.csv"),
    log:
        "logs/predict_clips/{run}.log",
    benchmark:
        "logs/benchmarks/predict_clips/{run}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["video"]["threads"]
    resources:
        gpu=1,
        gpu_slots=1,
        mem_mb=job_memory("predict_clips"),
        runtime=job_runtime("predict_clips"),
    params:
        settings=video_settings("predict"),
    script:
        "../scripts/predict_clips.py"
