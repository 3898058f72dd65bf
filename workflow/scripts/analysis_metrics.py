"""Rule analysis_metrics: metrics of each EF method (TEST and VAL) and the HFrEF AUCs of one run."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.analysis import analysis_metrics

setup_logging(snakemake.log[0])
metrics, auc = analysis_metrics(
    snakemake.params.settings,
    snakemake.input.table,
    snakemake.input.predictions,
    snakemake.input.manifest,
    snakemake.input.val_predictions,
)
write_csv(snakemake.output.metrics, metrics)
write_csv(snakemake.output.auc, auc)
