"""Rule experiment_<family>: one family's tidy tables (points, summary, learning curve) and figure."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.experiments import experiment_figure, experiment_tables

setup_logging(snakemake.log[0])
family = snakemake.params.family
inputs = {key: list(files) for key, files in snakemake.input.items()}
tables = experiment_tables(family, snakemake.params.settings, inputs)
for name, table in tables.items():
    write_csv(snakemake.output[name], table)
experiment_figure(family, snakemake.params.settings, tables, [snakemake.output.figure_png, snakemake.output.figure_pdf])
