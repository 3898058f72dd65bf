"""Rule import_video_weights: an evaluate-only EF run (epochs: 0), best.pt from the given weights."""

from pathlib import Path

from echobeat.logs import setup_logging
from echobeat.stages.video import import_weights

setup_logging(snakemake.log[0])
import_weights(
    snakemake.params.settings,
    snakemake.input.manifest,
    snakemake.input.normalisation,
    Path(snakemake.output.best).parent,
)
