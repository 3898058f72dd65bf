"""Benchmark: clips per second of normalised 32x2 clips, decoding the AVI per sample vs the cache.

Not a test. Run from the repository root:

    python bench/data_path.py [--videos 24] [--frames 176] [--workdir /tmp/echobeat-bench]

It writes a synthetic dataset of the real shape (112x112, 176 frames), prepares it as the data
rules do, and for each path and DataLoader setting (no worker = one process, 1 worker, 4
workers) runs a fresh process that draws random clips and reports clips/s and the peak resident memory of
the main process and of its workers. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psutil  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler  # noqa: E402

from echobeat.data.cache import VideoCache  # noqa: E402
from echobeat.data.clips import n_clips  # noqa: E402
from echobeat.data.normalisation import Normaliser  # noqa: E402
from echobeat.data.video_io import read_video  # noqa: E402
from echobeat.datasets.clips import ClipDataset, EpochBatches, prebatched  # noqa: E402
from echobeat.stages.data import prepare_stage_inputs, synthetic_dataset  # noqa: E402

LENGTH, PERIOD = 32, 2
MEAN, STD = [32.0, 32.0, 32.0], [50.0, 50.0, 50.0]


class DecodeEveryTime(Dataset):
    """The original's way: decode the whole AVI, convert and normalise it in float, then cut a clip."""

    def __init__(self, videos_dir: Path, names: list[str], seed: int = 0):
        self.paths = [videos_dir / f"{name}.avi" for name in names]
        self.mean = np.array(MEAN, np.float32).reshape(3, 1, 1, 1)
        self.std = np.array(STD, np.float32).reshape(3, 1, 1, 1)
        self.seed = seed

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        video = read_video(self.paths[index]).astype(np.float32)
        video = (video - self.mean) / self.std
        c, f, h, w = video.shape
        if f < LENGTH * PERIOD:
            video = np.concatenate([video, np.zeros((c, LENGTH * PERIOD - f, h, w), np.float32)], axis=1)
        rng = np.random.default_rng([self.seed, index])
        start = int(rng.integers(n_clips(f, LENGTH, PERIOD)))
        clip = video[:, start + PERIOD * np.arange(LENGTH)]
        return torch.from_numpy(np.ascontiguousarray(clip)), torch.tensor(0.0)


def measure(workdir: Path, path: str, workers: int, clips: int) -> dict:
    """Draw ``clips`` clips in batches of 8 and time it (in this process)."""
    manifest = json.loads((workdir / "names.json").read_text())
    normaliser = Normaliser(MEAN, STD)
    if path == "decode":
        dataset = DecodeEveryTime(workdir / "data" / "Videos", manifest)
    else:
        cache = VideoCache.open(workdir / "cache" / "index.csv")
        table = pd.DataFrame({"FileName": manifest, "EF": np.zeros(len(manifest))})
        dataset = ClipDataset(cache, table, LENGTH, PERIOD, "random")
        for name in manifest:  # the one-off entry check is not part of the steady state
            cache.video(name)
    common = {"num_workers": workers, "persistent_workers": workers > 0}
    if path == "decode":
        batches = None
        loader = DataLoader(dataset, batch_size=8, shuffle=True, **common)
    else:
        # As the EF stage feeds it: the epoch travels with every index to the persistent workers.
        batches = EpochBatches(BatchSampler(RandomSampler(dataset), 8, drop_last=False))
        loader = DataLoader(dataset, batch_sampler=batches, collate_fn=prebatched, **common)
    drawn = 0
    # Warm-up: one batch (starts the workers).
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    epoch = 0
    while drawn < clips:
        for batch in iterator:
            # The cache path hands over uint8; normalising is part of what is timed.
            if path == "cache":
                tensor = batch.normalised(normaliser)
            elif path == "cache-uint8":  # what a GPU consumer receives; it normalises on the device
                tensor = batch.pixels
            else:
                tensor = batch[0]
            drawn += tensor.shape[0]
            if drawn >= clips:
                break
        epoch += 1
        if batches is not None:
            batches.set_epoch(epoch)
        iterator = iter(loader)
    seconds = time.perf_counter() - start
    return {
        "path": path,
        "workers": workers,
        "clips": drawn,
        "seconds": seconds,
        "clips_per_s": drawn / seconds,
        "main_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss_mb": max([peak_rss_mb(p.pid) for p in psutil.Process().children(recursive=True)], default=0.0),
    }


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def prepare(workdir: Path, videos: int, frames: int, codec: str) -> None:
    settings = {
        "seed": 1,
        "n_videos": videos,
        "splits": {"TRAIN": 1, "VAL": 0, "TEST": 0},
        "frames": {"min": frames, "max": frames},
        "fps": [50],
        "beats": {"min": 1, "max": 6},
        "codec": codec,
    }
    synthetic_dataset(settings, workdir / "data", threads=2)
    inputs = prepare_stage_inputs(workdir / "data", workdir, threads=2)
    (workdir / ".codec").write_text(codec)
    names = pd.read_csv(inputs.manifest, dtype={"FileName": str})["FileName"].tolist()
    (workdir / "names.json").write_text(json.dumps(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=176)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/echobeat-bench"))
    parser.add_argument("--codec", default="FFV1", help="FourCC of the synthetic AVIs (FFV1, MJPG, XVID)")
    parser.add_argument("--decode-clips", type=int, default=96)
    parser.add_argument("--cache-clips", type=int, default=2000)
    parser.add_argument("--measure", nargs=3, metavar=("PATH", "WORKERS", "CLIPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.measure:
        path, workers, clips = args.measure
        print(json.dumps(measure(args.workdir, path, int(workers), int(clips))))
        return
    if not (args.workdir / "names.json").exists():
        prepare(args.workdir, args.videos, args.frames, args.codec)
    names = json.loads((args.workdir / "names.json").read_text())
    start = time.perf_counter()
    for name in names:
        read_video(args.workdir / "data" / "Videos" / f"{name}.avi")
    decode_ms = (time.perf_counter() - start) / len(names) * 1e3
    rows = []
    for path, clips in (("decode", args.decode_clips), ("cache", args.cache_clips), ("cache-uint8", args.cache_clips)):
        for workers in (0, 1, 4):
            out = subprocess.run(
                [sys.executable, __file__, "--workdir", str(args.workdir), "--measure", path, str(workers), str(clips)],
                check=True,
                capture_output=True,
                text=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], file=sys.stderr)
    print(
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s) per process"
    )
    channels = pd.read_csv(args.workdir / "cache" / "index.csv")["Channels"].max()
    codec = (args.workdir / ".codec").read_text() if (args.workdir / ".codec").exists() else args.codec
    print(f"{args.videos} videos of {args.frames} frames, 112x112, {codec} AVI, cache of {channels} channel(s)")
    print(f"Batches of 8 normalised {LENGTH}x{PERIOD} clips\n")
    print("| path | DataLoader | clips/s | peak RSS main (MB) | peak RSS per worker (MB) |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        loader = "no worker (one process)" if row["workers"] == 0 else f"{row['workers']} worker(s)"
        workers_rss = "-" if row["workers"] == 0 else f"{row['worker_rss_mb']:.0f}"
        print(f"| {row['path']} | {loader} | {row['clips_per_s']:.1f} | {row['main_rss_mb']:.0f} | {workers_rss} |")
    speed = {(r["path"], r["workers"]): r["clips_per_s"] for r in rows}
    print(f"\nDecoding one {args.frames}-frame AVI alone (OpenCV, uint8): {decode_ms:.1f} ms")
    print(f"\nCache vs decode with one worker: {speed[('cache', 1)] / speed[('decode', 1)]:.0f}x")


if __name__ == "__main__":
    main()
