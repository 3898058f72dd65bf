"""Rule predict_ef: one EF model on the beats' clips (or every clip) of the converted videos."""

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.predict import clip_predictions

setup_logging(snakemake.log[0])
table = clip_predictions(
    snakemake.params.settings,
    snakemake.input.weights,
    snakemake.input.inputs,
    snakemake.input.index,
    snakemake.input.sizes,
    snakemake.wildcards.model,
    threads=snakemake.threads,
)
write_csv(snakemake.output.clips, table)
