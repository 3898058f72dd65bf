"""Segmentation stage: train the LV model, measure Dice, and write size.csv with beats."""


wildcard_constraints:
    seg_run=run_pattern(SEGMENTATION_RUNS),


rule train_segmentation:
    input:
        **segmentation_data(),
    output:
        best=segmentation_run_result("best.pt"),
        log=segmentation_run_result("log.csv"),
        provenance=segmentation_run_result("provenance.json"),
    log:
        "logs/train_segmentation/{seg_run}.log",
    benchmark:
        "logs/benchmarks/train_segmentation/{seg_run}.tsv"
    wildcard_constraints:
        seg_run=run_pattern(TRAINED_SEGMENTATION_RUNS),
    conda:
        "../../envs/torch.yaml"
    threads: config["segmentation"]["threads"]
    resources:
        gpu=1,
        gpu_slots=1,
        mem_mb=job_memory("train_segmentation"),
        runtime=job_runtime("train_segmentation"),
    params:
        settings=segmentation_settings("train"),
    script:
        "../scripts/train_segmentation.py"


rule import_segmentation_weights:
    input:
        unpack(segmentation_weights_input),
        normalisation=data_result("normalisation.json"),
    output:
        best=segmentation_run_result("best.pt"),
        log=segmentation_run_result("log.csv"),
        provenance=segmentation_run_result("provenance.json"),
    log:
        "logs/import_segmentation_weights/{seg_run}.log",
    wildcard_constraints:
        seg_run=run_pattern(EVALUATE_ONLY_SEGMENTATION_RUNS),
    localrule: True
    conda:
        "../../envs/torch.yaml"
    params:
        settings=segmentation_settings("import"),
    script:
        "../scripts/import_segmentation_weights.py"


rule evaluate_segmentation:
    input:
        **segmentation_data(),
        best=segmentation_run_result("best.pt"),
    output:
        dice=segmentation_run_result("dice.csv"),
        val=segmentation_run_result("val_dice.csv"),
        test=segmentation_run_result("test_dice.csv"),
    log:
        "logs/evaluate_segmentation/{seg_run}.log",
    benchmark:
        "logs/benchmarks/evaluate_segmentation/{seg_run}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["segmentation"]["threads"]
    resources:
        gpu=1,
        gpu_slots=1,
        mem_mb=job_memory("evaluate_segmentation"),
        runtime=job_runtime("evaluate_segmentation"),
    params:
        settings=segmentation_settings("evaluate"),
    script:
        "../scripts/evaluate_segmentation.py"


rule segment_all_frames:
    input:
        **segmentation_data(),
        best=segmentation_result("best.pt"),
    output:
        sizes=segmentation_result("size.csv"),
    log:
        "logs/segment_all_frames.log",
    benchmark:
        "logs/benchmarks/segment_all_frames.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["segmentation"]["threads"]
    resources:
        gpu=1,
        gpu_slots=1,
        mem_mb=job_memory("segment_all_frames"),
        runtime=job_runtime("segment_all_frames"),
    params:
        settings=rule_settings.segmentation_slice(config["segmentation"], "sizes"),
    script:
        "../scripts/segment_all_frames.py"


rule segmentation_overlays:
    input:
        **segmentation_data(),
        best=segmentation_result("best.pt"),
        sizes=segmentation_result("size.csv"),
    output:
        overlays=report(
            directory(segmentation_result("overlays")),
            patterns=["{video}.png"],
            caption="../report/overlays.rst",
            category="Segmentation",
            subcategory="Size traces",
            labels={"video": "{video}"},
        ),
    log:
        "logs/segmentation_overlays.log",
    conda:
        "../../envs/torch.yaml"
    threads: config["segmentation"]["threads"]
    resources:
        gpu=1,
        gpu_slots=1,
        mem_mb=job_memory("segmentation_overlays"),
        runtime=job_runtime("segmentation_overlays"),
    params:
        settings=rule_settings.segmentation_slice(config["segmentation"], "overlays"),
    script:
        "../scripts/segmentation_overlays.py"
