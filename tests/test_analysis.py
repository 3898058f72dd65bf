"""The analysis stage: the R script's beat-by-beat joins, metrics and AUC by hand, figures, comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from echobeat.analysis.beat_by_beat import beat_sampling
from echobeat.analysis.comparison import comparison_markdown, comparison_table, run_row
from echobeat.analysis.metrics import auc_table, method_predictions, metrics_table
from echobeat.analysis.tables import read_typed
from echobeat.atomic import write_csv
from echobeat.data.clips import clip_offset
from echobeat.data.problems import DatasetFormatError
from echobeat.stages.analysis import beat_by_beat
from echobeat.stats import REGRESSION_METRICS, auc_statistic, r2_pearson_statistic, regression_metrics, roc_points


def clips(name: str, predictions) -> pd.DataFrame:
    return pd.DataFrame({"Filename": name, "Clip": range(len(predictions)), "Prediction": predictions})


def sizes(name: str, frames: int, beats) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Filename": name,
            "Frame": range(frames),
            "Size": 1000,
            "HumanLarge": 0,
            "HumanSmall": 0,
            "ComputerSmall": [int(f in beats) for f in range(frames)],
        }
    )


@pytest.fixture
def hand_built(tmp_path):
    """Four labelled TEST videos and one unlabelled, predictions and size.csv, offset 32 (32x2 clips)."""
    predictions = pd.concat(
        [
            clips("A.avi", [40 + c for c in range(21)]),  # clips 0..20: all-clip mean 50
            clips("B.avi", [35 + c for c in range(6)]),  # clips 0..5: all-clip mean 37.5
            clips("C.avi", [58] * 4),
            clips("D.avi", [66 + 0.5 * c for c in range(21)]),
            clips("E.avi", [10] * 3),  # not in FileList: dropped by the label join
        ]
    )
    size_table = pd.concat(
        [
            # 10 and 20 both map to clip 0 (each counts), 45 to clip 13, 60 to clip 28 (no such clip).
            sizes("A.avi", 90, {10, 20, 45, 60}),
            sizes("B.avi", 70, {34, 40}),  # 34 -> clip 2; 40 -> clip 8 (none)
            sizes("C.avi", 60, set()),  # no beat: no beat-by-beat EF
            sizes("D.avi", 90, {32, 50}),  # 32 -> clip 0, 50 -> clip 18
            sizes("E.avi", 40, {5}),
        ]
    )
    # FileList names lack ".avi", as in the real dataset.
    labels = pd.DataFrame({"FileName": ["A", "B", "C", "D"], "EF": [50.0, 30.0, 60.0, 70.0], "Split": "TEST"})
    paths = {name: tmp_path / f"{name}.csv" for name in ("predictions", "sizes", "manifest")}
    write_csv(paths["predictions"], predictions)
    write_csv(paths["sizes"], size_table)
    write_csv(paths["manifest"], labels)
    return paths


def test_offset_centres_the_clip_span_on_the_beat():
    assert clip_offset(32, 2) == 32  # the R script's literal
    assert clip_offset(8, 8) == 32
    assert clip_offset(16, 1) == 8


def test_beat_by_beat_reproduces_the_r_joins(hand_built):
    settings = {"offset": 32, "max_beats": 3, "repetitions": 10, "seed": 0}
    table, beats, _ = beat_by_beat(settings, hand_built["predictions"], hand_built["sizes"], hand_built["manifest"])
    # Beats kept: A 10, 20 (clip 0 twice), 45 (clip 13); B 34 (clip 2); D 32 (clip 0), 50 (clip 18).
    assert beats[["Filename", "Frame", "Clip"]].values.tolist() == [
        ["A.avi", 10, 0],
        ["A.avi", 20, 0],
        ["A.avi", 45, 13],
        ["B.avi", 34, 2],
        ["D.avi", 32, 0],
        ["D.avi", 50, 18],
        ["E.avi", 5, 0],  # joined with its clip; the label join drops it later
    ]
    by_name = table.set_index("Filename")
    assert list(by_name.index) == ["A.avi", "B.avi", "C.avi", "D.avi"]  # E has no label
    assert by_name["beats"].tolist() == [3, 1, 0, 2]
    assert by_name.loc["A.avi", "beat_by_beat"] == pytest.approx((40 + 40 + 53) / 3)
    assert by_name.loc["B.avi", "beat_by_beat"] == pytest.approx(37)
    assert np.isnan(by_name.loc["C.avi", "beat_by_beat"])
    assert by_name.loc["D.avi", "beat_by_beat"] == pytest.approx((66 + 75) / 2)
    assert by_name["single_clip"].tolist() == [40, 35, 58, 66]
    assert by_name["all_clips"].tolist() == pytest.approx([50, 37.5, 58, 71])

    per_method = method_predictions(
        table,
        read_typed(hand_built["predictions"], {"Filename": str, "Clip": int, "Prediction": float}),
        pd.read_csv(hand_built["manifest"]),
        seed=0,
    )
    metrics = metrics_table(per_method, samples=100, seed=0).set_index(["method", "metric"])
    # Beat-by-beat errors: A 133/3 - 50 = -17/3, B +7, D +0.5 (C dropped).
    errors = np.array([-17 / 3, 7, 0.5])
    assert metrics.loc[("beat_by_beat", "MAE"), "value"] == pytest.approx(np.abs(errors).mean())
    assert metrics.loc[("beat_by_beat", "MAE"), "value"] == pytest.approx((17 / 3 + 7.5) / 3)
    assert metrics.loc[("beat_by_beat", "RMSE"), "value"] == pytest.approx(np.sqrt((289 / 9 + 49 + 0.25) / 3))
    # Squared correlation of predictions (133/3, 37, 70.5) and EF (50, 30, 70), worked out by hand:
    # centred EF (0, -20, 20); centred predictions (-6.278, -13.611, 19.889) about their mean 50.611;
    # p.t = 272.22 + 397.78 = 670.0, p.p = 620.24, t.t = 800: r2 = 670.0**2 / (620.24 * 800) = 0.9047.
    predicted, true = np.array([133 / 3, 37, 70.5]), np.array([50, 30, 70])
    p, t = predicted - predicted.mean(), true - true.mean()
    assert metrics.loc[("beat_by_beat", "R2_pearson"), "value"] == pytest.approx((p @ t) ** 2 / ((p @ p) * (t @ t)))
    assert metrics.loc[("beat_by_beat", "R2_pearson"), "value"] == pytest.approx(0.9047, abs=5e-4)
    assert metrics.loc[("beat_by_beat", "MAE"), "videos"] == 3
    assert metrics.loc[("all_clips", "MAE"), "videos"] == 4
    assert metrics.loc[("single_clip", "MAE"), "value"] == pytest.approx((10 + 5 + 2 + 4) / 4)


def test_predictions_written_by_the_original_have_no_header_and_are_read_alike(hand_built, tmp_path):
    """The original writes "{file},{clip},{prediction:.4f}" rows with no header row."""
    ours = pd.read_csv(hand_built["predictions"])
    original = tmp_path / "test_predictions.csv"
    original.write_text("".join(f"{f},{c},{p:.4f}\n" for f, c, p in ours.itertuples(index=False)))
    assert not original.read_text().startswith("Filename")
    settings = {"offset": 32, "max_beats": 3, "repetitions": 10, "seed": 0}
    expected, _, _ = beat_by_beat(settings, hand_built["predictions"], hand_built["sizes"], hand_built["manifest"])
    table, beats, _ = beat_by_beat(settings, original, hand_built["sizes"], hand_built["manifest"])
    pd.testing.assert_frame_equal(table, expected)
    assert len(beats) == 7
    # A bad cell of a headerless file is named by its own line (line 1 is data).
    lines = original.read_text().splitlines()
    lines[0] = "A.avi,zero,40.0000"
    original.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=r"test_predictions\.csv, line 1: column Clip is 'zero'"):
        beat_by_beat(settings, original, hand_built["sizes"], hand_built["manifest"])


def test_beat_by_beat_of_an_external_size_csv_names_a_bad_cell(hand_built):
    text = hand_built["sizes"].read_text().splitlines()
    text[3] = text[3].rsplit(",", 1)[0] + ",yes"
    hand_built["sizes"].write_text("\n".join(text) + "\n")
    settings = {"offset": 32, "max_beats": 1, "repetitions": 1, "seed": 0}
    with pytest.raises(DatasetFormatError, match=r"sizes\.csv, line 4: column ComputerSmall is 'yes'"):
        beat_by_beat(settings, hand_built["predictions"], hand_built["sizes"], hand_built["manifest"])


def test_beat_sampling_draws_k_beats_with_replacement():
    beats = pd.DataFrame(
        {"Filename": ["A.avi", "A.avi", "B.avi"], "Frame": [1, 2, 3], "Clip": 0, "Prediction": [40.0, 60.0, 30.0]}
    )
    labels = pd.DataFrame({"FileName": ["A", "B"], "EF": [50.0, 30.0]})
    sampling = beat_sampling(beats, labels, max_beats=2, repetitions=400, seed=1)
    assert len(sampling) == 800 and set(sampling["videos"]) == {2}
    # B is always exact; A's one-beat draw is 40 or 60 (error 10): MAE 5 every time.
    assert sampling.loc[sampling["beats"] == 1, "MAE"].tolist() == [5.0] * 400
    # Two beats of A: mean 40, 50, 50 or 60 (error 10, 0, 0, 10): MAE 5 or 0, each about half the time.
    two = sampling.loc[sampling["beats"] == 2, "MAE"]
    assert set(two) == {0.0, 5.0} and 0.4 < (two == 0).mean() < 0.6
    assert sampling.equals(beat_sampling(beats, labels, max_beats=2, repetitions=400, seed=1))


def test_r2_pearson_and_auc_by_hand():
    # Centred (-1, 0, 1) and (-1, 1, 0): covariance 1, sums of squares 2 and 2: r = 1/2.
    assert r2_pearson_statistic(np.array([[1.0, 2, 3]]), np.array([[1.0, 3, 2]]))[0] == pytest.approx(0.25)
    # HFrEF at 40: positives predicted 30 and 50, negatives 40 and 60. Of the four pairs only
    # (50, 40) ranks a positive above a negative EF: AUC 3/4. A tie counts half.
    predicted, ef = np.array([30.0, 40, 50, 60]), np.array([20.0, 45, 35, 70])
    assert auc_statistic(-predicted[None], (ef < 40)[None])[0] == pytest.approx(0.75)
    assert auc_statistic(-np.array([[30.0, 30, 50, 60]]), np.array([[1, 0, 1, 0]]))[0] == pytest.approx(0.625)
    assert np.isnan(auc_statistic(-predicted[None], np.ones((1, 4)))[0])
    fpr, tpr = roc_points(-predicted, ef < 40)
    assert np.trapezoid(tpr, fpr) == pytest.approx(0.75)
    rows = {r["metric"]: r["value"] for r in regression_metrics([1, 2, 3], [1, 3, 2], 10, 0, REGRESSION_METRICS)}
    assert rows["R2"] == pytest.approx(1 - 2 / 2)  # residuals 0, 1, 1 against a total of 2


def test_an_ef_on_the_threshold_counts_as_hfref_as_in_the_original():
    """The original's roc_auc_score(EF > 35, prediction): positives 40 (34) and 60 (58) against
    30 (33) and 35 (36) win 3 of 4 pairs. Counting only EF < 35 as HFrEF would give 1.0."""
    per_method = {
        method: pd.DataFrame({"prediction": [33.0, 36, 34, 58], "EF": [30.0, 35, 40, 60]})
        for method in ("all_clips", "beat_by_beat")
    }
    table = auc_table(per_method, [35], samples=50, seed=0).set_index(["method", "threshold"])
    assert table.loc[("all_clips", 35), "auc"] == pytest.approx(0.75)
    assert table.loc[("all_clips", 35), "positives"] == 2


def test_auc_table_leaves_one_class_thresholds_empty():
    per_method = {
        method: pd.DataFrame({"prediction": [30.0, 40, 50, 60], "EF": [20.0, 45, 35, 70]})
        for method in ("all_clips", "beat_by_beat")
    }
    table = auc_table(per_method, [10, 40], samples=200, seed=0).set_index(["method", "threshold"])
    assert np.isnan(table.loc[("all_clips", 10), "auc"])
    assert table.loc[("beat_by_beat", 40), "auc"] == pytest.approx(0.75)
    assert table.loc[("beat_by_beat", 40), "positives"] == 2
    assert table.loc[("beat_by_beat", 40), "ci_low"] <= 0.75 <= table.loc[("beat_by_beat", 40), "ci_high"]


def test_comparison_puts_the_paper_beside_each_run():
    metrics = pd.DataFrame(
        [
            {"split": "TEST", "method": m, "metric": k, "value": v, "ci_low": v - 1, "ci_high": v + 1, "videos": 9}
            for m in ("single_clip", "all_clips", "beat_by_beat")
            for k, v in (("MAE", 4.5), ("RMSE", 6.0), ("R2", 0.7), ("R2_pearson", 0.75))
        ]
    )
    auc = pd.DataFrame(
        [
            {"split": "TEST", "method": method, "threshold": 50, "auc": 0.9, "ci_low": 0.8, "ci_high": 1.0}
            for method in ("all_clips", "beat_by_beat")
        ]
    )
    dice = pd.DataFrame([{"split": "TEST", "which": "overall", "dice": 0.91, "ci_low": 0.9, "ci_high": 0.92}])
    settings = {"model": "r3d_18", "frames": 32, "period": 2, "weights": "pretrained", "epochs": 45}
    table = comparison_table([run_row("mine", settings, metrics, auc, dice)])
    assert table["run"].tolist() == ["mine", "paper", "authors_rerun"]
    assert table.loc[0, "beat_by_beat_MAE"] == 4.5 and table.loc[1, "beat_by_beat_MAE"] == 4.05
    markdown = comparison_markdown(table)
    assert "| beat_by_beat_MAE | 4.50 [3.50, 5.50] | 4.05 | 4.02 |" in markdown
    # The published AUCs are of the all-clip means; the published single-clip R2 is R's (squared r).
    assert "| auc_all_clips_50 | 0.900 [0.800, 1.000] |  | 0.953 |" in markdown
    assert "| auc_beat_by_beat_50 | 0.900 [0.800, 1.000] |  |  |" in markdown
    assert "| single_clip_R2_pearson | 0.750 [-0.250, 1.750] | 0.790 | 0.809 |" in markdown
    assert "| single_clip_R2 | 0.700 [-0.300, 1.700] |  |  |" in markdown
    assert "| frames | 32 |  |  |" in markdown
    # The paper's one AUC states no threshold: a row of its own, right after the thresholds' rows.
    assert np.isnan(table.loc[1, "auc_all_clips_50"]) and table.loc[2, "auc_all_clips_50"] == 0.953
    assert table.loc[1, "auc_all_clips_threshold_not_stated"] == 0.97
    assert np.isnan(table.loc[0, "auc_all_clips_threshold_not_stated"])
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    auc_row = rows.index("| auc_all_clips_threshold_not_stated |  | 0.970 |  |")
    assert rows[auc_row - 1].startswith("| auc_all_clips_50 |")
    assert sum("0.970" in row for row in rows) == 1
    # Each reference says which settings produced its numbers: a column, and notes under the table.
    assert table.columns[:3].tolist() == ["run", "label", "settings"]
    assert table["settings"].isna().tolist() == [True, False, False]
    assert "30 epochs" in table.loc[2, "settings"] and "35 epochs" in table.loc[2, "settings"]
    assert "45 epochs" in table.loc[1, "settings"]
    table_text, notes = markdown.split("## What produced the reference numbers")
    assert "| settings |" not in table_text
    assert "segmentation (ImageNet backbone) trained 30 epochs" in notes
    assert "R(2+1)D-18 32x2 Kinetics-pretrained trained 35 epochs" in notes
    assert "45 epochs" in notes and "not tied to one EF threshold" in notes
    assert "- mine:" not in notes
    assert markdown.count("| 4.05 |") == 1
