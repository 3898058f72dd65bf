"""Rule verify_dataset: check the dataset; write the manifest, exclusions, tracings and report."""

from pathlib import Path

from echobeat.logs import setup_logging
from echobeat.stages.data import verify_dataset

setup_logging(snakemake.log[0])
verify_dataset(
    snakemake.params.settings,
    Path(snakemake.input.filelist).parent,
    snakemake.output.manifest,
    snakemake.output.excluded,
    snakemake.output.tracings,
    snakemake.output.report,
    threads=snakemake.threads,
)
