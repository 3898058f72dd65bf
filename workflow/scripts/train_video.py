"""Rule train_video: train one EF run (resumes from checkpoint.pt)."""

from pathlib import Path

from echobeat.logs import setup_logging
from echobeat.stages.video import train

setup_logging(snakemake.log[0])
train(
    snakemake.params.settings,
    snakemake.input.manifest,
    snakemake.input.index,
    snakemake.input.normalisation,
    Path(snakemake.output.best).parent,
    threads=snakemake.threads,
    gpus=snakemake.resources.gpu,
)
