"""Where and how a job computes: device, arithmetic, memory layout and threads, as one object.

:func:`prepare_device` turns a stage's ``device`` and ``precision`` settings into a
:class:`Compute` and sets torch's process-wide threads for it; every function that runs a
model takes that object, so nothing about the arithmetic hides in module state.

On a GPU, ``precision: bf16`` (the default) computes under bf16 autocast with channels-last
memory (about twice as fast as float32); ``precision: fp32`` computes in float32, as the
original does. On a CPU everything is float32 and contiguous, except where a caller allows
bf16 on a CPU that computes it natively (AVX512-BF16 or AMX, detected at run time): the
prediction workflow does, about twice as fast, within the tolerance BENCHMARKS.md measures.

``compile`` (``none`` by default) runs models through ``torch.compile`` in one of its modes
(``reduce-overhead`` adds CUDA graphs, for launch-bound models such as DeepLabV3 on 112x112
frames): the same arithmetic fused into fewer kernels, so results agree with eager mode to
float tolerance, not bit for bit. Compiling takes a minute or more per model, paid once per job.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

from echobeat.provenance import cpu_model

log = logging.getLogger(__name__)

# config ``precision`` -> the autocast dtype on a GPU (None: plain float32).
PRECISIONS = {"bf16": torch.bfloat16, "fp32": None}

# config ``compile`` -> torch.compile's mode (None: eager, no compilation).
COMPILE_MODES = {"none": None, **{mode: mode for mode in ("default", "reduce-overhead", "max-autotune")}}


@dataclass(frozen=True)
class Compute:
    """A job's compute settings: what :func:`prepare_device` returns."""

    device: torch.device
    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False
    threads: int = 1
    compile_mode: str | None = None
    # torch.compile's backend (a name or a callable). Tests set a cheap one (``aot_eager``: the same
    # graph capture and forward/backward split, no code generation) to check the wiring in seconds;
    # jobs keep inductor.
    compile_backend: str | Callable = "inductor"

    @classmethod
    def cpu(cls, threads: int = 1) -> Compute:
        """Float32 on the CPU (what tests and CPU jobs compute with)."""
        return cls(torch.device("cpu"), None, False, threads)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def pin_memory(self) -> bool:
        """Pinned host memory makes copies to a GPU asynchronous; useless on a CPU."""
        return self.is_cuda

    @property
    def loader_workers(self) -> int:
        """DataLoader workers: the job's other threads on a GPU; none on a CPU (the cache is fast)."""
        return max(0, self.threads - 1) if self.is_cuda else 0

    def autocast(self):
        """The context a forward pass runs in: bf16 autocast when asked for, else none."""
        if self.autocast_dtype is not None:
            return torch.autocast(self.device.type, dtype=self.autocast_dtype)
        return torch.autocast(self.device.type, enabled=False)

    def layout(self, tensor: torch.Tensor) -> torch.Tensor:
        """A model input in the memory layout the model was placed in (channels-last or as is)."""
        if not self.channels_last:
            return tensor
        fmt = torch.channels_last_3d if tensor.dim() == 5 else torch.channels_last
        return tensor.contiguous(memory_format=fmt)

    def compiled(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` compiled in this job's mode, sharing its parameters; ``model`` itself in eager
        mode. Keep the original for ``state_dict()`` (a compiled module prefixes every key)."""
        if self.compile_mode is None:
            return model
        return torch.compile(model, mode=self.compile_mode, backend=self.compile_backend)

    def place(self, model: torch.nn.Module, video: bool = False) -> torch.nn.Module:
        """``model`` in this memory layout (``video``: 3-D convolutions), already on the device."""
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last_3d if video else torch.channels_last)
        return model


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when a GPU is visible, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was asked for, but no GPU is visible to this job")
    return torch.device(device)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16; read from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = info.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def prepare_device(device: str, threads: int, precision: str, cpu_bf16: bool = False, compile: str = "none") -> Compute:
    """The job's :class:`Compute`, with torch's threads set for it and cuDNN autotuning on a GPU.

    ``cpu_bf16``: on a CPU with native bf16, ``precision: bf16`` computes under bf16 autocast too
    (inference only; elsewhere a CPU computes in float32). ``compile``: a key of
    :data:`COMPILE_MODES`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if compile not in COMPILE_MODES:
        raise ValueError(f"compile must be one of {', '.join(COMPILE_MODES)}, not {compile!r}")
    chosen = pick_device(device)
    cuda = chosen.type == "cuda"
    # On a GPU the job's threads feed it as DataLoader workers; on a CPU they compute.
    torch.set_num_threads(1 if cuda else max(1, threads))
    if cuda:
        torch.backends.cudnn.benchmark = True
    # What the scheduler handed the job (SLURM sets it from --gpus), so a log shows the request arrived.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "(not set)")
    fast_cpu = cpu_bf16 and not cuda and precision == "bf16" and cpu_has_native_bf16()
    arithmetic = precision if cuda or fast_cpu else "fp32"
    if compile != "none":
        arithmetic += f", torch.compile {compile}"
    log.info("device %s (%s), %d job thread(s), CUDA_VISIBLE_DEVICES=%s", chosen, arithmetic, threads, visible)
    return Compute(
        device=chosen,
        autocast_dtype=PRECISIONS[precision] if cuda or fast_cpu else None,
        channels_last=cuda,
        threads=max(1, threads),
        compile_mode=COMPILE_MODES[compile],
    )


def describe_device(device: torch.device, gpus: int = 1) -> dict:
    """Where a job computes, for its provenance record: type, GPU or CPU model, GPUs, CUDA version."""
    cuda = device.type == "cuda"
    return {
        "type": device.type,
        "name": torch.cuda.get_device_name(device) if cuda else cpu_model(),
        "gpus": gpus if cuda else 0,
        "cuda": torch.version.cuda,
    }
