"""Rule segmentation_overlays: overlay AVIs and size-trace PNGs for a few videos."""

from echobeat.logs import setup_logging
from echobeat.stages.segmentation import overlays

log = setup_logging(snakemake.log[0])
names = overlays(
    snakemake.params.settings,
    snakemake.input.best,
    snakemake.input.manifest,
    snakemake.input.index,
    snakemake.input.normalisation,
    snakemake.input.sizes,
    snakemake.output.overlays,
    threads=snakemake.threads,
)
log.info("overlays for %s", ", ".join(names))
