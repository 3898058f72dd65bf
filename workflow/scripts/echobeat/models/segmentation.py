"""Segmentation models by name from torchvision, with the original's one-output head.

``weights`` is ``random`` (initialised from the seed), ``pretrained`` (torchvision's COCO-VOC
weights of the whole model, downloaded on first use), or the path of a local weights file
(see :mod:`echobeat.models.weights`).
"""

from __future__ import annotations

import torch
import torchvision

from echobeat.models.weights import download_error, load_state


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
            raise download_error("segmentation.weights", f"pretrained weights for {name}", err) from None
        model.aux_classifier = None
        _one_output_head(model)
        return model
    model = builder(weights=None, weights_backbone=None, num_classes=1, aux_loss=False)
    if weights != "random":
        load_state(model, weights)
    return model
