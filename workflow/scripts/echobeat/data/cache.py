"""The decoded-video cache: every usable video decoded once into a memory-mappable uint8 array.

Layout under the cache folder::

    videos/<FileName>.npy    uint8 (C, F, H, W); C = 1 where the three channels are identical
    videos/<FileName>.json   what the entry was built from: source size and mtime, shape, CRC32
    index.csv                one row per video (the rule's declared output)

An entry is valid only if its sidecar exists, the source video still has the size and
modification time recorded there, and the array file has the recorded size (and, when
checked, CRC32). Entries and sidecars are written atomically, the sidecar last, so a crash
leaves at worst an entry without a sidecar, which is rebuilt. Readers check each entry once
per process and rebuild a stale or damaged one from its source video rather than read it; a
job checks all the entries it will read up front (``VideoCache.check_all``, on all its
threads) before it starts DataLoader workers, which inherit the checks instead of repeating
them (at the real dataset's size a CRC pass reads about 22 GB).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from echobeat.atomic import atomic_path, write_text
from echobeat.data.names import avi_name
from echobeat.data.video_io import read_video
from echobeat.errors import UserError

log = logging.getLogger(__name__)

INDEX_COLUMNS = ["FileName", "Source", "Channels", "Frames", "Height", "Width", "Bytes", "CRC32", "Rebuilt"]


class CacheError(UserError):
    """A cache entry is missing, stale or damaged and may not be rebuilt here."""


@dataclass(frozen=True)
class EntryPaths:
    array: Path
    sidecar: Path


def entry_paths(cache_dir: str | os.PathLike[str], name: str) -> EntryPaths:
    folder = Path(cache_dir) / "videos"
    return EntryPaths(folder / f"{name}.npy", folder / f"{name}.json")


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


def source_stamp(source: Path) -> dict:
    stat = source.stat()
    return {"source_bytes": stat.st_size, "source_mtime_ns": stat.st_mtime_ns}


def entry_problem(cache_dir: str | os.PathLike[str], name: str, source: Path, check_crc: bool) -> str | None:
    """Why the cache entry of ``name`` cannot be used, or None if it can."""
    paths = entry_paths(cache_dir, name)
    if not paths.sidecar.is_file():
        return "no complete entry"
    try:
        meta = json.loads(paths.sidecar.read_text())
    except (OSError, ValueError):
        return "unreadable sidecar"
    if not paths.array.is_file():
        return "array file missing"
    try:
        stamp = source_stamp(source)
    except OSError:
        return f"source video {source} missing"
    if stamp["source_bytes"] != meta.get("source_bytes") or stamp["source_mtime_ns"] != meta.get("source_mtime_ns"):
        return "source video changed since the entry was built"
    if paths.array.stat().st_size != meta.get("bytes"):
        return (
            f"array file has {paths.array.stat().st_size} bytes, expected {meta.get('bytes')} (truncated or replaced)"
        )
    if check_crc and _crc32(paths.array) != meta.get("crc32"):
        return "array file content does not match its CRC32 (corrupted)"
    return None


def build_entry(cache_dir: str | os.PathLike[str], name: str, source: Path) -> dict:
    """Decode ``source`` and write its entry atomically (array first, then sidecar)."""
    stamp = source_stamp(source)
    return write_entry(cache_dir, name, read_video(source), stamp)


def write_entry(cache_dir: str | os.PathLike[str], name: str, video: np.ndarray, stamp: dict) -> dict:
    """Write a (C, F, H, W) uint8 array as entry ``name`` atomically (array first, then the sidecar
    with ``stamp``, the source's size and mtime as :func:`source_stamp` gives them)."""
    paths = entry_paths(cache_dir, name)
    paths.array.parent.mkdir(parents=True, exist_ok=True)
    if video.shape[0] == 3 and np.array_equal(video[0], video[1]) and np.array_equal(video[1], video[2]):
        video = video[:1]  # identical channels: one is lossless
    with atomic_path(paths.array) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.ascontiguousarray(video))
    meta = {
        **stamp,
        "shape": list(video.shape),
        "bytes": paths.array.stat().st_size,
        "crc32": _crc32(paths.array),
    }
    write_text(paths.sidecar, json.dumps(meta))
    return meta


def _ensure(cache_dir: Path, name: str, source: Path) -> tuple[dict, bool]:
    problem = entry_problem(cache_dir, name, source, check_crc=True)
    if problem is None:
        return json.loads(entry_paths(cache_dir, name).sidecar.read_text()), False
    if problem != "no complete entry":
        log.info("rebuilding cache entry %s: %s", name, problem)
    return build_entry(cache_dir, name, source), True


def build_cache(
    manifest: pd.DataFrame, videos_dir: str | os.PathLike[str], cache_dir: str | os.PathLike[str], threads: int = 1
) -> pd.DataFrame:
    """Bring the cache up to date with the manifest; return the index table.

    Valid entries are kept, the others decoded again, in parallel over ``threads``.
    """
    cache_dir, videos_dir = Path(cache_dir), Path(videos_dir)
    names = manifest["FileName"].tolist()
    sources = [videos_dir / avi_name(name) for name in names]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = list(pool.map(_ensure, [cache_dir] * len(names), names, sources))
    rows = []
    for name, source, (meta, rebuilt) in zip(names, sources, results, strict=True):
        channels, frames, height, width = meta["shape"]
        rows.append([name, str(source), channels, frames, height, width, meta["bytes"], meta["crc32"], int(rebuilt)])
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    prune(cache_dir, set(names))
    log.info(
        "cache: %d entries, %d decoded now, %d reused",
        len(index),
        index["Rebuilt"].sum(),
        (~index["Rebuilt"].astype(bool)).sum(),
    )
    return index


def prune(cache_dir: Path, keep: set[str]) -> None:
    """Delete entries (and partial files) of videos no longer in the manifest."""
    folder = cache_dir / "videos"
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        partial = path.name.endswith(".partial")
        orphan = path.suffix in (".npy", ".json") and path.stem not in keep
        if partial or orphan:
            path.unlink()


class VideoCache:
    """Read access to the cache: ``video(name)`` is a read-only memory map, (C, F, H, W) uint8.

    Each entry is checked the first time this process reads it; a stale or damaged entry is
    rebuilt from its source video (``heal=True``) or raises :class:`CacheError`.
    """

    def __init__(
        self, cache_dir: str | os.PathLike[str], index: pd.DataFrame, heal: bool = True, check_crc: bool = True
    ):
        self.cache_dir = Path(cache_dir)
        self.sources = dict(zip(index["FileName"], index["Source"], strict=True))
        self.shapes = {
            row.FileName: (int(row.Channels), int(row.Frames), int(row.Height), int(row.Width))
            for row in index.itertuples()
        }
        self.heal = heal
        self.check_crc = check_crc
        self._checked: set[str] = set()

    @classmethod
    def open(cls, index_path: str | os.PathLike[str], **kwargs) -> VideoCache:
        """The cache whose index file is ``index_path`` (its entries live beside it)."""
        index_path = Path(index_path)
        return cls(index_path.parent, pd.read_csv(index_path, dtype={"FileName": str, "Source": str}), **kwargs)

    def n_frames(self, name: str) -> int:
        return self.shapes[name][1]

    def _check(self, name: str) -> None:
        if name not in self.sources:
            raise CacheError(f"{name} is not in the cache index {self.cache_dir / 'index.csv'}")
        source = Path(self.sources[name])
        problem = entry_problem(self.cache_dir, name, source, self.check_crc)
        if problem is not None:
            if not self.heal:
                raise CacheError(f"cache entry {entry_paths(self.cache_dir, name).array}: {problem}")
            log.warning("cache entry %s: %s; rebuilding it from %s", name, problem, source)
            meta = build_entry(self.cache_dir, name, source)
            self.shapes[name] = tuple(meta["shape"])
        self._checked.add(name)

    def check_all(self, names, threads: int = 1) -> None:
        """Check (and heal) every entry of ``names`` now, ``threads`` at a time.

        Call it in the job's main process before the DataLoader starts its workers: they are
        forked from it (or receive it pickled) with these entries already checked.
        """
        pending = [name for name in dict.fromkeys(names) if name not in self._checked]
        if threads <= 1 or len(pending) <= 1:
            for name in pending:
                self._check(name)
            return
        # zlib.crc32 releases the GIL, so threads check entries in parallel.
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(self._check, pending))

    def video(self, name: str) -> np.ndarray:
        """The cached video, memory-mapped read-only."""
        if name not in self._checked:
            self._check(name)
        return np.load(entry_paths(self.cache_dir, name).array, mmap_mode="r")
