"""Rule predict_convert: every file of predict_dir to the model's 112x112 grey frames, in a video cache."""

from pathlib import Path

from echobeat.atomic import write_csv
from echobeat.logs import setup_logging
from echobeat.stages.predict import convert_folder

setup_logging(snakemake.log[0])
inputs, index = convert_folder(
    snakemake.input.videos, Path(snakemake.output.index).parent, snakemake.params.settings, snakemake.threads
)
write_csv(snakemake.output.index, index)
write_csv(snakemake.output.inputs, inputs)
