"""Rule predict_sizes: the segmentation model on every frame: size.csv with the detected beats, and masks."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.predict import sizes

setup_logging(snakemake.log[0])
table = sizes(
    snakemake.params.settings,
    snakemake.input.weights,
    snakemake.input.inputs,
    snakemake.input.index,
    snakemake.output.masks,
    threads=snakemake.threads,
)
write_csv(snakemake.output.sizes, table)
