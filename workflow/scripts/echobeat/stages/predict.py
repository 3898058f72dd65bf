"""The prediction workflow's rules: the user's own videos in, EF beat by beat and LV traces out. No label.

1. ``convert``: every file of the folder to 112x112 grey frames (:mod:`echobeat.data.preprocess`),
   written to a video cache like the dataset's; a file that cannot be read gets its row with the
   reason, every other file goes on.
2. ``sizes``: the segmentation model on every frame (the same inference as ``segment_all_frames``):
   size.csv with the detected end-systoles, and the masks.
3. ``clip_predictions``: one EF model on the clips the beat-by-beat estimate needs (one centred on
   each detected end-systole, as the R procedure maps them) or on every clip (``clips: all``),
   with the batched inference of the EF stage.
4. ``video_table`` (no torch): one row per file with the beat-by-beat EF of each model, its
   beat-to-beat SD and flags, and the segmentation's own measurements.

Models are files: our self-describing ``best.pt`` (its ``meta`` gives architecture, clip shape
and normalisation) or a checkpoint of the original code, whose architecture is recognised from
its weights and whose normalisation comes from ``settings["normalisation"]``.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from echobeat.analysis.beat_by_beat import beat_predictions, beat_starts, clip_offset
from echobeat.atomic import atomic_directory, write_csv
from echobeat.data.cache import INDEX_COLUMNS, VideoCache, prune, source_stamp, write_entry
from echobeat.data.clips import n_clips
from echobeat.data.names import avi_name, video_id
from echobeat.data.normalisation import Normaliser
from echobeat.data.preprocess import convert
from echobeat.data.readers import InputError, find_inputs

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


class PredictError(Exception):
    """The prediction cannot run at all (no video in the folder, a model without normalisation)."""

    clear_message = True


# --- 1. convert -------------------------------------------------------------------------------


def _convert_one(source: Path, relative: Path, name: str, cache_dir: Path, settings: dict) -> dict:
    row = dict.fromkeys(INPUT_COLUMNS)  # numbers stay empty (NaN) for a file that fails
    row.update({"Source": str(relative), "Video": name})
    try:
        converted = convert(source, settings["preprocess"], settings["fps"])
    except InputError as err:
        row.update({"status": "failed", "reason": str(err).replace(str(source), str(relative))})
        return row
    except Exception as err:  # a decoder's own failure: still a row, never a stopped run
        log.debug("%s", relative, exc_info=True)
        row.update({"status": "failed", "reason": f"{relative}: cannot be read ({type(err).__name__}: {err})"})
        return row
    write_entry(cache_dir, name, converted.frames[None], source_stamp(source))
    info = converted.source
    row.update(
        {
            "status": "ok",
            "kind": info.kind,
            "source_frames": info.frames,
            "source_fps": info.fps,
            "source_height": info.height,
            "source_width": info.width,
            "frames": converted.frames.shape[0],
            "fps": converted.fps,
            "preprocess": converted.preprocess,
            "steps": "; ".join([*info.notes, converted.steps]),
        }
    )
    return row


def convert_folder(folder: str, cache_dir: str, settings: dict, threads: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """inputs.csv (one row per file) and the cache index of the files that converted."""
    folder, cache_dir = Path(folder), Path(cache_dir)
    if not folder.is_dir():
        raise PredictError(f"predict_dir {folder} is not a folder")
    files = find_inputs(folder)
    if not files:
        raise PredictError(f"predict_dir {folder} holds no file to predict on")
    names: dict[str, int] = {}
    jobs = []
    for path in files:
        name = video_id(path.relative_to(folder))
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:  # two paths that only differ in characters the id replaces
            name = f"{name}_{names[name]}"
        jobs.append((path, path.relative_to(folder), name))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        rows = list(pool.map(lambda job: _convert_one(*job, cache_dir, settings), jobs))
    inputs = pd.DataFrame(rows, columns=INPUT_COLUMNS)
    ok = inputs[inputs["status"] == "ok"]
    for row in inputs[inputs["status"] == "failed"].itertuples():
        log.warning("%s: %s", row.Source, row.reason)
    if ok.empty:
        raise PredictError(
            f"predict_dir {folder}: none of its {len(inputs)} file(s) is a readable video "
            f"(first: {inputs['reason'].iloc[0]})"
        )
    index_rows = []
    for row in ok.itertuples():
        meta = json.loads((cache_dir / "videos" / f"{row.Video}.json").read_text())
        channels, frames, height, width = meta["shape"]
        index_rows.append(
            [row.Video, str(folder / row.Source), channels, frames, height, width, meta["bytes"], meta["crc32"], 1]
        )
    prune(cache_dir, set(ok["Video"]))
    log.info("%d of %d file(s) converted", len(ok), len(inputs))
    return inputs, pd.DataFrame(index_rows, columns=INDEX_COLUMNS)


# --- models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFile:
    """A model file and what running it needs."""

    path: str
    model: str
    mean: list[float]
    std: list[float]
    frames: int = 0
    period: int = 0

    @property
    def normaliser(self) -> Normaliser:
        return Normaliser(self.mean, self.std)


def _normalisation(meta: dict, settings: dict, path: str) -> tuple[list[float], list[float]]:
    if "normalisation" in meta:
        return meta["normalisation"]["mean"], meta["normalisation"]["std"]
    given = settings.get("normalisation")
    if not given:
        raise PredictError(
            f"model file {path} carries no normalisation (a checkpoint of the original code): "
            "set predict.normalisation: {mean: [...], std: [...]} to the statistics it was trained with"
        )
    return list(given["mean"]), list(given["std"])


def ef_model_file(path: str, settings: dict) -> ModelFile:
    """What an EF model file is: from its meta, or recognised from its weights (the original's files)."""
    import torch

    from echobeat.models.video import VIDEO_MODELS, video_model
    from echobeat.models.weights import fit_problems, read_checkpoint

    checkpoint = read_checkpoint(path)
    meta = checkpoint.meta
    name = meta.get("model")
    if name is None:
        with torch.device("meta"):
            fitting = [m for m in VIDEO_MODELS if not fit_problems(video_model(m, "random"), checkpoint.state)]
        if not fitting:
            raise PredictError(f"model file {path} is none of the EF models {', '.join(VIDEO_MODELS)}")
        name = fitting[0]
    mean, std = _normalisation(meta, settings, path)
    return ModelFile(path, name, mean, std, int(meta.get("frames", 32)), int(meta.get("period", 2)))


def segmentation_model_file(path: str, settings: dict) -> ModelFile:
    """What a segmentation model file is: from its meta, else ``settings["segmentation_model"]``."""
    from echobeat.models.weights import read_checkpoint

    meta = read_checkpoint(path).meta
    mean, std = _normalisation(meta, settings, path)
    return ModelFile(path, meta.get("model", settings["segmentation_model"]), mean, std)


TEXT_COLUMNS = {"Source": str, "Video": str, "status": str, "reason": str, "kind": str, "preprocess": str, "steps": str}


def read_inputs(path: str) -> pd.DataFrame:
    """inputs.csv (or predictions.csv) with its text columns as text, empty text as ''."""
    table = pd.read_csv(path, dtype=TEXT_COLUMNS)
    text = [c for c in table.columns if c in TEXT_COLUMNS or c.endswith("_flag") or c in ("ES_frames", "ED_frames")]
    table[text] = table[text].fillna("")
    return table


def _videos(inputs_path: str) -> pd.DataFrame:
    inputs = read_inputs(inputs_path)
    return inputs[inputs["status"] == "ok"].reset_index(drop=True).rename(columns={"Video": "FileName"})


# --- 2. sizes and masks -----------------------------------------------------------------------


def sizes(settings: dict, weights: str, inputs: str, index: str, masks_dir: str, threads: int = 1) -> pd.DataFrame:
    """size.csv of every converted video (with the detected end-systoles); masks/<video>.npz."""
    import torch

    from echobeat.compute import prepare_device
    from echobeat.inference.segmentation import predicted_masks, size_table
    from echobeat.models.segmentation import segmentation_model
    from echobeat.models.weights import load_weights

    compute = prepare_device(settings["device"], threads, settings["precision"], cpu_bf16=True)
    spec = segmentation_model_file(weights, settings)
    model = segmentation_model(spec.model, "random")
    load_weights(model, weights, spec.model)
    model = compute.place(model.to(compute.device)).eval()
    videos = _videos(inputs)
    cache = VideoCache.open(index, heal=False)
    by_video = {}
    with atomic_directory(masks_dir) as folder, torch.inference_mode():
        for v, name in enumerate(videos["FileName"]):
            masks = predicted_masks(
                model, np.asarray(cache.video(name)), spec.normaliser, compute, settings["frame_batch_size"]
            )
            by_video[v] = masks.sum(axis=(1, 2)).astype(np.int64)
            np.savez_compressed(Path(folder) / f"{name}.npz", masks=masks)
    log.info("segmented %d video(s), %d frames", len(videos), sum(len(s) for s in by_video.values()))
    return size_table(videos, by_video, settings["beats"]["trim"])


# --- 3. clips -------------------------------------------------------------------------------------


def beat_clip_starts(sizes_table: pd.DataFrame, n_frames: dict[str, int], frames: int, period: int) -> pd.DataFrame:
    """The clip of each detected end-systole (key, Frame, Clip), kept where the video has that clip."""
    beats = beat_starts(sizes_table, clip_offset(frames, period))
    limit = beats["key"].map(lambda key: n_clips(n_frames[key], frames, period))
    return beats[beats["Clip"] < limit].reset_index(drop=True)


def clip_predictions(
    settings: dict, weights: str, inputs: str, index: str, size_csv: str, label: str, threads: int = 1
) -> pd.DataFrame:
    """One EF model's clip predictions (Filename, Clip, Prediction, model): the beats' clips or all."""
    from echobeat.compute import prepare_device
    from echobeat.inference.video import predict_all_clips
    from echobeat.learn.datasets import ClipDataset
    from echobeat.models.video import video_model
    from echobeat.models.weights import load_weights

    compute = prepare_device(settings["device"], threads, settings["precision"], cpu_bf16=True)
    spec = ef_model_file(weights, settings)
    model = video_model(spec.model, "random")
    load_weights(model, weights, spec.model)
    model = compute.place(model.to(compute.device), video=True).eval()
    videos = _videos(inputs)
    cache = VideoCache.open(index, heal=False)
    if settings["clips"] == "all":
        dataset = ClipDataset(cache, videos, spec.normaliser, spec.frames, spec.period, clips="all")
    else:
        traces = pd.read_csv(size_csv, dtype={"Filename": str})
        n_frames = {name: cache.n_frames(name) for name in videos["FileName"]}
        beats = beat_clip_starts(traces, n_frames, spec.frames, spec.period)
        position = {name: v for v, name in enumerate(videos["FileName"])}
        chosen = sorted({(position[key], int(clip)) for key, clip in zip(beats["key"], beats["Clip"], strict=True)})
        dataset = ClipDataset(cache, videos, spec.normaliser, spec.frames, spec.period, clips="chosen", chosen=chosen)
    table = predict_all_clips(model, dataset, spec.normaliser, compute, settings["inference_batch_size"])
    log.info(
        "%s (%s %dx%d): %d clip(s) of %d video(s)", label, spec.model, spec.frames, spec.period, len(table), len(videos)
    )
    return table.assign(model=label, frames=spec.frames, period=spec.period)


# --- 4. the per-video table -------------------------------------------------------------------


def video_table(settings: dict, inputs: str, size_csv: str, masks_dir: str, clip_paths: list[str]):
    """predictions.csv (one row per input file), beats.csv (one row per beat and model), clips.csv."""
    from echobeat.inference.measurements import beat_measurements

    inputs_table = read_inputs(inputs)
    sizes_table = pd.read_csv(size_csv, dtype={"Filename": str})
    clips = pd.concat([pd.read_csv(p, dtype={"Filename": str}) for p in clip_paths], ignore_index=True)
    per_video = {}
    beat_rows = []
    for name, trace in sizes_table.groupby("Filename", sort=False):
        video = name.removesuffix(".avi")
        size = trace["Size"].to_numpy()
        es = trace.loc[trace["ComputerSmall"] == 1, "Frame"].to_numpy()
        masks = np.load(Path(masks_dir) / f"{video}.npz")["masks"]
        measured = beat_measurements(size, es, masks)
        per_video[video] = {
            "beats_found": len(es),
            "ES_frames": " ".join(str(int(f)) for f in es),
            "ED_frames": " ".join(str(int(f)) for f in measured["ED"]),
            "ED_area": measured["ED_area"].mean(),
            "ES_area": measured["ES_area"].mean(),
            "FAC": measured["FAC"].mean(),
            "EF_area_length": measured["EF_area_length"].mean(),
        }
    flag_sd = settings["beat_sd_flag"]
    # Every model gets its columns, also one that found no beat with a clip (an empty clips file).
    for label in [Path(p).stem for p in clip_paths]:
        model_clips = clips[clips["model"] == label]
        if model_clips.empty:
            beats = pd.DataFrame(columns=["Filename", "Frame", "Clip", "Prediction"])
        else:
            frames, period = int(model_clips["frames"].iloc[0]), int(model_clips["period"].iloc[0])
            beats = beat_predictions(model_clips, sizes_table, clip_offset(frames, period))
        beats = beats.assign(Video=beats["Filename"].astype(str).str.removesuffix(".avi"), model=label)
        beat_rows.append(beats)
        for video, row in per_video.items():
            values = beats.loc[beats["Video"] == video, "Prediction"]
            sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            row[f"EF_{label}"] = float(values.mean()) if len(values) else float("nan")
            row[f"EF_{label}_beats"] = len(values)
            row[f"EF_{label}_beat_sd"] = sd
            row[f"EF_{label}_flag"] = _flags(len(values), sd, flag_sd)
            if settings["clips"] == "all":
                mine = model_clips.loc[model_clips["Filename"] == avi_name(video), "Prediction"]
                row[f"EF_{label}_all_clips"] = float(mine.mean()) if len(mine) else float("nan")
    measured = pd.DataFrame.from_dict(per_video, orient="index").rename_axis("Video").reset_index()
    table = inputs_table.merge(measured, on="Video", how="left")
    table["short_video"] = (table["frames"] < clip_span(clips)).astype(int)
    beats_out = pd.concat(beat_rows, ignore_index=True) if beat_rows else pd.DataFrame()
    clips_out = clips.assign(Video=clips["Filename"].str.removesuffix(".avi"))[["Video", "Clip", "model", "Prediction"]]
    return table, beats_out, clips_out


def clip_span(clips: pd.DataFrame) -> int:
    """The longest clip span (frames x period) of the models: a shorter video is padded."""
    return int((clips["frames"] * clips["period"]).max()) if len(clips) else 0


def _flags(beats: int, sd: float, limit: float) -> str:
    if beats == 0:
        return "no beat with a clip"
    if beats == 1:
        return "one beat only"
    if sd > limit:
        return f"beats disagree (SD {sd:.1f} > {limit:g})"
    return ""


def write_outputs(outputs: dict, table: pd.DataFrame, beats: pd.DataFrame, clips: pd.DataFrame) -> None:
    write_csv(outputs["predictions"], table)
    write_csv(outputs["beats"], beats)
    write_csv(outputs["clips"], clips)


def labels_table(path: str) -> pd.DataFrame:
    """The optional labels file: FileName (the source path, or the video's name), EF."""
    from echobeat.analysis.tables import read_typed

    return read_typed(path, {"FileName": str, "EF": float})


# --- overlays, evaluation -------------------------------------------------------------------------


def overlays(inputs: str, index: str, size_csv: str, masks_dir: str, out_dir: str) -> None:
    """overlays/<video>.avi (the video, its mask, the size trace with the detected end-systoles)
    and overlays/<video>.png (the trace) for every converted video."""
    from echobeat.data.video_io import write_video
    from echobeat.inference.overlays import overlay_frames, trace_figure

    videos = _videos(inputs)
    cache = VideoCache.open(index, heal=False)
    sizes_table = pd.read_csv(size_csv, dtype={"Filename": str})
    with atomic_directory(out_dir) as folder:
        for row in videos.itertuples():
            trace = sizes_table[sizes_table["Filename"] == avi_name(row.FileName)].sort_values("Frame")
            size = trace["Size"].to_numpy()
            beats = trace.loc[trace["ComputerSmall"] == 1, "Frame"].tolist()
            video = np.asarray(cache.video(row.FileName))
            masks = np.load(Path(masks_dir) / f"{row.FileName}.npz")["masks"]
            fps = float(row.fps)
            # No traced frames here: -1 draws no human ED/ES line.
            write_video(
                Path(folder) / avi_name(row.FileName),
                overlay_frames(video, masks, size, beats, -1, -1),
                fps,
                codec="MJPG",
            )
            trace_figure(Path(folder) / f"{row.FileName}.png", row.Source, size, beats, -1, -1, fps)


def evaluate(settings: dict, models: list[str], predictions_path: str, labels_path: str):
    """metrics.csv and auc.csv of each EF model's predictions against the labels (FileName, EF).

    A label's FileName may be the file's path below predict_dir, its file name, or either without
    its extension; the beat-by-beat EF (and the all-clip mean with ``clips: all``) are evaluated.
    """
    from echobeat.analysis.metrics import auc_table, metrics_table

    table = read_inputs(predictions_path)
    labels = labels_table(labels_path)
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

    truth = table["Source"].map(label_of)
    matched = int(truth.notna().sum())
    if matched == 0:
        raise PredictError(
            f"labels {labels_path}: no FileName matches a predicted file (e.g. {table['Source'].iloc[0]})"
        )
    log.info("labels for %d of %d file(s)", matched, len(table))
    metrics, aucs = [], []
    samples, seed = settings["bootstrap_samples"], settings["seed"]
    for label in models:
        per_method = {}
        for method, column in (("beat_by_beat", f"EF_{label}"), ("all_clips", f"EF_{label}_all_clips")):
            values = (
                pd.to_numeric(table[column], errors="coerce")
                if column in table
                else pd.Series(np.nan, index=table.index)
            )
            per_method[method] = pd.DataFrame({"prediction": values, "EF": truth}).dropna()
        metrics.append(metrics_table(per_method, samples, seed, split="external").assign(model=label))
        aucs.append(
            auc_table(per_method, settings["auc_thresholds"], samples, seed, split="external").assign(model=label)
        )
    return pd.concat(metrics, ignore_index=True), pd.concat(aucs, ignore_index=True)
