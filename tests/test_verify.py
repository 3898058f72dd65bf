"""Dataset verification on a clean dataset and on a copy with every known problem injected once."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_settings

from echobeat.data.filelist import FileListRow
from echobeat.data.problems import KINDS, DatasetFormatError, Severity
from echobeat.data.synthetic import generate_dataset
from echobeat.data.verify import DatasetCheckFailed, VerifySettings, _video_fps, _video_problems, verify_dataset
from echobeat.data.video_io import VideoInfo, probe_video, read_video, write_video


@pytest.fixture(scope="module")
def clean_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "data"
    generate_dataset(out, tiny_settings(n_videos=20, seed=11, frames={"min": 30, "max": 60}), threads=2)
    return out


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write(path: Path, table: pd.DataFrame) -> None:
    table.to_csv(path, index=False)


def test_clean_dataset_has_no_problem(clean_dataset):
    result = verify_dataset(clean_dataset, VerifySettings(), threads=2)
    assert result.problems == []
    assert len(result.manifest) == 20 and result.excluded.empty
    filelist = read(clean_dataset / "FileList.csv")
    assert result.manifest["FileName"].tolist() == filelist["FileName"].tolist()
    tracings = read(clean_dataset / "VolumeTracings.csv")
    first = filelist["FileName"][0]
    rows = tracings[tracings["FileName"] == f"{first}.avi"]
    frames = list(dict.fromkeys(rows["Frame"].astype(int)))
    entry = result.manifest.iloc[0]
    assert (entry["ESFrame"], entry["EDFrame"]) == (frames[0], frames[-1])
    assert len(result.tracings) == 42 * 20
    assert "None: every row, tracing and video checked out." in result.report()


class Damage:
    """A copy of the clean dataset with one problem injected into each of many videos."""

    def __init__(self, source: Path, target: Path):
        shutil.copytree(source, target)
        self.dir = target
        self.filelist = read(target / "FileList.csv")
        self.tracings = read(target / "VolumeTracings.csv")
        self.names = self.filelist["FileName"].tolist()
        self.expected: list[tuple[str, str, str]] = []  # (kind, file name, text in the message)
        self._next = 0

    def take(self) -> tuple[int, str]:
        """The next untouched video: its FileList row index and name."""
        i = self._next
        self._next += 1
        return i, self.names[i]

    def expect(self, kind: str, name: str, text: str) -> None:
        self.expected.append((kind, name, text))

    def save(self) -> None:
        write(self.dir / "FileList.csv", self.filelist)
        write(self.dir / "VolumeTracings.csv", self.tracings)

    def video(self, name: str) -> Path:
        return self.dir / "Videos" / f"{name}.avi"


@pytest.fixture
def damaged(clean_dataset, tmp_path) -> Damage:
    d = Damage(clean_dataset, tmp_path / "damaged")
    fl, tr = d.filelist, d.tracings

    i, name = d.take()  # duplicate FileName
    d.filelist = fl = pd.concat([fl, fl.iloc[[i]]], ignore_index=True)
    d.expect("filelist_duplicate", name, f"lines {i + 2}, {len(fl) + 1}")

    i, name = d.take()  # path separator
    fl.loc[i, "FileName"] = f"sub/{name}"
    d.expect("filelist_bad_filename", f"sub/{name}", "path separator")

    i, name = d.take()  # extension
    fl.loc[i, "FileName"] = f"{name}.avi"
    d.expect("filelist_bad_filename", f"{name}.avi", "has an extension")
    d.expect("video_orphan", name, "no FileList.csv row")  # its video is now unlisted

    i, name = d.take()  # unknown split (the original matches case-sensitively)
    fl.loc[i, "Split"] = "train"
    d.expect("filelist_bad_split", name, "'train'")

    i, name = d.take()  # non-numeric EF
    fl.loc[i, "EF"] = "abc"
    d.expect("filelist_bad_number", name, "EF 'abc'")

    i, name = d.take()  # EF inconsistent with the volumes (a warning; the FileList EF is kept)
    fl.loc[i, "EF"] = f"{float(fl.loc[i, 'EF']) + 10:.2f}"
    d.expect("filelist_ef_inconsistent", name, "100*(EDV-ESV)/EDV")

    i, name = d.take()  # video missing
    d.video(name).unlink()
    d.expect("video_missing", name, "no such file")

    i, name = d.take()  # unreadable
    d.video(name).write_bytes(b"this is not a video\n" * 500)
    d.expect("video_unreadable", name, "cannot be opened")

    i, name = d.take()  # truncated
    data = d.video(name).read_bytes()
    d.video(name).write_bytes(data[: len(data) // 2])
    d.expect("video_truncated", name, "truncated")

    # FileList values the original never compares with the file: warnings, the file's values used
    i, name = d.take()  # frame count mismatch
    fl.loc[i, "NumberOfFrames"] = str(int(fl.loc[i, "NumberOfFrames"]) + 5)
    d.expect("video_mismatch", name, "NumberOfFrames")

    i, name = d.take()  # frame rate mismatch
    fl.loc[i, "FPS"] = str(int(fl.loc[i, "FPS"]) + 10)
    d.expect("video_mismatch", name, "FPS")

    i, name = d.take()  # frame size mismatch
    fl.loc[i, "FrameHeight"] = "120"
    d.expect("video_mismatch", name, "FrameHeight x FrameWidth 120x112 but the video is 112x112")

    i, name = d.take()  # NaN volume
    fl.loc[i, "ESV"] = "nan"
    d.expect("filelist_bad_number", name, "ESV 'nan'")

    i, name = d.take()  # fewer than 2 traced frames: drop its ED rows (the last 21)
    rows = tr.index[tr["FileName"] == f"{name}.avi"]
    d.tracings = tr = tr.drop(rows[21:]).reset_index(drop=True)
    d.expect("too_few_traced_frames", name, "1 traced frame")

    i, name = d.take()  # traced frame outside the video
    rows = tr.index[tr["FileName"] == f"{name}.avi"]
    tr.loc[rows[:21], "Frame"] = str(int(fl.loc[i, "NumberOfFrames"]) + 10)
    d.expect("tracing_frame_outside", name, f"the video has {fl.loc[i, 'NumberOfFrames']} frames")

    i, name = d.take()  # repeated tracing: the ES frame traced twice (a warning; kept)
    rows = tr.index[tr["FileName"] == f"{name}.avi"]
    d.tracings = tr = pd.concat([tr.loc[rows[:21]], tr.loc[rows[:21]], tr.drop(rows[:21])], ignore_index=True)
    d.expect("repeated_tracing", name, "traced 2 times")

    i, name = d.take()  # malformed tracing: a chord missing
    rows = tr.index[tr["FileName"] == f"{name}.avi"]
    d.tracings = tr = tr.drop(rows[5]).reset_index(drop=True)
    d.expect("tracing_malformed", name, "has 20 rows")

    i, name = d.take()  # non-numeric coordinate
    rows = tr.index[tr["FileName"] == f"{name}.avi"]
    tr.loc[rows[3], "X1"] = "nan"
    d.expect("tracing_bad_value", name, "X1='nan'")

    # tracing rows for a file that FileList does not list
    orphan = tr[tr["FileName"] == f"{d.names[-1]}.avi"].copy()
    orphan["FileName"] = "0XDEADBEEFDEADBEEF.avi"
    d.tracings = tr = pd.concat([tr, orphan], ignore_index=True)
    d.expect("tracing_orphan", "0XDEADBEEFDEADBEEF", "no FileList.csv row")
    d.save()
    return d


# Videos that must be dropped: every error and exclusion, not the warnings.
def bad_names(d: Damage) -> set[str]:
    return {name for kind, name, _ in d.expected if KINDS[kind][0] is not Severity.WARNING}


def test_every_injected_problem_is_reported_with_its_file(damaged):
    result = verify_dataset(damaged.dir, VerifySettings(on_error="exclude"), threads=2)
    for kind, name, text in damaged.expected:
        found = [p for p in result.problems if p.kind == kind and p.file_name == name]
        assert found, f"{kind} not reported for {name}: {[p.describe() for p in result.problems]}"
        assert any(text in p.message for p in found), (kind, [p.message for p in found])
    report = result.report()
    for kind, name, _ in damaged.expected:
        assert f"`{kind}`" in report and name in report


def test_exclude_drops_exactly_the_bad_videos(damaged):
    result = verify_dataset(damaged.dir, VerifySettings(on_error="exclude"), threads=2)
    bad = bad_names(damaged)
    listed = set(damaged.filelist["FileName"])
    assert set(result.excluded["FileName"]) == bad & listed
    assert set(result.manifest["FileName"]) == listed - bad
    repeated = next(name for kind, name, _ in damaged.expected if kind == "repeated_tracing")
    assert repeated in set(result.manifest["FileName"]), "a warning keeps the video"
    assert (result.tracings["FileName"] == repeated).sum() == 42, "first 21 rows of the repeated frame"
    assert result.excluded["reason"].str.len().gt(0).all()


def test_stop_names_every_problem(damaged):
    with pytest.raises(DatasetCheckFailed) as failure:
        verify_dataset(damaged.dir, VerifySettings(on_error="stop"), threads=2)
    message = str(failure.value)
    assert "data.on_error: exclude" in message
    for kind, name, _ in damaged.expected:
        if KINDS[kind][0] is Severity.ERROR:
            assert f"[{kind}] {name}" in message
    assert "FileList.csv line" in message and "VolumeTracings.csv line" in message
    assert "too_few_traced_frames" not in message, "exclusions do not stop the workflow"
    assert "video_mismatch" not in message and "filelist_ef_inconsistent" not in message, "warnings do not stop"
    assert {p.kind for p in failure.value.verification.errors} == {
        kind for kind, _, _ in damaged.expected if KINDS[kind][0] is Severity.ERROR
    }


def test_filelist_mismatches_are_warnings_and_the_file_values_are_used(clean_dataset, tmp_path):
    # The original reads only FileName, EF and Split: FileList NumberOfFrames, FPS, size or an EF
    # off its volumes never stop the run; the manifest carries what the decoded file shows.
    d = Damage(clean_dataset, tmp_path / "mismatch")
    fl = d.filelist
    i_frames, frames_name = d.take()
    n_frames = int(fl.loc[i_frames, "NumberOfFrames"])
    fl.loc[i_frames, "NumberOfFrames"] = str(n_frames + 5)
    i_fps, fps_name = d.take()
    fps = float(fl.loc[i_fps, "FPS"])
    fl.loc[i_fps, "FPS"] = f"{fps + 10:g}"
    i_size, size_name = d.take()
    fl.loc[i_size, ["FrameHeight", "FrameWidth"]] = ["768", "1024"]
    i_ef, ef_name = d.take()
    ef = float(fl.loc[i_ef, "EF"]) + 10
    fl.loc[i_ef, "EF"] = f"{ef:.2f}"
    d.save()

    result = verify_dataset(d.dir, VerifySettings(on_error="stop"), threads=2)  # must not raise

    assert result.errors == [] and result.excluded.empty
    assert len(result.manifest) == 20
    found = sorted((p.kind, p.file_name, p.line) for p in result.problems)
    assert found == sorted(
        [
            ("video_mismatch", frames_name, i_frames + 2),
            ("video_mismatch", fps_name, i_fps + 2),
            ("video_mismatch", size_name, i_size + 2),
            ("filelist_ef_inconsistent", ef_name, i_ef + 2),
        ]
    )
    assert all(p.severity is Severity.WARNING for p in result.problems)
    manifest = result.manifest.set_index("FileName")
    truth = probe_video(d.video(frames_name))
    assert truth.n_frames == n_frames
    assert manifest.loc[frames_name, "NumberOfFrames"] == n_frames
    assert manifest.loc[fps_name, "FPS"] == pytest.approx(fps) == probe_video(d.video(fps_name)).fps
    assert (manifest.loc[size_name, "FrameHeight"], manifest.loc[size_name, "FrameWidth"]) == (112, 112)
    assert manifest.loc[ef_name, "EF"] == pytest.approx(round(ef, 2)), "the FileList EF, as the original"
    report = result.report()
    title = KINDS["video_mismatch"][1]
    assert f"| {title} (`video_mismatch`) | warning | 3 |" in report
    assert (
        f"- {frames_name} (FileList.csv line {i_frames + 2}): NumberOfFrames {n_frames + 5} "
        f"but the video has {n_frames} frames; {n_frames} is used"
    ) in report
    assert f"- {fps_name} (FileList.csv line {i_fps + 2}): FPS {fps + 10:g} but the video says {fps:g}" in report
    assert (
        f"- {size_name} (FileList.csv line {i_size + 2}): FrameHeight x FrameWidth 768x1024 "
        "but the video is 112x112; 112x112 is used"
    ) in report
    assert "(`filelist_ef_inconsistent`, warning)" in report
    assert result.manifest.equals(verify_dataset(d.dir, VerifySettings(on_error="exclude")).manifest)


def test_video_without_a_frame_rate_keeps_the_filelist_fps():
    row = FileListRow(2, "0X1", "TRAIN", 50.0, 20.0, 40.0, 112, 112, 50.0, 30)
    info = VideoInfo(n_frames=30, fps=0.0, height=112, width=112, grey=True)
    (problem,) = _video_problems(row, info, VerifySettings())
    assert (problem.kind, problem.severity) == ("video_mismatch", Severity.WARNING)
    assert "declares no frame rate" in problem.message and "the FileList FPS 50 is used" in problem.message
    assert _video_fps(row, info) == 50.0
    assert _video_fps(row, VideoInfo(30, 49.5, 112, 112, True)) == 49.5


def test_a_video_of_another_size_is_excluded_whatever_filelist_says(clean_dataset, tmp_path):
    d = Damage(clean_dataset, tmp_path / "size")
    i, name = d.take()
    fps = float(d.filelist.loc[i, "FPS"])
    frames = read_video(d.video(name))[0]  # grey (F, 112, 112)
    write_video(d.video(name), np.pad(frames, ((0, 0), (0, 16), (0, 32))), fps)
    d.save()
    result = verify_dataset(d.dir, VerifySettings(on_error="stop"), threads=2)  # exclusions never stop
    assert set(result.excluded["FileName"]) == {name}
    assert len(result.manifest) == 19
    reason = result.excluded.set_index("FileName").loc[name, "reason"]
    assert reason == "frames are 128x144; the models take 112x112 [frame_size]"
    assert {(p.kind, p.file_name) for p in result.problems} == {("frame_size", name), ("video_mismatch", name)}
    mismatch = next(p for p in result.problems if p.kind == "video_mismatch")
    assert mismatch.message == "FrameHeight x FrameWidth 112x112 but the video is 128x144"
    assert mismatch.severity is Severity.WARNING


def test_traced_frame_beyond_the_file_stops_though_filelist_lists_it(clean_dataset, tmp_path):
    # The mask's frame does not exist in the file (the original would crash): an error, judged by
    # the decoded frame count, not FileList's NumberOfFrames.
    d = Damage(clean_dataset, tmp_path / "outside")
    i, name = d.take()
    n_frames = int(d.filelist.loc[i, "NumberOfFrames"])
    d.filelist.loc[i, "NumberOfFrames"] = str(n_frames + 20)
    rows = d.tracings.index[d.tracings["FileName"] == f"{name}.avi"]
    d.tracings.loc[rows[:21], "Frame"] = str(n_frames + 2)
    d.save()
    with pytest.raises(DatasetCheckFailed) as failure:
        verify_dataset(d.dir, VerifySettings(on_error="stop"), threads=2)
    errors = failure.value.verification.errors
    assert [(p.kind, p.file_name) for p in errors] == [("tracing_frame_outside", name)]
    assert f"traced frame {n_frames + 2} but the video has {n_frames} frames" in errors[0].message
    result = verify_dataset(d.dir, VerifySettings(on_error="exclude"), threads=2)
    assert result.excluded["FileName"].tolist() == [name]
    assert "[tracing_frame_outside]" in result.excluded["reason"][0]
    assert "video_mismatch" not in result.excluded["reason"][0], "a warning is no reason to exclude"


def _truncate(d: Damage, i: int, name: str) -> None:
    data = d.video(name).read_bytes()
    d.video(name).write_bytes(data[: len(data) // 2])


def _nan_volume(d: Damage, i: int, name: str) -> None:
    d.filelist.loc[i, "ESV"] = "nan"


def _bad_chord(d: Damage, i: int, name: str) -> None:
    rows = d.tracings.index[d.tracings["FileName"] == f"{name}.avi"]
    d.tracings = d.tracings.drop(rows[5]).reset_index(drop=True)


@pytest.mark.parametrize(
    ("kind", "damage"),
    [
        ("video_missing", lambda d, i, name: d.video(name).unlink()),
        ("video_unreadable", lambda d, i, name: d.video(name).write_bytes(b"not a video\n" * 500)),
        ("video_truncated", _truncate),
        ("tracing_malformed", _bad_chord),
        ("filelist_bad_number", _nan_volume),
    ],
)
def test_each_real_error_alone_stops_the_run(clean_dataset, tmp_path, kind, damage):
    d = Damage(clean_dataset, tmp_path / "error")
    i, name = d.take()
    d.filelist.loc[i, "FPS"] = "7"  # a warning beside the error changes nothing
    damage(d, i, name)
    d.save()
    assert KINDS[kind][0] is Severity.ERROR
    with pytest.raises(DatasetCheckFailed) as failure:
        verify_dataset(d.dir, VerifySettings(), threads=2)
    assert [(p.kind, p.file_name) for p in failure.value.verification.errors] == [(kind, name)]
    assert f"[{kind}] {name}" in str(failure.value)


def test_untraced_and_large_videos_are_excluded_without_stopping(clean_dataset, tmp_path):
    # The real dataset's six 768x1024 videos have no tracings: always excluded, never a stop.
    d = Damage(clean_dataset, tmp_path / "quirks")
    _, name = d.take()
    d.tracings = d.tracings[d.tracings["FileName"] != f"{name}.avi"]
    d.save()
    result = verify_dataset(d.dir, VerifySettings(on_error="stop"), threads=1)
    assert name in set(result.excluded["FileName"])
    assert "0 traced frame(s)" in result.excluded.set_index("FileName").loc[name, "reason"]
    result = verify_dataset(d.dir, VerifySettings(frame_size=100), threads=1)
    assert result.manifest.empty
    assert {p.kind for p in result.problems} == {"frame_size", "too_few_traced_frames"}
    assert "frames are 112x112; the models take 100x100" in result.report()


@pytest.mark.parametrize("csv", ["FileList.csv", "VolumeTracings.csv"])
def test_wrong_header_stops_with_the_file_named(clean_dataset, tmp_path, csv):
    target = tmp_path / "data"
    shutil.copytree(clean_dataset, target)
    table = read(target / csv).rename(columns={"FileName": "Filename"})
    write(target / csv, table)
    with pytest.raises(DatasetFormatError, match=rf"{csv}: wrong header: missing column\(s\) FileName"):
        verify_dataset(target, VerifySettings(on_error="exclude"))


def test_missing_or_empty_csv_is_a_clear_error(clean_dataset, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(clean_dataset, target)
    (target / "VolumeTracings.csv").write_text("")
    with pytest.raises(DatasetFormatError, match="VolumeTracings.csv: the file is empty"):
        verify_dataset(target, VerifySettings())
    (target / "FileList.csv").unlink()
    with pytest.raises(DatasetFormatError, match="FileList.csv: file not found"):
        verify_dataset(target, VerifySettings())
