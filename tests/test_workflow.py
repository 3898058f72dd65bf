"""The real snakemake command line on copies of the workflow: planning, config validation, runs."""

import json
import shutil

import pandas as pd
import pytest
from conftest import REPO, run_snakemake, tiny_settings, write_config

from echobeat.video_io import read_video, write_video

pytestmark = pytest.mark.workflow

# A segmentation stage small enough for a test: one epoch of a small model.
TINY_SEGMENTATION = {
    "name": "tiny",
    "model": "lraspp_mobilenet_v3_large",
    "epochs": 1,
    "batch_size": 2,
    "optimizer": "adam",
    "lr": 1e-3,
    "bn_momentum": 0.1,
    "inference_batch_size": 64,
    "bootstrap_samples": 200,
    "size_splits": ["all"],
    "overlays": 1,
    "threads": 2,
}


# Two EF runs of one epoch on 4-frame clips; the real config's runs dropped.
TINY_VIDEO = {
    "defaults": {
        "weights": "random",
        "frames": 4,
        "period": 8,
        "epochs": 1,
        "batch_size": 2,
        "optimizer": "adam",
        "lr": 1e-3,
        "lr_step": None,
        "pad": 2,
        "inference_batch_size": 16,
        "bootstrap_samples": 100,
    },
    "runs": {
        "r2plus1d_18_32_2_pretrained": None,
        "r3d_18_32_2_pretrained": None,
        "tiny_r3d": {"model": "r3d_18"},
        "tiny_mc3": {"model": "mc3_18"},
    },
    "threads": 2,
}


def jobs_planned(stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run, as {rule: count}."""
    table = stdout.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    rows = [line.split() for line in table if line.strip()]
    return {rule: int(count) for rule, count in rows if rule != "total"}


def test_demo_config_plans_the_data_stage(workflow_dir):
    proc = run_snakemake(workflow_dir, "-n", "--configfile", "config/demo.yaml")
    assert "synthetic_dataset" in proc.stdout and "verify_dataset" in proc.stdout


def test_real_config_plans_with_a_dataset_in_place(workflow_dir, tmp_path):
    data = tmp_path / "EchoNet-Dynamic"
    (data / "Videos").mkdir(parents=True)
    (data / "FileList.csv").write_text("FileName,EF,ESV,EDV,FrameHeight,FrameWidth,FPS,NumberOfFrames,Split\n")
    (data / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\n")
    proc = run_snakemake(workflow_dir, "-n", "--config", f"data_dir={data}")
    assert "verify_dataset" in proc.stdout and "synthetic_dataset" not in proc.stdout


def test_real_config_without_the_dataset_says_where_to_get_it(workflow_dir):
    proc = run_snakemake(workflow_dir, "-n", check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "resources/EchoNet-Dynamic" in output and "Stanford AIMI" in output


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"data": {"on_eror": "stop"}}, "'on_eror' was unexpected"),
        ({"synthetic": {"n_videos": "many"}}, "'many' is not of type 'integer'"),
        ({"data": {"on_error": "ignore"}}, "'ignore' is not one of ['stop', 'exclude']"),
        ({"datasett": "real"}, "'datasett' was unexpected"),
    ],
)
def test_bad_config_fails_naming_the_key(workflow_dir, config, expected):
    path = write_config(workflow_dir / "bad.yaml", config)
    proc = run_snakemake(workflow_dir, "-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr


def test_tiny_synthetic_run_end_to_end(workflow_dir):
    config = {
        "dataset": "synthetic",
        "data_dir": "resources/tiny",
        "data": {"threads": 2},
        "synthetic": {**tiny_settings(n_videos=6), "threads": 2},
        "cache": {"threads": 2},
        "segmentation": TINY_SEGMENTATION,
        "video": TINY_VIDEO,
    }
    path = write_config(workflow_dir / "tiny.yaml", config)
    run_snakemake(workflow_dir, "--cores", "2", "--configfile", str(path))
    manifest = pd.read_csv(workflow_dir / "results/data/manifest.csv")
    assert len(manifest) == 6 and set(manifest["Split"]) <= {"TRAIN", "VAL", "TEST"}
    assert pd.read_csv(workflow_dir / "results/data/excluded.csv").empty
    report = (workflow_dir / "results/data/verify_report.md").read_text()
    assert "None: every row, tracing and video checked out." in report
    assert (workflow_dir / "resources/tiny/.echobeat-synthetic").exists()
    index = pd.read_csv(workflow_dir / "results/data/cache/index.csv")
    assert index["FileName"].tolist() == manifest["FileName"].tolist()
    stats = json.loads((workflow_dir / "results/data/normalisation.json").read_text())
    assert stats["videos"] == (manifest["Split"] == "TRAIN").sum() and 0 < stats["mean"][0] < 255
    seg = workflow_dir / "results/segmentation/tiny"
    size = pd.read_csv(seg / "size.csv")
    assert size.columns.tolist() == ["Filename", "Frame", "Size", "HumanLarge", "HumanSmall", "ComputerSmall"]
    assert set(size["Filename"]) == {f"{name}.avi" for name in manifest["FileName"]}
    assert len(size) == manifest["NumberOfFrames"].sum()
    per_video = size.groupby("Filename")
    assert (per_video["HumanLarge"].sum() == 1).all() and (per_video["HumanSmall"].sum() == 1).all()
    flagged = size[size["HumanLarge"] == 1].set_index("Filename")["Frame"]
    expected = manifest.assign(Filename=manifest["FileName"] + ".avi").set_index("Filename")["EDFrame"]
    assert flagged.sort_index().tolist() == expected.sort_index().tolist()
    assert set(size["ComputerSmall"]) <= {0, 1} and (size["Size"] >= 0).all()
    dice = pd.read_csv(seg / "dice.csv")
    assert dice[["split", "which"]].values.tolist() == [
        [split, which] for split in ("VAL", "TEST") for which in ("overall", "large", "small")
    ]
    assert (dice["ci_low"] <= dice["dice"] + 1e-12).all() and (dice["dice"] <= dice["ci_high"] + 1e-12).all()
    log = pd.read_csv(seg / "log.csv")
    assert log.columns.tolist()[:3] == ["epoch", "phase", "loss"] and "peak_memory_mb" in log.columns
    for split in ("val", "test"):
        table = pd.read_csv(seg / f"{split}_dice.csv")
        assert table.columns.tolist() == ["Filename", "Overall", "Large", "Small"]
        assert len(table) == (manifest["Split"] == split.upper()).sum()
    overlays = sorted(p for p in (seg / "overlays").iterdir() if not p.name.startswith("."))
    first = size["Filename"].iloc[0].removesuffix(".avi")
    assert [p.name for p in overlays] == [f"{first}.avi", f"{first}.png"]
    overlay = read_video(overlays[0])
    assert overlay.shape[1] == (size["Filename"] == f"{first}.avi").sum(), "one overlay frame per video frame"
    assert overlay.shape[2:] == (112 + 80, 224)
    for run in ("tiny_r3d", "tiny_mc3"):
        folder = workflow_dir / "results/video" / run
        test = pd.read_csv(folder / "test_predictions.csv")
        assert test.columns.tolist() == ["Filename", "Clip", "Prediction"]
        tested = manifest[manifest["Split"] == "TEST"]
        assert set(test["Filename"]) == {f"{n}.avi" for n in tested["FileName"]}
        assert len(test) == sum(max(f, 32) - 24 for f in tested["NumberOfFrames"])
        metrics = pd.read_csv(folder / "metrics.csv")
        assert set(metrics["method"]) == {"one_clip", "first_clip", "all_clips"}
        assert set(metrics["metric"]) == {"MAE", "RMSE", "R2"} and set(metrics["split"]) == {"VAL", "TEST"}
        assert pd.read_csv(folder / "log.csv").columns.tolist()[:5] == ["epoch", "phase", "loss", "r2", "mae"]
    again = run_snakemake(workflow_dir, "-n", "--configfile", str(path))
    assert "Nothing to be done" in again.stdout + again.stderr
    # A third run plans its own two jobs and nothing else.
    config["video"] = {**TINY_VIDEO, "runs": {**TINY_VIDEO["runs"], "tiny_third": {"model": "mc3_18", "seed": 1}}}
    write_config(path, config)
    plan = run_snakemake(workflow_dir, "-n", "--configfile", str(path))
    planned = jobs_planned(plan.stdout)
    assert planned == {"train_video": 1, "predict_clips": 1, "all": 1}, planned
    assert "results/video/tiny_third/best.pt" in plan.stdout and "tiny_r3d/best.pt" not in plan.stdout
    config["video"] = TINY_VIDEO
    write_config(path, config)
    # A beat-detection edit reruns size inference only.
    config["segmentation"] = {**TINY_SEGMENTATION, "beats": {"trim": "percentile"}}
    write_config(path, config)
    plan = run_snakemake(workflow_dir, "-n", "--configfile", str(path))
    assert "segment_all_frames" in plan.stdout and "segmentation_overlays" in plan.stdout
    assert "train_segmentation" not in plan.stdout and "evaluate_segmentation" not in plan.stdout
    config["segmentation"] = TINY_SEGMENTATION
    write_config(path, config)
    # A video whose content changes is decoded again; the other cache entries are reused.
    name = manifest["FileName"][0]
    video = workflow_dir / "resources/tiny/Videos" / f"{name}.avi"
    write_video(video, read_video(video)[0, ::-1], fps=manifest["FPS"][0])
    run_snakemake(workflow_dir, "--cores", "2", "--configfile", str(path))
    log = (workflow_dir / "logs/cache_videos.log").read_text()
    assert "6 entries, 1 decoded now, 5 reused" in log
    # A changed verification setting reruns verification only, not the generator.
    config["data"]["ef_tolerance"] = 2.0
    write_config(path, config)
    plan = run_snakemake(workflow_dir, "-n", "--configfile", str(path))
    assert "verify_dataset" in plan.stdout and "synthetic_dataset" not in plan.stdout


def test_damaged_real_dataset_stops_with_one_clear_message(workflow_dir, tiny_dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    victim = pd.read_csv(data / "FileList.csv")["FileName"][2]
    (data / "Videos" / f"{victim}.avi").unlink()
    target = "results/data/manifest.csv"
    proc = run_snakemake(workflow_dir, target, "--cores", "1", "--config", f"data_dir={data}", check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "Dataset check of" in output and f"[video_missing] {victim}" in output
    assert "Traceback" not in output
    assert not (workflow_dir / "results/data/manifest.csv").exists()
    path = write_config(workflow_dir / "exclude.yaml", {"data_dir": str(data), "data": {"on_error": "exclude"}})
    run_snakemake(workflow_dir, target, "--cores", "1", "--configfile", str(path))
    excluded = pd.read_csv(workflow_dir / "results/data/excluded.csv")
    assert excluded["FileName"].tolist() == [victim]


def test_synthetic_never_writes_over_other_data(workflow_dir, tiny_dataset, tmp_path):
    data = tmp_path / "real"
    shutil.copytree(tiny_dataset, data)
    (data / ".echobeat-synthetic").unlink()
    path = write_config(workflow_dir / "clash.yaml", {"dataset": "synthetic", "data_dir": str(data)})
    proc = run_snakemake(workflow_dir, "-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0 and "not made by the generator" in proc.stdout + proc.stderr


def test_lint_and_format_are_clean():
    proc = run_snakemake(REPO, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
