"""Rule normalisation: per-channel mean and std of the training split, or the ones the config gives."""

import json

import pandas as pd

from echobeat.atomic import write_text
from echobeat.data.cache import VideoCache
from echobeat.data.normalisation import normalisation_stats
from echobeat.logs import setup_logging

log = setup_logging(snakemake.log[0])
manifest = pd.read_csv(snakemake.input.manifest, dtype={"FileName": str})
train = manifest.loc[manifest["Split"] == "TRAIN", "FileName"].tolist()
stats = normalisation_stats(VideoCache.open(snakemake.input.index), train, snakemake.params.settings)
write_text(snakemake.output.stats, json.dumps(stats, indent=2) + "\n")
log.info("mean %s, std %s (%s)", stats["mean"], stats["std"], stats["source"])
