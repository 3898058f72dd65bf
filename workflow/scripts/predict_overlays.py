"""Rule predict_overlays: per video, the overlay AVI (video, mask, size trace) and a PNG of the trace."""

from echobeat.logs import setup_logging
from echobeat.stages.predict import overlays

setup_logging(snakemake.log[0])
overlays(
    snakemake.input.inputs,
    snakemake.input.index,
    snakemake.input.sizes,
    snakemake.input.masks,
    snakemake.output.overlays,
)
