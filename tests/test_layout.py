"""The library's layering holds: analysis without torch, and each rule's settings slice covers what its code reads."""

import ast
import inspect
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

from echobeat.stages import rule_settings
from echobeat.stages import segmentation as segmentation_stage
from echobeat.stages import video as video_stage

TORCH_FREE = [
    "echobeat.analysis.beat_by_beat",
    "echobeat.analysis.comparison",
    "echobeat.analysis.dice",
    "echobeat.analysis.figures",
    "echobeat.analysis.methods",
    "echobeat.analysis.metrics",
    "echobeat.analysis.stats",
    "echobeat.analysis.tables",
    "echobeat.analysis.video_report",
    "echobeat.stages.analysis",
    "echobeat.stages.rule_settings",
    "echobeat.data.names",
    "echobeat.data.verify",
    "echobeat.data.normalisation",
    # The prediction workflow's table, report and evaluation rules load no model.
    "echobeat.stages.predict",
]


def test_analysis_imports_without_torch():
    """Every analysis module (and what the Snakefile imports) loads in a Python where torch cannot be imported."""
    code = textwrap.dedent(
        f"""
        import importlib, sys
        sys.path.insert(0, {str(REPO / "workflow" / "scripts")!r})

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith(("torch.", "torchvision")):
                    raise ImportError("torch is blocked in this test")
                return None

        sys.meta_path.insert(0, NoTorch())
        for module in {TORCH_FREE!r}:
            importlib.import_module(module)
        assert "torch" not in sys.modules
        print("imported", len({TORCH_FREE!r}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"imported {len(TORCH_FREE)}" in proc.stdout


def _function_defs(module) -> dict:
    tree = ast.parse(inspect.getsource(module))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def settings_reads(function, parameter: str = "settings", seen=None) -> set[str]:
    """The keys ``function`` reads from its ``parameter`` dict: ``p["key"]``, ``p.get("key")``, and
    what the functions it hands ``p`` to read (followed through echobeat modules)."""
    seen = seen if seen is not None else set()
    if (function, parameter) in seen:
        return set()
    seen.add((function, parameter))
    node = next(
        n for n in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))) if isinstance(n, ast.FunctionDef)
    )
    module = sys.modules[function.__module__]
    keys = set()
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Subscript)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == parameter
            and isinstance(sub.slice, ast.Constant)
        ):
            keys.add(sub.slice.value)
        if isinstance(sub, ast.Call):
            if (
                isinstance(sub.func, ast.Attribute)
                and isinstance(sub.func.value, ast.Name)
                and sub.func.value.id == parameter
                and sub.func.attr == "get"
            ):
                keys.add(sub.args[0].value)
            callee = getattr(module, sub.func.id, None) if isinstance(sub.func, ast.Name) else None
            if not (inspect.isfunction(callee) and callee.__module__.startswith("echobeat")):
                continue
            names = list(inspect.signature(callee).parameters)
            passed = [(names[i], a) for i, a in enumerate(sub.args) if i < len(names)]
            passed += [(k.arg, k.value) for k in sub.keywords if k.arg]
            for name, value in passed:
                if isinstance(value, ast.Name) and value.id == parameter:
                    keys |= settings_reads(callee, name, seen)
    return keys


@pytest.mark.parametrize(
    "functions, allowed",
    [
        ([segmentation_stage.train], rule_settings.SEGMENTATION["train"]),
        ([segmentation_stage.evaluate], rule_settings.SEGMENTATION["evaluate"]),
        ([segmentation_stage.sizes], rule_settings.SEGMENTATION["sizes"]),
        ([segmentation_stage.overlays], rule_settings.SEGMENTATION["overlays"]),
        ([video_stage.train, video_stage.train_process], rule_settings.VIDEO["train"]),
        ([video_stage.predict], rule_settings.VIDEO["predict"]),
    ],
    ids=["train_segmentation", "evaluate_segmentation", "segment_all_frames", "overlays", "train_video", "predict"],
)
def test_each_rule_gets_every_key_its_code_reads(functions, allowed):
    read = set().union(*(settings_reads(f) for f in functions))
    assert read, "the AST walk found no read at all: the check itself is broken"
    assert read <= set(allowed), f"read but not in the rule's slice: {sorted(read - set(allowed))}"


def test_the_settings_walk_follows_helpers():
    # make_optimiser reads lr, momentum, weight_decay from the settings train hands it.
    assert {"lr", "momentum", "weight_decay", "optimizer", "lr_step"} <= settings_reads(segmentation_stage.train)
