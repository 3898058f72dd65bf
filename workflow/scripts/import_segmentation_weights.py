"""Rule import_segmentation_weights: evaluate-only segmentation (epochs: 0), best.pt from the given weights."""

from pathlib import Path

from echobeat.logs import setup_logging
from echobeat.stages.segmentation import import_weights

setup_logging(snakemake.log[0])
import_weights(snakemake.params.settings, snakemake.input.normalisation, Path(snakemake.output.best).parent)
