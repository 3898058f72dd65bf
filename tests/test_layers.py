"""The library's layers, enforced: every import of every echobeat module goes down the declared order.

The order (docs/layout.md states it in words) is declared once, as data, in ``MAY_IMPORT``. Modules
are enumerated from the package (``pkgutil.walk_packages``), never listed by hand, and each one's
imports are read from its source with ``ast``: at module level and inside functions alike. A second
check runs imports in a fresh interpreter: the torch-free layers, and what the Snakefile imports
when it is parsed (which must load neither torch nor matplotlib nor scipy).
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import echobeat

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"

# Top-level modules that every layer may import: the base. They import no package of echobeat.
BASE = frozenset({"atomic", "logs", "errors", "compute", "stats", "config_schema", "provenance"})

# What each package may import besides itself, the base and the package root (``__version__``):
# data < datasets, models < inference, learn (siblings); analysis on data only; stages on everything.
MAY_IMPORT = {
    "data": frozenset(),
    "datasets": frozenset({"data"}),
    "models": frozenset({"data"}),
    "inference": frozenset({"data", "datasets", "models"}),
    "learn": frozenset({"data", "datasets", "models"}),
    "analysis": frozenset({"data"}),
    "stages": frozenset({"data", "datasets", "models", "inference", "learn", "analysis"}),
}

# Packages whose every module imports without torch (the data rules' and analysis rules'
# environments have none), plus the modules the Snakefile and the torch-free rules import.
TORCH_FREE_PACKAGES = ("echobeat.data", "echobeat.analysis")
TORCH_FREE_MODULES = (
    "echobeat.stages.rule_settings",
    "echobeat.config_schema",
    # The stage modules of the analysis rules and of predict's evaluation against labels.
    "echobeat.stages.analysis",
    "echobeat.stages.predict_evaluation",
    # The experiment grids (parsed with the Snakefile) and their table rules.
    "echobeat.stages.experiment_grids",
    "echobeat.stages.experiments",
    "echobeat.provenance",
)


def all_modules() -> list[str]:
    """Every module and package of echobeat, the root included."""
    return ["echobeat", *sorted(module_names(echobeat))]


def module_names(package) -> set[str]:
    """The modules and subpackages under ``package`` (found on disk; only packages are imported)."""
    return {info.name for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")}


def unit(module: str) -> str:
    """The layer unit a module belongs to: its package under echobeat, a base module, or the root."""
    parts = module.split(".")
    return "echobeat" if len(parts) == 1 else parts[1]


def imported_modules(module: str, known: set[str]) -> set[str]:
    """The echobeat modules ``module`` imports anywhere in its source, resolved to full names."""
    return {name for name in all_imports(module, known) if name == "echobeat" or name.startswith("echobeat.")}


def all_imports(module: str, known: set[str]) -> set[str]:
    """Every module ``module`` imports anywhere in its source (relative imports resolved); ``from p
    import name`` counts as importing ``p.name`` too when that is one of the ``known`` modules."""
    spec = importlib.util.find_spec(module)
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"), filename=spec.origin)
    package = module if spec.submodule_search_locations is not None else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from echobeat.stages import rule_settings`` imports the module echobeat.stages.rule_settings.
            found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known}
    return found


def violations(module: str, targets: set[str]) -> list[str]:
    """The imports of ``module`` that go against the declared order."""
    own = unit(module)
    wrong = []
    for target in sorted(targets):
        other = unit(target)
        if other in (own, "echobeat"):
            continue
        # A base module has no entry in MAY_IMPORT: it may import the base only.
        if not (other in BASE or other in MAY_IMPORT.get(own, frozenset())):
            wrong.append(f"{module} imports {target} ({own} may not import {other})")
    return wrong


def test_every_package_and_top_level_module_has_a_declared_place():
    units = {unit(m) for m in all_modules()} - {"echobeat"}
    undeclared = units - BASE - set(MAY_IMPORT)
    assert not undeclared, f"declare these in MAY_IMPORT or BASE (and in docs/layout.md): {sorted(undeclared)}"
    assert {"data", "datasets", "models", "inference", "learn", "analysis", "stages"} <= units


def test_every_import_follows_the_layer_order():
    modules = all_modules()
    assert len(modules) > 40, "the walk found too few modules: the check itself is broken"
    known = set(modules)
    wrong = [line for module in modules for line in violations(module, imported_modules(module, known))]
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_the_check_sees_function_local_and_relative_imports(tmp_path, monkeypatch):
    # A module the walk would find, with an upward import hidden in a function and a relative one.
    package = tmp_path / "layercheck"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "deep.py").write_text(
        "from . import sibling\n\ndef f():\n    from echobeat.stages import video\n    import echobeat.learn.training\n"
    )
    (package / "sub" / "sibling.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    import layercheck

    known = module_names(layercheck) | set(all_modules())
    assert "layercheck.sub.sibling" in all_imports("layercheck.sub.deep", known)
    assert imported_modules("layercheck.sub.deep", known) == {
        "echobeat.stages",
        "echobeat.stages.video",
        "echobeat.learn.training",
    }
    assert violations("echobeat.inference.x", {"echobeat.learn.training", "echobeat.models.video"}) == [
        "echobeat.inference.x imports echobeat.learn.training (inference may not import learn)"
    ]
    assert violations("echobeat.stats", {"echobeat.data.clips"}), "the base imports no package"
    assert violations("echobeat.analysis.x", {"echobeat.stages.rule_settings"}), "nothing imports stages"


# What a rule script may import of echobeat: the stages, and logging and atomic writing around them.
SCRIPT_MAY_IMPORT = ("echobeat.stages", "echobeat.logs", "echobeat.atomic")
RULE_SCRIPTS = sorted(SCRIPTS.glob("*.py"))


@pytest.mark.parametrize("script", RULE_SCRIPTS, ids=[path.name for path in RULE_SCRIPTS])
def test_rule_scripts_call_the_stages_only(script):
    tree = ast.parse(script.read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    library = {name for name in names if name.split(".")[0] == "echobeat"}
    assert library, "a rule script that calls no stage"
    assert all(name.startswith(SCRIPT_MAY_IMPORT) for name in library), sorted(library)


def loaded_after(*steps: str) -> list[set[str]]:
    """The top-level names in sys.modules after each step of statements, run one after the other in a
    fresh interpreter (one interpreter for all: starting Python with pandas and cv2 takes seconds)."""
    report = "print(' '.join(sorted(sys.modules)))"
    code = "\n".join(["import sys", f"sys.path.insert(0, {str(SCRIPTS)!r})", *(f"{s}\n{report}" for s in steps)])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()[-len(steps) :]
    return [{name.partition(".")[0] for name in line.split()} for line in lines]


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    """What parsing the Snakefile loads, then what importing every torch-free module adds to it."""
    modules = torch_free_modules()
    assert "echobeat.analysis.metrics" in modules and "echobeat.data.verify" in modules
    snakefile, torch_free = loaded_after("\n".join(snakefile_imports()), "\n".join(f"import {m}" for m in modules))
    return {"snakefile": snakefile, "torch_free": torch_free}


def torch_free_modules() -> list[str]:
    names = [m for m in all_modules() if m.startswith(tuple(f"{p}." for p in TORCH_FREE_PACKAGES))]
    return [*TORCH_FREE_PACKAGES, *names, *TORCH_FREE_MODULES]


def test_the_torch_free_layers_import_without_torch(loaded):
    assert "echobeat" in loaded["torch_free"]
    assert "torch" not in loaded["torch_free"]


def snakefile_imports() -> list[str]:
    """Every top-level ``import``/``from ... import`` of echobeat in the Snakefile and its rule files."""
    statements = []
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            if lines[i].startswith(("from ", "import ")):
                statement = lines[i]
                while statement.count("(") > statement.count(")"):  # a parenthesised list of names
                    i += 1
                    statement += "\n" + lines[i]
                node = ast.parse(statement).body[0]
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                if any(name.split(".")[0] == "echobeat" for name in names):
                    statements.append(statement)
            i += 1
    return statements


def test_parsing_the_snakefile_loads_no_heavy_library(loaded):
    assert any("rule_settings" in s for s in snakefile_imports()), "the scan found no import: the check is broken"
    assert "echobeat" in loaded["snakefile"]
    # torch and matplotlib take seconds to import, scipy.stats a second or more: every snakemake
    # command, and every SLURM job, parses the Snakefile.
    heavy = loaded["snakefile"] & {"torch", "matplotlib", "scipy"}
    assert not heavy, f"parsing the Snakefile imports {sorted(heavy)}"


def test_the_subprocess_check_can_fail():
    # matplotlib stands for torch here: the same check, without seconds of importing torch.
    before, after = loaded_after("import json", "import matplotlib")
    assert "matplotlib" not in before and "matplotlib" in after
