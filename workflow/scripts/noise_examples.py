"""Rule noise_examples: one TEST frame at every noise level, for the figure."""

from echobeat.logs import setup_logging
from echobeat.stages.noise import write_examples

setup_logging(snakemake.log[0])
write_examples(snakemake.params.settings, snakemake.input.manifest, snakemake.input.index, snakemake.output.examples)
