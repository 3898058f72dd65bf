"""Rule predict_table: predictions.csv (one row per file), beats.csv and clips.csv."""

from echobeat.logs import setup_logging
from echobeat.stages.predict import video_table, write_outputs

setup_logging(snakemake.log[0])
table, beats, clips = video_table(
    snakemake.params.settings,
    snakemake.input.inputs,
    snakemake.input.sizes,
    snakemake.input.masks,
    list(snakemake.input.clips),
)
write_outputs(snakemake.output, table, beats, clips)
