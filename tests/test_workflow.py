"""The real snakemake command line on copies of the workflow: planning, config validation, runs."""

import copy
import json
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import (
    PREDICT_GPU_RULES,
    REPO,
    TINY_CONFIG,
    copy_run,
    run_snakemake,
    tiny_workflow_config,
    write_config,
)

from echobeat.data.video_io import read_video, write_video
from echobeat.stages.rule_settings import GPU_RULES

pytestmark = pytest.mark.workflow


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
        ({"experiments": {"sweep": {"frames": [0]}}}, "On instance['experiments']['sweep']['frames'][0]"),
        ({"experiments": {"sweep": {"models": ["r4d"]}}}, "'r4d' is not one of ['r2plus1d_18', 'r3d_18', 'mc3_18']"),
        ({"experiments": {"noise": {"levels": [0, 1.5]}}}, "experiments.noise.levels: 1.5 is not a fraction"),
    ],
)
def test_bad_config_fails_naming_the_key(workflow_dir, config, expected):
    path = write_config(workflow_dir / "bad.yaml", config)
    proc = run_snakemake(workflow_dir, "-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr


# The tiny workflow's run (conftest.finished_run), checked output by output; the tests that run
# jobs on it (evaluate-only, predict, cache refresh) each take a copy.
RUNS = ("tiny_r3d", "tiny_mc3")


def finished_manifest(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "results/data/manifest.csv")


@pytest.fixture
def finished_copy(finished_run, tmp_path) -> Path:
    """A private copy of the finished run, for tests that run jobs on it."""
    return copy_run(finished_run, tmp_path / "wf")


@pytest.mark.slow
def test_data_stage_outputs(finished_run):
    manifest = finished_manifest(finished_run)
    assert len(manifest) == 6 and set(manifest["Split"]) <= {"TRAIN", "VAL", "TEST"}
    assert pd.read_csv(finished_run / "results/data/excluded.csv").empty
    report = (finished_run / "results/data/verify_report.md").read_text()
    assert "None: every row, tracing and video checked out." in report
    assert (finished_run / "resources/tiny/.echobeat-synthetic").exists()
    index = pd.read_csv(finished_run / "results/data/cache/index.csv")
    assert index["FileName"].tolist() == manifest["FileName"].tolist()
    stats = json.loads((finished_run / "results/data/normalisation.json").read_text())
    assert stats["videos"] == (manifest["Split"] == "TRAIN").sum() and 0 < stats["mean"][0] < 255


@pytest.mark.slow
def test_segmentation_outputs(finished_run):
    manifest = finished_manifest(finished_run)
    seg = finished_run / "results/segmentation/tiny"
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
        [split, which] for split in ("VAL", "TEST") for which in ("overall", "ED", "ES")
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


@pytest.mark.slow
def test_video_outputs(finished_run):
    manifest = finished_manifest(finished_run)
    for run in RUNS:
        folder = finished_run / "results/video" / run
        test = pd.read_csv(folder / "test_predictions.csv")
        assert test.columns.tolist() == ["Filename", "Clip", "Prediction"]
        tested = manifest[manifest["Split"] == "TEST"]
        assert set(test["Filename"]) == {f"{n}.avi" for n in tested["FileName"]}
        assert len(test) == sum(max(f, 32) - 24 for f in tested["NumberOfFrames"])
        # Inference writes predictions only; the metrics are the analysis stage's.
        assert not (folder / "metrics.csv").exists()
        assert pd.read_csv(folder / "log.csv").columns.tolist()[:5] == ["epoch", "phase", "loss", "r2", "mae"]


@pytest.mark.slow
def test_analysis_outputs(finished_run):
    check_analysis_outputs(finished_run, finished_manifest(finished_run), runs=RUNS, offset=4 * 8 // 2)


@pytest.mark.slow
def test_report_holds_every_figure_and_table(finished_run):
    check_report(finished_run / "results/report.zip", runs=RUNS)


@pytest.mark.slow
def test_each_edit_plans_the_jobs_it_affects(finished_run, tmp_path):
    check_rerun_plans(finished_run, tmp_path / "edited.yaml", tiny_workflow_config())


@pytest.mark.slow
def test_evaluate_only_reproduces_the_trained_models(finished_copy):
    check_evaluate_only(finished_copy, tiny_workflow_config())


@pytest.mark.slow
def test_predict_on_a_folder_of_ones_own_videos(finished_copy):
    check_predict(finished_copy, tiny_workflow_config(), finished_manifest(finished_copy))


@pytest.mark.slow
def test_a_changed_video_is_decoded_again_and_the_others_reused(finished_copy):
    # The cache is the target, not the whole workflow: its log line is all this checks.
    manifest = finished_manifest(finished_copy)
    name = manifest["FileName"][0]
    video = finished_copy / "resources/tiny/Videos" / f"{name}.avi"
    write_video(video, read_video(video)[0, ::-1], fps=manifest["FPS"][0])
    run_snakemake(finished_copy, "--cores", "2", "results/data/cache/index.csv", "--configfile", TINY_CONFIG)
    log = (finished_copy / "logs/cache_videos.log").read_text()
    assert "6 entries, 1 decoded now, 5 reused" in log


def check_analysis_outputs(workflow_dir, manifest, runs, offset):
    """Every analysis file of the runs, consistent with the stage outputs it was made from."""
    tested = manifest[manifest["Split"] == "TEST"]
    size = pd.read_csv(workflow_dir / "results/segmentation/tiny/size.csv")
    for run in runs:
        folder = workflow_dir / "results/analysis" / run
        table = pd.read_csv(folder / "beat_by_beat.csv")
        assert table.columns.tolist() == ["Filename", "EF", "beats", "single_clip", "all_clips", "beat_by_beat"]
        assert sorted(table["Filename"]) == sorted(f"{n}.avi" for n in tested["FileName"])
        beats = pd.read_csv(folder / "beats.csv")
        assert (beats["Clip"] == (beats["Frame"] - offset).clip(lower=0)).all()
        tested_beats = size[size["Filename"].isin(table["Filename"]) & (size["ComputerSmall"] == 1)]
        assert len(beats) <= len(tested_beats) and table["beats"].sum() == len(beats)
        predictions = pd.read_csv(workflow_dir / "results/video" / run / "test_predictions.csv")
        assert table.set_index("Filename")["all_clips"].to_dict() == pytest.approx(
            predictions.groupby("Filename")["Prediction"].mean().to_dict()
        )
        sampling = pd.read_csv(folder / "beat_sampling.csv")
        assert sorted(set(sampling["beats"])) == [1, 2, 3, 4, 5] and len(sampling) == 500
        metrics = pd.read_csv(folder / "metrics.csv")
        assert set(metrics["method"]) == {"single_clip", "one_clip", "all_clips", "beat_by_beat"}
        assert set(metrics["metric"]) == {"MAE", "RMSE", "R2", "R2_pearson"}
        val = metrics[metrics["split"] == "VAL"]
        assert set(val["method"]) == {"single_clip", "one_clip", "all_clips"}, "VAL: the clip methods"
        val_predictions = pd.read_csv(workflow_dir / "results/video" / run / "val_predictions.csv")
        val_labels = manifest.set_index(manifest["FileName"] + ".avi")["EF"]
        val_means = val_predictions.groupby("Filename")["Prediction"].mean()
        assert val.set_index(["method", "metric"]).loc[("all_clips", "MAE"), "value"] == pytest.approx(
            (val_means - val_labels.reindex(val_means.index)).abs().mean()
        )
        metrics = metrics[metrics["split"] == "TEST"]
        all_clips_mae = metrics.set_index(["method", "metric"]).loc[("all_clips", "MAE"), "value"]
        assert all_clips_mae == pytest.approx((table["all_clips"] - table["EF"]).abs().mean())
        auc = pd.read_csv(folder / "auc.csv")
        assert auc[["method", "threshold"]].values.tolist() == [
            [m, t] for m in ("all_clips", "beat_by_beat") for t in (35, 40, 45, 50)
        ]
        for name in ("ef_scatter", "roc", "bland_altman", "beat_sampling", "loss"):
            for kind in ("png", "pdf"):
                assert (folder / "figures" / f"{name}.{kind}").stat().st_size > 1000
    for name in ("segmentation_loss", "dice_histogram"):
        assert (workflow_dir / "results/segmentation/tiny/figures" / f"{name}.png").stat().st_size > 1000
    comparison = pd.read_csv(workflow_dir / "results/analysis/comparison.csv")
    assert comparison["run"].tolist() == [*runs, "paper", "authors_rerun"]
    markdown = (workflow_dir / "results/analysis/comparison.md").read_text()
    assert "| beat_by_beat_MAE |" in markdown and markdown.count("| 4.05 |") == 1


def export_as_original(best: Path, target: Path) -> None:
    """A best.pt of ours written the way the original's code saves a checkpoint: the state dict of a
    DataParallel model (every key behind ``module.``) in a dict with the epoch and losses."""
    state = torch.load(best, weights_only=True)["model"]
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}, "best_loss": 1.0}, target)


def check_evaluate_only(workflow_dir, config):
    """The trained models re-exported in the original's format and evaluated with epochs: 0 (no
    training job) give the predictions and sizes of the run that trained them; a damaged weights
    file stops its job with one line naming it, and nothing is written to results/."""
    weights = workflow_dir / "resources/weights"
    export_as_original(workflow_dir / "results/segmentation/tiny/best.pt", weights / "segmentation.pt")
    export_as_original(workflow_dir / "results/video/tiny_r3d/best.pt", weights / "r3d.pt")
    released = copy.deepcopy(config)
    released["segmentation"].update({"name": "tiny_released", "epochs": 0, "weights": str(weights / "segmentation.pt")})
    released["video"]["runs"] = {
        **config["video"]["runs"],  # the base config's runs stay dropped
        "tiny_r3d": None,
        "tiny_mc3": None,
        "tiny_r3d_released": {"model": "r3d_18", "epochs": 0, "weights": str(weights / "r3d.pt")},
    }
    path = write_config(workflow_dir / "released.yaml", released)
    planned = jobs_planned(run_snakemake(workflow_dir, "-n", "--configfile", str(path)).stdout)
    assert planned["import_segmentation_weights"] == 1 and planned["import_video_weights"] == 1, planned
    assert not {"train_segmentation", "train_video"} & set(planned), planned
    run_snakemake(workflow_dir, "--cores", "2", "--configfile", str(path))
    trained = pd.read_csv(workflow_dir / "results/video/tiny_r3d/test_predictions.csv")
    evaluated = pd.read_csv(workflow_dir / "results/video/tiny_r3d_released/test_predictions.csv")
    assert evaluated[["Filename", "Clip"]].equals(trained[["Filename", "Clip"]])
    assert evaluated["Prediction"].to_numpy() == pytest.approx(trained["Prediction"].to_numpy(), abs=1e-5)
    sizes = [pd.read_csv(workflow_dir / f"results/segmentation/{n}/size.csv") for n in ("tiny", "tiny_released")]
    pd.testing.assert_frame_equal(sizes[0], sizes[1])
    card = torch.load(workflow_dir / "results/video/tiny_r3d_released/best.pt", weights_only=True)["meta"]
    assert card["epochs"] == 0 and (card["frames"], card["period"]) == (4, 8)
    assert len(card["normalisation"]["mean"]) == 3
    assert (workflow_dir / "results/analysis/tiny_r3d_released/metrics.csv").exists()
    # A truncated checkpoint: one line naming it, no traceback, no best.pt.
    bad = weights / "truncated.pt"
    bad.write_bytes((weights / "segmentation.pt").read_bytes()[:5000])
    broken = copy.deepcopy(released)
    broken["segmentation"].update({"name": "tiny_bad", "weights": str(bad)})
    path = write_config(workflow_dir / "broken.yaml", broken)
    target = "results/segmentation/tiny_bad/best.pt"
    proc = run_snakemake(workflow_dir, target, "--cores", "1", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert f"weights file {bad} is not a readable PyTorch checkpoint" in proc.stdout + proc.stderr
    job_log = (workflow_dir / "logs/import_segmentation_weights/tiny_bad.log").read_text()
    assert "is not a readable PyTorch checkpoint" in job_log and "Traceback" not in job_log
    assert not (workflow_dir / "results/segmentation/tiny_bad").exists() or not any(
        (workflow_dir / "results/segmentation/tiny_bad").iterdir()
    )


def check_predict(workflow_dir, config, manifest):
    """The predict target on a folder of the user's own videos: the TEST videos as they are (whose
    predictions must equal the evaluation path's), the same video as a scanner-like MP4 and as a
    DICOM, and files that must each get a row with a reason; every other video is predicted."""
    from echobeat.data.predict_examples import resample, scanner_frames, write_dicom, write_mp4

    folder = workflow_dir / "my videos"
    tested = manifest[manifest["Split"] == "TEST"]["FileName"].tolist()
    videos = workflow_dir / "resources/tiny/Videos"
    (folder / "same").mkdir(parents=True)
    for name in tested:
        shutil.copy2(videos / f"{name}.avi", folder / "same" / f"{name}.avi")
    grey = read_video(videos / f"{tested[0]}.avi")[0]
    (folder / "exports").mkdir()
    write_mp4(folder / "exports" / "scanner 30fps.mp4", scanner_frames(resample(grey, 50.0, 30.0), "TEST 30 FPS"), 30.0)
    write_dicom(folder / "exports" / "échographie.dcm", grey, 50.0, "x")
    for twin, name in zip(("a", "b"), manifest["FileName"][:2], strict=True):
        (folder / "twins" / twin).mkdir(parents=True)
        shutil.copy2(videos / f"{name}.avi", folder / "twins" / twin / "echo.avi")
    (folder / "bad").mkdir()
    (folder / "bad" / "empty.avi").write_bytes(b"")
    (folder / "bad" / "notes.avi").write_text("not a video\n")
    settings = copy.deepcopy(config)
    settings["predict_dir"] = str(folder)
    # fp32: the evaluation path computes in float32 on a CPU (bf16 differs within BENCHMARKS.md's tolerance).
    settings["predict"] = {"name": "mine", "ef": ["tiny_r3d"], "clips": "all", "precision": "fp32", "threads": 2}
    path = write_config(workflow_dir / "predict.yaml", settings)
    planned = jobs_planned(run_snakemake(workflow_dir, "-n", "predict", "--configfile", str(path)).stdout)
    assert set(planned) == {
        "predict_convert",
        "predict_sizes",
        "predict_ef",
        "predict_table",
        "predict_overlays",
        "predict_report",
        "predict",
    }, planned
    run_snakemake(workflow_dir, "predict", "--cores", "2", "--configfile", str(path))
    out = workflow_dir / "results/predict/mine"
    table = pd.read_csv(out / "predictions.csv").set_index("Source")
    assert len(table) == len(tested) + 6
    assert table.loc["bad/empty.avi", "status"] == "failed" and "empty" in table.loc["bad/empty.avi", "reason"]
    assert table.loc["bad/notes.avi", "status"] == "failed" and table.loc["bad/notes.avi", "reason"]
    ok = table[table["status"] == "ok"]
    assert len(ok) == len(tested) + 4 and ok["Video"].is_unique, "twins get distinct outputs"
    assert table.loc["exports/scanner 30fps.mp4", "source_width"] == 400
    assert table.loc["exports/échographie.dcm", "kind"] == "dicom"
    # The same videos through the prediction workflow and through the evaluation path.
    clips = pd.read_csv(out / "clips.csv")
    evaluated = pd.read_csv(workflow_dir / "results/video/tiny_r3d/test_predictions.csv")
    sizes = pd.read_csv(out / "size.csv")
    evaluated_sizes = pd.read_csv(workflow_dir / "results/segmentation/tiny/size.csv")
    for name in tested:
        video = table.loc[f"same/{name}.avi", "Video"]
        mine = clips[clips["Video"] == video].sort_values("Clip")
        theirs = evaluated[evaluated["Filename"] == f"{name}.avi"].sort_values("Clip")
        assert mine["Clip"].tolist() == theirs["Clip"].tolist()
        assert mine["Prediction"].to_numpy() == pytest.approx(theirs["Prediction"].to_numpy(), abs=1e-4)
        mine_sizes = sizes[sizes["Filename"] == f"{video}.avi"]["Size"].tolist()
        assert mine_sizes == evaluated_sizes[evaluated_sizes["Filename"] == f"{name}.avi"]["Size"].tolist()
        assert table.loc[f"same/{name}.avi", "EF_tiny_r3d_all_clips"] == pytest.approx(
            theirs["Prediction"].mean(), abs=1e-4
        )
    report = (out / "report.html").read_text(encoding="utf-8")
    assert all(source in report for source in table.index) and "not a diagnosis" in report
    assert sorted(p.suffix for p in (out / "overlays").iterdir()).count(".avi") == len(ok)
    # Labels make the folder an external test set: the analysis stage's metrics of each model.
    labels = manifest[manifest["FileName"].isin(tested)].assign(FileName=lambda t: "same/" + t["FileName"] + ".avi")
    labels[["FileName", "EF"]].to_csv(workflow_dir / "labels.csv", index=False)
    settings["predict"]["labels"] = str(workflow_dir / "labels.csv")
    write_config(path, settings)
    run_snakemake(workflow_dir, "predict", "--cores", "2", "--configfile", str(path))
    metrics = pd.read_csv(out / "metrics.csv").set_index(["model", "method", "metric"])
    means = table.loc[[f"same/{n}.avi" for n in tested], "EF_tiny_r3d_all_clips"].to_numpy()
    truth = manifest.set_index("FileName").loc[tested, "EF"].to_numpy()
    assert metrics.loc[("tiny_r3d", "all_clips", "MAE"), "value"] == pytest.approx(abs(means - truth).mean())
    assert metrics.loc[("tiny_r3d", "all_clips", "MAE"), "videos"] == len(tested)
    assert (out / "auc.csv").exists()
    # An edit of a predict setting reruns prediction jobs only.
    settings["predict"]["beat_sd_flag"] = 1.0
    write_config(path, settings)
    planned = jobs_planned(run_snakemake(workflow_dir, "-n", "predict", "--configfile", str(path)).stdout)
    assert set(planned) == {"predict_table", "predict_report", "predict_evaluation", "predict"}, planned
    # A folder without a single file stops with one clear message.
    empty = workflow_dir / "nothing here"
    empty.mkdir()
    settings["predict_dir"], settings["predict"]["name"] = str(empty), "nothing"
    write_config(path, settings)
    proc = run_snakemake(workflow_dir, "predict", "--cores", "1", "--configfile", str(path), check=False)
    assert proc.returncode != 0 and "holds no file to predict on" in proc.stdout + proc.stderr


def test_predict_with_model_files_plans_no_training(workflow_dir, tmp_path):
    """Model files: only the prediction jobs, nothing of the dataset or training chain."""
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.avi").write_bytes(b"placeholder: a dry run reads nothing")
    for name in ("seg.pt", "ef.pt"):
        (tmp_path / name).write_bytes(b"placeholder")
    settings = {
        "predict_dir": str(videos),
        "predict": {"segmentation": str(tmp_path / "seg.pt"), "ef": [str(tmp_path / "ef.pt")]},
    }
    path = write_config(workflow_dir / "files.yaml", settings)
    plan = run_snakemake(workflow_dir, "-n", "predict", "--configfile", str(path))
    planned = jobs_planned(plan.stdout)
    assert planned == {
        "predict_convert": 1,
        "predict_sizes": 1,
        "predict_ef": 1,
        "predict_table": 1,
        "predict_overlays": 1,
        "predict_report": 1,
        "predict": 1,
    }, planned
    gpu_jobs = {rule for rule, resources in planned_resources(plan.stdout).items() if "gpu=1" in resources}
    assert gpu_jobs == PREDICT_GPU_RULES, "the GPU rules that only the predict target plans"
    proc = run_snakemake(workflow_dir, "-n", "predict", check=False)
    assert proc.returncode != 0 and "--config predict_dir=" in proc.stdout + proc.stderr


def test_released_config_plans_no_training(workflow_dir, tmp_path):
    """config/released.yaml evaluates the authors' two checkpoints: import jobs, no training job."""
    data = tmp_path / "EchoNet-Dynamic"
    (data / "Videos").mkdir(parents=True)
    (data / "FileList.csv").write_text("FileName,EF,ESV,EDV,FrameHeight,FrameWidth,FPS,NumberOfFrames,Split\n")
    (data / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\n")
    for name in ("deeplabv3_resnet50_random.pt", "r2plus1d_18_32_2_pretrained.pt"):
        (workflow_dir / "resources/weights").mkdir(parents=True, exist_ok=True)
        (workflow_dir / "resources/weights" / name).write_bytes(b"placeholder: a dry run reads no weights")
    proc = run_snakemake(workflow_dir, "-n", "--configfile", "config/released.yaml", "--config", f"data_dir={data}")
    planned = jobs_planned(proc.stdout)
    assert planned["import_segmentation_weights"] == 1 and planned["import_video_weights"] == 1, planned
    assert not {"train_segmentation", "train_video"} & set(planned), planned


def test_evaluate_only_needs_weights_to_evaluate(workflow_dir):
    evaluate_random = {"epochs": 0, "weights": "random"}
    for section in ({"segmentation": evaluate_random}, {"video": {"defaults": evaluate_random}}):
        path = write_config(workflow_dir / "bad.yaml", {"dataset": "synthetic", "data_dir": "resources/x", **section})
        proc = run_snakemake(workflow_dir, "-n", "--configfile", str(path), check=False)
        assert proc.returncode != 0
        output = proc.stdout + proc.stderr
        assert "random" in output and ("epochs: 0" in output or "cannot be random" in output), output[-2000:]


def check_report(report_file, runs):
    """The Snakemake report holds every figure and table, with the workflow description."""
    with zipfile.ZipFile(report_file) as archive:
        # Each file lies in report/data/raw/<hash>/<its own name>; the page names the paths.
        names = [name.rsplit("/", 1)[-1] for name in archive.namelist()]
        text = archive.read("report/report.html").decode("utf-8", "replace")
    for figure in ("ef_scatter.png", "roc.png", "bland_altman.png", "beat_sampling.png", "loss.png"):
        assert names.count(figure) == len(runs), figure
    assert names.count("metrics.csv") == len(runs) and names.count("auc.csv") == len(runs)
    for name in ("segmentation_loss.png", "dice_histogram.png", "comparison.csv"):
        assert name in names, name
    for run in runs:
        assert f"results/analysis/{run}/figures/roc.png" in text
    assert "EchoNet-Dynamic" in text


def check_rerun_plans(workflow_dir, path, config):
    """After a finished run, edits plan exactly the jobs they affect: the end-to-end contract of
    Snakemake's params trigger and the DAG. Which keys each rule's params hold (so that, e.g., a
    plotting option reruns the figures only) is tested in-process, slice by slice, in
    tests/test_layout.py."""

    def plan_after(edit):
        edited = copy.deepcopy(config)
        edit(edited)
        write_config(path, edited)
        plan = run_snakemake(workflow_dir, "-n", "--configfile", str(path))
        return jobs_planned(plan.stdout) if "Job stats:" in plan.stdout else {}, plan.stdout

    # GPUs per training job: the same model up to rounding, nothing to redo (nor, then, with no edit).
    planned, _ = plan_after(lambda c: c["video"]["runs"]["tiny_mc3"].update({"gpus": 2}))
    assert planned == {}, f"gpus changed, yet planned {planned}"
    per_run = {"beat_by_beat": 1, "analysis_metrics": 1, "ef_figures": 1, "compare_runs": 1, "all": 1}
    # A third run: its own training, inference and analysis, and the comparison.
    planned, stdout = plan_after(lambda c: c["video"]["runs"].update({"tiny_third": {"model": "mc3_18", "seed": 1}}))
    assert planned == {"train_video": 1, "predict_clips": 1, **per_run}, planned
    assert "results/video/tiny_third/best.pt" in stdout and "tiny_r3d/best.pt" not in stdout
    # Beat detection: size inference and what reads size.csv, not the segmentation training.
    planned, _ = plan_after(lambda c: c["segmentation"].update({"beats": {"trim": "percentile"}}))
    assert set(planned) == {
        "segment_all_frames",
        "segmentation_overlays",
        "beat_by_beat",
        "analysis_metrics",
        "ef_figures",
        "compare_runs",
        "all",
    }, planned


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


def planned_resources(stdout: str) -> dict[str, set[str]]:
    """{rule: its 'resources:' entries} from a dry run's job listing."""
    planned: dict[str, set[str]] = {}
    rule = None
    for line in stdout.splitlines():
        if line.startswith(("rule ", "localrule ", "checkpoint ")) and line.endswith(":"):
            rule = line.split()[1].rstrip(":")
        elif line.strip().startswith("resources:") and rule is not None:
            planned[rule] = {item.strip() for item in line.split(":", 1)[1].split(",")}
    return planned


@pytest.mark.parametrize("profile", ["local", "slurm"])
def test_gpu_rules_ask_for_a_gpu(workflow_dir, tmp_path, profile):
    """Locally from the rules themselves; on SLURM with a GPU partition as well (the plugin turns
    gpu=1 into --gpus=1: tests/test_slurm.py sees it reach sbatch). The default target and the
    predict and experiments targets planned together: every GPU rule."""
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.avi").write_bytes(b"placeholder: a dry run reads nothing")
    args = ["--profile", "profiles/slurm"] if profile == "slurm" else []
    config = ["--configfile", "config/demo.yaml", "--config", f"predict_dir={videos}"]
    plan = run_snakemake(
        workflow_dir, "-n", "all", "predict", "experiments", *args, "--workflow-profile", "none", *config
    )
    planned = planned_resources(plan.stdout)
    assert set(planned) >= GPU_RULES, set(planned)
    for rule, resources in planned.items():
        assert ("gpu=1" in resources) == (rule in GPU_RULES), (rule, resources)
        if profile == "slurm" and rule != "all":
            partition = "gpu" if rule in GPU_RULES else "cpu"
            assert f"slurm_partition={partition}" in resources, (rule, resources)


def test_a_run_on_two_gpus_asks_slurm_for_two(workflow_dir):
    """video.gpus reaches train_video's request (and nothing else's); a batch that does not split
    across the GPUs is refused when the workflow loads."""
    runs = {"r3d_18_8_8_demo": {"model": "r3d_18", "gpus": 2}, "mc3_18_8_8_demo": None}
    overlay = write_config(workflow_dir / "two_gpus.yaml", {"video": {"runs": runs}})
    args = ["-n", "--profile", "profiles/slurm", "--workflow-profile", "none"]
    plan = run_snakemake(workflow_dir, *args, "--configfile", "config/demo.yaml", str(overlay))
    planned = planned_resources(plan.stdout)
    assert "gpu=2" in planned["train_video"] and "gpu=1" in planned["predict_clips"], planned
    assert "nodes=1" in planned["train_video"], "GPUs of one node: torchrun starts the processes there"
    runs["r3d_18_8_8_demo"]["gpus"] = 3
    write_config(overlay, {"video": {"runs": runs}})
    refused = run_snakemake(workflow_dir, *args, "--configfile", "config/demo.yaml", str(overlay), check=False)
    assert refused.returncode != 0
    assert (
        "video run r3d_18_8_8_demo: batch_size 4 does not split evenly across gpus: 3"
        in refused.stderr + refused.stdout
    )


def test_time_limits_grow_with_the_dataset(workflow_dir):
    """A dataset twice the real one's size doubles the time asked for a training job."""
    data = workflow_dir / "results/data"
    (data / "cache").mkdir(parents=True)
    names = [f"0X{i:016X}" for i in range(2 * 10030)]
    pd.DataFrame({"FileName": names, "Split": "TRAIN", "EF": 50.0}).to_csv(data / "manifest.csv", index=False)
    (data / "cache/index.csv").write_text("FileName\n")
    (data / "normalisation.json").write_text("{}")
    target = "results/video/r3d_18_8_8_demo/best.pt"
    args = ["-n", target, "--allowed-rules", "train_video", "--workflow-profile", "none"]
    plan = run_snakemake(workflow_dir, *args, "--configfile", "config/demo.yaml")
    demo_minutes = yaml.safe_load((REPO / "config/demo.yaml").read_text())["resources"]["train_video"]["runtime"]
    assert f"runtime={2 * demo_minutes}" in planned_resources(plan.stdout)["train_video"]
