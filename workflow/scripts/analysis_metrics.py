"""Rule analysis_metrics: TEST metrics of each EF method and the HFrEF AUCs of one run."""

from echobeat.analysis_run import analysis_metrics
from echobeat.atomic import write_csv
from echobeat.logs import setup_logging

setup_logging(snakemake.log[0])
metrics, auc = analysis_metrics(
    snakemake.params.settings,
    snakemake.input.table,
    snakemake.input.predictions,
    snakemake.input.manifest,
)
write_csv(snakemake.output.metrics, metrics)
write_csv(snakemake.output.auc, auc)
