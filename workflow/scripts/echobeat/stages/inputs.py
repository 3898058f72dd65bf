"""What the model stages read from the data stage: its output paths, and the split helpers every stage uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from echobeat.data.cache import VideoCache
from echobeat.data.normalisation import Normaliser


@dataclass(frozen=True)
class StageInputs:
    """Paths of the data stage's outputs: manifest.csv, tracings.csv, the cache's index.csv, normalisation.json."""

    manifest: str
    tracings: str
    index: str
    normalisation: str


def stage_data(manifest: str, index: str, normalisation: str) -> tuple[pd.DataFrame, VideoCache, Normaliser]:
    """What every model rule reads from the data stage: the manifest, the cache, the normaliser."""
    return (
        pd.read_csv(manifest, dtype={"FileName": str}),
        VideoCache.open(index),
        read_normaliser(normalisation),
    )


def read_normaliser(normalisation: str) -> Normaliser:
    """The :class:`Normaliser` of a normalisation.json."""
    return Normaliser.from_json(json.loads(Path(normalisation).read_text()))


def check_training_splits(n_train: int, n_val: int, batch_size: int, key: str) -> None:
    """Clear errors for splits a training run cannot use (``key`` names the config key)."""
    if n_train < batch_size:
        raise ValueError(
            f"the TRAIN split has {n_train} usable videos, fewer than {key} {batch_size} "
            "(the last incomplete batch is dropped, as in the original): lower the batch size"
        )
    if n_val == 0:
        raise ValueError("the VAL split has no usable video: the best model is chosen on it")


def split_rows(manifest: pd.DataFrame, split: str) -> pd.DataFrame:
    """The manifest rows of one split (TRAIN, VAL or TEST), renumbered from 0."""
    return manifest[manifest["Split"] == split].reset_index(drop=True)
