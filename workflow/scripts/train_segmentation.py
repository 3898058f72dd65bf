"""Rule train_segmentation: train the LV segmentation model (resumes from checkpoint.pt)."""

from pathlib import Path

from echobeat.logs import setup_logging
from echobeat.stages.segmentation import train

setup_logging(snakemake.log[0])
train(
    snakemake.params.settings,
    snakemake.input.manifest,
    snakemake.input.tracings,
    snakemake.input.index,
    snakemake.input.normalisation,
    Path(snakemake.output.best).parent,
    threads=snakemake.threads,
)
