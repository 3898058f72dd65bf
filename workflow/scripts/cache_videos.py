"""Rule cache_videos: decode every usable video once into the memory-mappable cache."""

from echobeat.logs import setup_logging
from echobeat.stages.data import cache_videos

setup_logging(snakemake.log[0])
cache_videos(snakemake.input.manifest, snakemake.params.videos_dir, snakemake.output.index, threads=snakemake.threads)
