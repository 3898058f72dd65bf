"""What a model costs per clip (Extended Data Fig. 4): parameters, FLOPs, inference time and peak memory.

Measured on random input tensors of the clip's shape, already on the device: decoding, the
cache and the copy to the device are left out (the original's times include decoding, its
memory divides by the training batch size). Each timed pass runs under the job's
:class:`~echobeat.compute.Compute` (autocast, memory layout) as inference does; warm-up batches
(cuDNN autotuning, first-call allocations) are not timed.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` on one clip: it counts a
multiply-add as two FLOPs (convolutions and matrix products; elementwise work is not counted).

Peak memory per clip is the peak over one batch divided by the batch size:

- CUDA: ``torch.cuda.max_memory_allocated`` (everything torch holds on the device: weights,
  input, activations, workspaces), reset before the batch;
- CPU: the weights' and input's bytes plus the growth of the process's peak resident memory
  (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``) over the batch, after freed heap
  memory is handed back (``malloc_trim``) so that reused memory shows. NaN where the kernel
  does not allow the reset.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from echobeat.compute import Compute
from echobeat.provenance import cpu_model

log = logging.getLogger(__name__)

FRAME_SIZE = (112, 112)
MEMORY_KINDS = {
    "cuda": "cuda max_memory_allocated",
    "cpu": "cpu weights + input + peak RSS growth",
}


def parameter_count(model: torch.nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def clip_batch(batch: int, frames: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    """A random float32 batch of clips (batch, 3, frames, 112, 112) on ``device``: the model's input shape."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, 3, frames, *FRAME_SIZE), generator=generator).to(device)


@torch.no_grad()
def flops_per_clip(model: torch.nn.Module, frames: int, compute: Compute) -> int:
    """FLOPs of one forward pass on one clip of ``frames`` frames (a multiply-add counts two)."""
    model.eval()
    clip = compute.layout(clip_batch(1, frames, compute.device))
    with FlopCounterMode(display=False) as counter:
        model(clip)
    return int(counter.get_total_flops())


def _synchronise(compute: Compute) -> None:
    if compute.is_cuda:
        torch.cuda.synchronize(compute.device)


@torch.no_grad()
def seconds_per_clip(
    model: torch.nn.Module, frames: int, compute: Compute, batch_size: int, warmup: int, repeats: int
) -> float:
    """Inference seconds per clip: ``repeats`` timed batches of ``batch_size`` clips after ``warmup``
    untimed ones, the input already on the device."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    model.eval()
    clips = compute.layout(clip_batch(batch_size, frames, compute.device))
    for _ in range(warmup):
        _forward(model, clips, compute)
    _synchronise(compute)
    start = time.perf_counter()
    for _ in range(repeats):
        _forward(model, clips, compute)
    _synchronise(compute)  # GPU work is asynchronous: wait for the last batch
    return (time.perf_counter() - start) / (repeats * batch_size)


def _forward(model: torch.nn.Module, clips: torch.Tensor, compute: Compute) -> torch.Tensor:
    with compute.autocast():
        return model(clips)


@torch.no_grad()
def peak_memory_per_clip(model: torch.nn.Module, frames: int, compute: Compute, batch_size: int) -> float:
    """Peak bytes per clip over one batch of ``batch_size`` clips (what counts: ``MEMORY_KINDS``)."""
    model.eval()
    clips = compute.layout(clip_batch(batch_size, frames, compute.device))
    measure = {"cuda": _cuda_peak, "cpu": _cpu_peak}.get(compute.device.type)
    if measure is None:
        return float("nan")  # another accelerator: no measure of its memory here
    return measure(lambda: _forward(model, clips, compute), model, clips, compute) / batch_size


def _cuda_peak(run: Callable, model, clips, compute: Compute) -> float:
    torch.cuda.synchronize(compute.device)
    torch.cuda.reset_peak_memory_stats(compute.device)
    run()
    torch.cuda.synchronize(compute.device)
    return float(torch.cuda.max_memory_allocated(compute.device))


def _cpu_peak(run: Callable, model, clips, compute: Compute) -> float:
    held = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers(), clips))
    _trim_heap()
    if not _reset_peak_rss():
        log.warning("cannot reset the peak resident memory (/proc/self/clear_refs): CPU memory left out")
        return float("nan")
    before = _status_kib("VmRSS")
    run()
    return float(held + max(0, _status_kib("VmHWM") - before) * 1024)


def _trim_heap() -> None:
    """Hand freed heap memory back to the kernel (glibc), so that reusing it raises the resident size."""
    # Not glibc: freed memory may stay resident, and the growth reads low.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak_rss() -> bool:
    """Set the kernel's peak resident size of this process to its current one (Linux 4.0 and later)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_kib(field: str) -> int:
    """A memory field of /proc/self/status, in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model (the provenance record's)."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model() or "unknown CPU"


def precision_name(compute: Compute) -> str:
    """The arithmetic the passes run in: fp32, or the autocast dtype (bf16)."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(
        compute.autocast_dtype, str(compute.autocast_dtype)
    )
