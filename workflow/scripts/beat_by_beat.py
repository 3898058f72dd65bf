"""Rule beat_by_beat: the R script's beat-by-beat EF of one run, and the beat sampling experiment."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.analysis import beat_by_beat

setup_logging(snakemake.log[0])
table, beats, sampling = beat_by_beat(
    snakemake.params.settings,
    snakemake.input.predictions,
    snakemake.input.sizes,
    snakemake.input.manifest,
)
write_csv(snakemake.output.table, table)
write_csv(snakemake.output.beats, beats)
write_csv(snakemake.output.sampling, sampling)
