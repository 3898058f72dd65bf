"""The ``predict`` target's model rules: the user's own videos in, LV sizes, masks and clip EFs out. No label.

1. ``convert_folder`` (predict_convert): every file of the folder to 112x112 grey frames
   (:mod:`echobeat.data.preprocess`), written to a video cache like the dataset's; a file that
   cannot be read gets its row with the reason, every other file goes on.
2. ``sizes`` (predict_sizes): the segmentation model on every frame (the same inference as
   ``segment_all_frames``): size.csv with the detected end-systoles, and the masks.
3. ``clip_predictions`` (predict_ef): one EF model on the clips the beat-by-beat estimate needs
   (one centred on each detected end-systole, as the R procedure maps them) or on every clip
   (``clips: all``), with the batched inference of the EF stage.
4. ``table`` (predict_table): each video's beats measured on its masks, and each EF model's
   beat-by-beat EF (:mod:`echobeat.analysis.external`): predictions.csv, beats.csv, clips.csv.
5. ``overlays`` (predict_overlays) and ``report`` (predict_report): the overlay video and trace
   figure of every converted video, and report.html (:mod:`echobeat.analysis.video_report`).

Models are files (:mod:`echobeat.models.files`). The evaluation against labels needs neither
torch nor a decoder: it is :mod:`echobeat.stages.predict_evaluation`.
"""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from echobeat.analysis import external, video_report
from echobeat.analysis.external import INPUT_COLUMNS, converted, read_inputs
from echobeat.atomic import atomic_directory, write_csv, write_text
from echobeat.compute import prepare_device
from echobeat.data.cache import INDEX_COLUMNS, VideoCache, prune, source_stamp, write_entry
from echobeat.data.clips import beat_starts, clip_offset, n_clips
from echobeat.data.names import bare_name, video_id
from echobeat.data.preprocess import convert
from echobeat.data.readers import InputError, find_inputs
from echobeat.datasets.clips import ClipDataset
from echobeat.errors import UserError
from echobeat.inference.measurements import beat_measurements
from echobeat.inference.overlays import OverlayVideo, write_overlays
from echobeat.inference.segmentation import predicted_masks, size_table
from echobeat.inference.video import predict_clips
from echobeat.models.files import load_ef_model, load_segmentation_model

log = logging.getLogger(__name__)


class PredictError(UserError):
    """The prediction cannot run at all (no readable video in the folder)."""


# --- 1. convert -------------------------------------------------------------------------------


def _convert_one(source: Path, relative: Path, name: str, cache_dir: Path, settings: dict) -> tuple[dict, list]:
    """The file's inputs.csv row, and its cache index row (None if it failed)."""
    row = dict.fromkeys(INPUT_COLUMNS)  # numbers stay empty for a file that fails
    row.update({"Source": str(relative), "Video": name})
    try:
        result = convert(source, settings["preprocess"], settings["fps"])
    except InputError as err:
        row.update({"status": "failed", "reason": str(err).replace(str(source), str(relative))})
        return row, None
    except Exception as err:  # a decoder's own failure: still a row, never a stopped run
        log.debug("%s", relative, exc_info=True)
        row.update({"status": "failed", "reason": f"{relative}: cannot be read ({type(err).__name__}: {err})"})
        return row, None
    meta = write_entry(cache_dir, name, result.frames[None], source_stamp(source))
    # The row of data.cache.build_cache's index; always built now (Rebuilt 1).
    index_row = [name, str(source), *meta["shape"], meta["bytes"], meta["crc32"], 1]
    info = result.source
    row.update(
        {
            "status": "ok",
            "kind": info.kind,
            "source_frames": info.frames,
            "source_fps": info.fps,
            "source_height": info.height,
            "source_width": info.width,
            "frames": result.frames.shape[0],
            "fps": result.fps,
            "preprocess": result.preprocess,
            "steps": "; ".join([*info.notes, result.steps]),
        }
    )
    return row, index_row


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
        results = list(pool.map(lambda job: _convert_one(*job, cache_dir, settings), jobs))
    inputs = pd.DataFrame([row for row, _ in results], columns=INPUT_COLUMNS)
    index = pd.DataFrame([entry for _, entry in results if entry is not None], columns=INDEX_COLUMNS)
    for row in inputs[inputs["status"] == "failed"].itertuples():
        log.warning("%s: %s", row.Source, row.reason)
    if index.empty:
        raise PredictError(
            f"predict_dir {folder}: none of its {len(inputs)} file(s) is a readable video "
            f"(first: {inputs['reason'].iloc[0]})"
        )
    prune(cache_dir, set(index["FileName"]))
    log.info("%d of %d file(s) converted", len(index), len(inputs))
    return inputs.astype({c: "Int64" for c in ("source_frames", "source_height", "source_width", "frames")}), index


# --- 2. sizes and masks -----------------------------------------------------------------------


def sizes(settings: dict, weights: str, inputs: str, index: str, masks_dir: str, threads: int = 1) -> pd.DataFrame:
    """size.csv of every converted video (with the detected end-systoles); masks/<video>.npz."""
    compute = prepare_device(settings["device"], threads, settings["precision"], cpu_bf16=True)
    model, spec = load_segmentation_model(weights, settings["segmentation_model"], settings["normalisation"])
    model = compute.place(model.to(compute.device)).eval()
    videos = converted(read_inputs(inputs))
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
    """One EF model's clip predictions (Filename, Clip, Prediction, model, frames, period): the beats' clips or all."""
    compute = prepare_device(settings["device"], threads, settings["precision"], cpu_bf16=True)
    model, spec = load_ef_model(weights, settings["normalisation"])
    model = compute.place(model.to(compute.device), video=True).eval()
    videos = converted(read_inputs(inputs))
    cache = VideoCache.open(index, heal=False)
    if settings["clips"] == "all":
        dataset = ClipDataset(cache, videos, spec.frames, spec.period, "all")
    else:
        traces = pd.read_csv(size_csv, dtype={"Filename": str})
        n_frames = {name: cache.n_frames(name) for name in videos["FileName"]}
        beats = beat_clip_starts(traces, n_frames, spec.frames, spec.period)
        position = {name: v for v, name in enumerate(videos["FileName"])}
        chosen = sorted({(position[key], int(clip)) for key, clip in zip(beats["key"], beats["Clip"], strict=True)})
        dataset = ClipDataset(cache, videos, spec.frames, spec.period, "chosen", chosen=chosen)
    table = predict_clips(model, dataset, spec.normaliser, compute, settings["inference_batch_size"])
    log.info(
        "%s (%s %dx%d): %d clip(s) of %d video(s)", label, spec.model, spec.frames, spec.period, len(table), len(videos)
    )
    return table.assign(model=label, frames=spec.frames, period=spec.period)


# --- 4. the per-video table -----------------------------------------------------------------


def table(settings: dict, inputs: str, size_csv: str, masks_dir: str, clip_paths: list[str]):
    """predictions.csv (one row per input file), beats.csv (one row per beat and model), clips.csv."""
    sizes = pd.read_csv(size_csv, dtype={"Filename": str})
    summaries = {}
    for name, trace in sizes.groupby("Filename", sort=False):
        video = bare_name(name)
        es = trace.loc[trace["ComputerSmall"] == 1, "Frame"].to_numpy()
        masks = np.load(Path(masks_dir) / f"{video}.npz")["masks"]
        summaries[video] = external.beat_summary(trace, beat_measurements(trace["Size"].to_numpy(), es, masks))
    # The clips file's name is the model's label (predict.smk: clips/{model}.csv).
    clips = {Path(p).stem: pd.read_csv(p, dtype={"Filename": str}) for p in clip_paths}
    return external.video_table(
        external.read_inputs(inputs), sizes, summaries, clips, settings["clips"] == "all", settings["beat_sd_flag"]
    )


def write_table(outputs, predictions: pd.DataFrame, beats: pd.DataFrame, clips: pd.DataFrame) -> None:
    write_csv(outputs["predictions"], predictions)
    write_csv(outputs["beats"], beats)
    write_csv(outputs["clips"], clips)


# --- 5. overlays, report --------------------------------------------------------------------


def overlays(inputs: str, index: str, size_csv: str, masks_dir: str, out_dir: str) -> None:
    """overlays/<video>.avi (the video, its mask, the size trace with the detected end-systoles)
    and overlays/<video>.png (the trace) of every converted video, from the saved masks."""
    videos = converted(read_inputs(inputs))
    # No traced frames: the OverlayVideo default (-1) draws no human ED/ES line.
    chosen = [OverlayVideo(row.FileName, row.Source, float(row.fps)) for row in videos.itertuples()]
    with atomic_directory(out_dir) as folder:
        write_overlays(
            folder,
            VideoCache.open(index, heal=False),
            pd.read_csv(size_csv, dtype={"Filename": str}),
            chosen,
            lambda name, _: np.load(Path(masks_dir) / f"{name}.npz")["masks"],
        )


def report(path: str, predictions: str, beats: str, sizes: str, index: str) -> None:
    """report.html of the prediction folder, its frames read from the converted videos' cache."""
    html = video_report.render(
        external.read_inputs(predictions),
        pd.read_csv(beats, dtype={"Video": str}),
        pd.read_csv(sizes, dtype={"Filename": str}),
        VideoCache.open(index, heal=False),
    )
    write_text(path, html)
