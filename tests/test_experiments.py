"""The experiment grids (sweep, training size, seeds): their rules by hand, their tables, and a tiny grid end to end."""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG, copy_run, run_snakemake, tiny_workflow_config, write_config

from echobeat import config_schema
from echobeat.analysis import experiment_figures
from echobeat.analysis.experiments import (
    beside_paper,
    evaluation_results,
    is_paper_ef_run,
    learning_curve,
    learning_curves,
    seed_summary,
    training_results,
)
from echobeat.data.subsets import SubsetError, nested_subset, training_rows
from echobeat.stages import rule_settings
from echobeat.stages.experiment_grids import (
    ExperimentError,
    experiment_grids,
    family_slice,
    noise_levels,
    noise_table_slice,
    original_batch_size,
    original_epochs,
    selected_runs,
)


def merged(base: dict, layer: dict) -> dict:
    """``layer`` over ``base``, section by section, as Snakemake layers config files."""
    out = copy.deepcopy(base)
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


DEFAULTS = config_schema.defaults(config_schema.load_schema())
REAL_CONFIG = merged(DEFAULTS, yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def grids_of(config: dict, train_videos: int | None = 7465):
    return experiment_grids(config, rule_settings.video_runs(config), train_videos)


# --- the original's rules, at its own grid points (docs/experiments.md) ---


@pytest.mark.parametrize(
    ("frames", "batch"),
    # min(256 // frames, 16): 256 // 96 = 2, 256 // 64 = 4, 256 // 32 = 8, then capped at 16;
    # the period panel's 10-frame clip (period 6): 256 // 10 = 25 -> 16 = min(4 * 6, 16).
    [(96, 2), (64, 4), (32, 8), (16, 16), (10, 16), (8, 16), (4, 16), (1, 16)],
)
def test_the_batch_rule_at_the_original_grid_points(frames, batch):
    assert original_batch_size(frames, 256, 16) == batch


@pytest.mark.parametrize(
    ("videos", "epochs"),
    # min(50 * (8192 // n), 200): 8192 // 2048 = 4 -> 200; 8192 // 4096 = 2 -> 100; 8192 // 7460 = 1 -> 50.
    [(16, 200), (256, 200), (2048, 200), (4096, 100), (7460, 50)],
)
def test_the_epoch_rule_at_the_original_grid_points(videos, epochs):
    assert original_epochs(videos, {"videos": 8192, "epochs": 50, "max": 200}) == epochs


def test_the_real_grids_are_the_papers_76_ef_and_10_segmentation_runs():
    grids = grids_of(REAL_CONFIG)
    assert grids.problems == {}
    # Sweep: 3 models x 2 weights x (7 lengths + 4 periods) = 66; training size: 10 sizes.
    assert len(grids.points["sweep"]) == 66 and len(grids.points["training_size"]) == 10
    assert len(grids.video_runs) == 76
    # Ten sizes; the largest, every usable TRAIN video at the configured run's batch, epochs and
    # seed, is the configured segmentation run itself.
    assert len(grids.segmentation_runs) == 9
    assert grids.points["training_size"][-1].segmentation_run == REAL_CONFIG["segmentation"]["name"]
    # None twice: every point has its own run.
    assert len({p.video_run for family in ("sweep", "training_size") for p in grids.points[family]}) == 76
    clips = {(r["frames"], r["period"]): r["batch_size"] for r in grids.video_runs.values() if r["epochs"] == 45}
    assert clips == {
        (96, 1): 2, (64, 1): 4, (32, 1): 8, (16, 1): 16, (8, 1): 16, (4, 1): 16, (1, 1): 16,
        (32, 2): 8, (16, 4): 16, (10, 6): 16, (8, 8): 16,
    }  # fmt: skip
    # The sweep's 32x2 point trains at batch 8: not the headline run (batch 20), so a run of its own.
    headline = rule_settings.video_runs(REAL_CONFIG)["r2plus1d_18_32_2_pretrained"]
    assert headline not in grids.video_runs.values()
    sizes = [p.labels["train_videos"] for p in grids.points["training_size"]]
    assert sizes == [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 7460]
    runs = {REAL_CONFIG["segmentation"]["name"]: REAL_CONFIG["segmentation"], **grids.segmentation_runs}
    segmentation = [runs[p.segmentation_run] for p in grids.points["training_size"]]
    # The smallest subset trains at batch 16 (the original's 20 would leave no batch and divide by zero).
    assert [s["batch_size"] for s in segmentation] == [16] + [20] * 9
    assert [s["epochs"] for s in segmentation] == [200] * 8 + [100, 50]
    # One grid point's EF and segmentation runs draw the same subset.
    for point in grids.points["training_size"]:
        ef, seg = grids.video_runs[point.video_run], runs[point.segmentation_run]
        assert (ef.get("train_videos"), ef.get("subset_seed")) == (seg.get("train_videos"), seg.get("subset_seed"))
        whole = point.labels["train_videos"] == 7460
        assert (ef.get("train_videos") is None) == whole, "the whole TRAIN split carries no subset"


def test_a_point_equal_to_a_configured_run_is_that_run():
    config = copy.deepcopy(REAL_CONFIG)
    # The headline at the sweep's batch rule: the sweep's 32x2 R(2+1)D pretrained point is now it.
    config["video"]["runs"]["r2plus1d_18_32_2_pretrained"] = {"batch_size": 8}
    grids = grids_of(config)
    assert len(grids.video_runs) == 75
    names = {p.video_run for p in grids.points["sweep"] if p.labels["frames"] == 32 and p.labels["period"] == 2}
    assert "r2plus1d_18_32_2_pretrained" in names


def test_replicate_seeds_reuse_the_configured_run_for_its_own_seed():
    config = merged(REAL_CONFIG, {"experiments": {"seeds": {"seeds": [0, 1, 2]}}})
    grids = grids_of(config)
    seeds = grids.points["seeds"]
    ef = [p for p in seeds if p.video_run]
    assert [(p.labels["run"], p.seed) for p in ef] == [
        (run, seed) for seed in (0, 1, 2) for run in ("r2plus1d_18_32_2_pretrained", "r3d_18_32_2_pretrained")
    ]
    assert [p.video_run for p in ef[:2]] == ["r2plus1d_18_32_2_pretrained", "r3d_18_32_2_pretrained"]
    assert all(grids.video_runs[p.video_run]["seed"] == p.seed for p in ef[2:])
    # The segmentation run too: seed 0 is the configured one, seeds 1 and 2 are new.
    segmentation = [p.segmentation_run for p in seeds if p.segmentation_run]
    assert segmentation[0] == REAL_CONFIG["segmentation"]["name"] and len(set(segmentation)) == 3


def test_editing_one_family_leaves_the_others_unchanged():
    before = grids_of(REAL_CONFIG)
    edited = merged(REAL_CONFIG, {"experiments": {"sweep": {"frames": [16, 8]}}})
    after = grids_of(edited)
    runs = {**rule_settings.video_runs(REAL_CONFIG), **before.video_runs}
    runs_after = {**rule_settings.video_runs(edited), **after.video_runs}
    for family in ("training_size", "seeds"):
        assert family_slice(edited, after, runs_after, family) == family_slice(REAL_CONFIG, before, runs, family)
    assert family_slice(edited, after, runs_after, "sweep") != family_slice(REAL_CONFIG, before, runs, "sweep")
    # Only runs are dropped (the lengths left out); nothing else is new or renamed.
    assert set(after.video_runs) < set(before.video_runs)
    assert len(before.video_runs) - len(after.video_runs) == 6 * 5


@pytest.mark.parametrize(
    ("layer", "family", "message"),
    [
        ({"experiments": {"sweep": {"frames": [32, "all"]}}}, "sweep", "experiments.sweep.frames: 'all'"),
        (
            {"experiments": {"training_size": {"sizes": [16, 8000]}}},
            "training_size",
            "experiments.training_size.sizes: 8000 is more videos",
        ),
        (
            {"experiments": {"training_size": {"sizes": [4, 16]}}},
            "training_size",
            "experiments.training_size.sizes: a subset of 4 TRAIN videos is smaller than the batch of 8",
        ),
        (
            {"experiments": {"training_size": {"segmentation_batch_size": 32}}},
            "training_size",
            "experiments.training_size.segmentation_batch_size",
        ),
        ({"experiments": {"seeds": {"seeds": [0, 0]}}}, "seeds", "experiments.seeds.seeds"),
        ({"experiments": {"sweep": {"span": 4, "periods": [8]}}}, "sweep", "experiments.sweep.periods: period 8"),
        # A grid's own keys cannot be overridden through its video settings (they would be lost).
        ({"experiments": {"sweep": {"video": {"frames": 16}}}}, "sweep", "experiments.sweep.video: frames is set"),
        (
            {"experiments": {"training_size": {"video": {"epochs": 3}}}},
            "training_size",
            "experiments.training_size.video: epochs is set",
        ),
        # A change of video.defaults that the grids' runs cannot train with names the family's key.
        ({"video": {"defaults": {"gpus": 3}}}, "sweep", "set experiments.sweep.video.gpus"),
        ({"video": {"defaults": {"epochs": 0}}}, "sweep", "set experiments.sweep.video.epochs"),
        (
            {"segmentation": {"weights": "released/deeplabv3_resnet50_random.pt", "epochs": 0}},
            "training_size",
            "experiments.training_size.segmentation: the training-size segmentation runs train from",
        ),
    ],
)
def test_grids_the_workflow_cannot_run_are_refused_naming_the_key(layer, family, message):
    config = merged(REAL_CONFIG, layer)
    for run in config["video"]["runs"].values():
        run.setdefault("batch_size", 18)  # configured runs stay valid under gpus: 3
    grids = grids_of(config)
    # Refused when a target needs the family (experiment_inputs.smk raises the message); the
    # other families, and every other target, still plan.
    assert message in grids.problems[family], grids.problems
    assert grids.points[family] == []
    if "experiments" in layer:
        assert any(grids.points[other] for other in ("sweep", "training_size") if other != family)


def test_a_run_keeps_its_name_when_only_how_it_computes_changes():
    before = grids_of(REAL_CONFIG)
    edited = merged(
        REAL_CONFIG,
        {
            "video": {"defaults": {"inference_batch_size": 3, "device": "cpu", "compile": "default"}},
            "segmentation": {"overlays": 2, "inference_batch_size": 3, "bootstrap_samples": 7},
        },
    )
    after = grids_of(edited)
    assert set(after.video_runs) == set(before.video_runs)
    assert set(after.segmentation_runs) == set(before.segmentation_runs)
    # What it trains is in its name: another learning rate is another run.
    other = grids_of(merged(REAL_CONFIG, {"video": {"defaults": {"lr": 1e-3}}}))
    assert not set(other.video_runs) & set(before.video_runs)


def test_two_families_asking_for_the_same_training_get_one_run():
    # The headline at the sweep's batch, replicated over seeds in both the sweep and seeds families:
    # the sweep's 32x2 seed-1 point and the seeds family's seed-1 replicate train the same model.
    config = merged(
        REAL_CONFIG,
        {
            "video": {"runs": {"r2plus1d_18_32_2_pretrained": {"batch_size": 8}}},
            "experiments": {"sweep": {"seeds": [0, 1]}, "seeds": {"seeds": [0, 1]}},
        },
    )
    grids = grids_of(config)
    sweep = {
        p.seed: p.video_run
        for p in grids.points["sweep"]
        if (p.labels["model"], p.labels["weights"], p.labels["frames"], p.labels["period"])
        == ("r2plus1d_18", "pretrained", 32, 2)
    }
    seeds = {p.seed: p.video_run for p in grids.points["seeds"] if p.labels.get("run") == "r2plus1d_18_32_2_pretrained"}
    assert sweep == seeds and sweep[0] == "r2plus1d_18_32_2_pretrained"
    # Every generated run trains something no other run trains.
    identities = [
        json.dumps(rule_settings.training_identity(run, "video"), sort_keys=True)
        for run in [*rule_settings.video_runs(config).values(), *grids.video_runs.values()]
    ]
    assert len(identities) == len(set(identities))


def test_the_noise_table_bootstraps_dice_as_dice_csv_does():
    config = merged(REAL_CONFIG, {"segmentation": {"bootstrap_samples": 123, "seed": 5}, "analysis": {"seed": 9}})
    sliced = noise_table_slice(config, noise_levels(config), rule_settings.video_runs(config))
    assert sliced["dice_bootstrap"] == [123, 5] and sliced["seed"] == 9


def test_noise_levels_are_labelled_and_checked():
    config = merged(REAL_CONFIG, {"experiments": {"noise": {"levels": [0, 0.1, 0.5]}}})
    assert noise_levels(config) == {"0": 0.0, "0.1": 0.1, "0.5": 0.5}
    for bad in ([-0.1], [1.5], [0.1, 0.1]):
        with pytest.raises(ExperimentError, match="experiments.noise.levels"):
            noise_levels(merged(REAL_CONFIG, {"experiments": {"noise": {"levels": bad}}}))


def test_the_runs_a_family_names_are_checked_against_video_runs():
    configured = rule_settings.video_runs(REAL_CONFIG)
    assert selected_runs(REAL_CONFIG, "noise", configured, trained_only=False) == (list(configured), None)
    config = merged(REAL_CONFIG, {"experiments": {"loss_curves": {"runs": ["nope", "r3d_18_32_2_pretrained"]}}})
    runs, problem = selected_runs(config, "loss_curves", configured, True)
    assert runs == ["r3d_18_32_2_pretrained"]
    assert problem.startswith("experiments.loss_curves.runs: nope not in video.runs")
    # The seeds family keeps its problem for when a target needs it: the other targets still plan.
    grids = grids_of(merged(REAL_CONFIG, {"experiments": {"seeds": {"seeds": [0, 1], "runs": ["nope"]}}}))
    assert grids.problems["seeds"].startswith("experiments.seeds.runs: nope not in video.runs")
    assert all(p.segmentation_run for p in grids.points["seeds"])


# --- nested subsets ---


def test_subsets_are_nested_and_keep_the_manifest_order():
    train = pd.DataFrame({"FileName": [f"v{i:02d}" for i in range(40)], "EF": np.arange(40.0)})
    subsets = {n: list(nested_subset(train, n, seed=0)["FileName"]) for n in (5, 10, 20, 40)}
    for small, large in ((5, 10), (10, 20), (20, 40)):
        assert set(subsets[small]) < set(subsets[large])
    assert all(names == sorted(names) for names in subsets.values())
    assert subsets[40] == list(train["FileName"])  # every TRAIN video: the full split itself
    assert list(nested_subset(train, 10, seed=1)["FileName"]) != subsets[10]
    # EF and segmentation read the same TRAIN rows through the same settings: the same videos.
    settings = {"train_videos": 10, "subset_seed": 0}
    assert list(training_rows(train, settings)["FileName"]) == subsets[10]
    assert training_rows(train, {"seed": 3}) is train


def test_a_subset_larger_than_train_names_the_key():
    with pytest.raises(SubsetError, match="experiments.training_size.sizes: a subset of 41 videos"):
        nested_subset(pd.DataFrame({"FileName": [str(i) for i in range(40)]}), 41, seed=0)


# --- the tables ---


def test_learning_curve_slope_of_a_made_up_power_law():
    videos = np.array([16, 32, 64, 128, 256, 512] * 2)
    # error = 20 * n^-0.5, one seed 2% above and one 2% below, so that the interval has a width.
    error = 20 * videos**-0.5 * np.repeat([1.02, 0.98], 6)
    fit = learning_curve(videos, error)
    assert fit["slope"] == pytest.approx(-0.5, abs=0.01)
    assert fit["slope_ci_low"] < -0.5 < fit["slope_ci_high"]
    # Each doubling multiplies the error by 2^-0.5 = 0.7071: 29.3% less.
    assert fit["change_per_doubling_percent"] == pytest.approx(-29.29, abs=0.5)
    assert fit["intercept"] == pytest.approx(math.log2(20), abs=0.02)
    assert fit["points"] == 12
    assert math.isnan(learning_curve([16, 16], [1.0, 2.0])["slope"])  # one size: no curve


def test_training_results_read_the_minimum_validation_loss():
    log = pd.DataFrame(
        {"epoch": [0, 0, 1, 1, 2, 2], "phase": ["train", "val"] * 3, "loss": [9.0, 5.0, 8.0, 3.5, 7.0, 4.0]}
    )
    assert training_results(log) == {"best_val_loss": 3.5, "best_epoch": 1, "epochs_trained": 3}


def test_test_results_read_metrics_csv():
    metrics = pd.DataFrame(
        [
            ("TEST", "all_clips", "MAE", 5.0, 4.0, 6.0, 20),
            ("TEST", "all_clips", "RMSE", 6.0, 5.0, 7.0, 20),
            ("TEST", "all_clips", "R2", 0.5, 0.4, 0.6, 20),
            ("TEST", "beat_by_beat", "MAE", 4.5, 3.5, 5.5, 19),
            ("VAL", "all_clips", "MAE", 9.0, 8.0, 10.0, 20),
        ],
        columns=["split", "method", "metric", "value", "ci_low", "ci_high", "videos"],
    )
    row = evaluation_results(metrics)
    assert row["all_clips_MAE"] == 5.0 and (row["all_clips_MAE_ci_low"], row["all_clips_MAE_ci_high"]) == (4.0, 6.0)
    assert row["beat_by_beat_MAE"] == 4.5 and math.isnan(row["beat_by_beat_RMSE"])
    assert row["test_videos"] == 20


def test_seed_summary_is_mean_and_sample_sd():
    table = pd.DataFrame({"run": ["a", "a", "a", "b"], "seed": [0, 1, 2, 0], "all_clips_MAE": [4.0, 5.0, 6.0, 7.0]})
    summary = seed_summary(table, ["run"]).set_index("run")
    # mean 5, sample SD sqrt(((-1)^2 + 0 + 1^2) / 2) = 1; one seed: no SD.
    assert summary.loc["a", "mean"] == 5.0 and summary.loc["a", "sd"] == pytest.approx(1.0)
    assert summary.loc["b", "seeds"] == 1 and math.isnan(summary.loc["b", "sd"])


def test_the_papers_numbers_stand_beside_its_own_model_only():
    summary = pd.DataFrame(
        {
            "run": ["r2", "r3d", "seg"],
            "quantity": ["beat_by_beat_MAE", "beat_by_beat_MAE", "dice"],
            "mean": [4.1, 4.5, 0.91],
        }
    )
    paper = {"beat_by_beat_MAE": 4.05, "dice_overall": 0.92}
    out = beside_paper(summary, paper, {"r2"}).set_index("run")["paper"]
    assert out["r2"] == 4.05 and math.isnan(out["r3d"]) and out["seg"] == 0.92
    assert is_paper_ef_run({"model": "r2plus1d_18", "frames": 32, "period": 2, "weights": "pretrained", "seed": 1})
    assert not is_paper_ef_run({"model": "r3d_18", "frames": 32, "period": 2, "weights": "pretrained"})


# --- the real grids planned on a FileList of the real size, before any video exists ---


@pytest.mark.workflow
def test_the_real_grids_plan_every_training_job_once(workflow_dir, tmp_path):
    data = tmp_path / "EchoNet-Dynamic"
    (data / "Videos").mkdir(parents=True)
    splits = ["TRAIN"] * 7465 + ["VAL"] * 1288 + ["TEST"] * 1277
    rows = [f"0X{i:016X},55.0,40.0,90.0,112,112,50,176,{split}" for i, split in enumerate(splits)]
    header = "FileName,EF,ESV,EDV,FrameHeight,FrameWidth,FPS,NumberOfFrames,Split\n"
    (data / "FileList.csv").write_text(header + "\n".join(rows) + "\n")
    (data / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\n")
    plan = run_snakemake(workflow_dir, "experiments", "-n", "--config", f"data_dir={data}")
    planned = jobs_planned(plan.stdout)
    # 66 sweep + 10 training size + the 2 configured runs that noise and the loss curves evaluate;
    # 9 subsets + the configured segmentation run (the 7,460-video point); 2 runs x 6 noise levels.
    assert planned["train_video"] == 78 and planned["train_segmentation"] == 10, planned
    assert planned["noise_ef"] == 12 and planned["noise_segmentation"] == 6 and planned["complexity_timing"] == 1
    trained = re.findall(r"output: results/video/([^/]+)/best.pt", plan.stdout)
    assert len(trained) == len(set(trained)) == 78
    # A size above the TRAIN split is refused before any job, naming the key.
    sizes = write_config(
        tmp_path / "sizes.yaml", {"data_dir": str(data), "experiments": {"training_size": {"sizes": [16, 8000]}}}
    )
    refused = run_snakemake(workflow_dir, "training_size", "-n", "--configfile", str(sizes), check=False)
    assert refused.returncode != 0
    assert (
        "experiments.training_size.sizes: 8000 is more videos than the TRAIN split has (7465"
        in refused.stdout + refused.stderr
    )


# --- end to end: a tiny grid on the tiny workflow's finished run ---

TINY_EXPERIMENTS = {
    "sweep": {
        "models": ["mc3_18"],
        "weights": ["random"],
        "frames": [4],
        "periods": [8],  # at a span of 32: 4 frames at period 8, the configured run tiny_mc3 itself
        "span": 32,
        "frames_per_batch": 8,
        "max_batch_size": 2,
    },
    "training_size": {
        "sizes": [2, 3],  # of the tiny dataset's 3 TRAIN videos
        "batch_size": 2,
        "epoch_rule": {"videos": 3, "epochs": 1, "max": 1},
        "video": {"model": "mc3_18"},
    },
    "seeds": {"seeds": [0, 1], "runs": ["tiny_mc3"], "segmentation": False},
    "noise": {"levels": [0, 0.5], "runs": ["tiny_mc3"]},
    "complexity": {"models": ["mc3_18"], "frames": [2, 4], "batch_size": 2, "warmup": 0, "repeats": 1},
}


def jobs_planned(stdout: str) -> dict[str, int]:
    table = stdout.split("Job stats:")[1].split("total")[0]
    return {line.split()[0]: int(line.split()[1]) for line in table.splitlines()[3:] if line.strip()}


@pytest.mark.slow
@pytest.mark.workflow
def test_a_tiny_grid_end_to_end(finished_run, tmp_path):
    workflow = copy_run(finished_run, tmp_path / "wf")
    config = tiny_workflow_config(experiments=TINY_EXPERIMENTS)
    write_config(workflow / TINY_CONFIG, config)
    plan = run_snakemake(workflow, "experiments", "-n", "--configfile", TINY_CONFIG)
    planned = jobs_planned(plan.stdout)
    # Sweep 4x1 (4x8 is tiny_mc3, trained already), two subsets, seed 1 of tiny_mc3: four trainings.
    assert planned["train_video"] == 4 and planned["train_segmentation"] == 2, planned
    assert planned["noise_ef"] == 2 and planned["noise_segmentation"] == 2 and planned["complexity_timing"] == 1
    trained = re.findall(r"output: results/video/([^/]+)/best.pt", plan.stdout)
    assert len(trained) == 4 and "tiny_mc3" not in trained, trained
    run_snakemake(workflow, "experiments", "--cores", "2", "--configfile", TINY_CONFIG)

    sweep = pd.read_csv(workflow / "results/experiments/sweep/points.csv")
    assert list(sweep["panel"]) == ["frames", "period"] and list(sweep["period"]) == [1, 8]
    assert sweep.loc[1, "ef_run"] == "tiny_mc3"
    for _, row in sweep.iterrows():
        log = pd.read_csv(workflow / "results/video" / row["ef_run"] / "log.csv")
        assert row["best_val_loss"] == log[log["phase"] == "val"]["loss"].min()
        assert row["device"] == "cpu" and isinstance(row["device_name"], str) and row["torch"]

    sizes = pd.read_csv(workflow / "results/experiments/training_size/points.csv")
    assert list(sizes["train_videos"]) == [2, 3]
    for _, row in sizes.iterrows():
        metrics = pd.read_csv(workflow / "results/analysis" / row["ef_run"] / "metrics.csv")
        mae = metrics.query("split == 'TEST' and method == 'all_clips' and metric == 'MAE'")["value"].item()
        assert row["all_clips_MAE"] == pytest.approx(mae, rel=1e-12)
        dice = pd.read_csv(workflow / "results/segmentation" / row["segmentation_run"] / "dice.csv")
        assert row["dice"] == pytest.approx(dice.query("split == 'TEST' and which == 'overall'")["dice"].item())
        # Both runs of a size train on the subset.
        for rule, run in (("train_video", row["ef_run"]), ("train_segmentation", row["segmentation_run"])):
            assert f"{row['train_videos']} TRAIN / " in (workflow / "logs" / rule / f"{run}.log").read_text()
    curve = pd.read_csv(workflow / "results/experiments/training_size/learning_curve.csv")
    assert set(curve["quantity"]) == {"all_clips_MAE", "beat_by_beat_MAE", "1 - dice"}

    seeds = pd.read_csv(workflow / "results/experiments/seeds/summary.csv")
    mae = seeds[seeds["quantity"] == "all_clips_MAE"].iloc[0]
    points = pd.read_csv(workflow / "results/experiments/seeds/points.csv")
    assert mae["seeds"] == 2 and mae["mean"] == pytest.approx(points["all_clips_MAE"].mean())
    assert mae["sd"] == pytest.approx(points["all_clips_MAE"].std(ddof=1))
    for family in ("sweep", "training_size", "seeds"):
        for kind in ("png", "pdf"):
            assert (workflow / f"results/experiments/{family}/{family}.{kind}").stat().st_size > 1000

    # Noise: level 0 is the plain evaluation, number for number; level 0.5 changes the predictions.
    noise = pd.read_csv(workflow / "results/experiments/noise/points.csv").set_index("level")
    metrics = pd.read_csv(workflow / "results/analysis/tiny_mc3/metrics.csv").query("split == 'TEST'")
    for method in ("all_clips", "beat_by_beat"):
        plain = metrics.query(f"method == '{method}' and metric == 'MAE'").iloc[0]
        # NaN (no beat found in the tiny videos) must match NaN, hence assert_equal.
        for ours, theirs in (("", "value"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high")):
            np.testing.assert_equal(noise.loc[0.0, f"{method}_mae{ours}"], plain[theirs])
    dice = pd.read_csv(workflow / "results/segmentation/tiny/dice.csv").query("split == 'TEST' and which == 'overall'")
    assert noise.loc[0.0, "dice"] == dice["dice"].item()
    assert (noise.loc[0.0, "dice_ci_low"], noise.loc[0.0, "dice_ci_high"]) == (
        dice["ci_low"].item(),
        dice["ci_high"].item(),
    )
    plain = pd.read_csv(workflow / "results/video/tiny_mc3/test_predictions.csv")
    level_0 = pd.read_csv(workflow / "results/experiments/noise/ef/tiny_mc3/level_0/test_predictions.csv")
    pd.testing.assert_frame_equal(level_0, plain)
    noisy = pd.read_csv(workflow / "results/experiments/noise/ef/tiny_mc3/level_0.5/test_predictions.csv")
    assert not np.allclose(noisy["Prediction"], plain["Prediction"])
    # Complexity: one row per model and clip length, with the device and units.
    timing = pd.read_csv(workflow / "results/experiments/complexity/points.csv")
    assert list(timing["frames"]) == [2, 4] and (timing["device"] == "cpu").all()
    assert (timing["seconds_per_clip"] > 0).all() and (timing["gflops_per_clip"] > 0).all()
    assert timing.loc[1, "gflops_per_clip"] > timing.loc[0, "gflops_per_clip"]
    # Loss curves: every epoch of every run, as its log.csv has it.
    curves = pd.read_csv(workflow / "results/experiments/loss_curves/points.csv")
    log = pd.read_csv(workflow / "results/video/tiny_r3d/log.csv")
    drawn = curves.query("run == 'tiny_r3d'")[["epoch", "phase", "loss"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(drawn, log[["epoch", "phase", "loss"]])
    assert set(curves["task"]) == {"ef", "segmentation"}
    for name in ("noise", "noise_examples", "complexity"):
        assert (workflow / f"results/experiments/{name.split('_')[0]}/{name}.png").exists()
    for name in ("ef_loss_curves", "segmentation_loss_curves"):
        assert (workflow / f"results/experiments/loss_curves/{name}.pdf").exists()

    # Nothing left to do; an edit of the sweep plans the sweep's new run and table only.
    assert "Nothing to be done" in run_snakemake(workflow, "experiments", "-n", "--configfile", TINY_CONFIG).stdout
    edited = copy.deepcopy(config)
    edited["experiments"]["sweep"]["frames"] = [4, 2]
    write_config(workflow / TINY_CONFIG, edited)
    planned = jobs_planned(run_snakemake(workflow, "experiments", "-n", "--configfile", TINY_CONFIG).stdout)
    assert planned == {"train_video": 1, "experiment_sweep": 1, "experiments": 1}, planned


def test_family_figures_draw_points_and_empty_tables(tmp_path):
    sweep = pd.DataFrame(
        {
            "panel": ["frames", "frames", "period"],
            "model": ["mc3_18"] * 3,
            "weights": ["random"] * 3,
            "frames": [4, 8, 2],
            "period": [1, 1, 4],
            "best_val_loss": [40.0, 35.0, 38.0],
            "seed": [0, 0, 0],
        }
    )
    sizes = pd.DataFrame({"train_videos": [10, 20], "dice": [0.8, 0.9], "all_clips_MAE": [9.0, 7.0], "seed": [0, 0]})
    curves = learning_curves(sizes)
    for name, draw in {
        "sweep": lambda table, paths: experiment_figures.sweep_figure(table, 8, paths, 50),
        "training_size": lambda table, paths: experiment_figures.training_size_figure(table, curves, paths, 50),
    }.items():
        for label, table in (("points", sweep if name == "sweep" else sizes), ("empty", sweep.iloc[0:0])):
            paths = [tmp_path / f"{name}_{label}.png", tmp_path / f"{name}_{label}.pdf"]
            draw(table, paths)
            assert all(path.stat().st_size > 1000 for path in paths), (name, label)
