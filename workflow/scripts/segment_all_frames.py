"""Rule segment_all_frames: LV size on every frame, detected beats, size.csv."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.segmentation import sizes

setup_logging(snakemake.log[0])
table = sizes(
    snakemake.params.settings,
    snakemake.input.best,
    snakemake.input.manifest,
    snakemake.input.index,
    snakemake.input.normalisation,
    threads=snakemake.threads,
)
write_csv(snakemake.output.sizes, table)
