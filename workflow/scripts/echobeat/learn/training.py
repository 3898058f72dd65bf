"""The training loop shared by the segmentation and EF stages, with checkpoint and resume.

``fit`` runs epochs of a :class:`Task` (what a batch is, the loss, the metrics), keeps the
model with the lowest validation loss, and after every epoch saves ``checkpoint.pt``
atomically: model, optimiser, scheduler, the epoch, the best validation loss *and its epoch*
and weights, the log so far, RNG states, and a fingerprint of the settings. A rerun resumes at
the next epoch; a checkpoint with another fingerprint is set aside (renamed), never resumed.
The best loss comes back from the checkpoint with the weights it belongs to, so a resumed run
can never replace a better model by a worse one (the original's stale-best-loss bug).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch

from echobeat.atomic import atomic_path, write_csv
from echobeat.compute import Compute
from echobeat.models.weights import save_model

log = logging.getLogger(__name__)


def fingerprint(settings: dict) -> str:
    """A stable hash of the settings that shape a training run."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """A short content hash of an input file, for training fingerprints."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def make_optimiser(parameters, settings: dict) -> torch.optim.Optimizer:
    """SGD with momentum (the original's) or Adam, from a stage's settings."""
    if settings["optimizer"] == "sgd":
        return torch.optim.SGD(
            parameters, lr=settings["lr"], momentum=settings["momentum"], weight_decay=settings["weight_decay"]
        )
    if settings["optimizer"] == "adam":
        return torch.optim.Adam(parameters, lr=settings["lr"], weight_decay=settings["weight_decay"])
    raise ValueError(f"optimizer must be sgd or adam, not {settings['optimizer']!r}")


def make_scheduler(optimiser: torch.optim.Optimizer, settings: dict):
    """StepLR every ``lr_step`` epochs by ``lr_gamma``, or None for a constant rate."""
    if not settings["lr_step"]:
        return None
    return torch.optim.lr_scheduler.StepLR(optimiser, settings["lr_step"], settings["lr_gamma"])


@dataclass
class Accumulator:
    """Sums over an epoch: the loss, the samples, and whatever the task counts."""

    loss: float = 0.0
    samples: int = 0
    extra: dict = field(default_factory=dict)

    def add(self, name: str, values) -> None:
        self.extra.setdefault(name, []).append(np.asarray(values))

    def get(self, name: str) -> np.ndarray:
        return np.concatenate(self.extra.get(name, [np.empty(0)]))


class Task(Protocol):
    """What the shared loop needs to know about a stage; the stages' tasks subclass it for its defaults."""

    metric_names: tuple[str, ...]

    def step(self, model: torch.nn.Module, batch, compute: Compute, totals: Accumulator) -> torch.Tensor:
        """Forward one batch; add its loss and counts to ``totals``; return the loss to backpropagate."""

    def metrics(self, totals: Accumulator) -> dict[str, float]:
        """The epoch's metrics (named as in ``metric_names``)."""

    def epoch_loss(self, totals: Accumulator) -> float:
        """The logged loss of the epoch: what ``step`` added to ``totals.loss``, per sample."""
        return totals.loss / max(totals.samples, 1)


@dataclass
class EpochTime:
    """Where an epoch's time went: in all, waiting for the loader's next batch, and batches run."""

    seconds: float
    data_seconds: float
    batches: int


def run_epoch(
    task: Task,
    model: torch.nn.Module,
    loader: Iterable,
    compute: Compute,
    optimiser: torch.optim.Optimizer | None,
    label: str,
    max_batches: int | None = None,
) -> tuple[Accumulator, EpochTime]:
    """One pass over ``loader`` (its first ``max_batches`` only, if given); trains when an
    optimiser is given. Returns the totals and the time spent."""
    training = optimiser is not None
    model.train(training)
    totals = Accumulator()
    start = time.perf_counter()
    waited = 0.0
    n_batches = len(loader) if hasattr(loader, "__len__") else 0
    if max_batches is not None:
        n_batches = min(n_batches, max_batches) if n_batches else max_batches
    shown = -1
    done = 0
    # Validation computes nothing to backpropagate: inference mode skips autograd's bookkeeping.
    with torch.set_grad_enabled(True) if training else torch.inference_mode():
        batches = iter(loader)
        while max_batches is None or done < max_batches:
            # A step ends with the loss read back (.item()), so on a GPU the time spent in next()
            # is time the device waited for data.
            asked = time.perf_counter()
            batch = next(batches, None)
            waited += time.perf_counter() - asked
            if batch is None:
                break
            with compute.autocast():
                loss = task.step(model, batch, compute, totals)
            if training:
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
            done += 1
            if n_batches:
                tenth = (10 * done) // n_batches
                if tenth > shown:
                    shown = tenth
                    bar = "#" * tenth + "." * (10 - tenth)
                    log.info(
                        "%s [%s] %d/%d batches, loss %.4f, %.1f s (%.1f s waiting for data)",
                        label,
                        bar,
                        done,
                        n_batches,
                        totals.loss / max(totals.samples, 1),
                        time.perf_counter() - start,
                        waited,
                    )
    return totals, EpochTime(time.perf_counter() - start, waited, done)


@dataclass
class TrainingRun:
    """Everything ``fit`` needs besides the task."""

    model: torch.nn.Module
    optimiser: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    loaders: dict[str, Iterable]  # "train" and "val"
    epochs: int
    out_dir: Path
    settings_fingerprint: str
    compute: Compute
    on_epoch_start: Callable[[int], None] | None = None
    # Several processes (echobeat.distributed): the wrapped model that trains, the epoch's sums
    # gathered over the processes, whether this process reads and writes the files, and how the
    # writer's checkpoint reaches the others (so that every process resumes from the same one).
    trained: torch.nn.Module | None = None
    gather: Callable[[Accumulator], Accumulator] | None = None
    writes_files: bool = True
    share: Callable[[dict | None], dict | None] | None = None
    # What best.pt says of itself (model, clip geometry, normalisation, ...): see models.weights.
    metadata: dict = field(default_factory=dict)
    _networks: dict[str, torch.nn.Module] | None = field(default=None, init=False, repr=False)

    def networks(self) -> dict[str, torch.nn.Module]:
        """The module each phase runs, compiled when the job compiles (once per run).

        Training runs the DDP wrapper when there is one; validation the bare model, whose
        compiled form one process shares with training (torch recompiles for eval mode)."""
        if self._networks is None:
            train = self.compute.compiled(self.trained if self.trained is not None else self.model)
            val = train if self.trained is None else self.compute.compiled(self.model)
            self._networks = {"train": train, "val": val}
        return self._networks


def log_columns(task: Task) -> list[str]:
    """The columns of log.csv for ``task``, one row per epoch and phase."""
    return ["epoch", "phase", "loss", *task.metric_names, "seconds", "data_seconds", "samples", "lr", "peak_memory_mb"]


def _rng_state() -> dict:
    """torch's generators (dropout, initialisation); the datasets draw from (seed, epoch, item)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    # One state per GPU the saving job saw; a resumed job may see fewer (or none).
    for index, cuda_state in enumerate(state.get("cuda", [])[: torch.cuda.device_count()]):
        torch.cuda.set_rng_state(cuda_state, index)


def _load_checkpoint(path: Path, expected: str) -> dict | None:
    """The checkpoint to resume from, or None; one from other settings is set aside."""
    if not path.exists():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged file must not stop training: start afresh
        aside = path.with_name(f"{path.stem}.unreadable-{int(time.time())}.pt")
        path.rename(aside)
        log.warning("checkpoint %s is unreadable (%s); moved to %s and starting afresh", path, err, aside.name)
        return None
    if checkpoint.get("fingerprint") != expected:
        aside = path.with_name(f"{path.stem}.{checkpoint.get('fingerprint', 'unknown')}.pt")
        path.rename(aside)
        log.warning(
            "checkpoint %s was made with other settings (fingerprint %s, now %s); set aside as %s, starting afresh",
            path,
            checkpoint.get("fingerprint"),
            expected,
            aside.name,
        )
        return None
    return checkpoint


def fit(task: Task, run: TrainingRun) -> pd.DataFrame:
    """Train for ``run.epochs`` epochs (resuming where a checkpoint says); write best.pt and log.csv.

    Returns the log table. ``checkpoint.pt`` stays beside the outputs (it is not one of them).
    """
    out = run.out_dir
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    model, device = run.model, run.compute.device
    rows: list[dict] = []
    best_loss, best_epoch, best_state = math.inf, -1, None
    first_epoch = 0
    checkpoint = _load_checkpoint(checkpoint_path, run.settings_fingerprint) if run.writes_files else None
    if run.share is not None:
        checkpoint = run.share(checkpoint)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        run.optimiser.load_state_dict(checkpoint["optimiser"])
        if run.scheduler is not None and checkpoint["scheduler"] is not None:
            run.scheduler.load_state_dict(checkpoint["scheduler"])
        rows = checkpoint["log"]
        best_loss, best_epoch, best_state = checkpoint["best_loss"], checkpoint["best_epoch"], checkpoint["best_model"]
        first_epoch = checkpoint["epoch"] + 1
        _set_rng_state(checkpoint["rng"])
        log.info(
            "resuming after epoch %d (best validation loss %.6f at epoch %d)",
            checkpoint["epoch"],
            best_loss,
            best_epoch,
        )
    for epoch in range(first_epoch, run.epochs):
        if run.on_epoch_start is not None:
            run.on_epoch_start(epoch)
        for phase in ("train", "val"):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            lr = run.optimiser.param_groups[0]["lr"]
            optimiser = run.optimiser if phase == "train" else None
            # Validation runs on the bare model: the DDP wrapper's collectives are for training.
            net = run.networks()[phase]
            totals, spent = run_epoch(task, net, run.loaders[phase], run.compute, optimiser, f"epoch {epoch} {phase}")
            if run.gather is not None:
                totals = run.gather(totals)
            loss = task.epoch_loss(totals)
            peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0
            rows.append(
                {
                    "epoch": epoch,
                    "phase": phase,
                    "loss": loss,
                    **task.metrics(totals),
                    "seconds": spent.seconds,
                    "data_seconds": spent.data_seconds,
                    "samples": totals.samples,
                    "lr": lr,
                    "peak_memory_mb": peak,
                }
            )
            log.info("epoch %d %s: loss %.6f, %s", epoch, phase, loss, rows[-1])
        if run.scheduler is not None:
            run.scheduler.step()
        val_loss = rows[-1]["loss"]
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if not run.writes_files:
            continue
        with atomic_path(checkpoint_path) as tmp:
            torch.save(
                {
                    "fingerprint": run.settings_fingerprint,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimiser": run.optimiser.state_dict(),
                    "scheduler": run.scheduler.state_dict() if run.scheduler is not None else None,
                    "best_loss": best_loss,
                    "best_epoch": best_epoch,
                    "best_model": best_state,
                    "log": rows,
                    "rng": _rng_state(),
                },
                tmp,
            )
    if best_state is None:
        raise RuntimeError("no epoch was trained (epochs must be at least 1)")
    table = pd.DataFrame(rows)
    if not run.writes_files:
        return table
    save_model(out / "best.pt", best_state, best_epoch, best_loss, {**run.metadata, "epochs": run.epochs})
    write_csv(out / "log.csv", table)
    log.info("best validation loss %.6f at epoch %d; wrote %s", best_loss, best_epoch, out / "best.pt")
    return table
