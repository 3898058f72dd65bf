"""Style gates: ruff and snakefmt stay clean (snakemake --lint is in test_workflow.py)."""

import subprocess
import sys

from conftest import REPO


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True)


def test_ruff_check():
    proc = run("ruff", "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format():
    proc = run("ruff", "format", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt():
    proc = run("snakefmt", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr
