"""Rule experiment_complexity: the cost-per-clip figure from the timing table."""

from echobeat.logs import setup_logging
from echobeat.stages.experiments import complexity_figure

setup_logging(snakemake.log[0])
complexity_figure(
    snakemake.params.settings, snakemake.input.points, [snakemake.output.figure_png, snakemake.output.figure_pdf]
)
