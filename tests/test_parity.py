"""Parity with the original's inference: with the same weights and normalisation, our stages give what
the original's test-time code computes.

The reference below is written from docs/echonet.md §2 and §5 in the plainest way, on the AVI files
themselves (not on our cache): decode with OpenCV to RGB, normalise every pixel, pad a short video
at the end with zero frames after normalisation, take every clip start 0 .. F' - (L-1)p - 1, and run
the model on each clip in float32. Our predictions come from the rule's own stage function, reading
an original-format checkpoint (a DataParallel state dict).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_weights import save_original_checkpoint

from echobeat.data.video_io import read_video
from echobeat.models.segmentation import segmentation_model
from echobeat.models.video import video_model
from echobeat.stages import segmentation as segmentation_stage
from echobeat.stages import video as video_stage
from echobeat.stages.data import prepare_stage_inputs, synthetic_dataset

FRAMES, PERIOD = 4, 8  # 4 frames 8 apart: a 25-frame span, so some videos are shorter than a clip


@pytest.fixture(scope="module")
def stage_files(tmp_path_factory):
    """A tiny dataset as the data rules leave it, with videos shorter and longer than one clip."""
    from conftest import tiny_settings

    root = tmp_path_factory.mktemp("parity")
    synthetic_dataset(tiny_settings(n_videos=6, seed=31, frames={"min": 24, "max": 40}), root / "data", threads=2)
    inputs = prepare_stage_inputs(root / "data", root, threads=2)
    # Every video is predicted on: all of them in TEST (the normalisation stays the TRAIN split's).
    manifest = pd.read_csv(inputs.manifest, dtype={"FileName": str}).assign(Split="TEST")
    manifest.to_csv(inputs.manifest, index=False)
    stats = json.loads(Path(inputs.normalisation).read_text())
    assert (manifest["NumberOfFrames"] < FRAMES * PERIOD).any() and (manifest["NumberOfFrames"] > FRAMES * PERIOD).any()
    return root, manifest, stats


def normalised_video(path, stats) -> np.ndarray:
    """The original's video array: (3, F, H, W) float, each channel normalised."""
    video = read_video(path).astype(np.float64)
    mean = np.asarray(stats["mean"]).reshape(3, 1, 1, 1)
    std = np.asarray(stats["std"]).reshape(3, 1, 1, 1)
    return (video - mean) / std


def original_all_clips(video: np.ndarray, length: int, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Every clip of a normalised video as the original builds them at test time: starts, clips."""
    c, f, h, w = video.shape
    if f < length * period:
        video = np.concatenate([video, np.zeros((c, length * period - f, h, w))], axis=1)
    starts = np.arange(video.shape[1] - (length - 1) * period)
    clips = np.stack([video[:, s + period * np.arange(length)] for s in starts])
    return starts, clips


def test_clip_predictions_equal_the_original_test_time_computation(stage_files, tmp_path):
    root, manifest, stats = stage_files
    torch.manual_seed(11)
    model = video_model("r3d_18", "random", bias=55.6).eval()
    checkpoint = tmp_path / "r3d_18_original.pt"
    save_original_checkpoint(model, checkpoint)
    settings = {
        "model": "r3d_18",
        "frames": FRAMES,
        "period": PERIOD,
        "device": "cpu",
        "precision": "fp32",
        "inference_batch_size": 7,
        "compile": "none",
    }
    ours = video_stage.predict_clips(
        settings,
        str(checkpoint),
        str(root / "manifest.csv"),
        str(root / "cache/index.csv"),
        str(root / "normalisation.json"),
    )["TEST"]
    expected = []
    with torch.no_grad():
        for name in manifest["FileName"]:
            starts, clips = original_all_clips(
                normalised_video(root / "data/Videos" / f"{name}.avi", stats), FRAMES, PERIOD
            )
            out = model(torch.from_numpy(clips).float())[:, 0].numpy()
            expected.append(pd.DataFrame({"Filename": f"{name}.avi", "Clip": starts, "Prediction": out}))
    expected = pd.concat(expected, ignore_index=True)
    assert ours[["Filename", "Clip"]].values.tolist() == expected[["Filename", "Clip"]].values.tolist()
    np.testing.assert_allclose(ours["Prediction"], expected["Prediction"], rtol=0, atol=1e-4)
    assert expected["Prediction"].std() > 1e-3, "the clips differ: a comparison of constants would prove nothing"


def test_frame_sizes_equal_a_direct_forward_pass(stage_files, tmp_path):
    root, manifest, stats = stage_files
    torch.manual_seed(12)
    model = segmentation_model("lraspp_mobilenet_v3_large", "random").eval()
    # A bias that puts about half the pixels on each side, so that the sizes say something.
    with torch.no_grad():
        model.classifier.high_classifier.bias.fill_(0.0)
        model.classifier.low_classifier.bias.fill_(0.0)
    checkpoint = tmp_path / "lraspp_original.pt"
    save_original_checkpoint(model, checkpoint)
    settings = {
        "model": "lraspp_mobilenet_v3_large",
        "device": "cpu",
        "precision": "fp32",
        "inference_batch_size": 16,
        "size_splits": ["TEST"],
        "beats": {"trim": "echonet"},
        "compile": "none",
    }
    sizes = segmentation_stage.sizes(
        settings,
        str(checkpoint),
        str(root / "manifest.csv"),
        str(root / "cache/index.csv"),
        str(root / "normalisation.json"),
    )
    with torch.no_grad():
        for name in manifest["FileName"]:
            video = normalised_video(root / "data/Videos" / f"{name}.avi", stats)
            frames = torch.from_numpy(video.transpose(1, 0, 2, 3)).float()
            direct = (model(frames)["out"][:, 0] > 0).sum(dim=(1, 2)).numpy()
            ours = sizes.loc[sizes["Filename"] == f"{name}.avi", "Size"].to_numpy()
            np.testing.assert_array_equal(ours, direct)
    assert sizes["Size"].std() > 0, "sizes vary: the comparison is not of constants"
