"""Input functions and params of the experiment rules (experiments.smk holds the rules).

The grids themselves are expanded once per parse in common.smk (GRIDS, from
workflow/scripts/echobeat/stages/experiment_grids.py).
"""

from echobeat.errors import UserError
from echobeat.stages.experiment_grids import (
    check_sizes,
    evaluates_test,
    family_runs,
    family_slice,
    noise_table_slice,
)

# Each family's figure file name and label in the report.
EXPERIMENT_FIGURES = {
    "sweep": "clip length and sampling period",
    "training_size": "training-set size",
    "seeds": "replicate seeds",
    "noise": "simulated noise",
    "complexity": "cost per clip",
    "loss_curves": "loss curves",
}


def experiment_inputs(family):
    """Input function: the per-run files a family's table reads: log.csv and provenance.json of
    each run, dice.csv of each segmentation run, and metrics.csv of each EF run when the family
    evaluates TEST. Only a target that needs the training-size family checks its sizes against
    the TRAIN split (so a default grid never stops a run that does not make it)."""

    def inputs(wildcards):
        if family == "training_size":
            try:
                check_sizes(config, filelist_train_videos())
            except UserError as error:
                raise WorkflowError(str(error)) from None
        check_family(family)
        return family_files(family)

    return inputs


def check_family(family):
    """Refuse a family whose config names runs that video.runs lacks (only when it is asked for)."""
    if GRIDS.problems.get(family):
        raise WorkflowError(GRIDS.problems[family])


def family_files(family):
    """The per-run files of experiment_inputs."""
    video, segmentation = family_runs(GRIDS, family)
    inputs = {
        "ef_logs": expand("results/video/{run}/log.csv", run=video),
        "ef_provenance": expand("results/video/{run}/provenance.json", run=video),
        "segmentation_logs": expand(
            "results/segmentation/{seg_run}/log.csv", seg_run=segmentation
        ),
        "dice": expand("results/segmentation/{seg_run}/dice.csv", seg_run=segmentation),
        "segmentation_provenance": expand(
            "results/segmentation/{seg_run}/provenance.json", seg_run=segmentation
        ),
    }
    if evaluates_test(config, family):
        inputs["metrics"] = expand("results/analysis/{run}/metrics.csv", run=video)
    return inputs


def experiment_settings(family):
    """What a family's table rule receives (an edit of another family leaves it unchanged)."""
    return family_slice(config, GRIDS, ALL_VIDEO_RUNS, family)


def experiment_outputs(family):
    """A family's tables and figure under results/experiments/<family>/, the figure in the report."""
    folder = Path("results/experiments") / family
    outputs = {
        "points": report(
            str(folder / "points.csv"),
            caption="../report/experiment_points.rst",
            category="Experiments",
            subcategory=EXPERIMENT_FIGURES[family],
            labels={"experiment": family, "table": "points"},
        ),
        "summary": str(folder / "summary.csv"),
        **experiment_figure_outputs(family),
    }
    if family == "training_size":
        outputs["learning_curve"] = str(folder / "learning_curve.csv")
    return outputs


def experiment_figure_outputs(name, family=None, label=None):
    """A figure's PNG (in the report) and PDF under results/experiments/<family>/, keyed figure_png/_pdf
    (or <name>_png/_pdf when a family draws several)."""
    family = family or name
    folder = Path("results/experiments") / family
    key = "figure" if name == family else name
    return {
        f"{key}_png": report(
            str(folder / f"{name}.png"),
            caption=f"../report/{name}.rst",
            category="Experiments",
            subcategory=EXPERIMENT_FIGURES[family],
            labels={
                "experiment": family,
                "figure": label or EXPERIMENT_FIGURES[family],
            },
        ),
        f"{key}_pdf": str(folder / f"{name}.pdf"),
    }


# --- noise ---


def noise_level_settings(wildcards):
    """The level (a fraction of pixel positions) and seed of one noise job."""
    return {
        "level": NOISE_LEVELS[wildcards.noise_level],
        "seed": config["experiments"]["noise"]["seed"],
    }


def noise_examples_settings():
    """The levels and seed of the example frames."""
    return {
        "levels": list(NOISE_LEVELS.values()),
        "seed": config["experiments"]["noise"]["seed"],
    }


def noise_table_inputs(wildcards):
    """Every level's TEST tables: Dice and sizes of the segmentation model, clip predictions of each run."""
    check_family("noise")
    inputs = {
        "manifest": data_result("manifest.csv"),
        "examples": experiment_result("noise/examples.npz"),
        "predictions": expand(
            experiment_result(
                "noise/ef/{run}/level_{noise_level}/test_predictions.csv"
            ),
            run=NOISE_RUNS,
            noise_level=NOISE_LEVELS,
        ),
    }
    if config["experiments"]["noise"]["segmentation"]:
        inputs["dice"] = expand(
            experiment_result("noise/segmentation/level_{noise_level}/dice.csv"),
            noise_level=NOISE_LEVELS,
        )
        inputs["sizes"] = expand(
            experiment_result("noise/segmentation/level_{noise_level}/size.csv"),
            noise_level=NOISE_LEVELS,
        )
    else:
        inputs["sizes"] = segmentation_result("size.csv")
    return inputs


def noise_table_settings():
    """What the experiment_noise rule gets; levels, runs (beat offset, one-clip seed), bootstrap, figure."""
    return noise_table_slice(
        config, NOISE_LEVELS, {name: ALL_VIDEO_RUNS[name] for name in NOISE_RUNS}
    )


def noise_outputs():
    """The noise table, its figure and the example frames."""
    return {
        "points": report(
            experiment_result("noise/points.csv"),
            caption="../report/experiment_points.rst",
            category="Experiments",
            subcategory=EXPERIMENT_FIGURES["noise"],
            labels={"experiment": "noise", "table": "points"},
        ),
        **experiment_figure_outputs("noise"),
        **experiment_figure_outputs("noise_examples", "noise", "example frames"),
    }


# --- loss curves ---


def loss_curve_inputs(wildcards):
    """log.csv of each EF run drawn and of the configured segmentation run."""
    check_family("loss_curves")
    return {
        "ef_logs": expand(video_result("log.csv"), run=LOSS_CURVE_RUNS),
        "segmentation_log": segmentation_result("log.csv"),
    }


def loss_curve_outputs():
    """The tidy table of every curve, and the EF and segmentation figures."""
    return {
        "points": experiment_result("loss_curves/points.csv"),
        **experiment_figure_outputs("ef_loss_curves", "loss_curves", "EF runs"),
        **experiment_figure_outputs(
            "segmentation_loss_curves", "loss_curves", "segmentation"
        ),
    }


def family_outputs(family):
    """Every output of a family's rules."""
    if family == "noise":
        return noise_outputs()
    if family == "complexity":
        return {
            "points": experiment_result("complexity/points.csv"),
            **experiment_figure_outputs("complexity"),
        }
    if family == "loss_curves":
        return loss_curve_outputs()
    return experiment_outputs(family)


def experiment_targets(families):
    """The files of these families (what `snakemake experiments` and each family's target ask for)."""
    return [
        str(path) for family in families for path in family_outputs(family).values()
    ]
