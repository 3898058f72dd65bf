"""Model construction by name from torchvision, with the original's one-output heads.

``weights`` is ``random`` (initialised from the seed), ``pretrained`` (torchvision's weights,
downloaded on first use: DeepLabV3/LR-ASPP on COCO-VOC, R(2+1)D/R3D/MC3 on Kinetics-400), or
the path of a local ``.pt`` file holding a state dict of this very model (e.g. a best.pt).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision


class WeightsError(Exception):
    """The requested weights cannot be had; the message says how to fix it."""


def _segmentation_constructor(name: str):
    available = torchvision.models.list_models(module=torchvision.models.segmentation)
    if name not in available:
        raise ValueError(f"unknown segmentation model {name!r}; torchvision has {', '.join(sorted(available))}")
    return getattr(torchvision.models.segmentation, name)


def _one_output_head(model: torch.nn.Module) -> None:
    """Replace the last convolution(s) of a segmentation head by 1-channel ones."""
    classifier = model.classifier
    if hasattr(classifier, "low_classifier"):  # LR-ASPP: two final 1x1 convolutions are summed
        for attr in ("low_classifier", "high_classifier"):
            old = getattr(classifier, attr)
            setattr(classifier, attr, torch.nn.Conv2d(old.in_channels, 1, kernel_size=old.kernel_size))
        return
    old = classifier[-1]
    classifier[-1] = torch.nn.Conv2d(old.in_channels, 1, kernel_size=old.kernel_size)


def _download_error(kind: str, name: str, err: Exception) -> WeightsError:
    return WeightsError(
        f"cannot download torchvision's pretrained weights for {name} ({type(err).__name__}: {err}). "
        f"On a machine without internet, download them elsewhere (torchvision caches them under "
        f"~/.cache/torch/hub/checkpoints) or set {kind}.weights to the path of a local .pt state dict, "
        "or to random."
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


def set_bn_momentum(model: torch.nn.Module, momentum: float | None) -> None:
    """Set the running-statistics momentum of every batch-norm layer (None keeps the model's own)."""
    if momentum is None:
        return
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum


def segmentation_model(name: str = "deeplabv3_resnet50", weights: str = "random") -> torch.nn.Module:
    """A torchvision segmentation model with one output channel and no auxiliary head."""
    builder = _segmentation_constructor(name)
    if weights == "pretrained":
        try:
            model = builder(weights="DEFAULT", aux_loss=None)
        except Exception as err:  # network errors come in many types
            raise _download_error("segmentation", name, err) from None
        model.aux_classifier = None
        _one_output_head(model)
        return model
    model = builder(weights=None, weights_backbone=None, num_classes=1, aux_loss=False)
    if weights != "random":
        load_state(model, weights)
    return model
