"""Weight files and downloads: loading a state dict into a model, and the errors that say how to fix it.

A weights file is a ``best.pt`` written by this workflow (``{"model": state_dict, ...}``) or a
bare state dict of the very model; it is loaded with ``weights_only=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


class WeightsError(Exception):
    """The requested weights cannot be had; the message says how to fix it."""


def download_error(config_key: str, what: str, err: Exception) -> WeightsError:
    """The error for torchvision weights that could not be downloaded (``what`` names them)."""
    return WeightsError(
        f"cannot download torchvision's {what} ({type(err).__name__}: {err}). "
        "On a machine without internet, download them elsewhere and put them in torchvision's cache "
        f"(~/.cache/torch/hub/checkpoints), or set {config_key} to the path of a local .pt file, or to random."
    )


def load_state(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a state dict file (``weights_only``) into ``model``, with a clear error if it does not fit."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise WeightsError(f"weights file {path} does not fit this model: {err}") from None
