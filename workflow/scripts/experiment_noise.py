"""Rule experiment_noise: the noise table (one row per run and level), its figure and the example frames."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.experiments import noise_figures, noise_table

setup_logging(snakemake.log[0])
inputs = dict(snakemake.input.items())
table = noise_table(snakemake.params.settings, inputs)
write_csv(snakemake.output.points, table)
noise_figures(snakemake.params.settings, table, inputs["examples"], dict(snakemake.output.items()))
