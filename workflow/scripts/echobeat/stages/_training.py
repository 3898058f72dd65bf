"""What the two training stages share: the run's identity, the shuffle seed, and importing weights.

The segmentation and EF stages build different datasets and models, but decide in the same way
which settings make a checkpoint resumable, how an epoch's shuffle is seeded, and what an
evaluate-only run (``epochs: 0``) writes in place of training.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
import torch

from echobeat.atomic import write_csv
from echobeat.compute import describe_device
from echobeat.learn.training import Task, file_digest, fingerprint, log_columns
from echobeat.models.weights import save_model
from echobeat.provenance import provenance, write_provenance
from echobeat.stages.rule_settings import NOT_IDENTITY

log = logging.getLogger(__name__)


# What every training job (and evaluate-only import) writes beside its best.pt.
PROVENANCE = "provenance.json"


def run_fingerprint(settings: dict, data_files: list[str]) -> str:
    """The fingerprint a checkpoint must carry to be resumed: the settings that shape the model,
    and the content of the data files it trains on."""
    identity = {k: v for k, v in settings.items() if k not in NOT_IDENTITY}
    identity["data"] = [file_digest(p) for p in data_files]
    return fingerprint(identity)


def shuffle_seed(seed: int, epoch: int) -> int:
    """The seed of an epoch's shuffle: it depends on (seed, epoch) alone, so a resumed run repeats it."""
    return seed * 1_000_003 + epoch


def record_provenance(out_dir: str | Path, rule: str, settings: dict, device: torch.device, gpus: int = 1) -> None:
    """provenance.json beside the run's best.pt: what produced it (echobeat.provenance)."""
    record = provenance(rule, settings, describe_device(device, gpus), settings["precision"])
    write_provenance(Path(out_dir) / PROVENANCE, record)


def write_imported(model: torch.nn.Module, card: dict, task: Task, out_dir: str, settings: dict) -> None:
    """Evaluate-only: best.pt holds ``model``'s weights with its ``card`` (``epochs: 0``), and log.csv
    has its header and no epoch."""
    out = Path(out_dir)
    save_model(out / "best.pt", model.state_dict(), -1, math.nan, {**card, "epochs": 0})
    write_csv(out / "log.csv", pd.DataFrame(columns=log_columns(task)))
    record_provenance(out, "import", settings, torch.device("cpu"))
    log.info("evaluate-only: best.pt holds %s weights (%s)", settings["model"], settings["weights"])
