"""Rule noise_ef: every TEST clip's EF prediction of one run at one noise level."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.noise import noisy_clip_predictions

setup_logging(snakemake.log[0])
predictions = noisy_clip_predictions(
    snakemake.params.settings,
    snakemake.input.best,
    snakemake.input.manifest,
    snakemake.input.index,
    snakemake.input.normalisation,
    **snakemake.params.noise,  # level and seed
    threads=snakemake.threads,
)
write_csv(snakemake.output.predictions, predictions)
