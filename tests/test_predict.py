"""Predicting on one's own videos: beat measurements by hand, the beats' clips, the per-video table,
the report and the evaluation against labels."""

import math

import numpy as np
import pandas as pd
import pytest

from echobeat.analysis import external, video_report
from echobeat.data.names import video_id
from echobeat.inference.measurements import area_length_volume, beat_measurements, end_diastoles, long_axis
from echobeat.stages import predict
from echobeat.stages.predict import beat_clip_starts


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
    assert external.flag(0, math.nan, 5.0) == "no beat with a clip"
    assert external.flag(1, math.nan, 5.0) == "one beat only"
    assert external.flag(3, 2.0, 5.0) == ""
    assert external.flag(3, 7.5, 5.0) == "beats disagree (SD 7.5 > 5)"


@pytest.fixture
def predict_folder(tmp_path):
    """Two beats at frames 40 and 80 of a 100-frame video; model a predicts on both beat clips,
    model b found no beat clip (an empty clips file); and a file that could not be read."""
    inputs = pd.DataFrame([dict.fromkeys(external.INPUT_COLUMNS)] * 2)
    inputs.loc[0, ["Source", "Video", "status", "frames", "fps"]] = ["x/v.mp4", "x__v_mp4", "ok", 100, 50.0]
    inputs.loc[0, ["kind", "source_frames", "source_fps", "source_height", "source_width"]] = [
        "video",
        200,
        100.0,
        480,
        640,
    ]
    inputs.loc[1, ["Source", "Video", "status", "reason"]] = ["bad.avi", "bad_avi", "failed", "bad.avi: not a video"]
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
    pd.DataFrame(columns=external.CLIP_COLUMNS).to_csv(tmp_path / "b.csv", index=False)
    settings = {"clips": "beats", "beat_sd_flag": 5.0}
    outputs = {name: tmp_path / f"{name}.out.csv" for name in ("predictions", "beats", "clips")}
    tables = predict.table(
        settings,
        tmp_path / "inputs.csv",
        tmp_path / "size.csv",
        tmp_path / "masks",
        [tmp_path / "a.csv", tmp_path / "b.csv"],
    )
    predict.write_table(outputs, *tables)
    return tmp_path, outputs, tables


def test_the_per_video_table_by_hand(predict_folder):
    _, _, (table, beats, clips) = predict_folder
    row = table.iloc[0]
    assert row["beats_found"] == 2 and row["ES_frames"] == "40 80" and row["ED_frames"] == "60"
    assert row["FAC"] == pytest.approx(100 * (1000 - 400) / 1000)
    assert row["EF_a"] == pytest.approx(55.0) and row["EF_a_beats"] == 2
    assert row["EF_a_beat_sd"] == pytest.approx(np.std([50.0, 60.0], ddof=1))
    assert row["EF_a_flag"] == "beats disagree (SD 7.1 > 5)"
    assert np.isnan(row["EF_b"]) and row["EF_b_flag"] == "no beat with a clip"
    assert beats[["Frame", "Clip", "Prediction"]].values.tolist() == [[40, 24, 50.0], [80, 64, 60.0]]
    assert clips["model"].tolist() == ["a", "a"] and row["short_video"] == 0
    # The file that failed keeps its row, with no numbers and not flagged short.
    failed = table.iloc[1]
    assert failed["status"] == "failed" and failed["reason"] == "bad.avi: not a video"
    assert pd.isna(failed["beats_found"]) and pd.isna(failed["EF_a_beats"]) and failed["short_video"] == 0


def test_counts_are_written_as_integers(predict_folder):
    """Frames, sizes and beats print as 100, not 100.0, also in a column where a failed file has none."""
    _, outputs, _ = predict_folder
    lines = outputs["predictions"].read_text().splitlines()
    row = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    failed = dict(zip(lines[0].split(","), lines[2].split(","), strict=True))
    assert (row["frames"], row["source_frames"], row["source_height"], row["source_width"]) == (
        "100",
        "200",
        "480",
        "640",
    )
    assert (row["beats_found"], row["EF_a_beats"], row["EF_b_beats"], row["short_video"]) == ("2", "2", "0", "0")
    assert (row["fps"], row["source_fps"]) == ("50.0", "100.0")  # rates stay decimal
    assert (failed["frames"], failed["beats_found"], failed["EF_a_beats"]) == ("", "", "")
    again = external.read_inputs(outputs["predictions"])
    assert again["beats_found"].tolist()[0] == 2 and again["frames"].dtype == "Int64"


class FrameCache:
    """The one method of a VideoCache the report reads: a (1, F, H, W) video of constant frames."""

    def video(self, name: str) -> np.ndarray:
        return np.full((1, 100, 112, 112), 7, np.uint8)


def test_the_report_shows_integers_the_failed_reason_and_fits_the_page(predict_folder):
    _, outputs, _ = predict_folder
    page = video_report.render(
        external.read_inputs(outputs["predictions"]),
        pd.read_csv(outputs["beats"], dtype={"Video": str}),
        pd.read_csv(outputs["predictions"].parent / "size.csv", dtype={"Filename": str}),
        FrameCache(),
    )
    summary = page[page.index("<table>") : page.index("</table>")]
    # Summary: the failed file's reason in its row; beats found as an integer.
    assert "<th>reason</th>" in summary
    assert '<td class="text">bad.avi: not a video</td>' in summary
    assert "<td>2</td>" in summary and "2.0" not in summary
    # The video's section: its size and frame count, and the per-beat table's ES frames, as integers.
    assert "640x480 px, 200 frames at 100.0 fps" in page
    assert "<tr><td>40</td><td>50.0</td></tr>" in page and "<tr><td>80</td><td>60.0</td></tr>" in page
    # Every table sits in a box that scrolls sideways; long text cells wrap.
    assert page.count("<div class='scroll'><table>") == page.count("<table>") == 2
    assert "div.scroll { overflow-x: auto" in page and "overflow-wrap: anywhere" in page


def test_the_cell_format():
    assert [video_report.cell(v) for v in (12, np.int64(12), 12.25, np.nan, pd.NA, None, "a<b")] == [
        "12",
        "12",
        "12.2",
        "",
        "",
        "",
        "a&lt;b",
    ]


def labelled(tmp_path, all_clips: bool):
    """Three files with labels 40, 35, 70: beat-by-beat EFs 50, 30, 70 (errors 10, 5, 0) and with
    ``clips: all`` all-clip means 44, 35, 61 (errors 4, 0, 9); a fourth file has no label."""
    table = pd.DataFrame(
        {
            "Source": ["a/v1.avi", "v2.mp4", "b/v3.dcm", "unlabelled.avi"],
            "EF_m": [50.0, 30.0, 70.0, 55.0],
            "EF_m_flag": "",
        }
    )
    if all_clips:
        table["EF_m_all_clips"] = [44.0, 35.0, 61.0, 50.0]
    # A label's FileName: the path below predict_dir, the file name, or the path without extension.
    pd.DataFrame({"FileName": ["a/v1.avi", "v2.mp4", "b/v3"], "EF": [40.0, 35.0, 70.0]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    return external.evaluate(table, str(tmp_path / "labels.csv"), ["m"], samples=20, seed=0, thresholds=[40])


def test_evaluation_has_no_rows_for_a_method_not_run(tmp_path):
    metrics, auc = labelled(tmp_path, all_clips=False)
    assert set(metrics["method"]) == {"beat_by_beat"} and set(auc["method"]) == {"beat_by_beat"}
    assert metrics["value"].notna().all() and (metrics["videos"] == 3).all()
    mae = metrics.set_index("metric").loc["MAE", "value"]
    assert mae == pytest.approx((10 + 5 + 0) / 3)
    assert auc["positives"].tolist() == [2]  # EF 40 and 35 are at or below 40


def test_evaluation_with_all_clips_has_both_methods(tmp_path):
    metrics, auc = labelled(tmp_path, all_clips=True)
    assert set(metrics["method"]) == set(auc["method"]) == {"beat_by_beat", "all_clips"}
    by_method = metrics[metrics["metric"] == "MAE"].set_index("method")["value"]
    assert by_method["beat_by_beat"] == pytest.approx(5.0) and by_method["all_clips"] == pytest.approx(13 / 3)


def test_labels_that_match_no_file_are_a_clear_error(tmp_path):
    pd.DataFrame({"FileName": ["other.avi"], "EF": [50.0]}).to_csv(tmp_path / "labels.csv", index=False)
    table = pd.DataFrame({"Source": ["v.avi"], "EF_m": [50.0]})
    with pytest.raises(external.LabelsError, match="no FileName matches a predicted file"):
        external.evaluate(table, str(tmp_path / "labels.csv"), ["m"], samples=20, seed=0, thresholds=[40])
