"""Benchmark: the EF training's data path over several epochs, before and after issue 16.

Not a test. Run from the repository root:

    python bench/epochs.py [--videos 240] [--epochs 4] [--workers 1] [--workdir /tmp/echobeat-epochs]

It writes a synthetic dataset (112x112, ~176 frames), builds the cache and normalisation, then
iterates the EF training loader for a few epochs without a model, in two ways:

- ``before``: the loader as the EF stage built it until issue 16: DataLoader workers started
  afresh every epoch, each checking (CRC32) every cache entry it reads the first time it
  reads it, so the whole TRAIN cache is checked again every epoch;
- ``after``: the loaders of ``echobeat.stages.video.training_run`` (the workflow's own code):
  every entry checked once, on the job's threads, before persistent workers start.

Both yield the same batches (checked). Prints seconds per epoch and clips/s, and a Markdown row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from echobeat.compute import Compute  # noqa: E402
from echobeat.data.cache import VideoCache, build_cache  # noqa: E402
from echobeat.data.normalisation import mean_and_std  # noqa: E402
from echobeat.data.synthetic import generate_dataset  # noqa: E402
from echobeat.data.verify import VerifySettings, verify_dataset  # noqa: E402
from echobeat.learn.datasets import ClipDataset, Normaliser, prebatched, split_rows  # noqa: E402
from echobeat.stages.video import training_run  # noqa: E402

# The paper's EF run as config/config.yaml sets it (32x2 clips, batch 20, pad 12), on the CPU,
# random weights (nothing to download; the loader does not depend on them).
SETTINGS = {
    **yaml.safe_load((REPO / "config" / "config.yaml").read_text())["video"]["defaults"],
    "weights": "random",
    "device": "cpu",
    "precision": "fp32",
}


def prepare(workdir: Path, videos: int) -> dict[str, str]:
    paths = {"manifest": str(workdir / "manifest.csv"), "index": str(workdir / "cache" / "index.csv")}
    paths["normalisation"] = str(workdir / "normalisation.json")
    if Path(paths["normalisation"]).exists():
        return paths
    synthetic = {
        "seed": 1,
        "n_videos": videos,
        "splits": {"TRAIN": 0.75, "VAL": 0.125, "TEST": 0.125},
        "frames": {"min": 150, "max": 200},
        "fps": [50],
        "beats": {"min": 2, "max": 4},
        "codec": "FFV1",
    }
    generate_dataset(workdir / "data", synthetic, threads=2)
    manifest = verify_dataset(workdir / "data", VerifySettings()).manifest
    manifest.to_csv(paths["manifest"], index=False)
    index = build_cache(manifest, workdir / "data" / "Videos", workdir / "cache", threads=2)
    index.to_csv(paths["index"], index=False)
    train = split_rows(manifest, "TRAIN")["FileName"].tolist()
    stats = mean_and_std(VideoCache(workdir / "cache", index), train)
    Path(paths["normalisation"]).write_text(json.dumps(stats))
    return paths


def before_loader(paths: dict[str, str], workers: int):
    """The EF stage's training loader before issue 16 (rebuilt here: the library no longer has it)."""
    manifest = pd.read_csv(paths["manifest"], dtype={"FileName": str})
    cache = VideoCache.open(paths["index"])
    normaliser = Normaliser.from_json(json.loads(Path(paths["normalisation"]).read_text()))
    s = SETTINGS
    dataset = ClipDataset(
        cache, split_rows(manifest, "TRAIN"), normaliser, s["frames"], s["period"], "random", s["pad"], s["seed"]
    )
    shuffle = torch.Generator()
    loader = DataLoader(
        dataset,
        batch_size=s["batch_size"],
        shuffle=True,
        drop_last=True,
        generator=shuffle,
        num_workers=workers,
        collate_fn=prebatched,
        persistent_workers=False,
    )

    def start_epoch(epoch: int) -> None:
        dataset.set_epoch(epoch)
        shuffle.manual_seed(s["seed"] * 1_000_003 + epoch)

    return loader, start_epoch


class WorkersOnCpu(Compute):
    """A CPU job that feeds itself with DataLoader workers as a GPU job does (threads - 1 of them)."""

    @property
    def loader_workers(self) -> int:
        return self.threads - 1


def after_loader(paths: dict[str, str], workers: int, workdir: Path):
    compute = WorkersOnCpu(torch.device("cpu"), threads=workers + 1)
    _, run = training_run(SETTINGS, paths["manifest"], paths["index"], paths["normalisation"], str(workdir), compute)
    return run.loaders["train"], run.on_epoch_start


def time_epochs(loader, start_epoch, epochs: int) -> tuple[list[float], list[torch.Tensor]]:
    seconds, first_batches = [], []
    for epoch in range(epochs):
        start_epoch(epoch)
        began = time.perf_counter()
        for i, batch in enumerate(loader):
            if i == 0:
                first_batches.append(batch.pixels.clone())
        seconds.append(time.perf_counter() - began)
    return seconds, first_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/echobeat-epochs"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    paths = prepare(args.workdir, args.videos)
    n_train = len(split_rows(pd.read_csv(paths["manifest"]), "TRAIN"))
    clips = n_train // SETTINGS["batch_size"] * SETTINGS["batch_size"]
    results = {}
    for mode in ("before", "after", "before", "after"):  # twice each, interleaved: a fair share of any noise
        start = time.perf_counter()
        if mode == "before":
            loader, start_epoch = before_loader(paths, args.workers)
        else:
            loader, start_epoch = after_loader(paths, args.workers, args.workdir / "run")
        setup = time.perf_counter() - start
        seconds, batches = time_epochs(loader, start_epoch, args.epochs)
        results.setdefault(mode, []).append({"setup": setup, "epochs": seconds, "batches": batches})
        print(f"{mode}: setup {setup:.2f} s, epochs {', '.join(f'{s:.2f}' for s in seconds)} s", flush=True)
    for a, b in zip(results["before"][0]["batches"], results["after"][0]["batches"], strict=True):
        assert torch.equal(a, b), "the two loaders must yield the same clips"
    print(f"\n{n_train} TRAIN videos ({clips} clips per epoch), {args.workers} worker(s), {args.epochs} epochs")
    print("| loader | setup (s) | first epoch (s) | later epochs (s, mean) | later epochs (clips/s) |")
    print("|---|---:|---:|---:|---:|")
    for mode in ("before", "after"):
        setup = min(r["setup"] for r in results[mode])
        first = min(r["epochs"][0] for r in results[mode])
        later = min(sum(r["epochs"][1:]) / (args.epochs - 1) for r in results[mode])
        print(f"| {mode} | {setup:.2f} | {first:.2f} | {later:.2f} | {clips / later:.0f} |")


if __name__ == "__main__":
    main()
