"""Rule synthetic_dataset: write a synthetic EchoNet-format dataset into data_dir."""

from pathlib import Path

from echobeat.data.synthetic import generate_dataset
from echobeat.logs import setup_logging

setup_logging(snakemake.log[0])
generate_dataset(Path(snakemake.output.filelist).parent, snakemake.params.settings, threads=snakemake.threads)
