"""EF video stage: batched all-clip inference, clip counts, metrics, bootstrap, weights."""

import urllib.error

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from echobeat.analysis.beat_by_beat import beat_by_beat_table, no_beats
from echobeat.analysis.metrics import method_predictions, metrics_table
from echobeat.compute import Compute, prepare_device
from echobeat.data.cache import VideoCache
from echobeat.data.clips import n_clips
from echobeat.data.normalisation import Normaliser
from echobeat.datasets.clips import ClipDataset
from echobeat.inference.video import predict_clips
from echobeat.models.video import video_model
from echobeat.models.weights import WeightsError
from echobeat.stages.data import prepare_stage_inputs, synthetic_dataset
from echobeat.stats import REGRESSION_METRICS, regression_metrics


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    from conftest import tiny_settings

    root = tmp_path_factory.mktemp("video")
    synthetic_dataset(tiny_settings(n_videos=4, seed=21, frames={"min": 26, "max": 45}), root / "data", threads=2)
    inputs = prepare_stage_inputs(root / "data", root, threads=2)
    return VideoCache.open(inputs.index), pd.read_csv(inputs.manifest, dtype={"FileName": str})


def test_all_clip_batches_equal_one_clip_at_a_time(cached):
    cache, manifest = cached
    torch.manual_seed(0)
    model = video_model("r3d_18", "random", bias=50.0).eval()
    normaliser = Normaliser([30.0] * 3, [40.0] * 3)
    # 4 frames every 8: videos shorter than 32 frames are padded; each has max(F, 32) - 24 clips.
    dataset = ClipDataset(cache, manifest, 4, 8, "all")
    batched = predict_clips(model, dataset, normaliser, Compute.cpu(), batch_size=7)
    assert len(batched) == len(dataset)
    # One at a time: every clip of the first video, and each video's first and last clip and the
    # clips on each side of every batch boundary (test_parity compares every clip in bulk).
    first_clips = n_clips(manifest["NumberOfFrames"][0], 4, 8)
    ends = np.cumsum([n_clips(n, 4, 8) for n in manifest["NumberOfFrames"]])
    checked = sorted(
        {*range(first_clips), *ends - 1, *ends[:-1], *(b for k in range(7, len(dataset), 7) for b in (k - 1, k))}
    )
    with torch.no_grad():
        one_by_one = [model(dataset[i].normalised(normaliser))[0, 0].item() for i in checked]
    np.testing.assert_allclose(batched["Prediction"].iloc[checked], one_by_one, rtol=0, atol=1e-4)
    for row in manifest.itertuples():
        clips = batched[batched["Filename"] == f"{row.FileName}.avi"]["Clip"].tolist()
        assert clips == list(range(n_clips(row.NumberOfFrames, 4, 8)))
        assert len(clips) == max(row.NumberOfFrames, 32) - 24
    assert (manifest["NumberOfFrames"] < 32).any(), "a video shorter than one clip"
    per_video = batched.groupby("Filename", sort=False)["Prediction"].mean()
    first = manifest["FileName"][0] + ".avi"
    assert per_video[first] == pytest.approx(np.mean(one_by_one[:first_clips]))


def test_regression_metrics_by_hand():
    # Errors -5, 0, +10: MAE 5, RMSE sqrt(125 / 3), R2 1 - 125 / 516.67.
    rows = {r["metric"]: r for r in regression_metrics([50, 60, 40], [55, 60, 30], 10_000, 3, REGRESSION_METRICS)}
    assert rows["MAE"]["value"] == pytest.approx(5.0)
    assert rows["RMSE"]["value"] == pytest.approx(np.sqrt(125 / 3))
    truth = np.array([55, 60, 30])
    assert rows["R2"]["value"] == pytest.approx(1 - 125 / ((truth - truth.mean()) ** 2).sum())
    # 27 equally likely resamples of the absolute errors {5, 0, 10}: the lowest MAE is 0 (1/27),
    # then 5/3 (two 0s and a 5: 3/27), so the 5th percentile is 5/3; the highest is 10 (1/27),
    # then 25/3 (two 10s and a 5: 3/27), so the 95th percentile is 25/3.
    assert rows["MAE"]["ci_low"] == pytest.approx(5 / 3)
    assert rows["MAE"]["ci_high"] == pytest.approx(25 / 3)


def test_methods_of_the_metrics_table():
    labels = pd.DataFrame({"FileName": ["A", "B"], "EF": [50.0, 30.0], "Split": ["TEST", "TEST"]})
    predictions = pd.DataFrame(
        {
            "Filename": ["A.avi"] * 3 + ["B.avi"] * 2,
            "Clip": [0, 1, 2, 0, 1],
            "Prediction": [40.0, 50.0, 60.0, 20.0, 30.0],
        }
    )
    # A split without size.csv (VAL): the clip methods, no beat-by-beat.
    methods = method_predictions(beat_by_beat_table(predictions, no_beats(), labels), predictions, labels, seed=0)
    assert methods["single_clip"]["prediction"].to_dict() == {"A.avi": 40.0, "B.avi": 20.0}
    assert methods["all_clips"]["prediction"].to_dict() == {"A.avi": 50.0, "B.avi": 25.0}
    one = methods["one_clip"]["prediction"]
    assert one["A.avi"] in (40.0, 50.0, 60.0) and one["B.avi"] in (20.0, 30.0)
    assert methods["all_clips"]["EF"].to_dict() == {"A.avi": 50.0, "B.avi": 30.0}
    assert methods["beat_by_beat"].empty
    table = metrics_table(methods, samples=100, seed=0, split="VAL")
    assert table.columns.tolist() == ["split", "method", "metric", "value", "ci_low", "ci_high", "videos"]
    assert set(table["split"]) == {"VAL"}
    all_clips = table[(table["method"] == "all_clips")].set_index("metric")["value"]
    assert all_clips["MAE"] == pytest.approx(2.5) and all_clips["RMSE"] == pytest.approx(np.sqrt(12.5))
    first = table[(table["method"] == "single_clip")].set_index("metric")["value"]
    assert first["MAE"] == pytest.approx(10.0)


def test_model_head_and_local_weights(tmp_path):
    model = video_model("mc3_18", "random", bias=42.0)
    assert model.fc.out_features == 1 and model.fc.bias.item() == pytest.approx(42.0)
    path = tmp_path / "weights.pt"
    torch.save({"model": model.state_dict()}, path)
    again = video_model("mc3_18", str(path))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)
    with pytest.raises(WeightsError, match="does not fit the model"):
        video_model("r3d_18", str(path))
    with pytest.raises(ValueError, match="unknown video model"):
        video_model("resnet50", "random")


def test_the_ef_head_is_float32_under_bf16_autocast():
    """The backbone may run in bf16, but the EF itself is not rounded to bf16's 0.25 steps."""
    model = video_model("r3d_18", "random", bias=55.6)
    features = torch.randn(64, 512)
    exact = torch.nn.functional.linear(features, model.fc.weight, model.fc.bias)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        head = model.fc(features)
        plain = torch.nn.functional.linear(features, model.fc.weight, model.fc.bias)
    assert head.dtype == torch.float32
    torch.testing.assert_close(head, exact)
    # What a plain Linear gives under autocast: bf16, steps of 0.25 near 55.
    assert plain.dtype == torch.bfloat16 and not torch.allclose(plain.float(), exact, atol=1e-3)
    assert "fc.weight" in model.state_dict() and "fc.bias" in model.state_dict()


def test_precision_is_bf16_or_fp32(caplog):
    with pytest.raises(ValueError, match="precision must be one of bf16, fp32, not 'fp16'"):
        prepare_device("cpu", 1, "fp16")
    caplog.set_level("INFO")
    prepare_device("cpu", 1, "bf16")
    assert "device cpu (fp32)" in caplog.text  # a CPU computes in float32 whatever is asked


def test_pretrained_weights_without_internet_say_what_to_do(monkeypatch):
    def offline(**kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torchvision.models.video, "r2plus1d_18", offline)
    with pytest.raises(WeightsError, match="path of a local .pt file"):
        video_model("r2plus1d_18", "pretrained")
