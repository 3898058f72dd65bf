"""Rule cache_videos: decode every usable video once into the memory-mappable cache."""

from pathlib import Path

import pandas as pd

from echobeat.atomic import write_csv
from echobeat.data.cache import build_cache
from echobeat.logs import setup_logging

setup_logging(snakemake.log[0])
manifest = pd.read_csv(snakemake.input.manifest, dtype={"FileName": str})
cache_dir = Path(snakemake.output.index).parent
index = build_cache(manifest, snakemake.params.videos_dir, cache_dir, threads=snakemake.threads)
write_csv(snakemake.output.index, index)
