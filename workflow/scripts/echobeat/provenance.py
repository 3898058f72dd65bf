"""What produced a result: settings, seed, package versions, device and machine (provenance.json).

Every training job (and evaluate-only import) writes one beside its best.pt, so that a number in
a table can be traced to the code, packages and hardware that made it. The experiment tables
carry its main fields in every row.
"""

from __future__ import annotations

import datetime
import json
import platform
from importlib import metadata
from pathlib import Path

from echobeat import __version__
from echobeat.atomic import atomic_path

# The packages a result depends on (their installed versions are recorded).
PACKAGES = ("torch", "torchvision", "numpy", "pandas", "scipy", "opencv-python-headless", "snakemake")

# The fields the experiment tables copy into each row (the file holds more).
TABLE_FIELDS = ("device", "device_name", "precision", "echobeat", "torch", "torchvision", "host")


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else what platform reports)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def provenance(rule: str, settings: dict, device: dict, precision: str) -> dict:
    """The record of one job: its rule, settings slice (seed included), versions, device and machine.

    ``device`` describes where it computed: ``type`` (cpu or cuda), ``name`` (the GPU's, or the
    CPU's model), ``gpus``, ``cuda`` (torch's CUDA version); a CPU computes in float32.
    """
    versions = {package: _version(package) for package in PACKAGES}
    return {
        "rule": rule,
        "settings": settings,
        "seed": settings.get("seed"),
        "device": device["type"],
        "device_name": device["name"],
        "gpus": device.get("gpus", 0),
        "cuda": device.get("cuda"),
        "precision": precision if device["type"] == "cuda" else "fp32",
        "echobeat": __version__,
        "python": platform.python_version(),
        **versions,
        "cpu": cpu_model(),
        "host": platform.node(),
        "platform": platform.platform(),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def write_provenance(path: str | Path, record: dict) -> None:
    """Write ``record`` as JSON, atomically."""
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


def table_fields(record: dict) -> dict:
    """The fields of a provenance record that the experiment tables show."""
    return {key: record.get(key) for key in TABLE_FIELDS}
