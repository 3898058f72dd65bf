"""The noise experiment: black pixels counted by hand, seeded, before normalisation; level 0 is the
plain evaluation; the per-level summary on tables whose numbers are worked out by hand; the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from echobeat.analysis import robustness_figures
from echobeat.analysis.metrics import one_clip
from echobeat.analysis.noise import NOISE_COLUMNS, level_summary, noise_summary, one_clip_r2, pooled_dice
from echobeat.data.cache import VideoCache
from echobeat.data.noise import (
    LEVEL_KEY,
    ExampleFrames,
    NoiseLevelError,
    NoisyVideoCache,
    add_noise,
    removed_count,
    removed_positions,
)
from echobeat.datasets.clips import ClipDataset
from echobeat.errors import UserError
from echobeat.stages import noise as noise_stage
from echobeat.stages import segmentation as segmentation_stage
from echobeat.stages import video as video_stage
from echobeat.stages.inputs import read_normaliser, split_rows


def small_video() -> np.ndarray:
    """(C, F, H, W) = (3, 4, 5, 5), no pixel 0: every 0 after the noise is a removed one."""
    return (np.arange(3 * 4 * 5 * 5).reshape(3, 4, 5, 5) % 250 + 1).astype(np.uint8)


def black_positions(noisy: np.ndarray) -> np.ndarray:
    """Boolean (F, H, W): the positions that are 0 in every channel."""
    return (noisy == 0).all(axis=0)


def test_a_level_blacks_out_round_p_f_h_w_distinct_positions_in_every_channel():
    video = small_video()
    before = video.copy()
    # 0.1 * 4 * 5 * 5 = 10 positions.
    assert removed_count(0.1, 4, 5, 5) == 10
    noisy = add_noise(video, 0.1, seed=0, name="A")
    black = black_positions(noisy)
    assert black.sum() == 10, "ten distinct positions: a repeated draw would leave fewer"
    assert ((noisy == 0).any(axis=0) == black).all(), "a removed position is black in all three channels"
    assert (noisy[:, ~black] == video[:, ~black]).all(), "every other pixel untouched"
    assert noisy.dtype == np.uint8 and (video == before).all(), "the input (a cache map) is never written"
    assert len(np.unique(removed_positions(video.shape, 0.1, 0, "A"))) == 10
    # round(0.37 * 100) = 37; round(0.005 * 100) = round(0.5) = 0 (Python rounds half to even).
    assert black_positions(add_noise(video, 0.37, 0, "A")).sum() == 37
    assert removed_count(0.005, 4, 5, 5) == 0


def test_the_draw_depends_on_seed_level_and_name_only():
    video = small_video()
    first = black_positions(add_noise(video, 0.2, seed=3, name="A"))
    assert (black_positions(add_noise(video.copy(), 0.2, seed=3, name="A")) == first).all()
    assert (black_positions(add_noise(video, 0.2, seed=3, name="A.avi")) == first).all(), "A and A.avi: one video"
    assert (black_positions(add_noise(video, 0.2, seed=3, name="B")) != first).any()
    assert (black_positions(add_noise(video, 0.2, seed=4, name="A")) != first).any()


def test_level_zero_is_the_video_itself_and_level_one_is_black():
    video = small_video()
    assert add_noise(video, 0, seed=1, name="A") is video
    assert (add_noise(video, 1.0, seed=1, name="A") == 0).all()


@pytest.mark.parametrize("level", [-0.1, 1.5, float("nan"), "half"])
def test_a_level_outside_zero_to_one_is_refused_naming_the_key(level):
    with pytest.raises(NoiseLevelError, match=LEVEL_KEY.replace(".", r"\.")) as raised:
        add_noise(small_video(), level, seed=0, name="A")
    assert isinstance(raised.value, UserError)
    with pytest.raises(NoiseLevelError):
        NoisyVideoCache(object(), level, seed=0)


# Stage-level tests on the session's tiny dataset (16 videos: 8 TRAIN, 4 VAL, 4 TEST).


def drawn_mask(shape: tuple[int, ...], level: float, seed: int, name: str) -> np.ndarray:
    """Boolean (F, H, W): the positions the level draws (a real video has black pixels of its own)."""
    mask = np.zeros(shape[1:], dtype=bool)
    mask.flat[removed_positions(shape, level, seed, name)] = True
    return mask


def test_the_noise_is_applied_before_normalisation(stage_inputs):
    cache = VideoCache.open(stage_inputs.index)
    normaliser = read_normaliser(stage_inputs.normalisation)
    test = split_rows(pd.read_csv(stage_inputs.manifest, dtype={"FileName": str}), "TEST")
    name = test["FileName"][0]
    noisy = NoisyVideoCache(cache, 0.3, seed=5)
    video = noisy.video(name)
    assert video.dtype == np.uint8 and noisy.video(name) is video, "one noisy copy per video, reused by its clips"
    drawn = drawn_mask(video.shape, 0.3, 5, name)
    assert drawn.sum() == removed_count(0.3, *video.shape[1:])
    clean = cache.video(name)
    assert (video[:, drawn] == 0).all() and np.array_equal(video[:, ~drawn], clean[:, ~drawn])
    clips = ClipDataset(noisy, test.iloc[:1], 4, 1, "all")
    clip = clips[0].normalised(normaliser)[0].numpy()  # (3, 4, H, W) float32: frames 0-3 of the video
    black = drawn[:4]
    # A black pixel, normalised: (0 - mean) / std in each channel.
    expected = (-normaliser.mean / normaliser.std).astype(np.float32)
    assert np.allclose(clip[:, black], expected[:, None])
    plain = ClipDataset(cache, test.iloc[:1], 4, 1, "all")[0].normalised(normaliser)[0].numpy()
    assert np.array_equal(clip[:, ~black], plain[:, ~black])


def test_level_zero_gives_the_plain_clip_batches(stage_inputs):
    cache = VideoCache.open(stage_inputs.index)
    test = split_rows(pd.read_csv(stage_inputs.manifest, dtype={"FileName": str}), "TEST")
    plain = ClipDataset(cache, test, 4, 4, "all")
    noisy = ClipDataset(NoisyVideoCache(cache, 0, seed=5), test, 4, 4, "all")
    assert len(plain) == len(noisy)
    indices = list(range(len(plain)))
    assert torch.equal(plain.__getitems__(indices).pixels, noisy.__getitems__(indices).pixels)


SEGMENTATION = {
    "model": "lraspp_mobilenet_v3_large",
    "weights": "random",
    "seed": 4,
    "device": "cpu",
    "precision": "bf16",
    "inference_batch_size": 4,
    "bootstrap_samples": 200,
    "compile": "none",
    "beats": {"trim": "echonet"},
}


@pytest.fixture(scope="module")
def segmentation_best(stage_inputs, tmp_path_factory) -> str:
    """An evaluate-only best.pt: random weights, made as ``epochs: 0`` makes it."""
    out = tmp_path_factory.mktemp("noise-seg")
    segmentation_stage.import_weights({**SEGMENTATION, "epochs": 0}, stage_inputs.normalisation, str(out))
    return str(out / "best.pt")


def test_pooled_dice_at_level_zero_is_the_plain_evaluation(stage_inputs, segmentation_best):
    paths = (stage_inputs.manifest, stage_inputs.tracings, stage_inputs.index, stage_inputs.normalisation)
    summary, per_video = segmentation_stage.evaluate(SEGMENTATION, segmentation_best, *paths)
    table, _ = noise_stage.noisy_segmentation(SEGMENTATION, segmentation_best, *paths, level=0, seed=1)
    pd.testing.assert_frame_equal(table[per_video["TEST"].columns], per_video["TEST"])
    plain = summary[(summary["split"] == "TEST") & (summary["which"] == "overall")].iloc[0]
    samples = SEGMENTATION["bootstrap_samples"]
    assert pooled_dice(table, samples, SEGMENTATION["seed"]) == (plain["dice"], plain["ci_low"], plain["ci_high"])


def test_noisy_sizes_cover_every_frame_of_the_test_videos(stage_inputs, segmentation_best):
    paths = (stage_inputs.manifest, stage_inputs.tracings, stage_inputs.index, stage_inputs.normalisation)
    _, sizes = noise_stage.noisy_segmentation(SEGMENTATION, segmentation_best, *paths, level=0.2, seed=1)
    cache = VideoCache.open(stage_inputs.index)
    test = split_rows(pd.read_csv(stage_inputs.manifest, dtype={"FileName": str}), "TEST")
    assert len(sizes) == sum(cache.n_frames(name) for name in test["FileName"])


def test_example_frames_one_per_level(stage_inputs, tmp_path):
    examples = noise_stage.example_frames(stage_inputs.manifest, stage_inputs.index, [0, 0.5], seed=2)
    test = split_rows(pd.read_csv(stage_inputs.manifest, dtype={"FileName": str}), "TEST")
    assert examples.video == test["FileName"][0] and examples.frame == test["EDFrame"][0]
    video = VideoCache.open(stage_inputs.index).video(examples.video)
    clean, noisy = examples.images[0.0], examples.images[0.5]
    assert clean.dtype == np.uint8 and clean.shape == (*video.shape[2:], 3)
    assert np.array_equal(clean, np.broadcast_to(video[:, examples.frame].transpose(1, 2, 0), clean.shape))
    assert (noisy == 0).all(axis=2).sum() > (clean == 0).all(axis=2).sum()
    examples.save(tmp_path / "examples.npz")
    loaded = ExampleFrames.load(tmp_path / "examples.npz")
    assert (loaded.video, loaded.frame) == (examples.video, examples.frame)
    assert all(np.array_equal(loaded.images[k], examples.images[k]) for k in examples.images)
    out = [tmp_path / "examples.png", tmp_path / "examples.pdf"]
    robustness_figures.example_frames_figure(loaded.images, out, dpi=50, title=loaded.video)
    assert all(path.stat().st_size > 0 for path in out)


@pytest.mark.slow
def test_clip_predictions_at_level_zero_are_the_plain_test_predictions(stage_inputs, tmp_path):
    from conftest import TINY_EF_RUN

    settings = {**TINY_EF_RUN, "epochs": 0, "period": 8}
    video_stage.import_weights(settings, stage_inputs.manifest, stage_inputs.normalisation, str(tmp_path))
    best = str(tmp_path / "best.pt")
    paths = (stage_inputs.manifest, stage_inputs.index, stage_inputs.normalisation)
    plain = video_stage.predict_clips(settings, best, *paths)["TEST"]
    noisy = noise_stage.noisy_clip_predictions(settings, best, *paths, level=0, seed=1)
    pd.testing.assert_frame_equal(noisy, plain)


# The summary, on tables worked out by hand: three TEST videos of EF 40, 50 and 60.
LABELS = pd.DataFrame({"FileName": ["A", "B", "C"], "EF": [40.0, 50.0, 60.0]})


def clips(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(f"{name}.avi", clip, p) for name, ps in values.items() for clip, p in enumerate(ps)]
    return pd.DataFrame(rows, columns=["Filename", "Clip", "Prediction"])


def test_one_clip_r2_by_hand():
    # One clip each: residuals 25 + 0 + 25 = 50; total (40-50)^2 + 0 + (60-50)^2 = 200; R2 = 1 - 50/200.
    value, low, high = one_clip_r2(clips({"A": [45], "B": [50], "C": [55]}), LABELS, 0, samples=200, seed=0)
    assert value == pytest.approx(0.75)
    assert low <= value <= high
    # Two clips each: the clip drawn is metrics.csv's (metrics.one_clip with the same seed).
    two = clips({"A": [44, 46], "B": [49, 51], "C": [54, 57]})
    drawn = one_clip(two, LABELS, seed=9)
    residual = ((drawn["EF"] - drawn["prediction"]) ** 2).sum()
    assert one_clip_r2(two, LABELS, 9, 200, 0)[0] == pytest.approx(1 - residual / 200)


def test_level_summary_by_hand():
    predictions = clips({"A": [44, 46], "B": [49, 51], "C": [54, 56]})
    # One end-systole, in video A at frame 1: with offset 0 its clip is clip 1 (46).
    sizes = pd.DataFrame({"Filename": ["A.avi", "A.avi"], "Frame": [0, 1], "ComputerSmall": [0, 1]})
    counts = pd.DataFrame(
        {"ED_inter": [10, 5], "ED_pred": [12, 5], "ED_true": [10, 10], "ES_inter": [0, 4], "ES_pred": [3, 4]}
    ).assign(ES_true=[2, 4])
    row = level_summary(0.2, counts, predictions, sizes, LABELS, 0, 9, 200, 0, (200, 0))
    assert row["level"] == 0.2 and row["pixels_removed_percent"] == pytest.approx(20.0)
    assert row["dice"] == pytest.approx(2 * 19 / (24 + 26)), "pooled over all ED and ES frames"
    assert row["all_clips_mae"] == pytest.approx((5 + 0 + 5) / 3), "clip means 45, 50, 55"
    assert row["beat_by_beat_mae"] == pytest.approx(6.0) and row["beat_by_beat_videos"] == 1
    assert row["videos"] == 3
    assert row["all_clips_mae_ci_low"] <= row["all_clips_mae"] <= row["all_clips_mae_ci_high"]
    missing = level_summary(0.0, None, predictions, None, LABELS, 0, 9, 200, 0, (200, 0))
    assert np.isnan(missing["dice"]) and np.isnan(missing["beat_by_beat_mae"])
    table = noise_summary([row, missing])
    assert table.columns.tolist() == NOISE_COLUMNS and table["level"].tolist() == [0.0, 0.2]


def test_noise_and_loss_figures(tmp_path):
    summary = noise_summary(
        [
            level_summary(
                p, None, clips({"A": [45], "B": [50], "C": [55 + 10 * p]}), None, LABELS, 0, 0, 50, 0, (50, 0)
            )
            for p in (0, 0.5)
        ]
    )
    out = [tmp_path / "noise.png", tmp_path / "noise.pdf"]
    robustness_figures.noise_figure(summary, out, dpi=50)
    assert all(path.stat().st_size > 0 for path in out)
    logs = {
        "small": pd.DataFrame({"epoch": [0, 0, 1, 1], "phase": ["train", "val"] * 2, "loss": [3.0, 2.0, 1.0, 0.5]}),
        "large": pd.DataFrame({"epoch": [0, 0], "phase": ["train", "val"], "loss": [90.0, 120.0]}),
    }
    # Every loss inside: 0.5 to 120, with 5% of that range on each side.
    low, high = robustness_figures.loss_limits(logs)
    assert (low, high) == pytest.approx((0.5 - 0.05 * 119.5, 120 + 0.05 * 119.5))
    # Each panel its own: the training losses are 1 to 90.
    assert robustness_figures.loss_limits(logs, "train") == pytest.approx((1 - 0.05 * 89, 90 + 0.05 * 89))
    robustness_figures.loss_curves_figure(logs, [tmp_path / "loss.png"], dpi=50, title="EF runs")
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert robustness_figures.loss_limits({"none": pd.DataFrame({"epoch": [], "phase": [], "loss": []})}) is None
