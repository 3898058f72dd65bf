"""Rule predict_table: predictions.csv (one row per file), beats.csv and clips.csv."""

from echobeat.logs import setup_logging
from echobeat.stages.predict import table, write_table

setup_logging(snakemake.log[0])
predictions, beats, clips = table(
    snakemake.params.settings,
    snakemake.input.inputs,
    snakemake.input.sizes,
    snakemake.input.masks,
    list(snakemake.input.clips),
)
write_table(snakemake.output, predictions, beats, clips)
