"""Rule noise_ef: every TEST clip's EF prediction of one run at one noise level."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.noise import clips_under_noise

setup_logging(snakemake.log[0])
predictions = clips_under_noise(
    snakemake.params.settings,
    snakemake.params.noise,
    snakemake.input.best,
    snakemake.input.manifest,
    snakemake.input.index,
    snakemake.input.normalisation,
    threads=snakemake.threads,
)
write_csv(snakemake.output.predictions, predictions)
