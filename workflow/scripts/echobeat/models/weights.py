"""Weight files: reading every format a model may come in, loading it with clear errors, writing ours.

Formats read (all with ``torch.load(..., weights_only=True)``):

- ``echobeat``: a ``best.pt`` of this workflow, ``{"model": state_dict, "epoch", "loss", "meta"}``;
  ``meta`` makes it self-describing (model name, frames, period, normalisation, precision, where
  its weights came from), so it can be run on other videos without the config that made it;
- ``echonet``: a checkpoint of the original code, e.g. the authors' released
  ``deeplabv3_resnet50_random.pt`` and ``r2plus1d_18_32_2_pretrained.pt``: a dict whose
  ``state_dict`` was saved from a ``torch.nn.DataParallel`` model, so every key starts with
  ``module.``; no normalisation is stored (docs/echonet.md §8);
- ``state_dict``: a bare state dict of the very model (a ``module.`` prefix is also removed).

The original's heads (``fc`` = Linear(512, 1) of the video models, ``classifier.4`` = the
1-channel 1x1 convolution of DeepLabV3) have the same names and shapes as ours, so once the
prefix is gone a released checkpoint loads key for key; anything else that does not fit is
refused with the missing, unexpected or mis-shaped keys named.
"""

from __future__ import annotations

import collections
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from echobeat.atomic import atomic_path
from echobeat.errors import UserError

DATA_PARALLEL_PREFIX = "module."
# How many key names an error message shows of each kind.
SHOWN_KEYS = 4


class WeightsError(UserError):
    """The requested weights cannot be had or do not fit; the message names the file and the fix."""


@dataclass
class WeightsFile:
    """What a weights file holds: the model's state dict (prefix removed) and what it says of itself."""

    path: Path
    state: dict[str, torch.Tensor]
    origin: str  # "echobeat", "echonet" or "state_dict"
    meta: dict = field(default_factory=dict)


def download_error(config_key: str, what: str, err: Exception) -> WeightsError:
    """The error for torchvision weights that could not be downloaded (``what`` names them)."""
    return WeightsError(
        f"cannot download torchvision's {what} ({type(err).__name__}: {err}). "
        "On a machine without internet, download them elsewhere and put them in torchvision's cache "
        f"(~/.cache/torch/hub/checkpoints), or set {config_key} to the path of a local .pt file, or to random."
    )


def _is_state_dict(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())


def _without_prefix(state: dict) -> dict:
    """The state dict with DataParallel's ``module.`` removed from every key (when all have it)."""
    if not all(isinstance(k, str) and k.startswith(DATA_PARALLEL_PREFIX) for k in state):
        return state
    stripped = collections.OrderedDict((k[len(DATA_PARALLEL_PREFIX) :], v) for k, v in state.items())
    metadata = getattr(state, "_metadata", None)
    if metadata is not None:
        # Module versions (batch norm's, for instance) travel with the keys they describe.
        root = DATA_PARALLEL_PREFIX.rstrip(".")
        stripped._metadata = collections.OrderedDict(
            ("" if k == root else k[len(DATA_PARALLEL_PREFIX) :], v)
            for k, v in metadata.items()
            if k == root or k.startswith(DATA_PARALLEL_PREFIX)
        )
    return stripped


def read_weights_file(path: str | os.PathLike[str]) -> WeightsFile:
    """Read a weights file of any known format; a :class:`WeightsError` naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found")
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip, pickle and EOF errors of a damaged or foreign file
        code = _pickled_code(err)
        if code is not None:
            raise WeightsError(
                f"weights file {path} holds Python code, not only tensors (it refers to {code}); echobeat loads "
                "weights only and never runs code from a file. Save the model's weights alone, "
                "torch.save(model.state_dict(), path), and give that file instead"
            ) from None
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WeightsError(
            f"weights file {path} is not a readable PyTorch checkpoint (truncated, damaged or another kind "
            f"of file): {reason}"
        ) from None
    if isinstance(content, dict) and _is_state_dict(content.get("model")):
        meta = dict(content.get("meta") or {})
        meta.setdefault("epoch", content.get("epoch"))
        return WeightsFile(path, _without_prefix(content["model"]), "echobeat", meta)
    if isinstance(content, dict) and _is_state_dict(content.get("state_dict")):
        # The original stores its clip geometry beside the weights; nothing about normalisation.
        meta = {k: content[k] for k in ("epoch", "frames", "period", "best_loss") if _plain(content.get(k))}
        return WeightsFile(path, _without_prefix(content["state_dict"]), "echonet", meta)
    if _is_state_dict(content):
        return WeightsFile(path, _without_prefix(content), "state_dict")
    kind = type(content).__name__ if not isinstance(content, dict) else f"dict with keys {sorted(content)[:6]}"
    raise WeightsError(
        f"weights file {path} holds no model weights ({kind}); expected a best.pt of this workflow, "
        "a checkpoint of the original code (with a state_dict), or a state dict"
    )


def _pickled_code(err: Exception) -> str | None:
    """What a pickle refers to that ``weights_only`` refuses (a class or function), if that is why
    ``err`` was raised; torch's own message advises loading with ``weights_only=False``, which would
    run that code."""
    text = str(err)
    if "Weights only load failed" not in text and "Unsupported global" not in text:
        return None
    named = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    return named.group(1) if named else "a Python object that is not a tensor"


def _plain(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    return isinstance(value, (int, float, str))


def _examples(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > SHOWN_KEYS else "")


def fit_problems(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """What keeps ``state`` from loading into ``model``: missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(v.shape)})"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {_examples(missing)}")
    if unexpected:
        problems.append(f"unexpected {_examples(unexpected)}")
    if shapes:
        problems.append(f"another shape: {_examples(shapes)}")
    return problems


def load_weights(model: torch.nn.Module, path: str | os.PathLike[str], expected: str) -> WeightsFile:
    """Load a weights file of any known format into ``model`` (``expected`` names the model for
    the error message); returns what was read."""
    weights = read_weights_file(path)
    problems = fit_problems(model, weights.state)
    if problems:
        raise WeightsError(
            f"weights file {weights.path} ({weights.origin} format) does not fit the model {expected}: "
            + "; ".join(problems)
        )
    model.load_state_dict(weights.state)
    return weights


def load_state(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a weights file into ``model`` (any format of :func:`read_weights_file`), naming the model class."""
    load_weights(model, path, type(model).__name__)


def model_card(task: str, settings: dict, keys: tuple[str, ...], mean, std) -> dict:
    """The ``meta`` of a best.pt: the task (``segmentation`` or ``ef``), the settings named by
    ``keys``, and the per-channel normalisation its inputs had (as float32 computed them)."""
    from echobeat import __version__

    return {
        "task": task,
        **{key: settings[key] for key in keys},
        "normalisation": {"mean": [float(m) for m in mean], "std": [float(s) for s in std]},
        "echobeat_version": __version__,
    }


def save_model(path: str | os.PathLike[str], state: dict, epoch: int, loss: float, meta: dict) -> None:
    """Write a self-describing ``best.pt`` atomically: ``{"model", "epoch", "loss", "meta"}``."""
    with atomic_path(path) as tmp:
        torch.save({"model": state, "epoch": epoch, "loss": loss, "meta": meta}, tmp)
