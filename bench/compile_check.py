"""Check: torch.compile (inductor) computes what eager mode computes, for the workflow's stages.

Not a test (tests/test_compile.py checks the wiring with a cheap backend, in seconds). On the GPU
machine, from the repository root:

    python bench/compile_check.py --out compile_check.json            # a few minutes on an H200
    python bench/compile_check.py --device cpu                        # about 5 minutes on 2 cores

It writes 16 tiny synthetic videos, prepares them as the data rules do
(``echobeat.stages.data.prepare_stage_inputs``) and runs each stage's own code twice, eager and
compiled (``compile: <mode>``, inductor), in float32 (TF32 off on a GPU, so that both sides do the
same arithmetic):

- EF training (``stages.video.train_process``): one epoch of R3D-18 on 4-frame clips, two SGD
  steps; the training and validation losses agree to ``rtol`` 1e-4 and the compiled run's weight
  step is within 1e-3 of the eager one's (relative to the step), and best.pt holds the bare
  model's keys;
- segmentation sizes (``stages.segmentation.sizes``): LR-ASPP on every TEST frame in one batch;
  the per-frame LV sizes agree to 2 pixels (a logit within float error of 0 may flip).

It prints one line per check and exits 1 if any fails.
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

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from echobeat.compute import Compute  # noqa: E402
from echobeat.models.segmentation import segmentation_model  # noqa: E402
from echobeat.models.weights import save_model  # noqa: E402
from echobeat.stages import segmentation as segmentation_stage  # noqa: E402
from echobeat.stages import video as video_stage  # noqa: E402
from echobeat.stages.data import prepare_stage_inputs, synthetic_dataset  # noqa: E402
from echobeat.stages.inputs import StageInputs  # noqa: E402

# 16 videos: 8 TRAIN (two batches of 4), 4 VAL (one validation batch: one graph), 4 TEST.
SYNTHETIC = {
    "seed": 5,
    "n_videos": 16,
    "splits": {"TRAIN": 0.5, "VAL": 0.25, "TEST": 0.25},
    "frames": {"min": 30, "max": 40},
    "fps": [50],
    "beats": {"min": 1, "max": 3},
    "codec": "FFV1",
}

# One epoch of a small EF run in float32, with a rate that moves the weights visibly in two steps.
EF_SETTINGS = {
    "model": "r3d_18",
    "frames": 4,
    "period": 4,
    "weights": "random",
    "epochs": 1,
    "batch_size": 4,
    "optimizer": "sgd",
    "lr": 1e-4,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "lr_step": None,
    "lr_gamma": 0.1,
    "pad": 2,
    "crop": "symmetric",
    "bias_init": "train_mean",
    "seed": 3,
    "precision": "fp32",
    "inference_batch_size": 4,
}


def check_ef_training(inputs: StageInputs, device: str, mode: str, workdir: Path) -> dict:
    """Eager and compiled training from the same initial weights: losses and weight steps."""
    paths = [inputs.manifest, inputs.index, inputs.normalisation]
    settings = {**EF_SETTINGS, "device": device}
    _, untrained = video_stage.training_run(
        {**settings, "compile": "none"}, *paths, str(workdir / "init"), Compute(torch.device(device))
    )
    start = {key: value.detach().cpu().clone() for key, value in untrained.model.state_dict().items()}
    logs, states, seconds = {}, {}, {}
    for compile_mode in ("none", mode):
        out = workdir / f"ef-{compile_mode}"
        began = time.perf_counter()
        logs[compile_mode] = video_stage.train_process({**settings, "compile": compile_mode}, *paths, str(out), 2)
        seconds[compile_mode] = round(time.perf_counter() - began, 1)
        states[compile_mode] = torch.load(out / "best.pt", map_location="cpu", weights_only=True)["model"]
    eager, compiled = logs["none"], logs[mode]
    loss_error = float(((compiled["loss"] - eager["loss"]).abs() / eager["loss"].abs()).max())
    trained = [key for key, value in start.items() if value.is_floating_point()]
    step = torch.cat([(states["none"][k] - start[k]).flatten() for k in trained]).norm()
    apart = torch.cat([(states[mode][k] - states["none"][k]).flatten() for k in trained]).norm()
    bare_keys = not any(key.startswith("_orig_mod") for key in states[mode])
    same_rows = eager[["epoch", "phase", "samples"]].equals(compiled[["epoch", "phase", "samples"]])
    return {
        "passed": bool(same_rows and bare_keys and loss_error <= 1e-4 and step > 0 and apart <= 1e-3 * step),
        "loss_relative_error": loss_error,
        "weight_step": float(step),
        "weights_apart": float(apart),
        "bare_keys": bare_keys,
        "seconds": seconds,
    }


def check_segmentation_sizes(inputs: StageInputs, device: str, mode: str, workdir: Path) -> dict:
    """Eager and compiled size inference with the same random weights: per-frame sizes."""
    torch.manual_seed(12)
    model = segmentation_model("lraspp_mobilenet_v3_large", "random")
    with torch.no_grad():  # about half the pixels on each side, so that the sizes say something
        model.classifier.high_classifier.bias.fill_(0.0)
        model.classifier.low_classifier.bias.fill_(0.0)
    best = workdir / "segmentation.pt"
    save_model(best, model.state_dict(), 0, 0.0, {"task": "segmentation", "model": "lraspp_mobilenet_v3_large"})
    manifest = pd.read_csv(inputs.manifest)
    settings = {
        "model": "lraspp_mobilenet_v3_large",
        "device": device,
        "precision": "fp32",
        # Every TEST frame in one batch: one graph, no recompilation for a smaller last batch.
        "inference_batch_size": int(manifest.loc[manifest["Split"] == "TEST", "NumberOfFrames"].sum()),
        "size_splits": ["TEST"],
        "beats": {"trim": "echonet"},
    }
    paths = [inputs.manifest, inputs.index, inputs.normalisation]
    sizes, seconds = {}, {}
    for compile_mode in ("none", mode):
        began = time.perf_counter()
        sizes[compile_mode] = segmentation_stage.sizes({**settings, "compile": compile_mode}, str(best), *paths, 2)
        seconds[compile_mode] = round(time.perf_counter() - began, 1)
    eager, compiled = sizes["none"], sizes[mode]
    same_frames = eager[["Filename", "Frame"]].equals(compiled[["Filename", "Frame"]])
    largest = int((eager["Size"] - compiled["Size"]).abs().max()) if same_frames else -1
    varies = bool(eager["Size"].std() > 0)
    return {
        "passed": bool(same_frames and varies and 0 <= largest <= 2),
        "largest_size_difference": largest,
        "sizes_vary": varies,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--mode", default="default", choices=["default", "max-autotune"])
    parser.add_argument("--workdir", type=Path, help="a new folder for the dataset (default: a temporary one)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    # Both sides in plain float32: TF32 convolutions would differ between eager and compiled kernels.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        synthetic_dataset(SYNTHETIC, workdir / "data", threads=2)
        inputs = prepare_stage_inputs(workdir / "data", workdir / "results", threads=2)
        results = {
            "device": args.device,
            "mode": args.mode,
            "torch": torch.__version__,
            "ef_training": check_ef_training(inputs, args.device, args.mode, workdir),
            "segmentation_sizes": check_segmentation_sizes(inputs, args.device, args.mode, workdir),
        }
    for name in ("ef_training", "segmentation_sizes"):
        print(f"{name}: {'ok' if results[name]['passed'] else 'FAILED'} {json.dumps(results[name])}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    sys.exit(0 if all(results[name]["passed"] for name in ("ef_training", "segmentation_sizes")) else 1)


if __name__ == "__main__":
    main()
