"""Benchmark: the EF training's data path over several epochs.

Not a test. Run from the repository root:

    python bench/epochs.py [--videos 240] [--epochs 4] [--workers 1] [--workdir /tmp/echobeat-epochs]

It writes a synthetic dataset (112x112, ~176 frames), prepares it as the data rules do
(``echobeat.stages.data.prepare_stage_inputs``), then iterates the training loader of
``echobeat.stages.video.training_run`` (the workflow's own code) for a few epochs without a
model: every cache entry checked once, on the job's threads, before persistent workers start.
It runs the loader with ``--workers`` DataLoader workers and with none, and checks that both
yield the same batches. Prints the setup time, seconds per epoch and clips/s as Markdown rows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from echobeat.compute import Compute  # noqa: E402
from echobeat.stages.data import prepare_stage_inputs, synthetic_dataset  # noqa: E402
from echobeat.stages.inputs import StageInputs, split_rows  # noqa: E402
from echobeat.stages.video import training_run  # noqa: E402

# The paper's EF run as config/config.yaml sets it (32x2 clips, batch 20, pad 12), on the CPU,
# random weights (nothing to download; the loader does not depend on them).
SETTINGS = {
    **yaml.safe_load((REPO / "config" / "config.yaml").read_text())["video"]["defaults"],
    "weights": "random",
    "device": "cpu",
    "precision": "fp32",
}


def prepare(workdir: Path, videos: int) -> StageInputs:
    data = workdir / "data"
    if not (data / "FileList.csv").exists():
        synthetic = {
            "seed": 1,
            "n_videos": videos,
            "splits": {"TRAIN": 0.75, "VAL": 0.125, "TEST": 0.125},
            "frames": {"min": 150, "max": 200},
            "fps": [50],
            "beats": {"min": 2, "max": 4},
            "codec": "FFV1",
        }
        synthetic_dataset(synthetic, data, threads=2)
    # Verification and a cache that is already up to date take seconds: always from the rules' code.
    return prepare_stage_inputs(data, workdir / "results", threads=2)


class WorkersOnCpu(Compute):
    """A CPU job that feeds itself with DataLoader workers as a GPU job does (threads - 1 of them)."""

    @property
    def loader_workers(self) -> int:
        return self.threads - 1


def stage_loader(inputs: StageInputs, workers: int, workdir: Path):
    """The training loader of the EF stage and its start-of-epoch hook, fed by ``workers`` workers."""
    compute = WorkersOnCpu(torch.device("cpu"), threads=workers + 1)
    _, run = training_run(SETTINGS, inputs.manifest, inputs.index, inputs.normalisation, str(workdir), compute)
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
    inputs = prepare(args.workdir, args.videos)
    n_train = len(split_rows(pd.read_csv(inputs.manifest), "TRAIN"))
    clips = n_train // SETTINGS["batch_size"] * SETTINGS["batch_size"]
    results = {}
    modes = {f"{args.workers} worker(s)": args.workers, "no worker": 0}
    for mode in [*modes, *modes]:  # twice each, interleaved: a fair share of any noise
        start = time.perf_counter()
        loader, start_epoch = stage_loader(inputs, modes[mode], args.workdir / "run")
        setup = time.perf_counter() - start
        seconds, batches = time_epochs(loader, start_epoch, args.epochs)
        results.setdefault(mode, []).append({"setup": setup, "epochs": seconds, "batches": batches})
        print(f"{mode}: setup {setup:.2f} s, epochs {', '.join(f'{s:.2f}' for s in seconds)} s", flush=True)
    first, second = (results[mode][0]["batches"] for mode in modes)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b), "the loader must yield the same clips whatever its number of workers"
    print(f"\n{n_train} TRAIN videos ({clips} clips per epoch), {args.epochs} epochs")
    print("| loader | setup (s) | first epoch (s) | later epochs (s, mean) | later epochs (clips/s) |")
    print("|---|---:|---:|---:|---:|")
    for mode in modes:
        setup = min(r["setup"] for r in results[mode])
        first_epoch = min(r["epochs"][0] for r in results[mode])
        later = min(sum(r["epochs"][1:]) / (args.epochs - 1) for r in results[mode])
        print(f"| {mode} | {setup:.2f} | {first_epoch:.2f} | {later:.2f} | {clips / later:.0f} |")


if __name__ == "__main__":
    main()
