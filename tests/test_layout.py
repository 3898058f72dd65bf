"""Each rule's settings slice is exactly what its code reads, and an edit changes the slices of the rules it affects.

(The layers themselves, torch-free modules included, are tests/test_layers.py.)
"""

import ast
import copy
import dataclasses
import importlib
import inspect
import re
import sys
import textwrap

import pytest
from conftest import REPO

from echobeat import config_schema
from echobeat.analysis.comparison import RUN_SETTINGS
from echobeat.data.verify import VerifySettings
from echobeat.stages import rule_settings
from echobeat.stages import segmentation as segmentation_stage
from echobeat.stages import video as video_stage


def _function_defs(module) -> dict:
    tree = ast.parse(inspect.getsource(module))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _key_names(node, module) -> tuple[str, ...] | None:
    """The strings of a literal tuple/list of keys, or of a module constant holding one."""
    if isinstance(node, (ast.Tuple, ast.List)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return tuple(e.value for e in node.elts)
    value = getattr(module, node.id, None) if isinstance(node, ast.Name) else None
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def settings_reads(function, parameter: str = "settings", seen=None) -> set[str]:
    """The keys ``function`` reads from its ``parameter`` dict: ``p["key"]``, ``p.get("key")``,
    ``p[k] for k in <keys>``, keys handed along with ``p`` (``model_card(kind, p, CARD_KEYS)``), and
    what the functions it hands ``p`` to read (followed through echobeat modules)."""
    seen = seen if seen is not None else set()
    if (function, parameter) in seen:
        return set()
    seen.add((function, parameter))
    node = next(
        n for n in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))) if isinstance(n, ast.FunctionDef)
    )
    module = sys.modules[function.__module__]
    # Names bound by `for k in <keys>` in comprehensions: p[k] reads each of those keys.
    loops = {
        gen.target.id: names
        for gen in ast.walk(node)
        if isinstance(gen, ast.comprehension) and isinstance(gen.target, ast.Name)
        if (names := _key_names(gen.iter, module))
    }
    keys = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name) and sub.value.id == parameter:
            if isinstance(sub.slice, ast.Constant):
                keys.add(sub.slice.value)
            elif isinstance(sub.slice, ast.Name) and sub.slice.id in loops:
                keys |= set(loops[sub.slice.id])
        if isinstance(sub, ast.Call):
            if (
                isinstance(sub.func, ast.Attribute)
                and isinstance(sub.func.value, ast.Name)
                and sub.func.value.id == parameter
                and sub.func.attr == "get"
            ):
                keys.add(sub.args[0].value)
            arguments = [*sub.args, *(k.value for k in sub.keywords)]
            if any(isinstance(a, ast.Name) and a.id == parameter for a in arguments):
                for argument in arguments:
                    keys |= set(_key_names(argument, module) or ())
            callee = getattr(module, sub.func.id, None) if isinstance(sub.func, ast.Name) else None
            if not (inspect.isfunction(callee) and callee.__module__.startswith("echobeat")):
                continue
            names = list(inspect.signature(callee).parameters)
            starred = any(isinstance(a, ast.Starred) for a in sub.args)
            # After a *args the positions are unknown: a Name passed positionally binds the parameter of that name.
            passed = [
                (names[i] if not starred else a.id, a)
                for i, a in enumerate(sub.args)
                if (i < len(names) and not starred) or (starred and isinstance(a, ast.Name) and a.id in names)
            ]
            passed += [(k.arg, k.value) for k in sub.keywords if k.arg]
            for name, value in passed:
                if isinstance(value, ast.Name) and value.id == parameter:
                    keys |= settings_reads(callee, name, seen)
    return keys


# A config with every key at its schema default, and one of its EF runs, to cut slices from.
DEFAULT_CONFIG = config_schema.defaults(config_schema.load_schema())
DEFAULT_CONFIG["video"]["runs"] = {"run": {"model": "r3d_18"}}
DEFAULT_RUN = rule_settings.video_runs(DEFAULT_CONFIG)["run"]
SUBSET = {"train_videos": 16, "subset_seed": 0}


def stage_function(rule: str):
    """The stage function that workflow/scripts/<rule>.py hands ``snakemake.params.settings`` to."""
    tree = ast.parse((REPO / "workflow" / "scripts" / f"{rule}.py").read_text(encoding="utf-8"))
    imported = {
        alias.asname or alias.name: (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    settings = "snakemake.params.settings"
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and any(ast.unparse(arg) == settings for arg in call.args):
            module, name = imported[call.func.id]
            return getattr(importlib.import_module(module), name)
    raise AssertionError(f"workflow/scripts/{rule}.py hands {settings} to no function")


# Each rule with a settings slice, and the slice it gets. Its stage function is read from its rule script.
SLICES = {
    "synthetic_dataset": rule_settings.synthetic_slice(DEFAULT_CONFIG),
    "normalisation": rule_settings.normalisation_slice(DEFAULT_CONFIG),
    # A run on a TRAIN subset (the training-size experiment): its slice adds SUBSET's keys.
    "train_segmentation": rule_settings.segmentation_slice({**DEFAULT_CONFIG["segmentation"], **SUBSET}, "train"),
    "import_segmentation_weights": rule_settings.segmentation_slice(DEFAULT_CONFIG["segmentation"], "import"),
    "evaluate_segmentation": rule_settings.segmentation_slice(DEFAULT_CONFIG["segmentation"], "evaluate"),
    "segment_all_frames": rule_settings.segmentation_slice(DEFAULT_CONFIG["segmentation"], "sizes"),
    "segmentation_overlays": rule_settings.segmentation_slice(DEFAULT_CONFIG["segmentation"], "overlays"),
    "train_video": rule_settings.video_slice({**DEFAULT_RUN, **SUBSET}, "train"),
    "import_video_weights": rule_settings.video_slice(DEFAULT_RUN, "import"),
    "predict_clips": rule_settings.video_slice(DEFAULT_RUN, "predict"),
    "beat_by_beat": rule_settings.beat_by_beat_slice(DEFAULT_CONFIG, DEFAULT_RUN),
    "analysis_metrics": rule_settings.analysis_metrics_slice(DEFAULT_CONFIG, DEFAULT_RUN),
    "ef_figures": rule_settings.ef_figures_slice(DEFAULT_CONFIG),
    "segmentation_figures": rule_settings.figures_slice(DEFAULT_CONFIG),
    "predict_convert": rule_settings.predict_slice(DEFAULT_CONFIG, "convert"),
    "predict_sizes": rule_settings.predict_slice(DEFAULT_CONFIG, "sizes"),
    "predict_ef": rule_settings.predict_slice(DEFAULT_CONFIG, "ef"),
    "predict_table": rule_settings.predict_slice(DEFAULT_CONFIG, "table"),
    "predict_evaluation": rule_settings.predict_evaluation_slice(DEFAULT_CONFIG),
    "noise_segmentation": rule_settings.segmentation_slice(DEFAULT_CONFIG["segmentation"], "noise"),
    "noise_ef": rule_settings.video_slice(DEFAULT_RUN, "predict"),
    "complexity_timing": rule_settings.complexity_slice(DEFAULT_CONFIG),
    "experiment_complexity": rule_settings.figures_slice(DEFAULT_CONFIG),
    "experiment_loss_curves": rule_settings.figures_slice(DEFAULT_CONFIG),
}
# Code that reads a slice beside the function its script calls: train_video's DDP worker processes.
ALSO_READ_BY = {"train_video": [video_stage.train_process]}


# Rules whose settings are not config keys but what the experiment grids computed (points, levels,
# runs): tests/test_experiments.py checks them.
STRUCTURED = {"experiment_sweep", "experiment_training_size", "experiment_seeds", "experiment_noise", "noise_examples"}


@pytest.mark.parametrize("rule", list(SLICES))
def test_each_rule_gets_exactly_the_keys_its_code_reads(rule):
    settings = SLICES[rule]
    functions = [stage_function(rule), *ALSO_READ_BY.get(rule, [])]
    read = set().union(*(settings_reads(f) for f in functions))
    assert read, "the AST walk found no read at all: the check itself is broken"
    assert read == set(settings), (
        f"read but not in the slice: {sorted(read - set(settings))}; "
        f"in the slice but never read: {sorted(set(settings) - read)}"
    )


def test_verification_gets_exactly_its_settings_fields():
    # verify_dataset hands its slice to VerifySettings(**settings): the dataclass's fields are what it reads.
    assert set(rule_settings.verify_slice(DEFAULT_CONFIG)) == {f.name for f in dataclasses.fields(VerifySettings)}


def test_comparison_gets_the_settings_its_table_shows():
    runs = {"a": DEFAULT_RUN, "b": {**DEFAULT_RUN, "frames": 8}}
    sliced = rule_settings.comparison_slice(runs)
    assert list(sliced) == ["a", "b"]
    assert all(tuple(settings) == RUN_SETTINGS for settings in sliced.values())
    assert sliced["b"]["frames"] == 8


def test_every_rule_with_params_settings_is_covered():
    """Each rule file's `settings=` params name a rule of SLICES (or verify_dataset, tested above)."""
    rule = re.compile(r"^\s*(?:rule|checkpoint)\s+(\w+)\s*:")
    with_settings = set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        current = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := rule.match(line):
                current = match[1]
            elif re.match(r"^\s*settings\s*=", line):
                with_settings.add(current)
    assert with_settings == set(SLICES) | {"verify_dataset"} | STRUCTURED


def test_video_runs_overlay_the_defaults_and_drop_null_runs():
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["video"]["runs"] = {"a": {}, "b": {"model": "mc3_18", "frames": 8}, "gone": None}
    runs = rule_settings.video_runs(config)
    assert list(runs) == ["a", "b"]
    assert runs["a"] == config["video"]["defaults"]
    assert runs["b"] == {**config["video"]["defaults"], "model": "mc3_18", "frames": 8}


@pytest.mark.parametrize(
    "run, message",
    [
        ({"epochs": 0, "weights": "random"}, "epochs: 0 evaluates the given weights"),
        ({"batch_size": 20, "gpus": 3}, "does not split evenly across gpus: 3"),
    ],
)
def test_video_runs_refuse_what_the_schema_cannot_check(run, message):
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["video"]["runs"] = {"bad": run}
    with pytest.raises(rule_settings.ConfigError, match=message):
        rule_settings.video_runs(config)


def test_beat_offset_is_half_the_clip_span_unless_given():
    config = copy.deepcopy(DEFAULT_CONFIG)
    assert config["analysis"]["beat_offset"] is None
    paper = rule_settings.beat_by_beat_slice(config, {**DEFAULT_RUN, "frames": 32, "period": 2})
    assert paper == {"offset": 32, "max_beats": 5, "repetitions": 100, "seed": 0}
    assert rule_settings.beat_by_beat_slice(config, {**DEFAULT_RUN, "frames": 8, "period": 8})["offset"] == 32
    config["analysis"]["beat_offset"] = 5
    assert rule_settings.beat_by_beat_slice(config, DEFAULT_RUN)["offset"] == 5


def test_analysis_slices():
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["analysis"].update(seed=4, bootstrap_samples=50, auc_thresholds=[40])
    config["analysis"]["figures"]["dpi"] = 72
    run = {**DEFAULT_RUN, "seed": 9}
    assert rule_settings.analysis_metrics_slice(config, run) == {
        "bootstrap_samples": 50,
        "seed": 4,
        "auc_thresholds": [40],
        "one_clip_seed": 9,
    }
    assert rule_settings.figures_slice(config) == {"dpi": 72}
    assert rule_settings.ef_figures_slice(config) == {"dpi": 72, "auc_thresholds": [40]}
    assert rule_settings.predict_evaluation_slice(config) == {
        "bootstrap_samples": 50,
        "seed": 4,
        "auc_thresholds": [40],
    }


def test_data_slices_leave_threads_out():
    config = copy.deepcopy(DEFAULT_CONFIG)
    assert "threads" not in rule_settings.synthetic_slice(config)
    assert set(rule_settings.synthetic_slice(config)) == set(config["synthetic"]) - {"threads"}
    assert "threads" not in rule_settings.verify_slice(config)
    assert rule_settings.normalisation_slice(config) == config["normalisation"]
    assert rule_settings.normalisation_slice(config) is not config["normalisation"]


def test_the_settings_walk_reads_key_lists():
    # normalisation_stats reads mean and std by name, the draw settings through a comprehension.
    from echobeat.data.normalisation import normalisation_stats

    assert settings_reads(normalisation_stats) == {"mean", "std", "samples", "length", "period", "seed"}


def test_the_settings_walk_follows_helpers():
    # make_optimiser reads lr, momentum, weight_decay from the settings train hands it.
    assert {"lr", "momentum", "weight_decay", "optimizer", "lr_step"} <= settings_reads(segmentation_stage.train)


def every_slice(config: dict) -> dict:
    """Every (rule, run) params slice the workflow hands its jobs for ``config`` (runs "a" and "b")."""
    slices = {
        "verify_dataset": rule_settings.verify_slice(config),
        "synthetic_dataset": rule_settings.synthetic_slice(config),
        "normalisation": rule_settings.normalisation_slice(config),
        **{
            rule: rule_settings.segmentation_slice(config["segmentation"], key)
            for rule, key in [
                ("train_segmentation", "train"),
                ("evaluate_segmentation", "evaluate"),
                ("segment_all_frames", "sizes"),
                ("segmentation_overlays", "overlays"),
            ]
        },
        "ef_figures": rule_settings.ef_figures_slice(config),
        "segmentation_figures": rule_settings.figures_slice(config),
        "predict_evaluation": rule_settings.predict_evaluation_slice(config),
        **{f"predict_{key}": rule_settings.predict_slice(config, key) for key in rule_settings.PREDICT},
    }
    runs = rule_settings.video_runs(config)
    slices["compare_runs"] = rule_settings.comparison_slice(runs)
    for name, run in runs.items():
        slices[f"train_video/{name}"] = rule_settings.video_slice(run, "train")
        slices[f"predict_clips/{name}"] = rule_settings.video_slice(run, "predict")
        slices[f"beat_by_beat/{name}"] = rule_settings.beat_by_beat_slice(config, run)
        slices[f"analysis_metrics/{name}"] = rule_settings.analysis_metrics_slice(config, run)
    return slices


def edited(path: str, value) -> dict:
    """DEFAULT_CONFIG with two EF runs and the key at ``path`` (dots between levels) set to ``value``."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["video"]["runs"] = {"a": {"model": "r3d_18"}, "b": {"model": "mc3_18"}}
    *parents, key = path.split(".")
    section = config
    for parent in parents:
        section = section[parent]
    section[key] = value
    return config


@pytest.mark.parametrize(
    "path, value, changed",
    [
        ("video.runs.a", {"model": "r3d_18", "lr": 1e-3}, {"train_video/a"}),
        ("segmentation.lr", 1e-3, {"train_segmentation"}),
        ("analysis.figures.dpi", 72, {"ef_figures", "segmentation_figures"}),
        ("analysis.bootstrap_samples", 50, {"analysis_metrics/a", "analysis_metrics/b", "predict_evaluation"}),
        ("segmentation.bootstrap_samples", 50, {"evaluate_segmentation"}),
        ("data.ef_tolerance", 2.0, {"verify_dataset"}),
        ("data.threads", 3, set()),
        ("video.defaults.gpus", 2, set()),
        ("segmentation.beats.trim", "percentile", {"segment_all_frames"}),
    ],
)
def test_an_edit_changes_exactly_the_slices_of_the_rules_it_affects(path, value, changed):
    """In-process twin of the workflow test's dry runs: with --rerun-triggers params, the jobs an
    edit reruns are those whose slice changed (and what reads their outputs)."""
    unedited = edited("data.threads", DEFAULT_CONFIG["data"]["threads"])
    before, after = every_slice(unedited), every_slice(edited(path, value))
    assert set(before) == set(after)
    assert {rule for rule in before if before[rule] != after[rule]} == changed
