"""Rule synthetic_dataset: write a synthetic EchoNet-format dataset into data_dir."""

from pathlib import Path

from echobeat.logs import setup_logging
from echobeat.stages.data import synthetic_dataset

setup_logging(snakemake.log[0])
synthetic_dataset(snakemake.params.settings, Path(snakemake.output.filelist).parent, threads=snakemake.threads)
