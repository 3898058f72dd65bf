"""Nested training subsets: the training-size experiment's videos (docs/experiments.md).

One seeded permutation of the TRAIN rows decides every subset: a subset of n videos is the first
n of it, so each smaller subset lies inside every larger one, and the EF and segmentation runs of
one size (which both draw from the manifest's TRAIN rows) get the same videos. The rows keep their
manifest order, so a subset of every TRAIN video is the full TRAIN split itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from echobeat.errors import UserError

SIZES_KEY = "experiments.training_size.sizes"


class SubsetError(UserError):
    """A training subset larger than the TRAIN split."""


def nested_subset(train: pd.DataFrame, videos: int, seed: int) -> pd.DataFrame:
    """The ``videos`` rows of ``train`` (the TRAIN split, renumbered from 0) that subset ``seed`` draws."""
    if videos > len(train):
        raise SubsetError(
            f"{SIZES_KEY}: a subset of {videos} videos asked for, but the TRAIN split has "
            f"{len(train)} usable videos; lower the size"
        )
    order = np.random.default_rng(seed).permutation(len(train))
    return train.iloc[np.sort(order[:videos])].reset_index(drop=True)


def training_rows(train: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """The TRAIN rows a run trains on: all of them, or its nested subset (``train_videos``, ``subset_seed``)."""
    videos = settings.get("train_videos")
    if videos is None:
        return train
    return nested_subset(train, videos, settings["subset_seed"])
