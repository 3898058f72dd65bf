"""Segmentation models by name from torchvision, with the original's one-output head.

``weights`` is one of:

- ``imagenet_backbone``: the backbone starts from torchvision's ImageNet weights, the head is
  random. This is what the original's default ("random") model was: the torchvision of its time
  built DeepLabV3 with ``pretrained_backbone=True`` (docs/echonet.md §3);
- ``random``: everything random (initialised from the seed);
- ``pretrained``: torchvision's COCO-VOC weights of the whole model, the last convolution
  replaced by a 1-channel one (the original's ``--pretrained``);
- the path of a weights file in any format of :mod:`echobeat.models.weights` (our best.pt, the
  original's checkpoints such as the released ``deeplabv3_resnet50_random.pt``).

Torchvision's weights are downloaded on first use; without internet the error says how to
place them.
"""

from __future__ import annotations

import torch
import torchvision

from echobeat.compute import Compute
from echobeat.models.weights import download_error, load_weights

SEGMENTATION_WEIGHTS = ("imagenet_backbone", "random", "pretrained")
# The ImageNet weights of the original's time (torchvision 0.9 had one set per backbone).
BACKBONE_WEIGHTS = "IMAGENET1K_V1"


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
    if weights == "imagenet_backbone":
        try:
            return builder(weights=None, weights_backbone=BACKBONE_WEIGHTS, num_classes=1, aux_loss=False)
        except Exception as err:  # network errors come in many types
            raise download_error("segmentation.weights", f"ImageNet backbone weights for {name}", err) from None
    model = builder(weights=None, weights_backbone=None, num_classes=1, aux_loss=False)
    if weights != "random":
        load_weights(model, weights, f"{name} (one output channel, no auxiliary head)")
    return model


def logits(model: torch.nn.Module, frames: torch.Tensor, compute: Compute) -> torch.Tensor:
    """(B, H, W) float32 logits of a batch of normalised frames."""
    return model(compute.layout(frames))["out"][:, 0].float()
