"""Rule normalisation: per-channel mean and std of the training split."""

import json

import pandas as pd

from echobeat.atomic import write_text
from echobeat.data.cache import VideoCache
from echobeat.data.normalisation import mean_and_std
from echobeat.logs import setup_logging

log = setup_logging(snakemake.log[0])
manifest = pd.read_csv(snakemake.input.manifest, dtype={"FileName": str})
train = manifest.loc[manifest["Split"] == "TRAIN", "FileName"].tolist()
stats = mean_and_std(VideoCache.open(snakemake.input.index), train, **snakemake.params.settings)
write_text(snakemake.output.stats, json.dumps(stats, indent=2) + "\n")
log.info("mean %s, std %s from %d training videos", stats["mean"], stats["std"], stats["videos"])
