"""The paper's training experiments as grids of ordinary runs (config ``experiments``; docs/experiments.md).

Each family (``sweep``, ``training_size``, ``seeds``) expands into points, and each point into the
settings of one EF run (``video.defaults`` overlaid, as a configured run is) and, for the
training-size family, one segmentation run. A point whose settings equal a configured run is
that run; two families asking for the same settings get one run. Everything here is plain Python
on the config dict: the Snakefile expands the grids on every parse, before any video is read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from echobeat.data.echonet import USABLE_VIDEOS
from echobeat.errors import UserError
from echobeat.stages.rule_settings import (
    NAMED_WEIGHTS,
    analysis_metrics_slice,
    beat_by_beat_slice,
    training_identity,
)


class ExperimentError(UserError):
    """An experiment grid the workflow cannot run (the message names the key)."""


@dataclass(frozen=True)
class Point:
    """One grid point of a family: what the figure reads it as, and the runs that make it."""

    family: str
    labels: dict  # what the point stands for in the table (panel, clip length, videos, ...)
    video_run: str | None = None
    segmentation_run: str | None = None
    seed: int = 0


@dataclass
class Grids:
    """Every family's points, and the runs they add beside the configured ones."""

    points: dict[str, list[Point]] = field(default_factory=dict)
    video_runs: dict[str, dict] = field(default_factory=dict)
    segmentation_runs: dict[str, dict] = field(default_factory=dict)
    # A family the workflow cannot run (it names runs video.runs lacks, or its runs cannot train):
    # its message, raised only when a target needs the family (a layered config, or a default grid
    # that a change of video.defaults upsets, must not stop the workflow's other targets).
    problems: dict[str, str] = field(default_factory=dict)


def original_batch_size(frames: int, frames_per_batch: int, max_batch_size: int) -> int:
    """The original sweep's batch: ``min(frames_per_batch // frames, max_batch_size)``.

    With 256 and 16 (the original's) a 32x2 clip trains at batch 8 and a 64x1 clip at 4; the
    period panel's clips (64 // period frames) get ``min(4 * period, 16)``, the same rule.
    """
    return max(1, min(frames_per_batch // frames, max_batch_size))


def original_epochs(videos: int, rule: dict) -> int:
    """The original training-size runs' epochs: ``min(epochs * (rule videos // n), max)`` (200 up
    to 2,048 videos, then 100 and 50 with the original's 8192, 50 and 200); at least one (the
    rule gives none above its ``videos``)."""
    return max(1, min(rule["epochs"] * (rule["videos"] // videos), rule["max"]))


def run_name(prefix: str, identity: dict) -> str:
    """A readable, unique name for generated settings: what the point varies, then a digest of
    what it trains (its :func:`~echobeat.stages.rule_settings.training_identity`), so that an
    edit of how a run computes (device, inference batch, ...) keeps its name and its checkpoint."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:6]
    return f"{prefix}_{digest}"


def _ef_prefix(run: dict, videos: int | None = None) -> str:
    """What an EF point varies, readable: ``videos`` names a training-size point (the whole TRAIN
    split included, whose run carries no subset)."""
    subset = f"_n{videos}" if videos is not None else ""
    return f"{run['model']}_{run['frames']}x{run['period']}_{run['weights']}{subset}_s{run['seed']}"


class _Registry:
    """The runs of one stage (``video`` or ``segmentation``), one per model trained: a point that
    trains what a configured run (or an earlier point, of any family) trains is that run."""

    def __init__(self, configured: dict[str, dict], stage: str):
        self.stage = stage
        self.configured = configured
        self.generated: dict[str, dict] = {}
        self._by_identity: dict[str, str] = {}
        for name, run in configured.items():
            self._by_identity.setdefault(self._key(run), name)

    def _key(self, run: dict) -> str:
        return json.dumps(training_identity(run, self.stage), sort_keys=True, default=str)

    def add(self, settings: dict, prefix: str) -> str:
        key = self._key(settings)
        if key in self._by_identity:
            return self._by_identity[key]
        name = run_name(prefix, training_identity(settings, self.stage))
        if name in self.configured:
            raise ExperimentError(
                f"experiments: the generated run name {name} is also a configured run with other "
                "settings; rename that run"
            )
        self.generated[name] = settings
        self._by_identity[key] = name
        return name

    def snapshot(self) -> tuple[dict, dict]:
        return dict(self.generated), dict(self._by_identity)

    def restore(self, snapshot: tuple[dict, dict]) -> None:
        self.generated, self._by_identity = dict(snapshot[0]), dict(snapshot[1])


def _check_seeds(seeds: list, key: str) -> None:
    if not seeds:
        raise ExperimentError(f"{key}: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ExperimentError(f"{key}: the seed list {seeds} repeats a seed")


def _check_overrides(family: dict, key: str, grid_keys: tuple[str, ...]) -> None:
    """Refuse a family's ``video`` setting that its grid sets itself (it would be silently lost)."""
    lost = [name for name in grid_keys if name in family["video"]]
    if lost:
        raise ExperimentError(
            f"{key}.video: {', '.join(lost)} is set by the grid itself, not by {key}.video; "
            f"remove it there (the grid's own keys of {key} say what each point trains)"
        )


def _check_video_run(run: dict, key: str, point: str, train_videos: int | None = None) -> None:
    """Refuse a point's EF run that cannot train; ``key`` is the family's config key, ``point`` the point."""
    where = f"{key} ({point})"
    if run["frames"] < 1 or run["period"] < 1:
        raise ExperimentError(f"{where}: frames and period must be at least 1 (got {run['frames']}x{run['period']})")
    if run["epochs"] < 1:
        raise ExperimentError(
            f"{where}: an experiment point trains, and its epochs are {run['epochs']} (from "
            f"video.defaults); set {key}.video.epochs"
        )
    if run["weights"] not in NAMED_WEIGHTS["video"]:
        raise ExperimentError(
            f"{where}: an experiment point trains from random or pretrained weights, and video.defaults "
            f"gives the weights file {run['weights']}; set {key}.video.weights"
        )
    if run["batch_size"] % run["gpus"]:
        raise ExperimentError(
            f"{where}: batch_size {run['batch_size']} does not split evenly across gpus: {run['gpus']}; "
            f"set {key}.video.gpus (or the family's batch size)"
        )
    if train_videos is not None and train_videos < run["batch_size"]:
        raise ExperimentError(
            f"{key}.sizes: a subset of {train_videos} TRAIN videos is smaller than the batch of "
            f"{run['batch_size']} (the last incomplete batch is dropped, so no step would train); "
            f"raise the size or lower {key}.batch_size"
        )


def sweep_points(config: dict, registry: _Registry) -> list[Point]:
    """Extended Data Fig. 1: clip lengths at period 1 (panel ``frames``) and sampling periods at a
    fixed span (panel ``period``), per model and weights, per seed."""
    family = config["experiments"]["sweep"]
    key = "experiments.sweep"
    if "all" in family["frames"]:
        raise ExperimentError(
            f"{key}.frames: 'all' (whole videos, the paper's 'All' point) is not built: videos differ "
            "in length (28 to 1002 frames), so whole videos cannot be stacked into batches without "
            "padding or a batch of one, and the original has no code for it either. Give clip "
            "lengths in frames (docs/experiments.md)."
        )
    _check_seeds(family["seeds"], f"{key}.seeds")
    _check_overrides(family, key, ("model", "weights", "frames", "period", "batch_size", "seed"))
    clips = [("frames", frames, 1) for frames in family["frames"]]
    for period in family["periods"]:
        if family["span"] // period < 1:
            raise ExperimentError(f"{key}.periods: period {period} leaves no frame of the span {family['span']}")
        clips.append(("period", family["span"] // period, period))
    points = []
    for model in family["models"]:
        for weights in family["weights"]:
            for panel, frames, period in clips:
                for seed in family["seeds"]:
                    batch = family["batch_size"] or original_batch_size(
                        frames, family["frames_per_batch"], family["max_batch_size"]
                    )
                    run = {
                        **config["video"]["defaults"],
                        **family["video"],
                        "model": model,
                        "weights": weights,
                        "frames": frames,
                        "period": period,
                        "batch_size": batch,
                        "seed": seed,
                    }
                    _check_video_run(run, key, f"{model} {frames}x{period}")
                    name = registry.add(run, _ef_prefix(run))
                    labels = {"panel": panel, "model": model, "weights": weights, "frames": frames, "period": period}
                    points.append(Point("sweep", labels, video_run=name, seed=seed))
    return points


def training_size_points(
    config: dict, video: _Registry, segmentation: _Registry, train_videos: int | None
) -> list[Point]:
    """Nested TRAIN subsets: one EF run and (``segmentation: true``) one segmentation run per size
    and seed, on the same videos, with the original's epoch rule unless ``epochs`` is given.

    ``train_videos`` is the TRAIN split's size when it is known (a size above it is refused), else
    None: the workflow checks it only when a target needs the family (:func:`check_sizes`), and
    the stage refuses a subset larger than the usable TRAIN videos. On the real dataset a size of
    every usable TRAIN video (7,460) is the TRAIN split itself: its runs carry no subset, so the
    point is the configured run wherever their settings agree.
    """
    family = config["experiments"]["training_size"]
    key = "experiments.training_size"
    _check_seeds(family["seeds"], f"{key}.seeds")
    _check_overrides(family, key, ("batch_size", "epochs", "seed"))
    segmentation_weights = config["segmentation"]["weights"]
    if family["segmentation"] and segmentation_weights not in NAMED_WEIGHTS["segmentation"]:
        raise ExperimentError(
            f"{key}.segmentation: the training-size segmentation runs train from segmentation.weights, "
            f"and it is the weights file {segmentation_weights}; set segmentation.weights to random, "
            f"imagenet_backbone or pretrained, or {key}.segmentation to false"
        )
    whole_train = USABLE_VIDEOS["TRAIN"] if config["dataset"] == "real" else None
    if len(set(family["sizes"])) != len(family["sizes"]):
        raise ExperimentError(f"{key}.sizes: {family['sizes']} repeats a size")
    check_sizes(config, train_videos)
    points = []
    for size in sorted(family["sizes"]):
        epochs = family["epochs"] or original_epochs(size, family["epoch_rule"])
        subset = {} if size == whole_train else {"train_videos": size, "subset_seed": family["subset_seed"]}
        for seed in family["seeds"]:
            run = {
                **config["video"]["defaults"],
                **family["video"],
                "batch_size": family["batch_size"],
                "epochs": epochs,
                "seed": seed,
                **subset,
            }
            _check_video_run(run, key, f"{size} videos", size)
            name = video.add(run, _ef_prefix(run, size))
            segmentation_name = None
            if family["segmentation"]:
                batch = family["segmentation_batch_size"]
                if batch is not None and size < batch:
                    raise ExperimentError(  # here, naming this key; the stage would name segmentation.batch_size
                        f"{key}.segmentation_batch_size: {batch} is more than the subset of {size} "
                        "TRAIN videos (the last incomplete batch is dropped, so no step would train)"
                    )
                batch = batch or min(config["segmentation"]["batch_size"], size)
                seg = {**config["segmentation"], "batch_size": batch, "epochs": epochs, "seed": seed, **subset}
                segmentation_name = segmentation.add(seg, f"{seg['model']}_n{size}_s{seed}")
            labels = {"train_videos": size, "epochs": epochs}
            points.append(Point("training_size", labels, name, segmentation_name, seed))
    return points


def check_sizes(config: dict, train_videos: int | None) -> None:
    """Refuse a training-size subset above the TRAIN split (``train_videos``; None: not known yet)."""
    sizes = config["experiments"]["training_size"]["sizes"]
    too_large = [size for size in sizes if train_videos is not None and size > train_videos]
    if too_large:
        raise ExperimentError(
            f"experiments.training_size.sizes: {', '.join(map(str, too_large))} is more videos than the "
            f"TRAIN split has ({train_videos} in FileList.csv)"
        )


def seed_points(
    config: dict, video: _Registry, segmentation: _Registry, configured: dict[str, dict], chosen: list[str]
) -> list[Point]:
    """The configured runs ``chosen`` that train, and the segmentation run when it trains, once per seed."""
    family = config["experiments"]["seeds"]
    _check_seeds(family["seeds"], "experiments.seeds.seeds")
    points = []
    for seed in family["seeds"]:
        for base in chosen:
            settings = configured[base]
            if settings["epochs"] == 0:
                continue
            name = video.add({**settings, "seed": seed}, f"{base}_s{seed}")
            points.append(Point("seeds", {"run": base}, video_run=name, seed=seed))
        seg = config["segmentation"]
        if family["segmentation"] and seg["epochs"] > 0:
            name = segmentation.add({**seg, "seed": seed}, f"{seg['name']}_s{seed}")
            points.append(Point("seeds", {"run": seg["name"]}, segmentation_run=name, seed=seed))
    return points


def experiment_grids(config: dict, configured_video: dict[str, dict], train_videos: int | None = None) -> Grids:
    """Every family's points and the runs they add (configured runs are reused, never repeated).

    ``configured_video`` is :func:`echobeat.stages.rule_settings.video_runs`; the configured
    segmentation run is ``config["segmentation"]`` under its name.
    """
    video = _Registry(configured_video, "video")
    segmentation = _Registry({config["segmentation"]["name"]: config["segmentation"]}, "segmentation")
    chosen, problem = selected_runs(config, "seeds", configured_video, trained_only=False)
    families = {
        "sweep": lambda: sweep_points(config, video),
        "training_size": lambda: training_size_points(config, video, segmentation, train_videos),
        "seeds": lambda: seed_points(config, video, segmentation, configured_video, chosen),
    }
    grids = Grids(problems={"seeds": problem} if problem else {})
    for family, points in families.items():
        before = video.snapshot(), segmentation.snapshot()
        try:
            grids.points[family] = points()
        except ExperimentError as error:
            # Refused only when a target needs the family; its half-built runs are dropped.
            grids.points[family] = []
            grids.problems[family] = str(error)
            video.restore(before[0])
            segmentation.restore(before[1])
    grids.video_runs, grids.segmentation_runs = video.generated, segmentation.generated
    return grids


def active_families(config: dict) -> list[str]:
    """The families the ``experiments`` target makes: a grid with points, replicate seeds beyond
    one, noise levels, models to time, and loss curves (always)."""
    families = config["experiments"]
    active = []
    if families["sweep"]["models"] and (families["sweep"]["frames"] or families["sweep"]["periods"]):
        active.append("sweep")
    if families["training_size"]["sizes"]:
        active.append("training_size")
    if len(families["seeds"]["seeds"]) > 1:
        active.append("seeds")
    if families["noise"]["levels"]:
        active.append("noise")
    if families["complexity"]["models"] and families["complexity"]["frames"]:
        active.append("complexity")
    active.append("loss_curves")
    return active


def noise_levels(config: dict) -> dict[str, float]:
    """The noise levels by the label their files carry (``0.1`` -> ``level_0.1``); each in [0, 1]."""
    levels = config["experiments"]["noise"]["levels"]
    bad = [level for level in levels if not 0 <= level <= 1]
    if bad:
        raise ExperimentError(
            f"experiments.noise.levels: {', '.join(map(str, bad))} is not a fraction of the pixel "
            "positions; give levels from 0 to 1"
        )
    labels = {f"{float(level):g}": float(level) for level in levels}
    if len(labels) != len(levels):
        raise ExperimentError(f"experiments.noise.levels: {levels} repeats a level")
    return labels


def selected_runs(
    config: dict, family: str, configured: dict[str, dict], trained_only: bool
) -> tuple[list[str], str | None]:
    """The configured EF runs a family uses (its ``runs``, or every one, that trains), and the
    message naming those of its ``runs`` that video.runs lacks (None when there is none)."""
    chosen = config["experiments"][family]["runs"]
    if chosen is None:
        return [name for name, run in configured.items() if run["epochs"] > 0 or not trained_only], None
    unknown = [name for name in chosen if name not in configured]
    problem = None
    if unknown:
        problem = (
            f"experiments.{family}.runs: {', '.join(unknown)} not in video.runs ({', '.join(configured) or 'none'})"
        )
    return [name for name in chosen if name in configured], problem


def noise_table_slice(config: dict, levels: dict[str, float], runs: dict[str, dict]) -> dict:
    """What rule experiment_noise receives: the levels, each run's beat offset and one-clip seed
    (as its analysis rules get them), the bootstraps (Dice's as dice.csv's, the EF numbers' as
    metrics.csv's, so that level 0 gives their intervals), whether Dice is measured, and the figure."""
    return {
        "levels": levels,
        "runs": {
            name: {
                "offset": beat_by_beat_slice(config, run)["offset"],
                "one_clip_seed": analysis_metrics_slice(config, run)["one_clip_seed"],
            }
            for name, run in runs.items()
        },
        "segmentation": config["experiments"]["noise"]["segmentation"],
        "bootstrap_samples": config["analysis"]["bootstrap_samples"],
        "seed": config["analysis"]["seed"],
        "dice_bootstrap": [config["segmentation"]["bootstrap_samples"], config["segmentation"]["seed"]],
        "dpi": config["analysis"]["figures"]["dpi"],
    }


# The label columns that identify a point of each family (its seeds are averaged over them).
LABELS = {
    "sweep": ["panel", "model", "weights", "frames", "period"],
    "training_size": ["train_videos", "epochs"],
    "seeds": ["run"],
}
# EF run settings each point's table row shows.
POINT_SETTINGS = ("model", "weights", "frames", "period", "batch_size", "epochs", "train_videos")


def evaluates_test(config: dict, family: str) -> bool:
    """Whether a family's EF points need TEST inference (all-clip and beat-by-beat metrics)."""
    return family != "sweep" or config["experiments"]["sweep"]["evaluate"] == "test"


def family_slice(config: dict, grids: Grids, video_runs: dict[str, dict], family: str) -> dict:
    """What a family's table rule receives: its points (with their runs' settings), label columns,
    and what its figure needs. An edit elsewhere leaves it unchanged."""
    points = []
    for point in grids.points[family]:
        run = video_runs.get(point.video_run) if point.video_run else None
        points.append(
            {
                "family": family,
                "labels": point.labels,
                "seed": point.seed,
                "ef_run": point.video_run,
                "segmentation_run": point.segmentation_run,
                "ef_settings": {key: run.get(key) for key in POINT_SETTINGS} if run else None,
            }
        )
    extra = {"span": config["experiments"]["sweep"]["span"]} if family == "sweep" else {}
    return {"points": points, "labels": LABELS[family], "dpi": config["analysis"]["figures"]["dpi"], **extra}


def family_runs(grids: Grids, family: str) -> tuple[list[str], list[str]]:
    """The EF and segmentation runs a family's table reads (each once)."""
    video = dict.fromkeys(p.video_run for p in grids.points[family] if p.video_run)
    segmentation = dict.fromkeys(p.segmentation_run for p in grids.points[family] if p.segmentation_run)
    return list(video), list(segmentation)
