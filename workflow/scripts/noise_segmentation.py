"""Rule noise_segmentation: TEST Dice and size.csv of the segmentation model at one noise level."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.noise import noisy_segmentation

setup_logging(snakemake.log[0])
dice, sizes = noisy_segmentation(
    snakemake.params.settings,
    snakemake.input.best,
    snakemake.input.manifest,
    snakemake.input.tracings,
    snakemake.input.index,
    snakemake.input.normalisation,
    **snakemake.params.noise,  # level and seed
    threads=snakemake.threads,
)
write_csv(snakemake.output.dice, dice)
write_csv(snakemake.output.sizes, sizes)
