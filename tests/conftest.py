"""Shared fixtures: a tiny synthetic dataset, a copy of the workflow, and a snakemake runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

from echobeat.synthetic import generate_dataset  # noqa: E402


def tiny_settings(**overrides) -> dict:
    """Synthetic settings for a dataset that generates in about a second."""
    settings = {
        "seed": 7,
        "n_videos": 8,
        "splits": {"TRAIN": 0.5, "VAL": 0.25, "TEST": 0.25},
        "frames": {"min": 30, "max": 70},
        "fps": [50],
        "beats": {"min": 1, "max": 3},
        "codec": "FFV1",
    }
    settings.update(overrides)
    return settings


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A read-only tiny synthetic dataset (copy it before changing anything)."""
    out = tmp_path_factory.mktemp("tiny") / "data"
    generate_dataset(out, tiny_settings(), threads=2)
    return out


@pytest.fixture
def dataset_copy(tiny_dataset, tmp_path) -> Path:
    """A private, writable copy of the tiny dataset."""
    target = tmp_path / "data"
    shutil.copytree(tiny_dataset, target)
    return target


@pytest.fixture
def workflow_dir(tmp_path) -> Path:
    """A copy of the workflow in a temporary folder, so runs never touch the repository."""
    target = tmp_path / "wf"
    target.mkdir()
    shutil.copy2(REPO / "Snakefile", target / "Snakefile")
    for folder in ("workflow", "config", "profiles", "envs"):
        shutil.copytree(REPO / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_snakemake(cwd: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the real snakemake command line in ``cwd``; return the finished process."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
