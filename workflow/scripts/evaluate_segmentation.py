"""Rule evaluate_segmentation: Dice on VAL and TEST with bootstrap intervals, per-video Dice."""

from echobeat.logs import setup_logging
from echobeat.stages.segmentation import evaluate, write_evaluation

setup_logging(snakemake.log[0])
summary, per_video = evaluate(
    snakemake.params.settings,
    snakemake.input.best,
    snakemake.input.manifest,
    snakemake.input.tracings,
    snakemake.input.index,
    snakemake.input.normalisation,
    threads=snakemake.threads,
)
write_evaluation(summary, per_video, snakemake.output.dice, snakemake.output.val, snakemake.output.test)
