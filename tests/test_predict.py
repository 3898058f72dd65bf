"""Predicting on one's own videos: beat measurements by hand, the beats' clips, the per-video table."""

import math

import numpy as np
import pandas as pd
import pytest

from echobeat.data.names import video_id
from echobeat.inference.measurements import area_length_volume, beat_measurements, end_diastoles, long_axis
from echobeat.stages.predict import _flags, beat_clip_starts


def rectangle(height: int, width: int, shape=(112, 112)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[10 : 10 + height, 20 : 20 + width] = True
    return mask


def test_end_diastole_is_the_largest_area_between_two_end_systoles():
    size = np.array([5, 3, 4, 9, 7, 2, 6, 8, 8, 1, 4])
    assert end_diastoles(size, np.array([1, 5, 9])) == [(3, 5), (7, 9)]  # the first of two equal maxima
    assert end_diastoles(size, np.array([4])) == []  # one end-systole: no complete beat
    assert end_diastoles(size, np.array([4, 5])) == []  # nothing strictly between


def test_long_axis_and_area_length_volume_by_hand():
    # A 1-pixel-wide vertical bar of 30 pixels: its longest chord joins the two end pixels' outer corners or
    # centres; skimage measures between pixel-boundary points, so between 29 (centres) and 30.
    bar = np.zeros((112, 112), bool)
    bar[20:50, 40] = True
    assert 29.0 <= long_axis(bar) <= 31.0
    assert long_axis(np.zeros((112, 112), bool)) == 0.0
    # The largest region only: a stray pixel does not lengthen the axis.
    bar[100, 100] = True
    assert 29.0 <= long_axis(bar) <= 31.0
    assert area_length_volume(600.0, 40.0) == pytest.approx(8 * 600**2 / (3 * math.pi * 40))
    assert math.isnan(area_length_volume(10.0, 0.0))


def test_beat_measurements_of_two_beats():
    frames = 12
    sizes = np.array([800, 300, 500, 800, 700, 300, 600, 800, 500, 200, 500, 600])
    es = np.array([1, 5, 9])
    masks = np.zeros((frames, 112, 112), bool)
    masks[3] = rectangle(40, 20)  # ED of beat 0: area 800, long axis the diagonal (about 44.7)
    masks[5] = rectangle(30, 10)  # ES of beat 0: area 300
    masks[7] = rectangle(40, 20)
    masks[9] = rectangle(20, 10)
    table = beat_measurements(sizes, es, masks)
    assert table[["ED", "ES"]].values.tolist() == [[3, 5], [7, 9]]
    assert table["FAC"].tolist() == pytest.approx([100 * 500 / 800, 100 * 600 / 800])
    first = table.iloc[0]
    edv = area_length_volume(800, first["ED_length"])
    esv = area_length_volume(300, first["ES_length"])
    assert first["EF_area_length"] == pytest.approx(100 * (edv - esv) / edv)
    assert abs(first["ED_length"] - math.hypot(40, 20)) < 2.5 and abs(first["ES_length"] - math.hypot(30, 10)) < 2.5
    assert 0 < first["EF_area_length"] < 100


def test_the_clip_of_each_beat_as_the_r_procedure_maps_it():
    # 4 frames every 8: a clip spans 25 frames and is centred 16 frames after its start.
    sizes = pd.DataFrame(
        {"Filename": "v.avi", "Frame": range(64), "ComputerSmall": [int(f in (5, 40, 60)) for f in range(64)]}
    )
    beats = beat_clip_starts(sizes, {"v": 64}, frames=4, period=8)
    # Starts 5-16 -> 0 (floored), 40-16 = 24, 60-16 = 44; the video has 64 - 24 = 40 clips: 44 drops.
    assert beats[["Frame", "Clip"]].values.tolist() == [[5, 0], [40, 24]]


def test_video_ids_are_distinct_and_safe():
    from pathlib import PurePath

    assert video_id(PurePath("a/echo.avi")) != video_id(PurePath("b/echo.avi"))
    assert video_id(PurePath("a/echo.avi")) != video_id(PurePath("a/echo.mp4"))
    assert video_id(PurePath("patient 1/écho.dcm")) == "patient_1__écho_dcm"
    assert not video_id(PurePath("x.avi")).endswith(".avi")


def test_flags():
    assert _flags(0, math.nan, 5.0) == "no beat with a clip"
    assert _flags(1, math.nan, 5.0) == "one beat only"
    assert _flags(3, 2.0, 5.0) == ""
    assert _flags(3, 7.5, 5.0) == "beats disagree (SD 7.5 > 5)"


def test_the_per_video_table_by_hand(tmp_path):
    """Two beats at frames 40 and 80 of a 100-frame video; model a predicts on both beat clips,
    model b found no beat clip (an empty clips file) and still gets its columns."""
    from echobeat.stages.predict import INPUT_COLUMNS, video_table

    inputs = pd.DataFrame([dict.fromkeys(INPUT_COLUMNS)])
    inputs.loc[0, ["Source", "Video", "status", "frames", "fps"]] = ["x/v.mp4", "x__v_mp4", "ok", 100, 50.0]
    inputs.to_csv(tmp_path / "inputs.csv", index=False)
    size = np.full(100, 900)
    size[[40, 80]] = 400  # the end-systoles
    size[60] = 1000  # the end-diastole between them
    pd.DataFrame(
        {
            "Filename": "x__v_mp4.avi",
            "Frame": range(100),
            "Size": size,
            "HumanLarge": 0,
            "HumanSmall": 0,
            "ComputerSmall": [int(f in (40, 80)) for f in range(100)],
        }
    ).to_csv(tmp_path / "size.csv", index=False)
    (tmp_path / "masks").mkdir()
    masks = np.zeros((100, 112, 112), bool)
    masks[:, 10:50, 10:35] = True
    np.savez_compressed(tmp_path / "masks" / "x__v_mp4.npz", masks=masks)
    # 4 frames every 8: the clip of a beat starts 16 frames before it.
    pd.DataFrame(
        {
            "Filename": "x__v_mp4.avi",
            "Clip": [24, 64],
            "Prediction": [50.0, 60.0],
            "model": "a",
            "frames": 4,
            "period": 8,
        }
    ).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame(columns=["Filename", "Clip", "Prediction", "model", "frames", "period"]).to_csv(
        tmp_path / "b.csv", index=False
    )
    settings = {"clips": "beats", "beat_sd_flag": 5.0}
    table, beats, clips = video_table(
        settings,
        tmp_path / "inputs.csv",
        tmp_path / "size.csv",
        tmp_path / "masks",
        [tmp_path / "a.csv", tmp_path / "b.csv"],
    )
    row = table.iloc[0]
    assert row["beats_found"] == 2 and row["ES_frames"] == "40 80" and row["ED_frames"] == "60"
    assert row["FAC"] == pytest.approx(100 * (1000 - 400) / 1000)
    assert row["EF_a"] == pytest.approx(55.0) and row["EF_a_beats"] == 2
    assert row["EF_a_beat_sd"] == pytest.approx(np.std([50.0, 60.0], ddof=1))
    assert row["EF_a_flag"] == "beats disagree (SD 7.1 > 5)"
    assert np.isnan(row["EF_b"]) and row["EF_b_flag"] == "no beat with a clip"
    assert beats[["Frame", "Clip", "Prediction"]].values.tolist() == [[40, 24, 50.0], [80, 64, 60.0]]
    assert clips["model"].tolist() == ["a", "a"] and row["short_video"] == 0
