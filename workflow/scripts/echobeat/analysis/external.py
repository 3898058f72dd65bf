"""Tables of the ``predict`` target, for videos from outside the dataset: one row per input file,
its beats and its EF per model, and the metrics against labels when the user has some. Torch-free.

- ``inputs.csv``: one row per file of the folder, converted or not (then with the reason);
- ``predictions.csv``: those columns, plus the segmentation's beat measurements and, per EF model
  ``<m>``, ``EF_<m>`` (the mean over the beats that have a clip), ``EF_<m>_beats``,
  ``EF_<m>_beat_sd``, ``EF_<m>_flag``, and with ``clips: all`` ``EF_<m>_all_clips``;
- ``metrics.csv``/``auc.csv`` against a labels file (FileName, EF): the methods that were run.

Counts (frames, pixels, beats) are integer columns that may be empty: a file that failed has none.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from echobeat.analysis.beat_by_beat import beat_predictions, no_beats
from echobeat.analysis.metrics import auc_table, metrics_table
from echobeat.analysis.tables import LABEL_COLUMNS, read_typed
from echobeat.data.clips import clip_offset
from echobeat.data.names import avi_name, video_key
from echobeat.errors import UserError

log = logging.getLogger(__name__)

INPUT_COLUMNS = [
    "Source",
    "Video",
    "status",
    "reason",
    "kind",
    "source_frames",
    "source_fps",
    "source_height",
    "source_width",
    "frames",
    "fps",
    "preprocess",
    "steps",
]
TEXT_COLUMNS = ["Source", "Video", "status", "reason", "kind", "preprocess", "steps", "ES_frames", "ED_frames"]
INTEGER_COLUMNS = ["source_frames", "source_height", "source_width", "frames", "beats_found", "short_video"]
# What an EF model's clips file holds (clips/<model>.csv).
CLIP_COLUMNS = ["Filename", "Clip", "Prediction", "model", "frames", "period"]


class LabelsError(UserError):
    """The labels file names none of the predicted files."""


def _is_text(column: str) -> bool:
    return column in TEXT_COLUMNS or column.endswith("_flag")


def _is_integer(column: str) -> bool:
    return column in INTEGER_COLUMNS or (column.startswith("EF_") and column.endswith("_beats"))


def typed(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with text columns as text ('' where empty) and counts as integers (<NA> where empty)."""
    table = table.copy()
    for column in table.columns:
        if _is_text(column):
            table[column] = table[column].astype(object).where(table[column].notna(), "").astype(str)
        elif _is_integer(column):
            table[column] = pd.to_numeric(table[column]).astype("Int64")
    return table


def read_inputs(path: str) -> pd.DataFrame:
    """inputs.csv or predictions.csv, typed as :func:`typed` says."""
    return typed(pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}))


def converted(inputs: pd.DataFrame) -> pd.DataFrame:
    """The files that converted, renumbered, with ``Video`` as ``FileName`` (the cache's name)."""
    return inputs[inputs["status"] == "ok"].reset_index(drop=True).rename(columns={"Video": "FileName"})


def flag(beats: int, sd: float, limit: float) -> str:
    """Why a video's beat-by-beat EF deserves a look: no beat, one beat, or beats that disagree."""
    if beats == 0:
        return "no beat with a clip"
    if beats == 1:
        return "one beat only"
    if sd > limit:
        return f"beats disagree (SD {sd:.1f} > {limit:g})"
    return ""


def clip_span(clips: pd.DataFrame) -> int:
    """The longest clip span (frames x period) of the models: a shorter video is padded."""
    return int((clips["frames"] * clips["period"]).max()) if len(clips) else 0


def beat_summary(sizes: pd.DataFrame, measured: pd.DataFrame) -> dict:
    """A video's beats: count, ES and ED frames, and the mean of each per-beat measurement.

    ``sizes`` is the video's size.csv rows, ``measured`` its
    :func:`echobeat.inference.measurements.beat_measurements` (one row per complete beat).
    """
    es = sizes.loc[sizes["ComputerSmall"] == 1, "Frame"].to_numpy()
    return {
        "beats_found": len(es),
        "ES_frames": " ".join(str(int(f)) for f in es),
        "ED_frames": " ".join(str(int(f)) for f in measured["ED"]),
        "ED_area": measured["ED_area"].mean(),
        "ES_area": measured["ES_area"].mean(),
        "FAC": measured["FAC"].mean(),
        "EF_area_length": measured["EF_area_length"].mean(),
    }


def video_table(
    inputs: pd.DataFrame,
    sizes: pd.DataFrame,
    summaries: dict[str, dict],
    clips: dict[str, pd.DataFrame],
    all_clips: bool,
    beat_sd_flag: float,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """predictions.csv (one row per input file), beats.csv (one row per beat and model), clips.csv.

    ``summaries``: :func:`beat_summary` by video; ``clips``: each EF model's clips file by its label
    (an empty one when the model found no beat with a clip: it still gets its columns);
    ``all_clips``: the clips are every clip (``clips: all``), whose mean is also reported.
    """
    per_video = {video: dict(summary) for video, summary in summaries.items()}
    beat_rows = []
    for label, model_clips in clips.items():
        if model_clips.empty:
            beats = no_beats()
        else:
            frames, period = int(model_clips["frames"].iloc[0]), int(model_clips["period"].iloc[0])
            beats = beat_predictions(model_clips, sizes, clip_offset(frames, period))
        beats = beats.assign(Video=video_key(beats["Filename"]), model=label)
        beat_rows.append(beats)
        for video, row in per_video.items():
            values = beats.loc[beats["Video"] == video, "Prediction"]
            sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            row[f"EF_{label}"] = float(values.mean()) if len(values) else float("nan")
            row[f"EF_{label}_beats"] = len(values)
            row[f"EF_{label}_beat_sd"] = sd
            row[f"EF_{label}_flag"] = flag(len(values), sd, beat_sd_flag)
            if all_clips:
                mine = model_clips.loc[model_clips["Filename"] == avi_name(video), "Prediction"]
                row[f"EF_{label}_all_clips"] = float(mine.mean()) if len(mine) else float("nan")
    every_clip = pd.concat(clips.values(), ignore_index=True)
    measured = pd.DataFrame.from_dict(per_video, orient="index").rename_axis("Video").reset_index()
    table = inputs.merge(measured, on="Video", how="left")
    # A file that failed has no frames to be short of: 0.
    table["short_video"] = (table["frames"] < clip_span(every_clip)).fillna(False).astype(int)
    clips_out = every_clip.assign(Video=video_key(every_clip["Filename"]))[["Video", "Clip", "model", "Prediction"]]
    return typed(table), pd.concat(beat_rows, ignore_index=True), clips_out


def label_lookup(labels: pd.DataFrame):
    """A function from a file's path below predict_dir to its label (NaN if none): a label's
    FileName may be that path, its file name, or either without the extension."""
    by_name = {}
    for name, ef in zip(labels["FileName"].str.strip(), labels["EF"], strict=True):
        by_name[name] = ef
        by_name[str(Path(name).with_suffix(""))] = ef

    def label_of(source: str) -> float:
        path = Path(source)
        for key in (source, str(path.with_suffix("")), path.name, path.stem):
            if key in by_name:
                return by_name[key]
        return float("nan")

    return label_of


def evaluate(
    table: pd.DataFrame, labels_path: str, models: list[str], samples: int, seed: int, thresholds
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """metrics.csv and auc.csv of each EF model's predictions against the labels (FileName, EF).

    The beat-by-beat EF is evaluated, and the all-clip mean where it was computed (``clips: all``):
    a method that was not run has no rows.
    """
    truth = table["Source"].map(label_lookup(read_typed(labels_path, LABEL_COLUMNS)))
    matched = int(truth.notna().sum())
    if matched == 0:
        raise LabelsError(
            f"labels {labels_path}: no FileName matches a predicted file (e.g. {table['Source'].iloc[0]})"
        )
    log.info("labels for %d of %d file(s)", matched, len(table))
    metrics, aucs = [], []
    for label in models:
        columns = {"beat_by_beat": f"EF_{label}", "all_clips": f"EF_{label}_all_clips"}
        per_method = {
            method: pd.DataFrame({"prediction": pd.to_numeric(table[column], errors="coerce"), "EF": truth}).dropna()
            for method, column in columns.items()
            if column in table
        }
        metrics.append(metrics_table(per_method, samples, seed, split="external").assign(model=label))
        # auc_table wants every AUC method: one not run is handed over empty, and its rows dropped.
        empty = pd.DataFrame({"prediction": pd.Series(dtype=float), "EF": pd.Series(dtype=float)})
        auc = auc_table({m: per_method.get(m, empty) for m in columns}, thresholds, samples, seed, split="external")
        aucs.append(auc[auc["method"].isin(list(per_method))].assign(model=label))
    return pd.concat(metrics, ignore_index=True), pd.concat(aucs, ignore_index=True)
