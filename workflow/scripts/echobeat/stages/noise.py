"""The noise experiment's model work (Extended Data Fig. 6): the TEST split evaluated under black pixels.

Each function runs one trained model (``best.pt``) on the TEST videos with one noise level
(:mod:`echobeat.data.noise`), through the same datasets, batch sizes and inference code as the
plain evaluation; only the cache is wrapped (:class:`~echobeat.data.noise.NoisyVideoCache`). So
at level 0 the tables are the plain evaluation's, number for number: ``noisy_segmentation``
pools to dice.csv's TEST Dice, ``noisy_clip_predictions`` is the TEST predictions file.

The original loads the last epoch's ``checkpoint.pt``; the workflow evaluates ``best.pt``.
The summary per level is the analysis layer's (:mod:`echobeat.analysis.noise`).
"""

from __future__ import annotations

import logging

import pandas as pd

from echobeat.analysis.dice import per_video_dice
from echobeat.analysis.noise import COUNT_COLUMNS
from echobeat.data.cache import VideoCache
from echobeat.data.noise import ExampleFrames, NoisyVideoCache, check_level
from echobeat.data.noise import example_frames as frames_at_levels
from echobeat.datasets.clips import ClipDataset
from echobeat.datasets.frames import FrameBatches, TracedFramesDataset
from echobeat.inference import video as ef_inference
from echobeat.inference.segmentation import frame_sizes, size_table
from echobeat.learn.segmentation_task import traced_frame_counts
from echobeat.stages.inputs import split_rows, stage_data
from echobeat.stages.segmentation import data_loader, traced_batch
from echobeat.stages.segmentation import load_trained as load_segmentation_model
from echobeat.stages.video import load_trained as load_ef_model

log = logging.getLogger(__name__)


def _noisy_test(manifest: str, index: str, normalisation: str, level: float, seed: int, threads: int):
    """The TEST rows, the noisy cache over the checked entries, and the normaliser."""
    table, cache, normaliser = stage_data(manifest, index, normalisation)
    test = split_rows(table, "TEST")
    cache.check_all(test["FileName"], threads)
    return test, NoisyVideoCache(cache, level, seed), normaliser


def noisy_segmentation(
    settings: dict,
    best: str,
    manifest: str,
    tracings: str,
    index: str,
    normalisation: str,
    level: float,
    seed: int,
    threads: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rule noise_segmentation: the segmentation model (``settings``: the segmentation section) on
    the TEST videos under noise, loaded once for both tables:

    - per TEST video, test_dice.csv's columns (Filename, Overall, Large, Small) and the traced
      frames' counts (ED_inter, ED_pred, ED_true, ES_inter, ES_pred, ES_true);
    - size.csv of the TEST videos (the beats that beat-by-beat EF centres its clips on, detected on
      the noisy frames).
    """
    level = check_level(level)  # before the model is loaded
    model, compute = load_segmentation_model(settings, best, threads)
    test, cache, normaliser = _noisy_test(manifest, index, normalisation, level, seed, compute.threads)
    traces = pd.read_csv(tracings, dtype={"FileName": str})
    dataset = TracedFramesDataset(cache, test, traces, normaliser)
    # The evaluation's own loader and batch size, so that level 0 repeats it exactly.
    loader = data_loader(dataset, compute, batch_size=traced_batch(settings))
    counts = traced_frame_counts(model, loader, compute)
    table = per_video_dice(test["FileName"].tolist(), counts)
    # The counts stay beside the per-video Dice: those cannot be pooled again, counts can.
    if counts.empty:
        dice = table.reindex(columns=[*table.columns, *COUNT_COLUMNS])
    else:
        dice = pd.concat([table, counts[COUNT_COLUMNS]], axis=1)
    frames = FrameBatches(cache, test["FileName"].tolist(), batch_size=settings["inference_batch_size"])
    sizes = size_table(test, frame_sizes(model, frames, normaliser, compute), settings["beats"]["trim"])
    log.info("noise %.3g: traced frames and every frame of %d TEST videos", level, len(test))
    return dice, sizes


def noisy_clip_predictions(
    settings: dict,
    best: str,
    manifest: str,
    index: str,
    normalisation: str,
    level: float,
    seed: int,
    threads: int = 1,
) -> pd.DataFrame:
    """Every clip of every TEST video under noise: Filename, Clip, Prediction, as ``predict_clips``
    writes its TEST file. ``settings`` is one EF run's settings."""
    level = check_level(level)  # before the model is loaded
    model, compute = load_ef_model(settings, best, threads)
    test, cache, normaliser = _noisy_test(manifest, index, normalisation, level, seed, compute.threads)
    dataset = ClipDataset(cache, test, settings["frames"], settings["period"], "all")
    predictions = ef_inference.predict_clips(model, dataset, normaliser, compute, settings["inference_batch_size"])
    log.info("noise %.3g: %d clips of %d TEST videos", level, len(predictions), len(test))
    return predictions


def example_frames(
    manifest: str, index: str, levels, seed: int, video: str | None = None, frame: int | None = None
) -> ExampleFrames:
    """One frame of one TEST video at every level, for the figure: by default the first TEST video
    of the manifest and its traced ED frame (frame 0 where it has none)."""
    test = split_rows(pd.read_csv(manifest, dtype={"FileName": str}), "TEST")
    rows = test if video is None else test[test["FileName"] == video]
    if rows.empty:
        where = "the TEST split" if video is None else f"the TEST split for {video!r}"
        raise ValueError(f"no video in {where} of {manifest}: no example frame to show")
    row = rows.iloc[0]
    if frame is None:
        ed = row.get("EDFrame")
        frame = int(ed) if ed is not None and pd.notna(ed) else 0
    cache = VideoCache.open(index)
    cache.check_all([row["FileName"]])
    return frames_at_levels(cache, row["FileName"], frame, levels, seed)


def write_examples(settings: dict, manifest: str, index: str, out: str) -> None:
    """Rule noise_examples: one TEST frame at every level (``settings``: levels, seed), as .npz."""
    example_frames(manifest, index, settings["levels"], settings["seed"]).save(out)
