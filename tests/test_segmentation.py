"""Segmentation stage: Dice pooling and bootstrap, beat detection, training with resume."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from echobeat.analysis.dice import dice_summary, per_video_dice
from echobeat.data.cache import build_cache
from echobeat.datasets.frames import FrameBatches
from echobeat.inference.beats import detect_beats, trimmed_range
from echobeat.learn import training
from echobeat.learn.segmentation_task import pooled
from echobeat.stages import segmentation as segmentation_run
from echobeat.stats import bootstrap, dice_statistic

# Three frames: intersections, predicted and true pixel counts.
INTER, PRED, TRUE = np.array([10, 0, 5]), np.array([12, 3, 5]), np.array([10, 2, 10])


def test_dice_is_pooled_not_averaged():
    # 2 * (10 + 0 + 5) / ((12 + 3 + 5) + (10 + 2 + 10)) = 30 / 42
    assert dice_statistic(INTER[None], PRED[None], TRUE[None]).tolist() == [pytest.approx(30 / 42)]
    assert pooled(INTER, PRED, TRUE) == pytest.approx(30 / 42), "the training's Dice is the same statistic"
    per_frame_mean = np.mean(2 * INTER / (PRED + TRUE))  # what pooling is not: 0.525
    assert per_frame_mean == pytest.approx((20 / 22 + 0 + 10 / 15) / 3)


def test_bootstrap_interval_by_hand():
    # Resampling 3 frames gives 27 equally likely draws. The lowest Dice are 0 (frame 1 three
    # times, 1/27 = 3.7%) then 2*5/(11+14) = 0.4 (frame 1 twice and frame 2: 3/27); so the 5th
    # percentile is 0.4. The highest are 20/22 (frame 0 three times, 1/27) then 50/59 (frame 0
    # twice and frame 2, 3/27): the 95th percentile is 50/59.
    dice, low, high = bootstrap(dice_statistic, (INTER, PRED, TRUE), samples=10_000, seed=1)
    assert dice == pytest.approx(30 / 42)
    assert low == pytest.approx(0.4)
    assert high == pytest.approx(50 / 59)


def test_dice_summary_and_per_video_files():
    counts = pd.DataFrame(
        {
            "ED_inter": [10, 5],
            "ED_pred": [12, 5],
            "ED_true": [10, 10],
            "ES_inter": [0, 4],
            "ES_pred": [3, 4],
            "ES_true": [2, 4],
        }
    )
    rows = {r["which"]: r for r in dice_summary(counts, "TEST", samples=200, seed=0)}
    assert rows["ED"]["dice"] == pytest.approx(2 * 15 / (17 + 20))
    assert rows["ES"]["dice"] == pytest.approx(2 * 4 / (7 + 6))
    assert rows["overall"]["dice"] == pytest.approx(2 * 19 / (24 + 26))
    per_video = per_video_dice(["A", "B"], counts)
    assert per_video.columns.tolist() == ["Filename", "Overall", "Large", "Small"]
    assert per_video["Filename"].tolist() == ["A.avi", "B.avi"]
    assert per_video["Large"].tolist() == pytest.approx([20 / 22, 10 / 15])
    assert per_video["Small"].tolist() == pytest.approx([0.0, 1.0])
    assert per_video["Overall"].tolist() == pytest.approx([20 / 27, 18 / 23])


def two_v_trace() -> np.ndarray:
    """100 frames: baseline 100, V-shaped minima (40) at frames 10 and 70, a plateau of 200."""
    size = np.full(100, 100.0)
    size[8:13] = [80, 60, 40, 60, 80]
    size[68:73] = [80, 60, 40, 60, 80]
    size[85:95] = 200
    return size


def test_trim_modes_by_hand():
    size = two_v_trace()
    # Sorted: 40 x2 (0-1), 60 x4 (2-5), 80 x4 (6-9), 100 x80 (10-89), 200 x10 (90-99).
    # echonet: s[round(100**0.05)] = s[1] = 40, s[round(100**0.95)] = s[79] = 100.
    assert trimmed_range(size, "echonet") == (40, 100)
    # percentile: 5th at position 4.95 -> 60; 95th at position 94.05 -> 200.
    assert trimmed_range(size, "percentile") == pytest.approx((60, 200))
    # Each V has a prominence of 60 (from -40 down to the baseline -100 on one side).
    # echonet: 60 >= 0.5 * (100 - 40) = 30, both found; percentile: 60 < 0.5 * 140 = 70, none.
    assert detect_beats(size, "echonet").tolist() == [10, 70]
    assert detect_beats(size, "percentile").tolist() == []


def test_regular_beats_and_the_minimum_distance():
    frames = np.arange(100)
    size = 1000 + 300 * np.cos(2 * np.pi * (frames - 15) / 30 + np.pi)  # minima at 15, 45, 75
    for trim in ("echonet", "percentile"):
        assert detect_beats(size, trim).tolist() == [15, 45, 75]
    fast = 1000 + 300 * np.cos(2 * np.pi * frames / 12)  # minima every 12 frames: closer than 20
    beats = detect_beats(fast, "echonet")
    assert np.diff(beats).min() >= 20


def test_short_traces_do_not_crash():
    # The original indexes past the end for 5 frames or fewer; here the index is clamped.
    assert trimmed_range(np.array([3.0, 1.0, 2.0]), "echonet") == (2.0, 3.0)
    assert detect_beats(np.array([]), "echonet").tolist() == []


def test_frame_batches_never_hold_a_whole_long_video(tmp_path):
    from echobeat.data.cache import VideoCache
    from echobeat.data.video_io import write_video

    frames = (np.arange(1000)[:, None, None] % 251).astype(np.uint8) * np.ones((1, 112, 112), np.uint8)
    write_video(tmp_path / "Videos" / "long.avi", frames, 50)
    manifest = pd.DataFrame({"FileName": ["long"]})
    index = build_cache(manifest, tmp_path / "Videos", tmp_path / "cache")
    batches = list(FrameBatches(VideoCache(tmp_path / "cache", index), ["long"], batch_size=64))
    assert max(b[0].shape[0] for b in batches) == 64 and len(batches) == math.ceil(1000 / 64)
    assert torch.cat([b[2] for b in batches]).tolist() == list(range(1000))


SETTINGS = {
    "model": "lraspp_mobilenet_v3_large",
    "weights": "random",
    "epochs": 2,
    "batch_size": 2,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "lr_step": 1,
    "lr_gamma": 0.5,
    "seed": 4,
    "bn_momentum": 0.1,
    "device": "cpu",
    "precision": "bf16",
    "inference_batch_size": 4,
    "compile": "none",
}


@pytest.fixture(scope="module")
def stage_inputs(tmp_path_factory):
    """Manifest, tracings, cache index and normalisation of a tiny dataset, as the rules write them."""
    from conftest import stage_inputs_in, tiny_settings

    return stage_inputs_in(tmp_path_factory.mktemp("seg"), tiny_settings(n_videos=6, seed=9))


def train(paths: dict, out: Path, settings: dict = SETTINGS) -> pd.DataFrame:
    return segmentation_run.train(
        settings, paths["manifest"], paths["tracings"], paths["index"], paths["normalisation"], str(out), threads=1
    )


def best_state(out: Path) -> dict:
    return torch.load(out / "best.pt", weights_only=True)


def test_resume_after_a_kill_gives_the_same_model_and_log(stage_inputs, tmp_path, monkeypatch):
    whole = tmp_path / "whole"
    train(stage_inputs, whole)
    assert (whole / "checkpoint.pt").exists()
    expected_log = pd.read_csv(whole / "log.csv")
    assert expected_log[["epoch", "phase"]].values.tolist() == [[0, "train"], [0, "val"], [1, "train"], [1, "val"]]
    assert expected_log["lr"].tolist() == [1e-3, 1e-3, 5e-4, 5e-4]

    killed = tmp_path / "killed"
    real_run_epoch = training.run_epoch

    def killed_in_epoch_1(task, model, loader, device, optimiser, label):
        if label == "epoch 1 train":
            raise KeyboardInterrupt("killed")
        return real_run_epoch(task, model, loader, device, optimiser, label)

    monkeypatch.setattr(training, "run_epoch", killed_in_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        train(stage_inputs, killed)
    assert (killed / "checkpoint.pt").exists() and not (killed / "best.pt").exists()
    monkeypatch.setattr(training, "run_epoch", real_run_epoch)
    train(stage_inputs, killed)

    resumed_log = pd.read_csv(killed / "log.csv")
    timing = ["seconds", "data_seconds"]
    pd.testing.assert_frame_equal(resumed_log.drop(columns=timing), expected_log.drop(columns=timing))
    a, b = best_state(whole), best_state(killed)
    assert a["epoch"] == b["epoch"] and a["loss"] == b["loss"]
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)


def test_checkpoint_of_other_settings_is_set_aside(stage_inputs, tmp_path, caplog):
    out = tmp_path / "run"
    train(stage_inputs, out, {**SETTINGS, "epochs": 1})
    changed = {**SETTINGS, "epochs": 1, "lr": 2e-3}
    with caplog.at_level("WARNING"):
        log = train(stage_inputs, out, changed)
    assert "made with other settings" in caplog.text
    assert log["epoch"].tolist() == [0, 0], "trained afresh, not resumed"
    assert len(list(out.glob("checkpoint.*.pt"))) == 1, "the old checkpoint is kept aside"


def test_best_loss_survives_a_resume(stage_inputs, tmp_path):
    # The checkpoint records the lowest validation loss and the epoch it came from.
    out = tmp_path / "run"
    train(stage_inputs, out)
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    assert checkpoint["best_epoch"] in (0, 1)
    val = pd.read_csv(out / "log.csv").query("phase == 'val'")
    assert checkpoint["best_loss"] == pytest.approx(val["loss"].min())
    assert checkpoint["best_epoch"] == int(val.loc[val["loss"].idxmin(), "epoch"])
    # Rerunning a finished run resumes past its last epoch and rewrites the same best.pt.
    before = best_state(out)
    train(stage_inputs, out)
    after = best_state(out)
    assert before["epoch"] == after["epoch"] and before["loss"] == after["loss"]
