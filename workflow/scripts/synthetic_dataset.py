"""Rule synthetic_dataset: write a synthetic EchoNet-format dataset into data_dir."""

from pathlib import Path

from echobeat.logs import setup_logging
from echobeat.synthetic import generate_dataset

setup_logging(snakemake.log[0])
generate_dataset(Path(snakemake.output.filelist).parent, snakemake.params.settings, threads=snakemake.threads)
