"""Rule predict_report: a standalone HTML report, one section per video."""

from echobeat.analysis.video_report import write_report
from echobeat.logs import setup_logging

setup_logging(snakemake.log[0])
write_report(
    snakemake.output.report,
    snakemake.input.predictions,
    snakemake.input.beats,
    snakemake.input.sizes,
    snakemake.input.index,
)
