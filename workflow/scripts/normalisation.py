"""Rule normalisation: per-channel mean and std of the training split, or the ones the config gives."""

from echobeat.logs import setup_logging
from echobeat.stages.data import normalisation

setup_logging(snakemake.log[0])
normalisation(snakemake.params.settings, snakemake.input.manifest, snakemake.input.index, snakemake.output.stats)
