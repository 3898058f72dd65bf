"""Rule ef_figures: scatter, ROC, Bland-Altman, beat sampling and loss figures of one EF run."""

from echobeat.logs import setup_logging
from echobeat.stages.analysis import ef_figures

setup_logging(snakemake.log[0])
ef_figures(
    snakemake.params.settings,
    snakemake.input.table,
    snakemake.input.sampling,
    snakemake.input.log,
    dict(snakemake.output.items()),
    run=snakemake.wildcards.run,
)
