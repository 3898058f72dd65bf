"""Rule predict_clips: a prediction for every clip of every VAL and TEST video (no metrics: see analysis_metrics)."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.video import predict_clips

setup_logging(snakemake.log[0])
predictions = predict_clips(
    snakemake.params.settings,
    snakemake.input.best,
    snakemake.input.manifest,
    snakemake.input.index,
    snakemake.input.normalisation,
    threads=snakemake.threads,
)
write_csv(snakemake.output.val, predictions["VAL"])
write_csv(snakemake.output.test, predictions["TEST"])
