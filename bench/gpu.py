"""GPU throughput benchmark: training and inference of the paper's models on cached data.

Not a test. On a machine with a GPU, from the repository root:

    python bench/gpu.py --out gpu.json            # about 5 minutes on an H100/H200
    python bench/gpu.py --quick --device cpu      # a smoke run of the script itself

It writes a synthetic dataset of the real shape (112x112, ~176 frames), builds the cache,
then measures, each in fp32 and in bf16 autocast with channels-last:

- R(2+1)D-18 training on random 32x2 clips (batch 20, pad-and-crop), clips/s;
- R(2+1)D-18 all-clip inference (batch 64), clips/s;
- DeepLabV3-ResNet50 training on ED/ES frames (batch 20 videos = 40 frames), frames/s;
- DeepLabV3-ResNet50 size inference on every frame (batch 256), frames/s;

with the data coming from the cache through the real DataLoader, and the share of step time
spent waiting for data. It prints a Markdown table and a projection of the full reproduction's
wall time on the real dataset's sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

import torch  # noqa: E402
from torch.utils.data import BatchSampler, DataLoader, RandomSampler  # noqa: E402

from echobeat.compute import Compute  # noqa: E402
from echobeat.data import echonet  # noqa: E402
from echobeat.data.cache import VideoCache  # noqa: E402
from echobeat.data.normalisation import Normaliser  # noqa: E402
from echobeat.datasets.clips import ClipDataset, EpochBatches, prebatched  # noqa: E402
from echobeat.datasets.frames import FrameBatches, TracedFramesDataset  # noqa: E402
from echobeat.learn.segmentation_task import SegmentationTask  # noqa: E402
from echobeat.learn.training import Accumulator  # noqa: E402
from echobeat.learn.video_task import VideoTask  # noqa: E402
from echobeat.models.segmentation import logits, segmentation_model  # noqa: E402
from echobeat.models.video import forward_batch, video_model  # noqa: E402
from echobeat.stages.data import normalisation, prepare_stage_inputs, synthetic_dataset  # noqa: E402

# The real dataset's usable split sizes and the paper's epochs (docs/echonet.md).
REAL = {
    "train": echonet.USABLE_VIDEOS["TRAIN"],
    "val": echonet.USABLE_VIDEOS["VAL"],
    "test": echonet.USABLE_VIDEOS["TEST"],
    "frames": echonet.MEAN_FRAMES,
    "seg_epochs": 50,
    "video_epochs": 45,
}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_loop(loader, step, device, steps: int, warmup: int) -> dict:
    """Run ``warmup`` + ``steps`` steps; time the steps, and the part spent waiting for data."""
    iterator = iter(loader)
    items = wait = 0.0
    start = None
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
            items = wait = 0.0
        t0 = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            batch = next(iterator)
        wait += time.perf_counter() - t0
        items += step(batch)
    sync(device)
    total = time.perf_counter() - start
    return {"per_s": items / total, "data_wait_share": wait / total, "seconds": total, "items": items}


def compute_for(device, bf16: bool, workers: int) -> Compute:
    """The workflow's compute settings: bf16 autocast and channels-last on a GPU, or float32 as is."""
    fast = bf16 and device.type == "cuda"
    return Compute(device, torch.bfloat16 if fast else None, channels_last=fast, threads=workers + 1)


def train_step(task, model, optimiser, compute):
    """One optimiser step of the workflow's training loop (``learn.training.run_epoch``'s body)."""
    totals = Accumulator()

    def step(batch):
        with compute.autocast():
            loss = task.step(model, batch, compute, totals)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return len(batch) if hasattr(batch, "targets") else 2 * batch[0].shape[0]

    return step


def video_training(cache, manifest, normaliser, device, bf16, workers, steps, warmup, batch=20):
    compute = compute_for(device, bf16, workers)
    model = compute.place(video_model("r2plus1d_18", "random").to(device), video=True).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=1e-4)
    dataset = ClipDataset(cache, manifest, 32, 2, "random", pad=12, crop="symmetric")
    # Random clips are drawn per (epoch, item): the batches carry the epoch, as in the EF stage.
    loader = DataLoader(
        dataset,
        batch_sampler=EpochBatches(BatchSampler(RandomSampler(dataset), batch, drop_last=True)),
        num_workers=workers,
        collate_fn=prebatched,
        pin_memory=compute.pin_memory,
        persistent_workers=workers > 0,
    )
    return timed_loop(loader, train_step(VideoTask(normaliser), model, optimiser, compute), device, steps, warmup)


def video_inference(cache, manifest, normaliser, device, bf16, workers, steps, warmup, batch=64):
    compute = compute_for(device, bf16, workers)
    model = compute.place(video_model("r2plus1d_18", "random").to(device), video=True).eval()
    dataset = ClipDataset(cache, manifest, 32, 2, "all")
    loader = DataLoader(
        dataset,
        batch_size=batch,
        num_workers=workers,
        collate_fn=prebatched,
        pin_memory=compute.pin_memory,
        persistent_workers=workers > 0,
    )

    @torch.no_grad()
    def step(b):
        with compute.autocast():
            forward_batch(model, b, normaliser, compute)
        return len(b)

    return timed_loop(loader, step, device, steps, warmup)


def segmentation_training(cache, manifest, tracings, normaliser, device, bf16, workers, steps, warmup, batch=20):
    compute = compute_for(device, bf16, workers)
    model = compute.place(segmentation_model("deeplabv3_resnet50", "random").to(device)).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9)
    dataset = TracedFramesDataset(cache, manifest, tracings, normaliser)
    loader = DataLoader(
        dataset,
        batch_size=batch,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=compute.pin_memory,
        persistent_workers=workers > 0,
    )
    return timed_loop(loader, train_step(SegmentationTask(), model, optimiser, compute), device, steps, warmup)


def segmentation_inference(cache, names, normaliser, device, bf16, workers, steps, warmup, batch=256):
    compute = compute_for(device, bf16, workers)
    model = compute.place(segmentation_model("deeplabv3_resnet50", "random").to(device)).eval()
    loader = DataLoader(
        FrameBatches(cache, names * 4, batch_size=batch),
        batch_size=None,
        num_workers=workers,
        pin_memory=compute.pin_memory,
        persistent_workers=workers > 0,
    )

    @torch.no_grad()
    def step(b):
        # What inference.segmentation.frame_sizes does with each batch.
        with compute.autocast():
            (logits(model, normaliser.batch(b[0], device), compute) > 0).sum(dim=(1, 2))
        return b[0].shape[0]

    return timed_loop(loader, step, device, steps, warmup)


def projection(rates: dict) -> dict:
    """Hours of the full reproduction on the real dataset at the measured bf16 rates."""
    clips_per_video = REAL["frames"] - 62
    seg_train = REAL["seg_epochs"] * (REAL["train"] * 2 / rates["seg_train"] + REAL["val"] * 2 / rates["seg_infer"])
    video_train = REAL["video_epochs"] * (REAL["train"] / rates["video_train"] + REAL["val"] / rates["video_infer"])
    all_clips = (REAL["val"] + REAL["test"]) * clips_per_video / rates["video_infer"]
    sizes = REAL["test"] * REAL["frames"] / rates["seg_infer"]
    hours = {
        "segmentation training (50 epochs)": seg_train / 3600,
        "EF training per run (45 epochs)": video_train / 3600,
        "all-clip inference VAL+TEST per run": all_clips / 3600,
        "size inference TEST": sizes / 3600,
    }
    hours["total with the two configured EF runs"] = (
        hours["segmentation training (50 epochs)"]
        + 2 * (hours["EF training per run (45 epochs)"] + hours["all-clip inference VAL+TEST per run"])
        + hours["size inference TEST"]
    )
    return hours


def check_segmentation_stage(workdir: Path, cache, manifest, device: str) -> None:
    """Two epochs of the real stage code (train with resume files, evaluate, size.csv) on ``device``."""
    from echobeat.stages import segmentation as segmentation_run

    split = manifest.copy()
    split["Split"] = ["TRAIN", "TRAIN", "VAL", "TEST"] * (len(split) // 4) + ["TRAIN"] * (len(split) % 4)
    split.to_csv(workdir / "stage_manifest.csv", index=False)
    names = ("stage_manifest.csv", "tracings.csv", "cache/index.csv", "stage_normalisation.json")
    paths = [str(workdir / n) for n in names]
    normalisation({}, paths[0], paths[2], paths[3])  # the rule's own code, on this split
    settings = {
        "model": "deeplabv3_resnet50",
        "weights": "random",
        "epochs": 2,
        "batch_size": max(1, min(8, int((split["Split"] == "TRAIN").sum()))),
        "optimizer": "adam",
        "lr": 1e-4,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "lr_step": None,
        "lr_gamma": 0.1,
        "seed": 0,
        "bn_momentum": None,
        "device": device,
        "inference_batch_size": 256,
        "bootstrap_samples": 1000,
        "size_splits": ["TEST"],
        "beats": {"trim": "echonet"},
    }
    start = time.perf_counter()
    log = segmentation_run.train(settings, *paths, str(workdir / "stage"), threads=8)
    summary, _ = segmentation_run.evaluate(settings, str(workdir / "stage" / "best.pt"), *paths, threads=8)
    size = segmentation_run.sizes(settings, str(workdir / "stage" / "best.pt"), paths[0], paths[2], paths[3], threads=8)
    print(f"\nStage check on {device}: {time.perf_counter() - start:.0f} s for 2 epochs, evaluation and size.csv")
    print(log.to_string(index=False))
    print(summary.to_string(index=False))
    print(f"size.csv: {len(size)} rows, {int(size['ComputerSmall'].sum())} beats detected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/echobeat-gpu-bench"))
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=min(8, (os.cpu_count() or 2) - 1))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script, measures nothing")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--check-stage", action="store_true", help="also run the segmentation stage's own train/evaluate/size code"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    videos, steps, warmup = (6, 2, 1) if args.quick else (args.videos, args.steps, 10)
    frames = (64, 80) if args.quick else (150, 200)
    if not (args.workdir / "data" / "FileList.csv").exists():
        settings = {
            "seed": 3,
            "n_videos": videos,
            "splits": {"TRAIN": 1, "VAL": 0, "TEST": 0},
            "frames": {"min": frames[0], "max": frames[1]},
            "fps": [50],
            "beats": {"min": 2, "max": 6},
            "codec": "FFV1",
        }
        synthetic_dataset(settings, args.workdir / "data", threads=os.cpu_count() or 2)
    # As the data rules leave it; an up-to-date cache is reused.
    inputs = prepare_stage_inputs(args.workdir / "data", args.workdir, threads=os.cpu_count() or 2)
    import pandas as pd

    manifest = pd.read_csv(inputs.manifest, dtype={"FileName": str})
    tracings = pd.read_csv(inputs.tracings, dtype={"FileName": str})
    cache = VideoCache.open(inputs.index)
    normaliser = Normaliser([32.0] * 3, [50.0] * 3)
    names = manifest["FileName"].tolist()
    small = {"batch": 2} if args.quick else {}
    rows, rates = [], {}
    benches = [
        (
            "R(2+1)D-18 training 32x2, batch 20",
            "clips",
            "video_train",
            lambda bf16: video_training(
                cache, manifest, normaliser, device, bf16, args.workers, steps, warmup, **small
            ),
        ),
        (
            "R(2+1)D-18 all-clip inference, batch 64",
            "clips",
            "video_infer",
            lambda bf16: video_inference(
                cache, manifest, normaliser, device, bf16, args.workers, steps, warmup, **small
            ),
        ),
        (
            "DeepLabV3-ResNet50 training, batch 20 videos",
            "frames",
            "seg_train",
            lambda bf16: segmentation_training(
                cache, manifest, tracings, normaliser, device, bf16, args.workers, steps, warmup, **small
            ),
        ),
        (
            "DeepLabV3-ResNet50 size inference, batch 256",
            "frames",
            "seg_infer",
            lambda bf16: segmentation_inference(cache, names, normaliser, device, bf16, args.workers, steps, warmup),
        ),
    ]
    for label, unit, key, bench in benches:
        result = {}
        for bf16 in (False, True):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            measured = bench(bf16)
            measured["peak_gb"] = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0.0
            result["bf16" if bf16 else "fp32"] = measured
            print(label, "bf16" if bf16 else "fp32", measured, file=sys.stderr, flush=True)
        rates[key] = result["bf16"]["per_s"]
        rows.append((label, unit, result))
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"Device: {name}; torch {torch.__version__}; {args.workers} DataLoader workers; {len(names)} cached videos\n")
    print("| workload | fp32 | bf16 + channels-last | speed-up | data wait (bf16) | peak memory bf16 (GB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, unit, r in rows:
        fp32, bf16 = r["fp32"]["per_s"], r["bf16"]["per_s"]
        print(
            f"| {label} | {fp32:.1f} {unit}/s | {bf16:.1f} {unit}/s | {bf16 / fp32:.2f}x | "
            f"{100 * r['bf16']['data_wait_share']:.1f}% | {r['bf16']['peak_gb']:.1f} |"
        )
    if args.check_stage:
        check_segmentation_stage(args.workdir, cache, manifest, args.device)
    hours = projection(rates)
    usable = "/".join(str(n) for n in echonet.USABLE_VIDEOS.values())
    print(f"\nProjected wall time on the real dataset ({usable} videos, ~{echonet.MEAN_FRAMES} frames), bf16:\n")
    for what, h in hours.items():
        print(f"- {what}: {h:.1f} h")
    if args.out:
        args.out.write_text(
            json.dumps({"device": name, "rows": rows, "projection_hours": hours}, indent=2, default=str)
        )


if __name__ == "__main__":
    main()
