"""Rule segmentation_figures: the segmentation loss curves and the per-video Dice histogram."""

from echobeat.logs import setup_logging
from echobeat.stages.analysis import segmentation_figures

setup_logging(snakemake.log[0])
segmentation_figures(
    snakemake.params.settings, snakemake.input.log, snakemake.input.dice, dict(snakemake.output.items())
)
