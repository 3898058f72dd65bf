"""Dataset verification on a clean dataset and on a copy with every known problem injected once."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_settings

from echobeat.data.problems import KINDS, DatasetFormatError, Severity
from echobeat.data.synthetic import generate_dataset
from echobeat.data.verify import DatasetCheckFailed, VerifySettings, verify_dataset


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

    i, name = d.take()  # EF inconsistent with the volumes
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
