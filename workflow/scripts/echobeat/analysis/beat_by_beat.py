"""Beat-by-beat EF: the authors' R procedure, step by step, in pandas.

1. The all-clip predictions of a split (Filename, Clip = start frame, Prediction).
2. The single-clip prediction of a video is its clip starting at frame 0.
3. From size.csv, the detected end-systoles (ComputerSmall = 1); each beat's clip starts ``offset``
   frames before it, floored at 0.
4. Inner join of beats and clips on (Filename, Clip): a beat too close to the end has no clip and
   drops out; several beats before frame ``offset`` all map to clip 0 and each counts.
5. The beat-by-beat prediction of a video is the mean over its joined beats; a video without one
   drops out.
6. Join with the EF labels of FileList (whose names lack ``.avi``).

The R script subtracts a literal 32: for its 32-frame, period-2 clips that centres the clip's
64-frame span on the beat. ``data.clips.clip_offset`` keeps that meaning for any clip length and period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from echobeat.analysis.methods import TABLE_METHODS
from echobeat.data.clips import beat_starts
from echobeat.data.names import VIDEO_SUFFIX, video_key


def keyed_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """The all-clip predictions with the join key added."""
    return predictions.assign(key=video_key(predictions["Filename"]), Clip=predictions["Clip"].astype(int))


def beat_predictions(predictions: pd.DataFrame, sizes: pd.DataFrame, offset: int) -> pd.DataFrame:
    """Step 4: every beat that has a clip, with that clip's prediction (Filename, Frame, Clip, Prediction)."""
    clips = keyed_predictions(predictions)[["key", "Clip", "Prediction"]]
    joined = beat_starts(sizes, offset).merge(clips, on=["key", "Clip"], how="inner")
    joined = joined.sort_values(["key", "Frame"], kind="stable").reset_index(drop=True)
    return pd.DataFrame(
        {
            "Filename": joined["key"] + VIDEO_SUFFIX,
            "Frame": joined["Frame"],
            "Clip": joined["Clip"],
            "Prediction": joined["Prediction"],
        }
    )


def no_beats() -> pd.DataFrame:
    """An empty :func:`beat_predictions` table (a split without size.csv has no beats)."""
    return pd.DataFrame(
        {
            "Filename": pd.Series(dtype=str),
            "Frame": pd.Series(dtype=np.int64),
            "Clip": pd.Series(dtype=np.int64),
            "Prediction": pd.Series(dtype=np.float64),
        }
    )


def labels_by_key(labels: pd.DataFrame) -> pd.Series:
    """EF by join key, from a FileList-like table (FileName, EF)."""
    keyed = pd.Series(labels["EF"].astype(float).to_numpy(), index=video_key(labels["FileName"]).to_numpy())
    return keyed[~keyed.index.duplicated()]


def beat_by_beat_table(predictions: pd.DataFrame, beats: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """One row per labelled video with predictions: Filename, EF, beats, single_clip, all_clips, beat_by_beat.

    ``beats`` is :func:`beat_predictions`' output. ``beat_by_beat`` is empty (NaN) for a video with
    no joined beat and ``single_clip`` for one without a clip at frame 0: each method's metrics use
    the videos it has a prediction for, as the R script's inner joins do.
    """
    clips = keyed_predictions(predictions)
    grouped = clips.groupby("key", sort=True)["Prediction"]
    first = clips[clips["Clip"] == 0].drop_duplicates("key").set_index("key")["Prediction"]
    per_beat = video_key(beats["Filename"])
    beat_groups = beats["Prediction"].groupby(per_beat.to_numpy())
    table = pd.DataFrame({"all_clips": grouped.mean()})
    table["single_clip"] = first.reindex(table.index)
    table["beat_by_beat"] = beat_groups.mean().reindex(table.index)
    table["beats"] = beat_groups.size().reindex(table.index).fillna(0).astype(int)
    ef = labels_by_key(labels)
    table = table[table.index.isin(ef.index)]
    table.insert(0, "EF", ef.reindex(table.index))
    table.index = table.index + VIDEO_SUFFIX
    table = table.rename_axis("Filename").reset_index()
    return table[["Filename", "EF", "beats", *TABLE_METHODS]]


def beat_sampling(
    beats: pd.DataFrame, labels: pd.DataFrame, max_beats: int, repetitions: int, seed: int
) -> pd.DataFrame:
    """The sampling experiment: for k = 1..max_beats, ``repetitions`` times, draw k beats per video
    (with replacement), average them, and take the MAE over the videos.

    Rows: beats (k), repetition, MAE, videos.
    """
    ef = labels_by_key(labels)
    keys = video_key(beats["Filename"]).to_numpy()
    per_video = [
        (ef[key], group.to_numpy(dtype=np.float64))
        for key, group in beats["Prediction"].groupby(keys, sort=True)
        if key in ef.index
    ]
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(1, max_beats + 1):
        errors = np.zeros((repetitions, len(per_video)))
        for column, (truth, predictions) in enumerate(per_video):
            drawn = predictions[rng.integers(0, len(predictions), size=(repetitions, k))]
            errors[:, column] = np.abs(drawn.mean(axis=1) - truth)
        for repetition in range(repetitions):
            mae = float(errors[repetition].mean()) if per_video else float("nan")
            rows.append({"beats": k, "repetition": repetition, "MAE": mae, "videos": len(per_video)})
    return pd.DataFrame(rows, columns=["beats", "repetition", "MAE", "videos"])
