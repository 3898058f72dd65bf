"""The data stage's rules: synthetic dataset, verification, the video cache, normalisation, predict examples.

Each function is one rule's work, writing its outputs atomically; :func:`prepare_stage_inputs`
runs verification, cache and normalisation in a row on an existing dataset folder, exactly as
the rules do, for tests and benchmarks that need what the model stages read.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

from echobeat import config_schema
from echobeat.atomic import write_csv, write_text
from echobeat.data.cache import VideoCache, build_cache
from echobeat.data.normalisation import normalisation_stats
from echobeat.data.predict_examples import write_examples
from echobeat.data.synthetic import generate_dataset
from echobeat.data.verify import DatasetCheckFailed, Verification, VerifySettings
from echobeat.data.verify import verify_dataset as check_dataset
from echobeat.stages import rule_settings
from echobeat.stages.inputs import StageInputs, split_rows

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def synthetic_dataset(settings: dict, data_dir: PathLike, threads: int = 1) -> pd.DataFrame:
    """Rule synthetic_dataset: a synthetic EchoNet-format dataset in ``data_dir``; returns its FileList."""
    return generate_dataset(data_dir, settings, threads=threads)


def verify_dataset(
    settings: dict,
    data_dir: PathLike,
    manifest: PathLike,
    excluded: PathLike,
    tracings: PathLike,
    report: PathLike,
    threads: int = 1,
) -> Verification:
    """Rule verify_dataset: check the dataset; write the manifest, exclusions, kept tracings and report.

    When the check stops the run (``on_error: stop``), the full report goes to the log before the
    error, which lists the problems.
    """
    try:
        result = check_dataset(data_dir, VerifySettings(**settings), threads=threads)
    except DatasetCheckFailed as failure:
        log.error("verification report:\n%s", failure.verification.report())
        raise
    write_csv(manifest, result.manifest)
    write_csv(excluded, result.excluded)
    write_csv(tracings, result.tracings)
    write_text(report, result.report())
    log.info(
        "%d usable videos, %d excluded, %d problems reported",
        len(result.manifest),
        len(result.excluded),
        len(result.problems),
    )
    return result


def cache_videos(manifest: PathLike, videos_dir: PathLike, index: PathLike, threads: int = 1) -> pd.DataFrame:
    """Rule cache_videos: decode every usable video of the manifest once into the cache beside ``index``."""
    table = pd.read_csv(manifest, dtype={"FileName": str})
    entries = build_cache(table, videos_dir, Path(index).parent, threads=threads)
    write_csv(index, entries)
    return entries


def normalisation(settings: dict, manifest: PathLike, index: PathLike, out: PathLike) -> dict:
    """Rule normalisation: the per-channel mean and std of the TRAIN split (or the ones ``settings``
    gives) into ``out`` (normalisation.json)."""
    return _write_normalisation(settings, manifest, index, out)


def _write_normalisation(settings: dict, manifest: PathLike, index: PathLike, out: PathLike) -> dict:
    # Apart from normalisation() so that prepare_stage_inputs, whose argument has that name, runs the same code.
    train = split_rows(pd.read_csv(manifest, dtype={"FileName": str}), "TRAIN")["FileName"].tolist()
    stats = normalisation_stats(VideoCache.open(index), train, settings)
    write_text(out, json.dumps(stats, indent=2) + "\n")
    log.info("mean %s, std %s (%s)", stats["mean"], stats["std"], stats["source"])
    return stats


def predict_examples(data_dir: PathLike, out_dir: PathLike) -> list[str]:
    """Rule predict_examples: held-out synthetic videos as AVI, MP4 and DICOM in ``out_dir``; returns their names."""
    names = write_examples(data_dir, out_dir)
    log.info("examples of %s in %s", ", ".join(names), out_dir)
    return names


def prepare_stage_inputs(
    data_dir: PathLike,
    out_dir: PathLike,
    verify: dict | None = None,
    normalisation: dict | None = None,
    threads: int = 1,
) -> StageInputs:
    """Verify, cache and normalise the dataset in ``data_dir`` into ``out_dir``, as the data rules do.

    ``verify`` and ``normalisation`` are the rules' settings (the config's ``data`` keys of
    verification, and its ``normalisation`` section); None takes the config schema's defaults,
    as a run whose config leaves them out would. The files land where the workflow puts them
    under ``results/data``: manifest.csv, excluded.csv, tracings.csv, verify_report.md,
    cache/index.csv (with the cache beside it) and normalisation.json.
    """
    if verify is None or normalisation is None:
        defaults = config_schema.defaults(config_schema.load_schema())
        verify = rule_settings.verify_slice(defaults) if verify is None else verify
        normalisation = rule_settings.normalisation_slice(defaults) if normalisation is None else normalisation
    out = Path(out_dir)
    inputs = StageInputs(
        manifest=str(out / "manifest.csv"),
        tracings=str(out / "tracings.csv"),
        index=str(out / "cache" / "index.csv"),
        normalisation=str(out / "normalisation.json"),
    )
    verify_dataset(
        verify, data_dir, inputs.manifest, out / "excluded.csv", inputs.tracings, out / "verify_report.md", threads
    )
    cache_videos(inputs.manifest, Path(data_dir) / "Videos", inputs.index, threads)
    _write_normalisation(normalisation, inputs.manifest, inputs.index, inputs.normalisation)
    return inputs
