"""Prediction benchmark: one 112x112 video of about 200 frames through the paper's models. Not a test.

From the repository root:

    python bench/predict.py                 # CPU, 2 threads: float32, then bf16 where native
    python bench/predict.py --device cuda   # a GPU (bf16 autocast, channels-last)

It writes one synthetic EchoNet-format video (200 frames at 50 fps), then times, with the models
already loaded (random weights: the speed does not depend on them) and the workflow's own code:

- conversion to the model's frames (``data.preprocess.convert``, the AVI used as is);
- DeepLabV3-ResNet50 on every frame (``inference.segmentation.predicted_masks``);
- R(2+1)D-18 32x2 on the beat clips (``clips: beats``: one clip per end-systole; a trace with a
  beat every 45 frames, 67 bpm, gives 4) and on every clip (``clips: all``: 138 clips), through
  ``inference.video.predict_clips`` on a ``ClipDataset``;
- the per-beat measurements (``inference.measurements``).

On a CPU with native bf16 (AVX512-BF16 or AMX, detected), it also runs the models under bf16
autocast and reports how far the EF and the LV areas move from float32. Each total is the
seconds of one video after the models are loaded; its inverse is the videos per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from echobeat.compute import Compute, cpu_has_native_bf16, prepare_device  # noqa: E402
from echobeat.data.cache import VideoCache, source_stamp, write_entry  # noqa: E402
from echobeat.data.clips import clip_offset, n_clips  # noqa: E402
from echobeat.data.normalisation import Normaliser  # noqa: E402
from echobeat.data.preprocess import convert  # noqa: E402
from echobeat.data.synthetic import generate_dataset  # noqa: E402
from echobeat.datasets.clips import ClipDataset  # noqa: E402
from echobeat.inference.measurements import beat_measurements  # noqa: E402
from echobeat.inference.segmentation import predicted_masks  # noqa: E402
from echobeat.inference.video import predict_clips  # noqa: E402
from echobeat.models.segmentation import segmentation_model  # noqa: E402
from echobeat.models.video import video_model  # noqa: E402

FRAMES, PERIOD, BEAT_EVERY = 32, 2, 45


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def one_video(workdir: Path) -> Path:
    settings = {
        "seed": 5,
        "n_videos": 1,
        "splits": {"TRAIN": 1, "VAL": 0, "TEST": 0},
        "frames": {"min": 200, "max": 200},
        "fps": [50],
        "beats": {"min": 4, "max": 4},
        "codec": "FFV1",
    }
    generate_dataset(workdir / "data", settings, threads=1)
    return next((workdir / "data" / "Videos").glob("*.avi"))


def run(compute: Compute, seg, ef, cache, name: str, normaliser: Normaliser, clips: str) -> dict:
    video = np.asarray(cache.video(name))
    masks, seg_seconds = timed(lambda: predicted_masks(seg, video, normaliser, compute, 64))
    n = video.shape[1]
    es = np.arange(BEAT_EVERY // 2, n, BEAT_EVERY)
    table = pd.DataFrame({"FileName": [name]})
    if clips == "beats":
        # The clip centred on each beat, as the predict stage chooses them.
        starts = sorted(
            {s for f in es if (s := max(0, int(f) - clip_offset(FRAMES, PERIOD))) < n_clips(n, FRAMES, PERIOD)}
        )
        dataset = ClipDataset(cache, table, FRAMES, PERIOD, "chosen", chosen=[(0, s) for s in starts])
    else:
        dataset = ClipDataset(cache, table, FRAMES, PERIOD, "all")
    with torch.inference_mode():
        predictions, ef_seconds = timed(lambda: predict_clips(ef, dataset, normaliser, compute, 16))
    sizes = masks.sum(axis=(1, 2))
    _, measure_seconds = timed(lambda: beat_measurements(sizes, es, masks))
    return {
        "clips": len(predictions),
        "segmentation_s": seg_seconds,
        "ef_s": ef_seconds,
        "measurements_s": measure_seconds,
        "predictions": predictions["Prediction"].to_numpy(),
        "sizes": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    # float32 first (the reference), then bf16 where the CPU computes it natively.
    compute = prepare_device(args.device, args.threads, "bf16" if args.device.startswith("cuda") else "fp32")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        source = one_video(workdir)
        converted, convert_seconds = timed(lambda: convert(source, "auto", None))
        write_entry(workdir / "cache", "video", converted.frames[None], source_stamp(source))
        index = pd.DataFrame(
            [["video", str(source), 1, *converted.frames.shape, 0, 0, 0]],
            columns=["FileName", "Source", "Channels", "Frames", "Height", "Width", "Bytes", "CRC32", "Rebuilt"],
        )
        cache = VideoCache(workdir / "cache", index, heal=False, check_crc=False)
        normaliser = Normaliser([32.0] * 3, [50.0] * 3)
        torch.manual_seed(0)
        seg = compute.place(segmentation_model("deeplabv3_resnet50", "random").to(compute.device)).eval()
        ef = compute.place(video_model("r2plus1d_18", "random").to(compute.device), video=True).eval()
        results = {"device": str(compute.device), "threads": args.threads, "frames": int(converted.frames.shape[0])}
        results["convert_s"] = convert_seconds
        runs = {}
        for clips in ("beats", "all"):
            run(compute, seg, ef, cache, "video", normaliser, clips)  # warm-up
            runs[clips] = run(compute, seg, ef, cache, "video", normaliser, clips)
        if compute.device.type == "cpu" and cpu_has_native_bf16():
            fast = Compute(compute.device, torch.bfloat16, False, args.threads)
            run(fast, seg, ef, cache, "video", normaliser, "beats")
            bf16 = run(fast, seg, ef, cache, "video", normaliser, "beats")
            results["cpu_bf16"] = {
                "segmentation_s": bf16["segmentation_s"],
                "ef_s": bf16["ef_s"],
                "total_s": convert_seconds + bf16["segmentation_s"] + bf16["ef_s"] + bf16["measurements_s"],
                "max_ef_difference": float(np.abs(bf16["predictions"] - runs["beats"]["predictions"]).max()),
                "max_area_difference_pixels": int(np.abs(bf16["sizes"] - runs["beats"]["sizes"]).max()),
            }
        for clips, measured in runs.items():
            total = convert_seconds + measured["segmentation_s"] + measured["ef_s"] + measured["measurements_s"]
            results[f"clips_{clips}"] = {k: v for k, v in measured.items() if k not in ("predictions", "sizes")} | {
                "total_s": total,
                "videos_per_s": 1.0 / total,
            }
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
