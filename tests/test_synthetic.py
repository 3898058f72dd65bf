"""The synthetic dataset: EchoNet format, determinism, labels that match its own tracings."""

import filecmp

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_settings

from echobeat.data import phantom, synthetic
from echobeat.data.filelist import FILELIST_COLUMNS, ejection_fraction
from echobeat.data.tracings import TRACING_COLUMNS, disk_volume, tracing_mask
from echobeat.data.video_io import probe_video, read_video


def traced_frames(tracings: pd.DataFrame, name: str) -> list[tuple[int, np.ndarray]]:
    """(frame, rows) of a video's traced frames in order of first appearance."""
    rows = tracings[tracings["FileName"] == f"{name}.avi"]
    order = list(dict.fromkeys(rows["Frame"]))
    return [(f, rows[rows["Frame"] == f][["X1", "Y1", "X2", "Y2"]].to_numpy()) for f in order]


def test_files_have_the_echonet_format(tiny_dataset):
    assert (tiny_dataset / "FileList.csv").read_text().splitlines()[0] == ",".join(FILELIST_COLUMNS)
    assert (tiny_dataset / "VolumeTracings.csv").read_text().splitlines()[0] == ",".join(TRACING_COLUMNS)
    filelist = pd.read_csv(tiny_dataset / "FileList.csv")
    tracings = pd.read_csv(tiny_dataset / "VolumeTracings.csv")
    assert filelist["FileName"].str.fullmatch(r"0X[0-9A-F]{16}").all()
    assert tracings["FileName"].str.endswith(".avi").all()
    assert set(tracings["FileName"].str[:-4]) == set(filelist["FileName"])
    for row in filelist.itertuples():
        info = probe_video(tiny_dataset / "Videos" / f"{row.FileName}.avi")
        assert (info.height, info.width) == (row.FrameHeight, row.FrameWidth) == (112, 112)
        assert info.n_frames == row.NumberOfFrames
        assert info.fps == row.FPS
        assert info.grey, "three identical grey channels"
        frames = traced_frames(tracings, row.FileName)
        assert len(frames) == 2 and all(len(rows) == 21 for _, rows in frames)
        assert all(0 <= f < row.NumberOfFrames for f, _ in frames)


def test_ef_equals_method_of_disks_of_its_own_tracings(tiny_dataset):
    filelist = pd.read_csv(tiny_dataset / "FileList.csv")
    tracings = pd.read_csv(tiny_dataset / "VolumeTracings.csv")
    for row in filelist.itertuples():
        (_, es), (_, ed) = traced_frames(tracings, row.FileName)  # ES is listed first
        esv, edv = disk_volume(es, synthetic.CM_PER_PIXEL), disk_volume(ed, synthetic.CM_PER_PIXEL)
        assert abs(ejection_fraction(edv, esv) - row.EF) < 0.5
        assert abs(ejection_fraction(row.EDV, row.ESV) - row.EF) < 0.5
        assert pytest.approx(edv, abs=0.01) == row.EDV


def test_same_seed_same_dataset(tiny_dataset, tmp_path):
    again = tmp_path / "again"
    synthetic.generate_dataset(again, tiny_settings(), threads=1)
    for name in ("FileList.csv", "VolumeTracings.csv"):
        assert filecmp.cmp(tiny_dataset / name, again / name, shallow=False)
    for video in sorted((tiny_dataset / "Videos").glob("*.avi")):
        np.testing.assert_array_equal(read_video(video), read_video(again / "Videos" / video.name))
    other = tmp_path / "other"
    synthetic.generate_dataset(other, tiny_settings(seed=8, n_videos=2), threads=1)
    assert (other / "FileList.csv").read_text() != (tiny_dataset / "FileList.csv").read_text()


def test_the_cavity_is_dark_inside_bright_muscle(tiny_dataset):
    filelist = pd.read_csv(tiny_dataset / "FileList.csv")
    tracings = pd.read_csv(tiny_dataset / "VolumeTracings.csv")
    for row in filelist.itertuples():
        video = read_video(tiny_dataset / "Videos" / f"{row.FileName}.avi")[0]
        (es_frame, es), (ed_frame, ed) = traced_frames(tracings, row.FileName)
        es_mask, ed_mask = tracing_mask(es, (112, 112)), tracing_mask(ed, (112, 112))
        assert ed_mask.sum() > es_mask.sum() > 100
        for frame, mask in ((es_frame, es_mask), (ed_frame, ed_mask)):
            inside = video[frame][mask.astype(bool)].mean()
            grown = np.zeros_like(mask)
            ys, xs = np.nonzero(mask)
            for dy in range(-6, 7):  # a band a few pixels outside the traced border
                for dx in range(-6, 7):
                    grown[np.clip(ys + dy, 0, 111), np.clip(xs + dx, 0, 111)] = 1
            ring = video[frame][(grown - mask).astype(bool)].mean()
            # The ring also crosses the dark atrium below the mitral plane, so it is not all muscle.
            assert inside < 45 and ring > max(2 * inside, inside + 25)


def test_split_counts_are_exact():
    assert synthetic.split_counts(20, {"TRAIN": 0.5, "VAL": 0.25, "TEST": 0.25}) == {"TRAIN": 10, "VAL": 5, "TEST": 5}
    assert synthetic.split_counts(7, {"TRAIN": 0.7, "VAL": 0.15, "TEST": 0.15}) == {"TRAIN": 5, "VAL": 1, "TEST": 1}
    assert sum(synthetic.split_counts(13, {"TRAIN": 3, "VAL": 1, "TEST": 1}).values()) == 13


def test_many_specs_look_like_the_real_dataset():
    settings = tiny_settings(n_videos=400, frames={"min": 28, "max": 400}, fps=[30, 40, 50, 50, 50, 60, 75])
    settings["beats"] = {"min": 1, "max": 6}
    specs = synthetic.sample_specs(settings)
    counts = {s: sum(spec.split == s for spec in specs) for s in ("TRAIN", "VAL", "TEST")}
    assert counts == synthetic.split_counts(400, settings["splits"])
    assert len({spec.name for spec in specs}) == 400
    frames = np.array([spec.n_frames for spec in specs])
    assert frames.min() < 64 and frames.max() > 300
    beats = frames / np.array([spec.period for spec in specs])
    assert beats.min() >= 1 - 1e-9 and beats.max() <= 6 + 1e-9
    assert np.array([spec.period for spec in specs]).min() >= synthetic.MIN_BEAT_FRAMES
    efs = []
    for spec in specs:
        es = phantom.frame_tracing(spec.geometry, spec.es_frame, spec.ed_frame, spec.period)
        ed = phantom.frame_tracing(spec.geometry, spec.ed_frame, spec.ed_frame, spec.period)
        assert 0 <= spec.es_frame < spec.n_frames and 0 <= spec.ed_frame < spec.n_frames
        efs.append(ejection_fraction(disk_volume(ed), disk_volume(es)))
    efs = np.array(efs)
    assert 0.15 < (efs < 40).mean() < 0.35, "about a quarter below 40%"
    assert 45 < efs.mean() < 65
    assert efs.min() > 5 and efs.max() < 85


def test_impossible_timing_is_a_clear_error():
    with pytest.raises(ValueError, match="widen synthetic.fps or frames"):
        synthetic.sample_specs(tiny_settings(frames={"min": 30, "max": 30}, beats={"min": 3, "max": 6}))
