"""Training one EF run on several GPUs with DistributedDataParallel, equal to one process.

One process per GPU, started by torchrun (``torch.distributed.run``) inside the job. Each batch
of the one-process run is split across the processes in order (``ShardedBatchSampler``); batch
norm statistics cover the whole batch (torch's SyncBatchNorm on GPUs, ``CrossProcessBatchNorm``
on the CPU with gloo, where SyncBatchNorm refuses to run); DDP averages the gradients; the VAL
videos are shared out too, and the epoch's sums are gathered before logging. The model and log
therefore match the one-process run up to float rounding (tests/test_distributed.py: 2e-11 of
the change in float64). Only rank 0 writes files.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from echobeat.learn.training import Accumulator

PR_SET_PDEATHSIG = 1  # prctl option, from <linux/prctl.h>

# How long stopped workers get to exit cleanly (remove temporary files) before they are killed.
STOP_GRACE_SECONDS = 60


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class _SumOverProcesses(torch.autograd.Function):
    """The sum of a tensor over every process, differentiable: the gradient of each process's
    input is the sum of every process's output gradient."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


def sum_over_processes(tensor: torch.Tensor) -> torch.Tensor:
    return _SumOverProcesses.apply(tensor)


class CrossProcessBatchNorm(torch.nn.BatchNorm3d):
    """BatchNorm3d whose training statistics cover the samples of every process.

    torch's SyncBatchNorm runs on GPUs only; this one runs anywhere (gloo on the CPU). The sums
    behind the mean and the variance are added up over the processes by a differentiable
    all-reduce, so the backward pass sees the whole batch too. Outside training, or in one
    process, it is BatchNorm3d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and world_size() > 1):
            return super().forward(x)
        # Statistics in at least float32 (bf16 sums lose digits), as batch norm under autocast.
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        dims = [0, *range(2, x.dim())]
        channels = x.shape[1]
        shape = (1, channels) + (1,) * (x.dim() - 2)
        count = torch.full((1,), x.numel() / channels, dtype=x.dtype, device=x.device)
        totals = sum_over_processes(torch.cat([x.sum(dims), count]))
        n = totals[-1]
        mean = totals[:channels] / n
        # The variance from centred values, not E[x^2] - E[x]^2, which loses digits to cancellation.
        centred = x - mean.view(shape)
        variance = sum_over_processes((centred * centred).sum(dims)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                unbiased = variance * n / max(float(n) - 1, 1.0)
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.to(self.running_mean.dtype))
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased.to(self.running_var.dtype))
        normalised = centred * torch.rsqrt(variance.view(shape) + self.eps)
        return normalised * self.weight.view(shape) + self.bias.view(shape)


def convert_batch_norm(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Batch norm over the processes' whole batch: torch's SyncBatchNorm on GPUs (fused
    kernels), CrossProcessBatchNorm elsewhere; same parameters and buffers.

    Call it before the optimiser is made: the optimiser must hold the parameters that train.
    """
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_on_cpu(module)


def _convert_on_cpu(module: torch.nn.Module) -> torch.nn.Module:
    for name, child in module.named_children():
        if type(child) is torch.nn.BatchNorm3d:
            replacement = CrossProcessBatchNorm(
                child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats
            )
            replacement.load_state_dict(child.state_dict())
            setattr(module, name, replacement.to(device=child.weight.device, dtype=child.weight.dtype))
        else:
            _convert_on_cpu(child)
    return module


class ShardedBatchSampler(Sampler[list[int]]):
    """The one-process shuffle (``DataLoader(shuffle=True, drop_last=True, generator=...)``) cut
    into its batches; this process takes its consecutive share of each."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, rank: int, world: int):
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} does not split evenly across {world} processes")
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return self.n // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        # A one-process DataLoader given this generator first draws its workers' base seed from
        # it, then the shuffle: draw the same so that the order is the same.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        order = torch.randperm(self.n, generator=self.generator).tolist()
        share = self.batch_size // self.world
        for first in range(0, len(self) * self.batch_size, self.batch_size):
            start = first + self.rank * share
            yield order[start : start + share]


def contiguous_batches(n: int, batch_size: int, rank: int, world: int) -> list[list[int]]:
    """This process's consecutive share of items 0..n-1 (shares differ by at most one item), in
    batches: for passes without gradients, whose sums are gathered afterwards."""
    first, last = n * rank // world, n * (rank + 1) // world
    return [list(range(start, min(start + batch_size, last))) for start in range(first, last, batch_size)]


def gather_totals(totals: Accumulator) -> Accumulator:
    """The epoch's sums over every process (the arrays concatenated in rank order)."""
    if world_size() == 1:
        return totals
    parts: list = [None] * world_size()
    dist.all_gather_object(parts, (totals.loss, totals.samples, totals.extra))
    merged = Accumulator(loss=sum(p[0] for p in parts), samples=sum(p[1] for p in parts))
    for _, _, extra in parts:
        for name, arrays in extra.items():
            for values in arrays:
                merged.add(name, np.asarray(values))
    return merged


def from_rank_zero(value):
    """Rank 0's ``value`` in every process (pickled; for things read once, like a checkpoint)."""
    if world_size() == 1:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies, even by SIGKILL (Linux), so that
    torchrun stops its workers instead of training on unseen beside a rerun."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def launch(entry_module: str, processes: int, spec: dict, work_dir: Path) -> None:
    """Run ``python -m entry_module SPEC.json`` in ``processes`` processes with torchrun; raise if one fails.

    The spec travels in a temporary file in ``work_dir``, removed afterwards.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
        OMP_NUM_THREADS=str(spec["threads"]),
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=".distributed-", dir=work_dir) as handle:
        json.dump(spec, handle)
        handle.flush()
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
        on_linux = sys.platform.startswith("linux")
        torchrun = subprocess.Popen(
            [*command, "-m", entry_module, handle.name],
            env=env,
            preexec_fn=_die_with_parent if on_linux else None,
        )
        try:
            returncode = torchrun.wait()
        except BaseException:
            # Stopped (SIGTERM turned into SystemExit, Ctrl-C): torchrun passes SIGTERM on to its
            # workers and waits for them, so none is left training and writing checkpoints.
            torchrun.terminate()
            try:
                torchrun.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                torchrun.kill()
            raise
    if returncode != 0:
        raise RuntimeError(f"distributed training failed (torchrun exit {returncode}); see the log above")
