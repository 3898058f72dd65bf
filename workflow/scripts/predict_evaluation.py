"""Rule predict_evaluation: the predictions of each EF model against the given labels (an external test set)."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.predict_evaluation import evaluate

setup_logging(snakemake.log[0])
metrics, auc = evaluate(
    snakemake.params.settings, snakemake.params.models, snakemake.input.predictions, snakemake.input.labels
)
write_csv(snakemake.output.metrics, metrics)
write_csv(snakemake.output.auc, auc)
