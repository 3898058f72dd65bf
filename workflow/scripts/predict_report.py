"""Rule predict_report: a standalone HTML report, one section per video."""

from echobeat.logs import setup_logging
from echobeat.stages.predict import report

setup_logging(snakemake.log[0])
report(
    snakemake.output.report,
    snakemake.input.predictions,
    snakemake.input.beats,
    snakemake.input.sizes,
    snakemake.input.index,
)
