"""Rule complexity_timing: parameters, FLOPs, time and peak memory per clip of each model and clip length."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.complexity import complexity_table

setup_logging(snakemake.log[0])
write_csv(snakemake.output.points, complexity_table(snakemake.params.settings, threads=snakemake.threads))
